/**
 * upfirdn2d (torch_utils/ops/upfirdn2d.py) with a 2-D filter per sample, as the rotation metric needs:
 * upsample by inserting up - 1 zeros after each pixel, pad with zeros (pad0 before, pad1 after), convolve
 * with the filter (a true convolution: flip_filter=False) and scale by `gain`:
 *   out[o] = gain * sum_k U[o + k] * f[K - 1 - k],  U[j] = x[(j - pad0) / up] when that is a whole pixel.
 * Output size per axis: in * up + pad0 + pad1 - K + 1. Only up is supported (down = 1).
 */
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { runProgram } from "../gpu/program.ts";
import { grid1d, main1d } from "./grid.ts";

const WG = 256;

/**
 * WGSL: the upfirdn2d value at output pixel (oy, ox) of one image plane. Reads the images through
 * `x_at(i)` and the global `filt` (filters), both provided by the including kernel; `xo` and `fo` are the
 * plane's and the filter's element offsets. Only the taps that land on real (non-inserted) pixels are visited.
 */
export const UPFIRDN_AT = /* wgsl */ `
struct Up { up: i32, padx: i32, pady: i32, fw: i32, fh: i32, iw: i32, ih: i32, gain: f32 }
fn first_tap(r: i32, up: i32) -> i32 { return ((-r) % up + up) % up; }
fn upfirdn_at(u: Up, xo: u32, fo: u32, oy: i32, ox: i32) -> f32 {
  let ry = oy - u.pady;
  let rx = ox - u.padx;
  var acc = 0.0;
  for (var ky = first_tap(ry, u.up); ky < u.fh; ky += u.up) {
    let sy = (ry + ky) / u.up;
    if (sy < 0 || sy >= u.ih) { continue; }
    let frow = fo + u32((u.fh - 1 - ky) * u.fw + u.fw - 1);
    let xrow = xo + u32(sy * u.iw);
    for (var kx = first_tap(rx, u.up); kx < u.fw; kx += u.up) {
      let sx = (rx + kx) / u.up;
      if (sx < 0 || sx >= u.iw) { continue; }
      acc += x_at(xrow + u32(sx)) * filt[frow - u32(kx)];
    }
  }
  return acc * u.gain;
}`;

/** Options of {@link upfirdn2d}. */
export interface UpfirdnOptions {
  /** Upsampling factor: up - 1 zeros inserted after each pixel, both axes (default 1). */
  up?: number;
  /** [x before, x after, y before, y after] in upsampled pixels. */
  padding: [number, number, number, number];
  /** Factor applied to the filtered values (default 1). */
  gain?: number;
}

const KERNEL = /* wgsl */ `
fn x_at(i: u32) -> f32 { return ld_x(i); }
${UPFIRDN_AT}
${main1d("i", "p.count * p.c * p.oh * p.ow")}
  let ox = i32(i % p.ow);
  let oy = i32((i / p.ow) % p.oh);
  let plane = i / (p.ow * p.oh);
  let sample = p.n0 + plane / p.c;
  let u = Up(p.up, p.padx, p.pady, p.fw, p.fh, p.iw, p.ih, p.gain);
  let fo = select(0u, sample, p.nf > 1u) * u32(p.fw * p.fh);
  st_out(i, upfirdn_at(u, plane * u32(p.iw * p.ih), fo, oy, ox));
}`;

/**
 * upfirdn2d of x [N, C, H, W] with filters [F, fh, fw] (F = 1: one filter for all; F = N: one per sample).
 * Returns [N, C, H * up + pady0 + pady1 - fh + 1, W * up + padx0 + padx1 - fw + 1]. Samples larger than one
 * storage binding are bound piecewise (split buffers).
 */
export function upfirdn2d(gpu: Gpu, x: Tensor, filters: Tensor, opts: UpfirdnOptions): Tensor {
  const [n, c, h, w] = x.shape;
  const [nf, fh, fw] = filters.shape;
  if (nf !== 1 && nf !== n) throw new Error(`upfirdn2d: ${nf} filters for ${n} images`);
  const up = opts.up ?? 1;
  const [px0, px1, py0, py1] = opts.padding;
  const oh = h * up + py0 + py1 - fh + 1, ow = w * up + px0 + px1 - fw + 1;
  const out = gpu.tensor([n, c, oh, ow]);
  runProgram(gpu, {
    name: "upfirdn2d",
    items: n,
    params: {
      c: ["u32", c],
      oh: ["u32", oh],
      ow: ["u32", ow],
      nf: ["u32", nf],
      up: ["i32", up],
      padx: ["i32", px0],
      pady: ["i32", py0],
      fw: ["i32", fw],
      fh: ["i32", fh],
      iw: ["i32", w],
      ih: ["i32", h],
      gain: ["f32", opts.gain ?? 1],
    },
    buffers: [
      { name: "x", data: x, split: true },
      { name: "filt", data: filters },
      { name: "out", data: out, access: "read_write", split: true },
    ],
    workgroupSize: WG,
    source: KERNEL,
    workgroups: (count) => grid1d(count * c * oh * ow, WG, gpu.maxWorkgroups),
  });
  return out;
}

/** filter2d's padding for a K x K filter: the output keeps the input size. */
export function samePadding(k: number): [number, number, number, number] {
  const a = Math.floor(k / 2), b = Math.floor((k - 1) / 2);
  return [a, b, a, b];
}
