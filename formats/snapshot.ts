/**
 * Network snapshots as training/training_loop.py pickles them: a dict {G, D, G_ema, augment_pipe,
 * training_set_kwargs} whose networks are torch_utils.persistence objects (class name + module state;
 * the embedded source is ignored). A generator becomes a NetworkDescription: architecture, hyper-
 * parameters, every module's plain attributes and every parameter/buffer as float32. D and the augment
 * pipe are parsed as data (their tensors are never materialised) and otherwise skipped.
 */
import { UserError } from "../errors.ts";
import type { Architecture, ModuleInfo, NamedTensor, NetworkDescription } from "./network.ts";
import { FileBudget } from "./budget.ts";
import { PyDict, PyObject, toPlain } from "./pickle.ts";
import {
  collectTensors,
  guard,
  moduleState,
  readFileBytes,
  readTorchBytes,
  tensorToFloat32,
} from "./torch.ts";
import { resolveNetworkPath, type TransferReporter } from "./download.ts";

/** A parsed snapshot: its top-level entries (raw unpickled values) and the file name for messages. */
export interface Snapshot {
  /** The file name used in messages (the local path once downloaded). */
  name: string;
  /** Top-level entries (None values included); a pickle of a bare generator appears as { G_ema }. */
  parts: Map<string, unknown>;
}

/** Parses snapshot bytes (any torch/pickle format sg3 reads). Tensors stay unmaterialised views. */
export function parseSnapshot(bytes: Uint8Array, name: string): Snapshot {
  const root = readTorchBytes(bytes, name);
  const parts = new Map<string, unknown>();
  if (root instanceof PyObject) parts.set("G_ema", root);
  else if (root instanceof PyDict) {
    for (const [k, v] of root) if (typeof k === "string") parts.set(k, v);
  } else throw new UserError(`${name}: not a network snapshot (the pickle holds no dict or module)`);
  return { name, parts };
}

/** Reads and parses a snapshot from a local path, URL or official short name (`report`: download progress). */
export async function readSnapshot(
  pathOrUrl: string,
  opts: { report?: TransferReporter } = {},
): Promise<Snapshot> {
  const path = await resolveNetworkPath(pathOrUrl, opts);
  return parseSnapshot(await readFileBytes(path), path);
}

/** Keys of a module's __dict__ that are torch internals rather than hyper-parameters or layer attributes. */
function isInternal(key: string): boolean {
  return key === "training" || (key.startsWith("_") && key !== "_init_args" && key !== "_init_kwargs");
}

/** A module's child modules (from `_modules`), in registration order. */
function children(state: PyDict): [string, unknown][] {
  const mods = moduleState(state.get("_modules"));
  return mods ? [...mods].filter(([, v]) => v !== null).map(([k, v]) => [String(k), v]) : [];
}

/** Walks the module tree: dotted path -> class name and plain attributes. */
function describeModules(root: PyObject, name: string): Map<string, ModuleInfo> {
  const out = new Map<string, ModuleInfo>();
  const budget = new FileBudget(name, 0); // all attributes together
  const walk = (m: unknown, path: string) => {
    const state = moduleState(m);
    if (!state || out.has(path)) return;
    if (out.size > 100_000) throw new UserError(`${name}: implausibly many modules`);
    const attrs: Record<string, unknown> = {};
    for (const [k, v] of state) {
      if (typeof k !== "string" || isInternal(k)) continue;
      const p = toPlain(v, budget);
      if (p !== undefined) attrs[k] = p;
    }
    out.set(path, { className: m instanceof PyObject ? m.className.split(".").pop()! : "dict", attrs });
    for (const [k, child] of children(state)) walk(child, path ? `${path}.${k}` : k);
  };
  walk(root, "");
  return out;
}

