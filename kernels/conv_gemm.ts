/**
 * Convolution as an implicit matrix product with register tiles and no workgroup memory, the one
 * convolution of sg3 (Inception's convolutions and StyleGAN3's modulated convolutions):
 *
 *   v = d[n, o] * sum_{c, ky, kx} W[o, c, ky, kx] * s[n, c] * x[n, c, oy * stride + ky - padH, ox * stride + kx - padW]
 *   y[n, cOffset + o, oy, ox] (+)= clamp(act(v + noise[n?, oy, ox] * strength + b[o]) * gain, -clamp, clamp)
 *
 * with zero padding, optional per-sample input factors s (the folded styles), output factors d (the
 * demodulation coefficients), and an epilogue as bias_act's: noise (StyleGAN2's noise inputs), bias b,
 * act = linear, ReLU or leaky ReLU (slope 0.2), gain, clamp, and optionally added to y (residual and skip
 * connections). Each invocation computes 4V output channels x RN consecutive output pixels of a row (or,
 * with axis "y", of a column): per input channel and outer kernel tap it loads the (RN - 1) * stride + k input
 * values of that line once into registers and reuses them across the k inner taps, and the 4V weights per
 * tap as V vec4s, so that a tap costs RN * V vec4 multiply-adds and no barrier. Invocations are numbered
 * (sample, channel block, pixel group) with the pixel groups fastest, so that small maps at batch 1 still
 * fill whole workgroups; a 1x1 convolution without stride or padding treats each map as one row. The
 * weight is packed once as W[(c * kh + ky) * kw + kx][o] with the channels padded to a multiple of 32.
 * The tile (V, RN) and the workgroup size are the tunable variant ({@link convCandidates}); for 3x3, 1x7, 7x1,
 * 1x3 and 3x1 stride-1 kernels a variant may instead run Winograd's minimal filtering (kernels/winograd.ts), and
 * on hardware adapters workgroup-memory tiles (kernels/conv_tiled.ts), with the same epilogue.
 */
import type { Gpu } from "../gpu/device.ts";
import type { DType, Tensor } from "../gpu/tensor.ts";
import { runProgram } from "../gpu/program.ts";
import { grid1d, main1d } from "./grid.ts";
import { epilogue, epilogueBuffers, epilogueParams, LRELU, type Shape, tileSums } from "./conv_epilogue.ts";
import {
  winogradConv,
  winogradFits,
  winogradInvocations,
  winogradScheme,
  WinogradWeights,
} from "./winograd.ts";
import { memoized, range, shiftedRead } from "./unroll.ts";
import { convTiled, TILED_WG, tiledInvocations } from "./conv_tiled.ts";
import { cast } from "./elementwise.ts";

/**
 * A convolution weight packed for {@link convGemm}. Its tensors never change once made: software adapters read
 * them through texture copies made on first use (gpu/texture.ts, "constant").
 */
export interface ConvWeight {
  /** [cin * kh * kw, cpad]: tap-major, output channels padded with zeros to cpad (a multiple of 16). */
  packed: Tensor;
  /** Output channels. */
  cout: number;
  /** Input channels. */
  cin: number;
  /** Kernel height. */
  kh: number;
  /** Kernel width. */
  kw: number;
  /** Kernels with a Winograd scheme: the transformed weight, made on its first Winograd launch; else null. */
  winograd: WinogradWeights | null;
  /** `packed` in f16, made on the first launch of a tile with f16 arithmetic (see {@link ConvVariant}.half). */
  half: Tensor | null;
}

/** What holds GPU memory of a packed weight (to destroy with it). */
export function convWeightTensors(w: ConvWeight): { destroy(): void }[] {
  return [w.packed, ...w.winograd ? [w.winograd] : [], ...w.half ? [w.half] : []];
}

/** Channel padding of packed weights: 4 times the largest V of any variant (8). */
const CHANNEL_PAD = 32;

