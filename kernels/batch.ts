/**
 * Batched NCHW kernels bind their big tensors per run of samples, so that a batch larger than one storage
 * binding (maxStorageBufferBindingSize) is processed in several dispatches, and bind each run as up to
 * 8 consecutive bindings, so that one sample may be larger than a binding too. Small per-sample
 * tensors (styles, coefficients) stay bound whole and are indexed with the run's first sample `n0`.
 */
import type { Gpu } from "../gpu/device.ts";
import { UserError } from "../errors.ts";
import { type BufferRange, dtypeBytes, type Tensor } from "../gpu/tensor.ts";

/** The byte cap of one run (u32 element indices). */
const MAX_RUN_BYTES = 2 ** 31;

/**
 * The most storage bindings one big tensor is split into: kernels bind two big tensors and up to three
 * small ones, within maxStorageBuffersPerShaderStage (at most 8 chunks each).
 */
function maxChunks(gpu: Gpu): number {
  return Math.max(1, Math.min(8, Math.floor((gpu.device.limits.maxStorageBuffersPerShaderStage - 3) / 2)));
}

/** The WGSL scalar type of a tensor's storage. */
export function wgslType(t: Tensor): string {
  return t.dtype;
}

/** `enable f16;` when any of the tensors is stored as f16 (WGSL needs it before any f16 use). */
export function enableF16(...tensors: Tensor[]): string {
  return tensors.some((t) => t.dtype === "f16") ? "enable f16;\n" : "";
}

/** Bytes of one full chunk: the largest multiple of the binding offset alignment within one binding. */
function chunkBytes(gpu: Gpu): number {
  return Math.floor(gpu.maxBinding / gpu.bindingAlign) * gpu.bindingAlign;
}

/**
 * Runs [first sample, count] over `n` samples such that each tensor's bytes for the run fit a few
 * storage bindings (see {@link chunkRanges}) and start at an offset aligned to
 * minStorageBufferOffsetAlignment. Every tensor holds n samples.
 */
export function sampleRuns(gpu: Gpu, n: number, tensors: Tensor[]): [number, number][] {
  const per = tensors.map((t) => (t.size / n) * dtypeBytes(t.dtype));
  const maxBytes = Math.max(...per);
  const capacity = Math.min(maxChunks(gpu) * chunkBytes(gpu), MAX_RUN_BYTES);
  let count = Math.floor(capacity / maxBytes);
  if (count >= n) return [[0, n]];
  const align = gpu.bindingAlign;
  const period = per.reduce((p, b) => lcm(p, align / gcd(align, b)), 1);
  count -= count % period;
  if (count <= 0) {
    throw new UserError(
      `one image needs a ${maxBytes}-byte feature map, more than this adapter can bind ` +
        `(${maxChunks(gpu)} x ${gpu.maxBinding} bytes, aligned per image); use a smaller network`,
    );
  }
  const runs: [number, number][] = [];
  for (let first = 0; first < n; first += count) runs.push([first, Math.min(count, n - first)]);
  return runs;
}

/**
 * Samples [first, first + count) of a tensor holding n samples, as consecutive storage bindings of
 * `elems` elements each (the last one shorter, its size padded to 4 bytes).
 */
export function chunkRanges(
  gpu: Gpu,
  t: Tensor,
  n: number,
  first: number,
  count: number,
): { ranges: BufferRange[]; elems: number } {
  const eb = dtypeBytes(t.dtype);
  const per = (t.size / n) * eb;
  const start = first * per, end = start + count * per;
  const step = chunkBytes(gpu);
  const ranges: BufferRange[] = [];
  for (let offset = start; offset < end; offset += step) {
    const size = Math.min(Math.ceil(Math.min(step, end - offset) / 4) * 4, t.buffer.size - offset);
    ranges.push({ buffer: t.buffer, offset, size });
  }
  return { ranges, elems: step / eb };
}

/**
 * WGSL for a tensor bound as `k` chunks of `elems` elements from binding `first` on: the bindings
 * `<name>0..` and an accessor, `fn ld_<name>(i: u32) -> f32` (read) or `fn st_<name>(i: u32, v: f32)`
 * (write), where i indexes the whole run.
 */
export function chunkedAccess(
  name: string,
  first: number,
  k: number,
  elems: number,
  type: string,
  write: boolean,
): string {
  const access = write ? "read_write" : "read";
  const decl = Array.from(
    { length: k },
    (_, i) => `@group(0) @binding(${first + i}) var<storage, ${access}> ${name}${i}: array<${type}>;`,
  );
  const pick = (i: number) => {
    const at = i ? `i - ${i * elems}u` : "i";
    return write ? `${name}${i}[${at}] = ${type}(v);` : `return f32(${name}${i}[${at}]);`;
  };
  const body = Array.from(
    { length: k },
    (
      _,
      i,
    ) => (i === k - 1 ? pick(i) : `if (i < ${(i + 1) * elems}u) { ${pick(i)}${write ? " return;" : ""} }`),
  );
  const sig = write ? `fn st_${name}(i: u32, v: f32)` : `fn ld_${name}(i: u32) -> f32`;
  return `${decl.join("\n")}\n${sig} {\n  ${body.join("\n  ")}\n}`;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

function lcm(a: number, b: number): number {
  return (a / gcd(a, b)) * b;
}
