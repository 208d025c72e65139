/**
 * StyleGAN3's SynthesisInput: Fourier features of learned per-sample rotation/translation.
 *
 *   t = affine(w0) / |affine(w0)[:2]|                         (r_c, r_s, t_x, t_y)
 *   M = [[r_c, -r_s, 0], [r_s, r_c, 0], [0, 0, 1]] @ [[1, 0, -t_x], [0, 1, -t_y], [0, 0, 1]] @ T
 *   phase'[c] = phase[c] + freqs[c] . M[:2, 2];  freq'[c] = freqs[c] @ M[:2, :2]
 *   amp[c] = clamp(1 - (|freq'[c]| - bandwidth) / (sampling_rate / 2 - bandwidth), 0, 1)
 *   F[n, c, y, x] = sin(2 pi (freq'[c] . (gx[x], gy[y]) + phase'[c])) * amp[c]
 *   out = conv1x1(F, weight / sqrt(channels))
 *
 * T is the user transform (the `transform` buffer, the inverse of the image transform); the grid holds
 * torch.affine_grid's pixel centres, (j + 0.5 - size / 2) / sampling_rate, computed as torch does in
 * float32. The sine's argument is range-reduced to [-1/2, 1/2] cycles first: sin() of tens of radians
 * loses accuracy on GPUs.
 */
import type { Gpu } from "../gpu/device.ts";
import type { DType, Tensor } from "../gpu/tensor.ts";
import { runProgram } from "../gpu/program.ts";
import { grid1d, main1d } from "./grid.ts";
import { convGemm, type ConvWeight, packConvWeight } from "./conv_gemm.ts";

const f = Math.fround;

/**
 * Sampling positions of torch.nn.functional.affine_grid (align_corners=False) along one axis of `size`
 * pixels scaled by theta = 0.5 size / samplingRate, rounded as float32 torch computes them:
 * linspace(-1, 1, size) * (size - 1) / size * theta.
 */
export function fourierGrid(size: number, samplingRate: number): Float32Array {
  const theta = f((0.5 * size) / samplingRate);
  const step = f(2 / (size - 1));
  const half = Math.floor(size / 2);
  return Float32Array.from({ length: size }, (_, i) => {
    const lin = size === 1 ? 0 : i < half ? f(-1 + f(step * i)) : f(1 - f(step * (size - 1 - i)));
    return f(f(f(lin * (size - 1)) / size) * theta);
  });
}

const WG = 256;

/**
 * sin(a) to about 1 ulp for |a| <= pi, for adapters whose WGSL sin() is not that accurate (Gpu.accurateSin;
 * WGSL promises 2^-11 absolute, SwiftShader's put the input layer 3.7e-4 off the official one): reduction by
 * pi/2 in three float32 parts (Cody-Waite), then Taylor polynomials of sin and cos on [-pi/4, pi/4].
 */
const SIN_POLYNOMIAL = /* wgsl */ `
fn sine(a: f32) -> f32 {
  let kf = round(a * ${Math.fround(2 / Math.PI)});
  let r = ((a - kf * 1.5703125) - kf * 4.837512969970703125e-4) - kf * 7.54978995489188216e-8;
  let r2 = r * r;
  let s = r + (r * r2) * (-1.0 / 6.0 + r2 * (1.0 / 120.0 + r2 * (-1.0 / 5040.0 + r2 * (1.0 / 362880.0))));
  let c = (1.0 - 0.5 * r2) + (r2 * r2) * (1.0 / 24.0 + r2 * (-1.0 / 720.0 + r2 * (1.0 / 40320.0
    + r2 * (-1.0 / 3628800.0))));
  let q = i32(kf) & 3;
  let v = select(s, c, (q & 1) == 1);
  return select(v, -v, q >= 2);
}`;