/** Packs a weight [cout, cin, kh, kw] (row-major) for {@link convGemm} and uploads it. */
export function packConvWeight(gpu: Gpu, w: Float32Array, shape: readonly number[]): ConvWeight {
  const [cout, cin, kh, kw] = shape;
  if (w.length !== cout * cin * kh * kw) throw new Error(`packConvWeight: ${w.length} values for [${shape}]`);
  const k = cin * kh * kw, cpad = Math.ceil(cout / CHANNEL_PAD) * CHANNEL_PAD;
  const packed = new Float32Array(k * cpad);
  for (let o = 0; o < cout; o++) {
    for (let t = 0; t < k; t++) packed[t * cpad + o] = w[o * k + t];
  }
  const winograd = winogradScheme(kh, kw) ? new WinogradWeights(w, cout, cin, cpad, kh, kw) : null;
  return { packed: gpu.upload(packed, [k, cpad]), cout, cin, kh, kw, winograd, half: null };
}

/** A tile configuration: V vec4s of output channels and RN pixels per invocation, WG invocations. */
export interface ConvVariant {
  /** vec4s of output channels per invocation (4V channels). */
  v: number;
  /** Consecutive output pixels of a row per invocation. */
  rn: number;
  /** Invocations per workgroup. */
  wg: number;
  /** "y": the RN pixels run down a column (kh x 1 kernels reuse each loaded column across their taps). */
  axis?: "y";
  /**
   * "winograd": minimal filtering for stride-1 kernels with a scheme (kernels/winograd.ts), RN counting output
   * tiles; "tiled": workgroup tiles of 64V channels x 16RN pixels through workgroup memory
   * (kernels/conv_tiled.ts, WG 256).
   */
  algo?: "winograd" | "tiled";
  /** With "winograd": its products as workgroup-memory tiles (kernels/winograd.ts, WinogradTile.products). */
  products?: "tiled";
  /**
   * Direct and workgroup-memory tiles over f16 inputs: products and short sums in f16 (`vec4<f16>` multiply-adds
   * of f16 weights and inputs), the sum of each run of {@link halfRun} channels (of each slab, for workgroup
   * tiles) added into the f32 accumulators (GPUs with `shader-f16` multiply-add two or more f16 values per f32
   * one).
   */
  half?: true;
  /**
   * Read the input, the weights (and Winograd's intermediates) through textures (gpu/texture.ts): what every
   * tile does on software adapters, where a storage-buffer load can cost up to 9 times a texel fetch.
   */
  tex?: true;
}

/** Tiles [V, RN, WG] per kernel class, the llvmpipe winners of `sg3 tune` first (see {@link convCandidates}). */
const TILES = {
  // 1x1: one load per input value and tap, so only a big tile amortises it (128 multiply-adds per 12 loads).
  pointwise: [[8, 16, 128], [4, 16, 128], [8, 8, 128], [4, 32, 128], [4, 8, 64], [2, 16, 64], [4, 4, 64], [
    2,
    8,
    64,
  ]],
  // kh x kw: each loaded row serves kw taps; very wide tiles make the unrolled code slow to compile.
  square: [[4, 16, 64], [4, 32, 128], [8, 8, 128], [2, 16, 64], [2, 8, 64], [4, 8, 64], [8, 4, 64], [
    2,
    4,
    64,
  ]],
  // kh x 1: pixels down a column (axis y) reuse each loaded column across the kh taps.
  column: [[4, 8, 64], [4, 4, 64], [8, 4, 64], [8, 8, 128], [2, 8, 64]],
} as const;

/** Winograd tiles [V, RN (output tiles, a multiple of 4), WG] for stride-1 kernels, llvmpipe's best first. */
const WINOGRAD = [[4, 16, 64], [8, 16, 128], [4, 32, 128], [8, 8, 128], [4, 8, 64], [2, 16, 64]] as const;

/** The default tile on hardware adapters before `sg3 tune` (or first-use tuning) measured a shape. */
const GPU_DEFAULT = [2, 8, 64] as const;

/**
 * Workgroup-memory tiles [V, RN] (64V channels x 16RN pixels per workgroup), offered on hardware adapters. Each
 * step of the slab loop loads V + RN / 4 vec4s from workgroup memory for 4 V RN scalar multiply-adds: 8 per
 * loaded vec4 for [1, 4] up to 21 for [2, 16] (128 accumulators per invocation), where a GPU's workgroup memory
 * feeds about one vec4 per 16 multiply-adds of its cores (NVIDIA: 128 bytes and 128 multiply-adds per clock
 * and SM), so only the larger tiles can keep the cores busy; the smaller ones fill more of a GPU on small maps.
 */
