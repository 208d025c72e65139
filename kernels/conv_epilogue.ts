/**
 * The epilogue shared by the convolutions (kernels/conv_gemm.ts, kernels/winograd.ts, kernels/conv_tiled.ts),
 * as bias_act's: for the raw sum v of output channel o at pixel pix,
 *
 *   y (+)= clamp(act(v * d[n, o] + noise[n?, pix] * strength + b[o]) * gain, -clamp, clamp)
 *
 * with act linear, ReLU or leaky ReLU (slope 0.2). The WGSL expects `n` (the sample), `nl` (the sample within
 * the run), `b`
 * (the bias), `p.oh`, `p.ow`, `p.strength`, `p.gain`, `p.clamp`, the `noise` buffer and `ld_y`/`st_y`.
 * The raw sums are a tile's accumulators ({@link tileSums}).
 */

import type { Tensor } from "../gpu/tensor.ts";
import type { BufferDecl, Param } from "../gpu/program.ts";
import { range } from "./unroll.ts";

/**
 * WGSL of the sums of a tile of V vec4s of output channels x RN pixels: `declare` makes its f32 accumulators
 * a{v}_{j} (zero); with f16 arithmetic, a run of products goes to f16 sums h{v}_{j} first, which `open` makes
 * (zero) and `close` adds into the accumulators.
 */
export function tileSums(v: number, rn: number): { declare: string; open: string; close: string } {
  const each = (f: (v: number, j: number) => string) =>
    range(v).map((i) => range(rn).map((j) => f(i, j)).join(" ")).join("\n  ");
  return {
    declare: each((i, j) => `var a${i}_${j} = vec4f(0.0);`),
    open: each((i, j) => `var h${i}_${j} = vec4h(0.0);`),
    close: each((i, j) => `a${i}_${j} += vec4f(h${i}_${j});`),
  };
}

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

/** A convolution launch of a workgroup-level algorithm (Winograd, workgroup tiles) with its tile `T`. */
export interface ConvLaunch<T> {
  x: Tensor;
  /** The algorithm's packed weight. */
  weight: Tensor;
  cin: number;
  cout: number;
  stride: number;
  padH: number;
  padW: number;
  oh: number;
  ow: number;
  /** Channels of `out` and the first one written. */
  cTotal: number;
  cOffset: number;
  out: Tensor;
  /** Input factors [N, cin], output factors [N, cout], bias [cout], noise ([oh, ow] or [N, oh, ow]). */
  scale: Tensor | null;
  dcoef: Tensor | null;
  bias: Tensor | null;
  noise: Tensor | null;
  strength: number;
  gain: number;
  /** The clamp bound (used when shape.clamp). */
  clamp: number;
  shape: Shape;
  tile: T;
  /** The tuning tag of the chosen variant. */
  tag?: string;
}

/** What the epilogue reads of a launch. */
export type EpilogueInputs = Pick<
  ConvLaunch<unknown>,
  "out" | "cTotal" | "cOffset" | "dcoef" | "bias" | "noise" | "strength" | "gain" | "clamp"
>;

/** The epilogue's uniform parameters of a launch (`p.cTotal`, `p.cOffset`, `p.gain`, `p.clamp`, `p.strength`). */
export function epilogueParams(l: EpilogueInputs): Record<string, Param> {
  return {
    cTotal: ["u32", l.cTotal],
    cOffset: ["u32", l.cOffset],
    gain: ["f32", l.gain],
    clamp: ["f32", l.clamp],
    strength: ["f32", l.strength],
  };
}

/** The epilogue's buffers of a launch, last in binding order: dcoef, bias, noise (absent ones bound to `filler`), y. */
export function epilogueBuffers(l: EpilogueInputs, filler: Tensor): BufferDecl[] {
  return [
    { name: "dcoef", data: l.dcoef ?? filler },
    { name: "bias", data: l.bias ?? filler },
    { name: "noise", data: l.noise ?? filler },
    { name: "y", data: l.out, access: "read_write", split: true },
  ];
}