/** Tells StyleGAN3-T, StyleGAN3-R and StyleGAN2 generators apart by their contents (class names are shared). */
function detectArch(
  modules: Map<string, ModuleInfo>,
  hparams: Record<string, unknown>,
  name: string,
): Architecture {
  const synthesis = modules.get("synthesis");
  if (!modules.has("mapping") || !synthesis) {
    throw new UserError(`${name}: not a StyleGAN generator (no mapping and synthesis networks)`);
  }
  if (modules.has("synthesis.input")) {
    const radial = hparams.use_radial_filters === true ||
      [...modules].some(([k, m]) => k.startsWith("synthesis.") && m.attrs.down_radial === true);
    return radial ? "stylegan3-r" : "stylegan3-t";
  }
  if (modules.has("synthesis.b4")) return "stylegan2";
  throw new UserError(
    `${name}: unknown synthesis network (neither a StyleGAN3 input layer nor StyleGAN2 blocks)`,
  );
}

/** Builds the NetworkDescription of one generator module (materialising its tensors as float32). */
export function describeNetwork(module: unknown, name: string): NetworkDescription {
  return guard(name, () => {
    if (!(module instanceof PyObject) || !moduleState(module)) {
      throw new UserError(`${name}: the chosen part is not a network module`);
    }
    const modules = describeModules(module, name);
    const top = modules.get("")!.attrs;
    const kwargs = top._init_kwargs;
    const hparams: Record<string, unknown> = {
      ...(kwargs && typeof kwargs === "object" && !Array.isArray(kwargs) ? kwargs : {}),
    };
    for (const k of ["z_dim", "w_dim", "c_dim", "img_resolution", "img_channels", "num_ws"]) {
      if (top[k] !== undefined) hparams[k] = top[k];
    }
    for (const k of ["z_dim", "w_dim", "c_dim", "img_resolution", "img_channels"]) {
      if (typeof hparams[k] !== "number") throw new UserError(`${name}: not a StyleGAN generator (no ${k})`);
    }
    const arch = detectArch(modules, hparams, name);
    const tensors = new Map<string, NamedTensor>();
    const buffers = new Set<string>();
    for (const [k, t] of collectTensors(module, "", buffers)) {
      tensors.set(k, { shape: [...t.shape], data: tensorToFloat32(t, `${name}: ${k}`) });
    }
    return { arch, hparams, modules, tensors, buffers };
  });
}

/** Options of `loadNetwork`. */
export interface LoadNetworkOptions {
  /** Which generator of a training snapshot to use; default "G_ema" (as gen_images.py). */
  which?: "G_ema" | "G";
  /** Download progress and notes (none when absent). */
  report?: TransferReporter;
}

/** Picks the generator part of a snapshot, with a clear error when it is absent. */
export function snapshotGenerator(snap: Snapshot, which: "G_ema" | "G" = "G_ema"): unknown {
  const part = snap.parts.get(which);
  if (part === undefined || part === null) {
    const keys = [...snap.parts.keys()];
    const held = keys.length === 0
      ? "nothing"
      : keys.slice(0, 6).join(", ") + (keys.length > 6 ? ` and ${keys.length - 6} more entries` : "");
    throw new UserError(`${snap.name}: not a network snapshot (no ${which}; the file holds ${held})`);
  }
  return part;
}

/**
 * Loads a generator network from a local snapshot path, an http(s) URL (downloaded once into the cache)
 * or an official short name such as "stylegan3-t-ffhq-1024x1024". Throws UserError on bad input.
 *
 * @example Load a network and put it on the GPU
 * ```ts
 * import { Generator, Gpu, loadNetwork } from "@sg3/sg3";
 *
 * const net = await loadNetwork("stylegan3-t-ffhq-1024x1024"); // or a .pkl path, or a URL
 * console.log(net.arch, net.hparams.img_resolution); // "stylegan3-t" 1024
 * const gen = Generator.create(await Gpu.open(), net);
 * ```
 */
export async function loadNetwork(
  pathOrUrl: string,
  opts: LoadNetworkOptions = {},
): Promise<NetworkDescription> {
  const snap = await readSnapshot(pathOrUrl, { report: opts.report });
  return describeNetwork(snapshotGenerator(snap, opts.which ?? "G_ema"), snap.name);
}