const TILED = [[2, 4], [1, 4], [2, 8], [2, 16]] as const;

/**
 * The candidate tiles for a kh x kw kernel, the default first. On llvmpipe (`software`) a storage load costs
 * as much as 10-20 vec4 multiply-adds and is paid per invocation even when all invocations load the same
 * weight, while spilled registers cost little: the winners are large tiles (32 channels x 16 pixels for
 * 1x1 kernels) and the default is what `sg3 tune` found there, since software adapters are not tuned
 * automatically. On GPUs, smaller tiles keep more invocations resident, and the workgroup-memory tiles
 * (kernels/conv_tiled.ts) share every load among 16 invocations; first-use tuning measures them.
 * Strided kernels start from the same square tile: the widest (16 channels x 32 pixels) led there until the
 * storage-texture reads, and since then runs 1.8x as long on the 35x35 maps (2026-12-03). Stride-1 kernels with
 * a Winograd scheme also get Winograd variants, first on llvmpipe when the layer is `wide` (at least 40 input
 * and output channels; narrower layers amortise its transforms badly), and on hardware adapters Winograd with
 * its products as workgroup-memory tiles too ({@link ConvVariant}.products). With `half` (f16 inputs on an adapter
 * with `shader-f16`) every direct and workgroup-memory tile also comes with f16 arithmetic
 * ({@link ConvVariant}.half): first on GPUs, last on llvmpipe. On software adapters every candidate reads
 * through textures ({@link ConvVariant}.tex; the same sums, so the same results as its storage-buffer twin, which
 * hardware adapters run).
 */
export function convCandidates(
  kh = 3,
  kw = 3,
  software = true,
  stride = 1,
  wide = true,
  half = false,
): ConvVariant[] {
  const column = kw === 1 && kh > 1;
  const tiles: readonly (readonly number[])[] = kh * kw === 1
    ? TILES.pointwise
    : column
    ? TILES.column
    : TILES.square;
  const out: ConvVariant[] = tiles.map(([v, rn, wg]) => column ? { v, rn, wg, axis: "y" } : { v, rn, wg });
  // Column kernels also try row tiles; every class has the GPU default.
  if (column) out.push({ v: 2, rn: 8, wg: 64 }, { v: 2, rn: 4, wg: 64 });
  const [v, rn, wg] = GPU_DEFAULT, gpu = out.findIndex((c) => c.v === v && c.rn === rn && c.wg === wg);
  if (!software) out.unshift(...out.splice(gpu, 1));
  if (half) {
    // The official code runs the layers it marks use_fp16 in f16 on CUDA, so a GPU starts from f16 arithmetic;
    // on llvmpipe, which has no f16 units, the f16 tiles come last.
    const twins = out.map((t) => ({ ...t, half: true as const }));
    out.push(...twins.slice(software ? 0 : 1));
    if (!software) out.unshift(twins[0]);
  }
  // Hardware adapters also get the workgroup-memory tiles, for direct convolutions and Winograd's products.
  const tiled = software ? [] : TILED.map(([v, rn]) => ({ v, rn, wg: TILED_WG, algo: "tiled" as const }));
  out.push(...tiled, ...half ? tiled.map((t) => ({ ...t, half: true as const })) : []);
  const wino: ConvVariant[] = stride === 1 && winogradScheme(kh, kw)
    ? [
      ...WINOGRAD.map(([v, rn, wg]) => ({ v, rn, wg, algo: "winograd" as const })),
      ...tiled.map((t) => ({ ...t, algo: "winograd" as const, products: "tiled" as const })),
    ]
    : [];
  // Narrow layers (fewer than 40 input or output channels) amortise Winograd's transforms badly.
  const all = software && wide ? [...wino, ...out] : [...out, ...wino];
  return software ? all.map((t) => ({ ...t, tex: true as const })) : all;
}

