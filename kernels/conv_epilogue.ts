/**
 * The epilogue shared by the convolutions (kernels/conv_gemm.ts, kernels/winograd.ts), as bias_act's: for
 * the raw sum v of output channel o at pixel pix,
 *
 *   y (+)= clamp(act(v * d[n, o] + noise[n?, pix] * strength + b[o]) * gain, -clamp, clamp)
 *
 * with act linear, ReLU or leaky ReLU (slope 0.2). The WGSL expects `n` (the sample), `nl` (the sample within
 * the run), `b`
 * (the bias), `p.oh`, `p.ow`, `p.strength`, `p.gain`, `p.clamp`, the `noise` buffer and `ld_y`/`st_y`.
 */

/** The leaky ReLU of the epilogue, in WGSL. */
export const LRELU = "fn lrelu(v: f32) -> f32 { return select(v * 0.2, v, v >= 0.0); }";

/** What a convolution launch fuses: its inputs' factors and its epilogue. */
export interface Shape {
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
export function epilogue(s: Shape, v: string, yi: string, pix: string): string {
  let e = v;
  if (s.noise !== "none") {
    e = `${e} + noise[${s.noise === "sample" ? "n * p.oh * p.ow + " : ""}${pix}] * p.strength`;
  }
  e = `(${e} + b)`;
  if (s.act === "relu") e = `max(${e}, 0.0)`;
  if (s.act === "lrelu") e = `lrelu(${e})`;
  e = `${e} * p.gain`;
  if (s.clamp) e = `clamp(${e}, -p.clamp, p.clamp)`;
  if (s.accumulate) e = `ld_y(${yi}) + ${e}`;
  return `st_y(${yi}, ${e});`;
}
