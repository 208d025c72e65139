/**
 * Inception weights in sg3's internal form: per convolution the batch norm folded into the kernel
 * (w' = w * s, b' = beta - mean * s with s = gamma / sqrt(var + 1e-3), computed in float64), plus the
 * 1008-way output layer. Two source layouts map onto it:
 * - pytorch-fid's state dict (`<conv>.conv.weight`, `<conv>.bn.{weight,bias,running_mean,running_var}`,
 *   `fc.weight`, `fc.bias`);
 * - NVIDIA's detector (`layers.<tf name>.{weight,beta,mean,var}`, `output.weight`, `output.bias`), whose
 *   batch norm has no scale (gamma = 1). Names follow the TensorFlow graph: convolutions are numbered
 *   per scope (`conv`, `conv_1`, ...) and Mixed blocks are `mixed`, `mixed_1`, ... with towers.
 * Also the deterministic hash-PRNG weights of the test fixtures, so that tests and demos run without
 * downloading the real network.
 */
import { UserError } from "../errors.ts";
import { resolveNetworkPath, type TransferReporter } from "../formats/download.ts";
import { readTorchFile } from "../formats/torch.ts";
import { BLOCKS, BN_EPS, type ConvOp, convOps, FEATURE_DIM, LOGIT_DIM, type Op } from "./inception_arch.ts";

/** One convolution with its batch norm folded in. */
export interface FoldedConv {
  /** [cout, cin, kh, kw] row-major. */
  weight: Float32Array;
  /** [cout]. */
  bias: Float32Array;
}

/** The whole network's parameters, keyed by pytorch-fid module prefix. */
export interface InceptionWeights {
  /** The folded convolutions by module prefix, e.g. "Conv2d_1a_3x3", "Mixed_5b.branch1x1". */
  convs: Map<string, FoldedConv>;
  /** [1008, 2048]. */
  fcWeight: Float32Array;
  /** [1008]. */
  fcBias: Float32Array;
}

/** A numeric array as loaders deliver it. */
export type ArrayLike32 = ArrayLike<number>;

/** Folds conv weight w and batch norm (gamma may be absent = 1) into one kernel and bias. */
export function foldBatchNorm(
  w: ArrayLike32,
  gamma: ArrayLike32 | null,
  beta: ArrayLike32,
  mean: ArrayLike32,
  variance: ArrayLike32,
): FoldedConv {
  const cout = beta.length;
  const per = w.length / cout;
  const weight = new Float32Array(w.length);
  const bias = new Float32Array(cout);
  for (let o = 0; o < cout; o++) {
    const s = (gamma ? gamma[o] : 1) / Math.sqrt(variance[o] + BN_EPS);
    for (let i = 0; i < per; i++) weight[o * per + i] = w[o * per + i] * s;
    bias[o] = beta[o] - mean[o] * s;
  }
  return { weight, bias };
}

/** Builds the internal weights from a pytorch-fid state dict (a lookup by key). */
export function fromPytorchFid(
  get: (key: string) => ArrayLike32 | undefined,
  source = "state dict",
): InceptionWeights {
  const need = (key: string, size: number): ArrayLike32 => {
    const v = get(key);
    if (!v) throw new UserError(`${source}: missing tensor ${key} (not a pytorch-fid Inception state dict?)`);
    if (v.length !== size) throw new UserError(`${source}: ${key} has ${v.length} values, expected ${size}`);
    return v;
  };
  const convs = new Map<string, FoldedConv>();
  for (const c of convOps()) {
    const p = c.name;
    convs.set(
      p,
      foldBatchNorm(
        need(`${p}.conv.weight`, c.cout * c.cin * c.kh * c.kw),
        need(`${p}.bn.weight`, c.cout),
        need(`${p}.bn.bias`, c.cout),
        need(`${p}.bn.running_mean`, c.cout),
        need(`${p}.bn.running_var`, c.cout),
      ),
    );
  }
  return {
    convs,
    fcWeight: Float32Array.from(need("fc.weight", LOGIT_DIM * FEATURE_DIM)),
    fcBias: Float32Array.from(need("fc.bias", LOGIT_DIM)),
  };
}