/** The fewest invocations per workgroup of a tile shrunk by {@link fillingFirst}: llvmpipe's SIMD width. */
export const MIN_FILL_WG = 8;

/**
 * The candidates with, in front, the default (the first) with its workgroup halved until its launch has
 * `workgroups` workgroups or holds {@link MIN_FILL_WG} invocations (unchanged where it already has them):
 * on a CPU (llvmpipe runs each workgroup on one core, as loops over 8 SIMD lanes) a big tile on a small map at
 * batch 1 would leave cores idle in few large workgroups. Many small workgroups of the same tile give every core
 * work and even out a core lost to other threads, while the tile, which decides the work per multiply-add,
 * stays the fastest one (a smaller tile took 1.5-2x as long per multiply-add on Inception's 17x17 maps). The
 * sums are those of the default tile, so that the images do not depend on the batch size.
 */
export function fillingFirst(
  candidates: ConvVariant[],
  invocations: (t: ConvVariant) => number,
  workgroups: number,
): ConvVariant[] {
  const first = candidates[0];
  if (!first) return candidates;
  let wg = first.wg;
  while (wg / 2 >= MIN_FILL_WG && invocations(first) < workgroups * wg) wg /= 2;
  return wg === first.wg ? candidates : [{ ...first, wg }, ...candidates];
}

/** Options of {@link convGemm}. */
export interface ConvGemmOptions {
  /** Step between output pixels in input pixels, both axes (default 1). */
  stride?: number;
  /** Zero rows added above and below the input. */
  padH: number;
  /** Zero columns added left and right of the input. */
  padW: number;
  /** Output size (default: the convolution's, floor((h + 2 padH - kh) / stride) + 1 etc.). */
  size?: [number, number];
  /** Per-sample input channel factors [N, cin]. */
  scale?: Tensor | null;
  /** Per-sample output channel factors [N, cout]. */
  dcoef?: Tensor | null;
  /** Per-output-channel bias [cout], added after the noise. */
  bias?: Tensor | null;
  /** Activation after the bias (default linear); lrelu has slope 0.2. */
  act?: "linear" | "relu" | "lrelu";
  /** Factor after the activation (default 1). */
  gain?: number;
  /** Clamp bound after the gain; null/undefined = none. */
  clamp?: number | null;
  /** Noise added before the bias: [oh, ow] shared by the batch, or [N, oh, ow]; times `strength`. */
  noise?: { tensor: Tensor; strength: number } | null;
  /** Add the result to what `into` (or the output) holds instead of overwriting it. */
  accumulate?: boolean;
  /** Write into channels [cOffset, cOffset + cout) of `out` [N, cTotal, oh, ow] instead of a new tensor. */
  into?: { out: Tensor; cOffset: number };
  /** Element type of a new output tensor (default f32). */
  outDtype?: DType;
  /** The tile; default: the tuner's choice for this shape on this adapter (gpu/tuner.ts). */
  variant?: ConvVariant;
}

/**
 * How a row tile reads its input lines as vec4s (`ld_x` returning vec4f) instead of one value at a time.
 * "aligned": a 1x1 convolution over whole maps (each map one line of h w pixels) with RN a multiple of 4, over
 * an input of a multiple of 4 values per sample: each pixel group starts at a multiple of 4 within its plane and
 * plane c at c h w, so its RN values lie m = (c h w) mod 4 values into RN / 4 vec4s (one more when m > 0) and
 * are picked by constant indices. With h w a multiple of 4, m = 0; otherwise the channel loop runs as four loops,
 * over the channels c = r (mod 4), each with its own constant m = (r h w) mod 4. "shifted": any other row tile
 * over an input holding a multiple of 4 values per sample: each line's R values start at some offset within a
 * vec4 (per invocation and line) and are picked from the floor((R + 2) / 4) + 1 vec4s that cover them by three
 * selects each; values outside the map are zeroed as before.
 */
type QuadRead = "aligned" | "shifted";

/**
 * The kernel for shape `s` and tile `t`, the input read per `quad` if given; `planeRem` is h w mod 4 of an
 * "aligned" read.
 */
