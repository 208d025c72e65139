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
 * connections). Each invocation computes 4V output channels x RN
 * consecutive output pixels of one row: per input channel and kernel row it loads the (RN - 1) * stride +
 * kw input values the RN pixels need once into registers, and the 4V weights per tap as V vec4s (the
 * same for the whole workgroup), so that a tap costs RN * V vec4 multiply-adds and no barrier. The
 * weight is packed once as W[(c * kh + ky) * kw + kx][o] with the channels padded to a multiple of 16.
 * The tile (V, RN) and the workgroup size are the tunable variant ({@link convCandidates}).
 */
import type { Gpu } from "../gpu/device.ts";
import type { DType, Tensor } from "../gpu/tensor.ts";
import { runProgram } from "../gpu/program.ts";

/** A convolution weight packed for {@link convGemm}. */
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
  return { packed: gpu.upload(packed, [k, cpad]), cout, cin, kh, kw };
}

/** A tile configuration: V vec4s of output channels and RN pixels per invocation, WG invocations. */
export interface ConvVariant {
  /** vec4s of output channels per invocation (4V channels). */
  v: number;
  /** Consecutive output pixels of a row per invocation. */
  rn: number;
  /** Invocations per workgroup. */
  wg: number;
}

/**
 * The candidate tiles for a kh x kw kernel, the llvmpipe default first (as `sg3 tune` found on llvmpipe: 16
 * channels x 8 pixels for 1x1 kernels, 8 x 8 otherwise): on llvmpipe a storage load costs
 * tens of FMAs, so larger tiles (more multiply-adds per load) often win despite register spills; on GPUs
 * smaller tiles keep more invocations resident. `sg3 tune` measures them per shape.
 */