/**
 * The NVIDIA detector's name for a pytorch-fid state-dict key; null for keys it has no counterpart of
 * (bn.weight, which is 1 there, and bn.num_batches_tracked).
 */
export function nvidiaKey(key: string, names = nvidiaConvNames()): string | null {
  if (key === "fc.weight") return "output.weight";
  if (key === "fc.bias") return "output.bias";
  const m = /^(.*)\.(conv\.weight|bn\.bias|bn\.running_mean|bn\.running_var)$/.exec(key);
  const layer = m && names.get(m[1]);
  if (!layer) return null;
  return `${layer}.${NVIDIA_SUFFIX[m[2]]}`;
}

const NVIDIA_SUFFIX: Record<string, string> = {
  "conv.weight": "weight",
  "bn.bias": "beta",
  "bn.running_mean": "mean",
  "bn.running_var": "var",
};

/** Builds the internal weights from NVIDIA's detector parameters (a lookup by name); gamma is 1. */
export function fromNvidia(
  get: (key: string) => ArrayLike32 | undefined,
  source = "detector",
): InceptionWeights {
  const names = nvidiaConvNames();
  return fromPytorchFid((key) => {
    if (key.endsWith(".bn.weight")) {
      const beta = get(`${names.get(key.slice(0, -".bn.weight".length))}.beta`);
      return beta && new Float32Array(beta.length).fill(1);
    }
    const k = nvidiaKey(key, names);
    return k === null ? undefined : get(k);
  }, source);
}

/**
 * pytorch-fid module prefix -> NVIDIA layer name (the fixture manifest's mapping, derived from the
 * TensorFlow graph's scopes). Stem convolutions are `layers.conv`, `layers.conv_1`, ...; Mixed block j
 * is `layers.mixed` / `layers.mixed_<j>`; in it a first path of a single convolution is `conv`, every
 * other path is a tower (`tower`, `tower_1`, ...) whose convolutions are `conv`, `conv_1`, ... and
 * whose split pair is `mixed_conv`, `mixed_conv_1`. Blocks with split pairs (InceptionE) join tower and
 * layer names with "_" instead of ".".
 */
export function nvidiaConvNames(): Map<string, string> {
  const names = new Map<string, string>();
  const numbered = (base: string, i: number) => (i === 0 ? base : `${base}_${i}`);
  const convsOf = (ops: Op[]) => ops.filter((op): op is ConvOp => op.kind === "conv");
  let stem = 0, mixed = 0;
  for (const block of BLOCKS) {
    if (!block.name.startsWith("Mixed")) {
      for (const p of block.paths) {
        for (const c of convsOf(p.ops)) names.set(c.name, `layers.${numbered("conv", stem++)}`);
      }
      continue;
    }
    const prefix = `layers.${numbered("mixed", mixed++)}`;
    const sep = block.paths.some((p) => p.split) ? "_" : ".";
    let tower = 0;
    block.paths.forEach((p, i) => {
      const convs = convsOf(p.ops);
      if (!convs.length) return;
      if (i === 0 && convs.length === 1 && !p.split) {
        names.set(convs[0].name, `${prefix}.conv`);
        return;
      }
      const t = `${prefix}.${numbered("tower", tower++)}`;
      convs.forEach((c, k) => names.set(c.name, `${t}${sep}${numbered("conv", k)}`));
      p.split?.forEach((s, k) => names.set(convsOf(s.ops)[0].name, `${t}${sep}${numbered("mixed_conv", k)}`));
    });
  }
  return names;
}

/**
 * The fixture's hash PRNG: fmix32 of (i * 0x9E3779B1 + seed * 0x85EBCA77 + 0x165667B1) mod 2^32.
 */