function source(s: Shape, t: ConvVariant, quad?: QuadRead, planeRem = 0): string {
  const { kh: KH, kw: KW, stride: S } = s;
  const V = t.v, RN = t.rn, down = t.axis === "y", half = !!t.half;
  // With f16 arithmetic the taps sum into f16 accumulators h, added into the f32 ones a per run of channels.
  const [sum, vec] = half ? ["h", "vec4h"] : ["a", "vec4f"];
  const toHalf = (e: string, type = "f16") => half ? `${type}(${e})` : e;
  // The RN pixels lie along the line axis (x: a row, y: a column); each line of input values is loaded once
  // per input channel and outer tap and reused by the inner taps along that axis.
  const [KO, KI] = down ? [KW, KH] : [KH, KW];
  const R = (RN - 1) * S + KI;
  const vs = range(V), js = range(RN), rs = range(R);
  const sums = tileSums(V, RN);
  // Bounds of the R positions along the line, and the line start (in input pixels) for outer tap `ko`.
  const [along, across, alongSize, acrossSize] = down
    ? ["iy0", "ix0", "p.h", "p.w"]
    : ["ix0", "iy0", "p.w", "p.h"];
  const lineOk = rs.map((r) => `let lok${r} = ${along} + ${r} >= 0 && ${along} + ${r} < i32(${alongSize});`)
    .join("\n  ");
  // The taps of one input channel whose aligned lines start m values into a vec4.
  const lineTaps = (m: number) => {
    const taps: string[] = [];
    for (let ko = 0; ko < KO; ko++) {
      const at = `${across} + ${ko}`;
      taps.push(`    {
      let ok = ${at} >= 0 && ${at} < i32(${acrossSize});`);
      // Values past a line's or a map's end are read from the next line or plane (or past the tensor, returning
      // anything) and then zeroed or, for an aligned tile's pixels past the map's end, never stored.
      const sc = s.scale ? " * sc" : "";
      if (quad === "aligned") {
        for (let q = 0; q < Math.ceil((R + m) / 4); q++) {
          taps.push(
            `      let xq${q} = ${toHalf(`ld_x((xc + u32(ix0) - ${m}u) / 4u + ${q}u)${sc}`, "vec4h")};`,
          );
        }
        for (const r of rs) taps.push(`      let x${r} = xq${(r + m) >> 2}[${(r + m) & 3}];`);
      }
      if (quad === "shifted") {
        // The line's flat start (negative only before a run's first value, where every value is padding).
        const line = shiftedRead(
          (i) => toHalf(`ld_x(${i})${sc}`, "vec4h"),
          `i32(xc) + (${at}) * i32(p.w) + ix0`,
          R,
          "x",
        );
        taps.push(...line.code.map((c) => `      ${c}`));
        for (const r of rs) taps.push(`      let x${r} = select(0.0, ${line.value(r)}, ok && lok${r});`);
      }
      for (const r of quad ? [] : rs) {
        const [iy, ix] = down ? [`${along} + ${r}`, at] : [at, `${along} + ${r}`];
        const x = `select(0.0, ld_x(xc + u32(max(${iy}, 0)) * p.w + u32(max(${ix}, 0))), ok && lok${r})${sc}`;
        taps.push(`      let x${r} = ${toHalf(x)};`);
      }
      for (let ki = 0; ki < KI; ki++) {
        const [ky, kx] = down ? [ki, ko] : [ko, ki];
        const k = `((c * ${KH}u + ${ky}u) * ${KW}u + ${kx}u) * p.c4 + ob`;
        taps.push(`      {`);
        for (const v of vs) taps.push(`        let w${v} = ld_wt(${k} + ${v}u);`);
        for (const v of vs) {
          taps.push(
            `        ${
              js.map((j) => `${sum}${v}_${j} = fma(w${v}, ${vec}(x${j * S + ki}), ${sum}${v}_${j});`).join(
                " ",
              )
            }`,
          );
        }
        taps.push(`      }`);
      }
      taps.push(`    }`);
    }
    return taps;
  };
  // The channel loop (within an f16 run from c0), or the four loops of an aligned read over planes of h w values
  // not a multiple of 4 (an f16 run's c0 is a multiple of 4).
  const loop = (r: number, every: number) =>
    `for (var c = ${half ? "c0 + " : ""}${r}u; c < ${
      half ? `min(c0 + ${halfRun(KH * KW)}u, p.cin)` : "p.cin"
    }; c += ${every}u) {
    let xc = (nl * p.cin + c) * p.h * p.w;
    ${s.scale ? "let sc = scale[n * p.cin + c];" : ""}
${lineTaps((r * planeRem) % 4).join("\n")}
  }`;
  const loops = quad === "aligned" && planeRem ? range(4).map((r) => loop(r, 4)).join("\n  ") : loop(0, 1);
  // Output pixel j of the invocation: its offset from (oy, ox0) and its bound.
  const step = (j: number) => down ? `${j}u * p.ow` : `${j}u`;
  const inside = (j: number) => down ? `oy + ${j}u < p.oh` : `ox + ${j}u < p.ow`;
  const store: string[] = [];
  for (const v of vs) {
    for (let e = 0; e < 4; e++) {
      store.push(`  {
    let o = ob * 4u + ${4 * v + e}u;
    if (o < p.cout) {
      let d = ${s.dcoef ? "dcoef[n * p.cout + o]" : "1.0"};
      let b = ${s.bias ? "bias[o]" : "0.0"};
      let yb = ((nl * p.cTotal + p.cOffset + o) * p.oh + oy) * p.ow + ox;
${
        js.map((j) =>
          `      if (${inside(j)}) { ${
            epilogue(s, `a${v}_${j}[${e}] * d`, `yb + ${step(j)}`, `(oy * p.ow + ox) + ${step(j)}`)
          } }`
        ).join("\n")
      }
    }
  }`);
    }
  }
  // One invocation per (sample, channel block, pixel group), pixel groups fastest: lanes are packed even when
  // a layer is small (a 17x17 or 8x8 map at batch 1 fills few rows), and neighbours share channels.
  return /* wgsl */ `
${LRELU}
${main1d("item", "p.count * p.blocks * p.lines * p.groups")}
  let per = p.lines * p.groups;
  let nl = item / (p.blocks * per);
  let n = p.n0 + nl;
  let ob = (item / per) % p.blocks * ${V}u;
  let line = item % per / p.groups;
  let pos = item % p.groups;
  let oy = ${down ? `line * ${RN}u` : "line"};
  let ox = ${down ? "pos" : `pos * ${RN}u`};
  let iy0 = i32(oy * ${S}u) - p.padH;
  let ix0 = i32(ox * ${S}u) - p.padW;
  ${lineOk}
  ${sums.declare}
  ${half ? `for (var c0 = 0u; c0 < p.cin; c0 += ${halfRun(KH * KW)}u) {` : ""}
  ${half ? sums.open : ""}
  ${loops}
  ${half ? `${sums.close}\n  }` : ""}
${store.join("\n")}
}`;
}