/** The Fourier features kernel, with the builtin sin() or the polynomial one. */
const features = (accurateSin: boolean) => /* wgsl */ `
const TWO_PI = ${2 * Math.PI};
${accurateSin ? "fn sine(a: f32) -> f32 { return sin(a); }" : SIN_POLYNOMIAL}
${main1d("idx", "p.total")}
  let x = idx % p.w;
  let y = (idx / p.w) % p.h;
  let c = (idx / (p.w * p.h)) % p.c;
  let n = idx / (p.w * p.h * p.c);
  let raw = vec4f(t[n * 4u], t[n * 4u + 1u], t[n * 4u + 2u], t[n * 4u + 3u]);
  let tn = raw / length(raw.xy);
  // m_r @ m_t, then @ T (row-major user transform).
  let m = mat3x3f(vec3f(tn.x, tn.y, 0.0), vec3f(-tn.y, tn.x, 0.0),
                  vec3f(-tn.x * tn.z + tn.y * tn.w, -tn.y * tn.z - tn.x * tn.w, 1.0));
  let ub = n * 9u;
  let u = mat3x3f(vec3f(user[ub], user[ub + 3u], user[ub + 6u]), vec3f(user[ub + 1u], user[ub + 4u], user[ub + 7u]),
                  vec3f(user[ub + 2u], user[ub + 5u], user[ub + 8u]));
  let tr = m * u;
  let f0 = freqs[c * 2u];
  let f1 = freqs[c * 2u + 1u];
  let phase = phases[c] + (f0 * tr[2][0] + f1 * tr[2][1]);
  let fx = f0 * tr[0][0] + f1 * tr[0][1];
  let fy = f0 * tr[1][0] + f1 * tr[1][1];
  let amp = clamp(1.0 - (length(vec2f(fx, fy)) - p.bandwidth) / (p.samplingRate / 2.0 - p.bandwidth), 0.0, 1.0);
  let cycles = (grid[x] * fx + grid[p.w + y] * fy) + phase;
  let r = cycles - round(cycles);
  out[idx] = sine(r * TWO_PI) * amp;
}`;

/** The constant parts of a SynthesisInput layer on the GPU. */
export interface FourierInput {
  /** [C, 2] */
  freqs: Tensor;
  /** [C] */
  phases: Tensor;
  /** [C, C, 1, 1]: weight / sqrt(C), packed. */
  weight: ConvWeight;
  /** gx [W] then gy [H] ({@link fourierGrid}). */
  grid: Tensor;
  /** Output [width, height] in pixels. */
  size: [number, number];
  /** Samples per unit length of the input's coordinate space. */
  samplingRate: number;
  /** Frequency of full amplitude: above it, features fade linearly to 0 at samplingRate / 2. */
  bandwidth: number;
}

/** Uploads a SynthesisInput's buffers: freqs [C, 2], phases [C], weight [C, C]; size = [width, height]. */
export function prepareFourierInput(
  gpu: Gpu,
  freqs: Float32Array,
  phases: Float32Array,
  weight: Float32Array,
  size: [number, number],
  samplingRate: number,
  bandwidth: number,
): FourierInput {
  const c = phases.length;
  const div = f(Math.sqrt(c));
  const grid = new Float32Array(size[0] + size[1]);
  grid.set(fourierGrid(size[0], samplingRate));
  grid.set(fourierGrid(size[1], samplingRate), size[0]);
  return {
    freqs: gpu.upload(freqs, [c, 2]),
    phases: gpu.upload(phases, [c]),
    weight: packConvWeight(gpu, weight.map((v) => v / div), [c, c, 1, 1]),
    grid: gpu.upload(grid, [grid.length]),
    size,
    samplingRate,
    bandwidth,
  };
}

/** The sine features F [N, C, H, W] (before the 1x1 projection) for t [N, 4] and transforms [N, 9]. */
export function fourierFeatures(gpu: Gpu, input: FourierInput, t: Tensor, transforms: Tensor): Tensor {
  const n = t.shape[0];
  const c = input.phases.size;
  const [w, h] = input.size;
  const out = gpu.tensor([n, c, h, w]);
  runProgram(gpu, {
    name: gpu.accurateSin ? "fourier_features" : "fourier_features_polynomial_sin",
    params: {
      total: ["u32", out.size],
      c: ["u32", c],
      h: ["u32", h],
      w: ["u32", w],
      samplingRate: ["f32", input.samplingRate],
      bandwidth: ["f32", input.bandwidth],
    },
    buffers: [
      { name: "t", data: t },
      { name: "user", data: transforms },
      { name: "freqs", data: input.freqs },
      { name: "phases", data: input.phases },
      { name: "grid", data: input.grid },
      { name: "out", data: out, access: "read_write" },
    ],
    workgroupSize: WG,
    source: features(gpu.accurateSin),
    workgroups: grid1d(out.size, WG, gpu.maxWorkgroups),
  });
  return out;
}

/** SynthesisInput.forward given t = affine(w0) [N, 4] and per-sample user transforms [N, 9]. */
export function synthesisInput(
  gpu: Gpu,
  input: FourierInput,
  t: Tensor,
  transforms: Tensor,
  outDtype: DType = "f32",
): Tensor {
  const features = fourierFeatures(gpu, input, t, transforms);
  const out = convGemm(gpu, features, input.weight, { padH: 0, padW: 0, outDtype });
  gpu.release(features);
  return out;
}