export function hashU32(seed: number, i: number): number {
  let h = (Math.imul(i, 0x9e3779b1) + Math.imul(seed, 0x85ebca77) + 0x165667b1) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** value[i] = float32(offset + scale * (2 * u32(seed, i) / 2^32 - 1)), evaluated in float64. */
export function hashFill(n: number, seed: number, offset: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = offset + scale * (2 * (hashU32(seed, i) / 4294967296) - 1);
  return out;
}

/**
 * The test fixtures' deterministic pytorch-fid state dict: key k (counting every state-dict key,
 * num_batches_tracked included) uses seed k + 1; conv weights have scale sqrt(3) sqrt(2 / fan_in), batch
 * norm weight 1 +- 0.1, bias and running mean +- 0.1, running var 1 +- 0.2, fc weight sqrt(3) sqrt(1/2048),
 * fc bias +- 0.1. `gammaOne` sets every batch-norm weight to 1 (the network the NVIDIA layout can hold).
 */
export function fixtureStateDict(opts: { gammaOne?: boolean } = {}): Map<string, Float32Array> {
  const sd = new Map<string, Float32Array>();
  let k = 0;
  const add = (key: string, n: number, offset: number, scale: number) =>
    sd.set(key, hashFill(n, ++k, offset, scale));
  for (const c of convOps()) {
    const fanIn = c.cin * c.kh * c.kw;
    add(`${c.name}.conv.weight`, c.cout * fanIn, 0, Math.sqrt(3) * Math.sqrt(2 / fanIn));
    add(`${c.name}.bn.weight`, c.cout, 1, 0.1);
    if (opts.gammaOne) sd.get(`${c.name}.bn.weight`)!.fill(1);
    add(`${c.name}.bn.bias`, c.cout, 0, 0.1);
    add(`${c.name}.bn.running_mean`, c.cout, 0, 0.1);
    add(`${c.name}.bn.running_var`, c.cout, 1, 0.2);
    k++; // num_batches_tracked consumes a key but no seed
  }
  add("fc.weight", LOGIT_DIM * FEATURE_DIM, 0, Math.sqrt(3) * Math.sqrt(1 / FEATURE_DIM));
  add("fc.bias", LOGIT_DIM, 0, 0.1);
  return sd;
}

/** NVIDIA's detector as StyleGAN3's calc_metrics downloads it. */
export const NVIDIA_DETECTOR_URL =
  "https://api.ngc.nvidia.com/v2/models/nvidia/research/stylegan3/versions/1/files/metrics/inception-2015-12-05.pkl";

/** The --detector value that selects the fixture's hash-PRNG weights (for tests; numbers are meaningless). */
export const TEST_DETECTOR = "test-prng";

/**
 * Loads Inception weights from a pytorch-fid state dict (.pth, zip or legacy torch.save) or NVIDIA's
 * detector pickle, given as a path, an http(s) URL (downloaded once into the cache) or TEST_DETECTOR.
 * The layout is recognised by its tensor names (possibly under a common prefix).
 */
export async function loadInceptionWeights(
  pathOrUrl: string,
  report?: TransferReporter,
): Promise<InceptionWeights> {
  if (pathOrUrl === TEST_DETECTOR) {
    const sd = fixtureStateDict();
    return fromPytorchFid((k) => sd.get(k));
  }
  const path = await resolveNetworkPath(pathOrUrl, { report });
  const tensors = await readTorchFile(path);
  const get = (prefix: string) => (key: string) => {
    const t = tensors.get(prefix + key);
    if (!t) return undefined;
    return t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as ArrayLike<number>);
  };
  for (const key of tensors.keys()) {
    if (key.endsWith("Conv2d_1a_3x3.conv.weight")) {
      return fromPytorchFid(get(key.slice(0, -"Conv2d_1a_3x3.conv.weight".length)), path);
    }
    if (key.endsWith("layers.conv.weight")) {
      return fromNvidia(get(key.slice(0, -"layers.conv.weight".length)), path);
    }
  }
  throw new UserError(`${path}: not an Inception detector (neither pytorch-fid nor NVIDIA tensor names)`);
}