/**
 * Input channels per f16 run of a tile with f16 arithmetic, for a kernel of `taps` taps: about 16 products are
 * summed in f16 (rounded to 11 significant bits after each) before the run's sum joins the f32 accumulator, so
 * that the rounding grows with the run, not with the whole reduction (a 3x3 layer of 512 channels sums 4608).
 */
export function halfRun(taps: number): number {
  return Math.max(1, Math.round(16 / taps));
}

/** {@link source}, built once per configuration. */
const convSource = memoized(source);

/**
 * The pixels per invocation for a tile of `rn` along a line of `length` outputs: the fewest that keep the
 * tile's number of groups per line, ceil(length / ceil(length / rn)). A 17-pixel row (Inception's 17x17
 * maps) then takes two groups of 9 instead of 16 + 1 with 15 idle lanes' worth of multiply-adds, an 8-pixel row
 * one group of 8 instead of 16. Each output's sum runs over the same channels and taps in the same order for
 * any RN, so the result does not change. The same fit applies to a tile's vec4s of output channels.
 */
export function fitRun(rn: number, length: number): number {
  return Math.ceil(length / Math.ceil(length / rn));
}

/** The output size of a convolution along one axis. */
export function convOutSize(size: number, k: number, stride: number, pad: number): number {
  return Math.floor((size + 2 * pad - k) / stride) + 1;
}