export function convCandidates(kh = 3, kw = 3): ConvVariant[] {
  // 1x1 convolutions load one input value per tap, so the bigger 16-channel tile (more multiply-adds per
  // load) wins on llvmpipe; wider kernels reuse each loaded row across taps and prefer 8 x 8.
  const first = kh * kw === 1 ? [4, 8] : [2, 8];
  const out: ConvVariant[] = [];
  for (
    const [v, rn] of [
      first,
      ...[[2, 8], [4, 8], [8, 4], [4, 4], [2, 4], [1, 8]].filter(([v, rn]) =>
        v !== first[0] || rn !== first[1]
      ),
    ]
  ) {
    out.push({ v, rn, wg: 64 });
  }
  out.push({ v: 2, rn: 8, wg: 128 }, { v: 4, rn: 8, wg: 128 });
  return out;
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

interface Shape {
  kh: number;
  kw: number;
  stride: number;
  scale: boolean;
  dcoef: boolean;
  bias: boolean;
  act: "linear" | "relu" | "lrelu";
  clamp: boolean;
  /** Noise: none, one [oh, ow] plane for the batch, or one per sample. */
  noise: "none" | "shared" | "sample";
  accumulate: boolean;
}

/** WGSL of the epilogue for value `v` of output channel `o` at output index `yi` (pixel `pix`). */
function epilogue(s: Shape, v: string, yi: string, pix: string): string {
  let e = v;
  if (s.noise !== "none") {
    e = `${e} + noise[${s.noise === "sample" ? "nl * p.oh * p.ow + " : ""}${pix}] * p.strength`;
  }
  e = `(${e} + b)`;
  if (s.act === "relu") e = `max(${e}, 0.0)`;
  if (s.act === "lrelu") e = `lrelu(${e})`;
  e = `${e} * p.gain`;
  if (s.clamp) e = `clamp(${e}, -p.clamp, p.clamp)`;
  if (s.accumulate) e = `ld_y(${yi}) + ${e}`;
  return `st_y(${yi}, ${e});`;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function source(s: Shape, t: ConvVariant): string {
  const { kh: KH, kw: KW, stride: S } = s;
  const V = t.v, RN = t.rn, R = (RN - 1) * S + KW;
  const vs = range(V), js = range(RN), rs = range(R);
  const acc = vs.map((v) => js.map((j) => `var a${v}_${j} = vec4f(0.0);`).join(" ")).join("\n  ");
  const colOk = rs.map((r) => `let cok${r} = ix0 + ${r} >= 0 && ix0 + ${r} < i32(p.w);`).join("\n  ");
  const taps: string[] = [];
  for (let ky = 0; ky < KH; ky++) {
    taps.push(`    {
      let iy = iy0 + ${ky};
      let rok = iy >= 0 && iy < i32(p.h);
      let rb = xc + u32(max(iy, 0)) * p.w;`);
    for (const r of rs) {
      taps.push(
        `      let x${r} = select(0.0, ld_x(rb + u32(max(ix0 + ${r}, 0))), rok && cok${r})${
          s.scale ? " * sc" : ""
        };`,
      );
    }
    for (let kx = 0; kx < KW; kx++) {
      const k = `((c * ${KH}u + ${ky}u) * ${KW}u + ${kx}u) * p.c4 + ob`;
      taps.push(`      {`);
      for (const v of vs) taps.push(`        let w${v} = wt[${k} + ${v}u];`);
      for (const v of vs) {
        taps.push(
          `        ${js.map((j) => `a${v}_${j} = fma(w${v}, vec4f(x${j * S + kx}), a${v}_${j});`).join(" ")}`,
        );
      }
      taps.push(`      }`);
    }
    taps.push(`    }`);
  }
  const store: string[] = [];
  for (const v of vs) {
    for (let e = 0; e < 4; e++) {
      store.push(`  {
    let o = ob * 4u + ${4 * v + e}u;
    if (o < p.cout) {
      let d = ${s.dcoef ? "dcoef[n * p.cout + o]" : "1.0"};
      let b = ${s.bias ? "bias[o]" : "0.0"};
      let yb = ((nl * p.cTotal + p.cOffset + o) * p.oh + oy) * p.ow + ox0;
${
        js.map((j) =>
          `      if (ox0 + ${j}u < p.ow) { ${
            epilogue(s, `a${v}_${j}[${e}] * d`, `yb + ${j}u`, `oy * p.ow + ox0 + ${j}u`)
          } }`
        ).join("\n")
      }
    }
  }`);
    }
  }
  return /* wgsl */ `
fn lrelu(v: f32) -> f32 { return select(v * 0.2, v, v >= 0.0); }
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let item = wid.x * WG + li;
  if (item >= p.count * p.oh * p.segs) { return; }
  let nl = item / (p.oh * p.segs);
  let n = p.n0 + nl;
  let oy = (item / p.segs) % p.oh;
  let ox0 = (item % p.segs) * ${RN}u;
  let ob = wid.y * ${V}u;
  let iy0 = i32(oy * ${S}u) - p.padH;
  let ix0 = i32(ox0 * ${S}u) - p.padW;
  ${colOk}
  ${acc}
  for (var c = 0u; c < p.cin; c++) {
    let xc = (nl * p.cin + c) * p.h * p.w;
    ${s.scale ? "let sc = scale[n * p.cin + c];" : ""}
${taps.join("\n")}
  }
${store.join("\n")}
}`;
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
  const picked = opts.variant
    ? { variant: opts.variant }
    : gpu.tuner.pick("conv_gemm", key, convCandidates(w.kh, w.kw));
  const t = picked.variant;
  const segs = Math.ceil(ow / t.rn);
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
  const u = (v: number) => ["u32", v] as const;
  runProgram(gpu, {
    name: `conv_gemm_${w.kh}x${w.kw}_s${stride}_v${t.v}_rn${t.rn}_wg${t.wg}${shape.accumulate ? "_acc" : ""}`,
    items: n,
    params: {
      cin: u(cin),
      cout: u(w.cout),
      c4: u(w.packed.shape[1] / 4),
      h: u(h),
      w: u(wd),
      oh: u(oh),
      ow: u(ow),
      segs: u(segs),
      padH: ["i32", opts.padH],
      padW: ["i32", opts.padW],
      cTotal: u(cTotal),
      cOffset: u(cOffset),
      gain: ["f32", opts.gain ?? 1],
      clamp: ["f32", opts.clamp ?? 0],
      strength: ["f32", opts.noise?.strength ?? 0],
    },
    buffers: [
      { name: "x", data: x, split: true },
      { name: "wt", data: w.packed, type: "vec4f" },
      { name: "scale", data: opts.scale ?? w.packed },
      { name: "dcoef", data: opts.dcoef ?? w.packed },
      { name: "bias", data: opts.bias ?? w.packed },
      { name: "noise", data: opts.noise?.tensor ?? w.packed },
      { name: "y", data: out, access: "read_write", split: true },
    ],
    workgroupSize: t.wg,
    tag: picked.tag,
    flops: 2 * n * oh * ow * w.cout * cin * w.kh * w.kw,
    source: source(shape, t),
    workgroups: (count) => [Math.ceil((count * oh * segs) / t.wg), Math.ceil(w.cout / (4 * t.v))],
  });
  return out;
}
