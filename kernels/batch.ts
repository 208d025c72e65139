/**
 * Batched NCHW kernels bind their big tensors per run of samples, so that a batch larger than one storage
 * binding (maxStorageBufferBindingSize) is processed in several dispatches. Small per-sample tensors
 * (styles, coefficients) stay bound whole and are indexed with the run's first sample `n0`.
 */
import type { Gpu } from "../gpu/device.ts";
import { UserError } from "../errors.ts";
import { type BufferRange, dtypeBytes, type Tensor } from "../gpu/tensor.ts";

/** The WGSL scalar type of a tensor's storage. */
export function wgslType(t: Tensor): string {
  return t.dtype;
}

/** `enable f16;` when any of the tensors is stored as f16 (WGSL needs it before any f16 use). */
export function enableF16(...tensors: Tensor[]): string {
  return tensors.some((t) => t.dtype === "f16") ? "enable f16;\n" : "";
}

/**
 * Runs [first sample, count] over `n` samples such that each tensor's bytes for the run fit one storage
 * binding and start at an offset aligned to minStorageBufferOffsetAlignment. Every tensor has n samples.
 */
export function sampleRuns(gpu: Gpu, n: number, tensors: Tensor[]): [number, number][] {
  const per = tensors.map((t) => (t.size / n) * dtypeBytes(t.dtype));
  const maxBytes = Math.max(...per);
  let count = Math.floor(gpu.maxBinding / maxBytes);
  if (count >= n) return [[0, n]];
  const align = gpu.bindingAlign;
  const period = per.reduce((p, b) => lcm(p, align / gcd(align, b)), 1);
  count -= count % period;
  if (count <= 0) {
    throw new UserError(
      `one image needs a ${maxBytes}-byte feature map, more than this adapter binds at once ` +
        `(${gpu.maxBinding} bytes); use --fp16 or a smaller network`,
    );
  }
  const runs: [number, number][] = [];
  for (let first = 0; first < n; first += count) runs.push([first, Math.min(count, n - first)]);
  return runs;
}

/** The byte range of samples [first, first + count) of a tensor holding n samples (size padded to 4). */
export function sampleRange(t: Tensor, n: number, first: number, count: number): BufferRange {
  const bytes = (t.size / n) * dtypeBytes(t.dtype);
  const offset = first * bytes;
  const size = Math.min(Math.ceil((count * bytes) / 4) * 4, t.buffer.size - offset);
  return { buffer: t.buffer, offset, size };
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

function lcm(a: number, b: number): number {
  return (a / gcd(a, b)) * b;
}