/**
 * Convolves x [N, cin, H, W] (f32 or f16) with a packed weight (see the module doc); returns y
 * [N, cout, oh, ow] or writes a channel slice of `into`. Batches larger than one binding run in pieces.
 */
export function convGemm(gpu: Gpu, x: Tensor, w: ConvWeight, opts: ConvGemmOptions): Tensor {
  const [n, cin, h, wd] = x.shape;
  if (cin !== w.cin) throw new Error(`convGemm: x [${x.shape}] for a weight of ${w.cin} input channels`);
  const stride = opts.stride ?? 1;
  const [oh, ow] = opts.size ??
    [convOutSize(h, w.kh, stride, opts.padH), convOutSize(wd, w.kw, stride, opts.padW)];
  const out = opts.into?.out ?? gpu.tensor([n, w.cout, oh, ow], opts.outDtype ?? "f32");
  const cOffset = opts.into?.cOffset ?? 0;
  const [on, cTotal, ooh, oow] = out.shape;
  if (on !== n || ooh !== oh || oow !== ow || cOffset + w.cout > cTotal) {
    throw new Error(
      `convGemm: output [${out.shape}] cannot hold ${w.cout} channels of ${oh}x${ow} at ${cOffset}`,
    );
  }
  const key = `${w.kh}x${w.kw} s${stride} ${cin}->${w.cout} ${h}x${wd} n${n} ${x.dtype}${
    opts.scale ? " mod" : ""
  }`;
  // A 1x1 convolution without stride or padding sees each map as one row of h * w pixels, so that its
  // pixel groups cross row ends instead of padding every row to a multiple of RN.
  const flat = w.kh === 1 && w.kw === 1 && stride === 1 && opts.padH === 0 && opts.padW === 0;
  const [gh, gw, goh, gow] = flat ? [1, h * wd, 1, oh * ow] : [h, wd, oh, ow];
  // Row tiles read their lines as vec4s (see QuadRead) where each sample's input holds a multiple of 4 values;
  // 1x1 convolutions over whole maps fit RN up to a multiple of 4 (every RN of the candidates is one) and read
  // aligned vec4s.
  const quadInput = (cin * h * wd) % 4 === 0;
  const alignedMaps = quadInput && flat;
  // A tile's RN pixels fitted to the line they run along, and its V vec4s to the output channels (see fitRun):
  // 48 channels take two blocks of 24 instead of 32 + 16 idle, StyleGAN's 3 RGB channels one vec4 instead of 8.
  const fit = (t: ConvVariant): ConvVariant => {
    if (t.algo) return t;
    const rn = fitRun(t.rn, t.axis === "y" ? goh : gow);
    const v = fitRun(t.v, Math.ceil(w.cout / 4));
    return { ...t, v, rn: alignedMaps && t.rn % 4 === 0 ? Math.ceil(rn / 4) * 4 : rn };
  };
  // The launch geometry of a fitted tile.
  const grid = (t: ConvVariant) => {
    const [lines, groups] = t.axis === "y" ? [Math.ceil(goh / t.rn), gow] : [goh, Math.ceil(gow / t.rn)];
    return { lines, groups, blocks: Math.ceil(w.cout / (4 * t.v)) };
  };
  const geometry = { cin, cout: w.cout, oh, ow, kh: w.kh, kw: w.kw };
  const invocations = (t: ConvVariant) => {
    if (t.algo === "winograd") return winogradInvocations(n, geometry, t);
    if (t.algo === "tiled") return tiledInvocations(n, w.cout, oh, ow, t);
    const { lines, groups, blocks } = grid(fit(t));
    return n * lines * groups * blocks;
  };
  const software = gpu.summary.isFallback;
  const wide = Math.min(cin, w.cout) >= 40;
  const candidates = convCandidates(w.kh, w.kw, software, stride, wide, x.dtype === "f16").filter((t) =>
    t.algo !== "winograd" || (w.winograd && winogradFits(gpu, geometry, t))
  );
  const picked = opts.variant ? { variant: opts.variant } : gpu.tuner.pick(
    "conv_gemm",
    key,
    software ? fillingFirst(candidates, invocations, 2 * navigator.hardwareConcurrency) : candidates,
  );
  const t = fit(picked.variant);
  const { lines, groups, blocks } = grid(t);
  const quad: QuadRead | undefined = t.axis || !quadInput
    ? undefined
    : alignedMaps && t.rn % 4 === 0
    ? "aligned"
    : "shifted";
  const planeRem = quad === "aligned" ? gw % 4 : 0;
  const shape: Shape = {
    kh: w.kh,
    kw: w.kw,
    stride,
    scale: !!opts.scale,
    dcoef: !!opts.dcoef,
    bias: !!opts.bias,
    act: opts.act ?? "linear",
    clamp: opts.clamp !== undefined && opts.clamp !== null,
    noise: !opts.noise ? "none" : opts.noise.tensor.size === oh * ow ? "shared" : "sample",
    accumulate: !!opts.accumulate,
  };
  if (opts.noise && shape.noise === "sample" && opts.noise.tensor.size !== n * oh * ow) {
    throw new Error(`convGemm: noise [${opts.noise.tensor.shape}] for output [${n}, ${oh}, ${ow}]`);
  }
  // The launch as the workgroup-level algorithms take it (besides their weight and tile); its epilogue part
  // serves the direct tiles too.
  const launch = {
    x,
    cin,
    cout: w.cout,
    stride,
    padH: opts.padH,
    padW: opts.padW,
    oh,
    ow,
    cTotal,
    cOffset,
    out,
    scale: opts.scale ?? null,
    dcoef: opts.dcoef ?? null,
    bias: opts.bias ?? null,
    noise: opts.noise?.tensor ?? null,
    strength: opts.noise?.strength ?? 0,
    gain: opts.gain ?? 1,
    clamp: opts.clamp ?? 0,
    shape,
    tag: picked.tag,
  };
  if (t.algo === "winograd") {
    if (!w.winograd || stride !== 1) {
      throw new Error(`convGemm: Winograd needs a stride-1 kernel with a scheme`);
    }
    winogradConv(gpu, { ...launch, weight: w.winograd.tensor(gpu), tile: t });
    return out;
  }
  if (t.half && !gpu.f16) throw new Error("convGemm: f16 arithmetic needs shader-f16");
  const weight = t.half ? (w.half ??= cast(gpu, w.packed, "f16")) : w.packed;
  if (t.algo === "tiled") {
    convTiled(gpu, { ...launch, weight, tile: t });
    return out;
  }
  const u = (v: number) => ["u32", v] as const;
  runProgram(gpu, {
    name: `conv_gemm_${w.kh}x${w.kw}_s${stride}${quad ? `_${quad}` : ""}${
      planeRem ? `_p${planeRem}` : ""
    }_v${t.v}_rn${t.rn}${t.axis === "y" ? "y" : ""}_wg${t.wg}${t.half ? "_h" : ""}${t.tex ? "_tex" : ""}${
      shape.accumulate ? "_acc" : ""
    }`,
    items: n,
    params: {
      cin: u(cin),
      cout: u(w.cout),
      c4: u(w.packed.shape[1] / 4),
      h: u(gh),
      w: u(gw),
      oh: u(goh),
      ow: u(gow),
      lines: u(lines),
      groups: u(groups),
      blocks: u(blocks),
      padH: ["i32", opts.padH],
      padW: ["i32", opts.padW],
      ...epilogueParams(launch),
    },
    buffers: [
      { name: "x", data: x, split: true, type: quad ? "vec4" : undefined, texture: !!t.tex },
      { name: "wt", data: weight, type: "vec4", texture: t.tex ? "constant" : false },
      { name: "scale", data: opts.scale ?? w.packed },
      ...epilogueBuffers(launch, w.packed),
    ],
    workgroupSize: t.wg,
    tag: picked.tag,
    flops: 2 * n * oh * ow * w.cout * cin * w.kh * w.kw,
    source: convSource(shape, t, quad, planeRem),
    workgroups: (count) => grid1d(count * blocks * lines * groups, t.wg, gpu.maxWorkgroups),
  });
  return out;
}
