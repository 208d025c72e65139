/**
 * Binding tensors larger than one storage binding. A "split" buffer of a program holds `batch` items
 * along its first axis (samples of an NCHW tensor, or single elements of a flat one). The launch runs
 * over runs of items whose bytes fit a few bindings ({@link itemRuns}), and binds each run as up to 8
 * consecutive bindings ({@link chunkRanges}) so that one item may be larger than a binding too; the
 * kernel reads and writes it through generated accessors ({@link chunkedAccess}).
 */
import { UserError } from "../errors.ts";
import type { Gpu } from "./device.ts";
import { type BufferRange, dtypeBytes, type Tensor } from "./tensor.ts";

/** The byte cap of one run (u32 element indices). */
const MAX_RUN_BYTES = 2 ** 31;

/**
 * The most storage bindings one split tensor is bound as, when `split` split tensors and `whole` other
 * storage buffers share the stage's maxStorageBuffersPerShaderStage (at most 8 chunks each).
 */
export function maxChunks(gpu: Gpu, split: number, whole: number): number {
  return Math.max(1, Math.min(8, Math.floor((gpu.maxStorageBuffers - whole) / Math.max(1, split))));
}

/** Bytes of one full chunk: the largest multiple of the binding offset alignment within one binding. */
function chunkBytes(gpu: Gpu): number {
  return Math.floor(gpu.maxBinding / gpu.bindingAlign) * gpu.bindingAlign;
}

/**
 * Runs [first item, count] over `n` items such that each tensor's bytes for the run fit `chunks`
 * storage bindings (see {@link chunkRanges}) and start at an offset aligned to
 * minStorageBufferOffsetAlignment. Every tensor holds n items.
 */
export function itemRuns(gpu: Gpu, n: number, tensors: Tensor[], chunks: number): [number, number][] {
  const per = tensors.map((t) => (t.size / n) * dtypeBytes(t.dtype));
  const maxBytes = Math.max(...per);
  const capacity = Math.min(chunks * chunkBytes(gpu), MAX_RUN_BYTES);
  let count = Math.floor(capacity / maxBytes);
  if (count >= n) return [[0, n]];
  const align = gpu.bindingAlign;
  const period = per.reduce((p, b) => lcm(p, align / gcd(align, b)), 1);
  count -= count % period;
  if (count <= 0) {
    throw new UserError(
      `one image needs a ${maxBytes}-byte feature map, more than this adapter can bind ` +
        `(${chunks} x ${gpu.maxBinding} bytes, aligned per image); use a smaller network`,
    );
  }
  const runs: [number, number][] = [];
  for (let first = 0; first < n; first += count) runs.push([first, Math.min(count, n - first)]);
  return runs;
}

/**
 * Items [first, first + count) of a tensor holding n items, as consecutive storage bindings of `elems`
 * elements each (the last one shorter, its size padded to 4 bytes).
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
 * WGSL accessor of a tensor bound as `k` chunks `<name>0..` of `elems` elements of WGSL type `type` each:
 * `fn ld_<name>(i: u32) -> f32` (read) or `fn st_<name>(i: u32, v: f32)` (write), i indexing the run; for
 * a vec4 type (an f32 or f16 tensor read four elements at a time), `fn ld_<name>(i: u32) -> vec4f`, i
 * counting vec4s. Values are widened to f32 on reading and rounded to the element type on writing.
 */
export function chunkedAccess(name: string, k: number, elems: number, type: string, write: boolean): string {
  const value = type.startsWith("vec4") ? "vec4f" : "f32";
  const pick = (i: number) => {
    const at = i ? `i - ${i * elems}u` : "i";
    return write ? `${name}${i}[${at}] = ${type}(v);` : `return ${value}(${name}${i}[${at}]);`;
  };
  const body = Array.from(
    { length: k },
    (_, i) => i === k - 1 ? pick(i) : `if (i < ${(i + 1) * elems}u) { ${pick(i)}${write ? " return;" : ""} }`,
  );
  const sig = write ? `fn st_${name}(i: u32, v: ${value})` : `fn ld_${name}(i: u32) -> ${value}`;
  return `${sig} {\n  ${body.join("\n  ")}\n}`;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

function lcm(a: number, b: number): number {
  return (a / gcd(a, b)) * b;
}
