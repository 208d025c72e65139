/**
 * Readback: copies a tensor (or a byte range) into a mappable buffer, submits, and waits for the map.
 * Large tensors come back in pieces so that the staging buffer stays small. Deno's WebGPU (2.9) blocks the
 * thread in `mapAsync` until all submitted work has run, and resolves the map at least 10 ms later (README,
 * "Performance"), which orders a readback's steps against the readback started before it (gpu/ahead.ts keeps
 * one batch in flight):
 * - its work is submitted only once the earlier one's map request is made, so that the earlier map does not
 *   wait for this work too;
 * - its map request is made only once the earlier readback has resolved and the tasks queued meanwhile have
 *   run (the caller's handling of the earlier result, the recording of the next batch): the request holds the
 *   thread until this work has run, and made earlier, it held back the earlier result, which then came with
 *   this one (on llvmpipe, Inception at batch 4 in batches back to back took 1.56-1.81 s per batch against
 *   1.36-1.48 s one batch at a time, 2026-12-03);
 * - without an earlier readback, its first map request is made in a later task than the one that records its
 *   copy, so that the caller's synchronous work after starting it runs while the GPU does.
 */
import type { Gpu } from "./device.ts";
import type { Tensor } from "./tensor.ts";

const PIECE = 64 << 20;

/** A readback in flight: when its first map request is made, and when it is done (either way). */
interface InFlight {
  requested: Promise<void>;
  finished: Promise<void>;
}

/** Per GPU, the latest readback started and not yet finished. */
const latest = new WeakMap<Gpu, InFlight>();

/** Reads `byteSize` bytes of `buffer` from `offset` (both multiples of 4). */
export async function readBytes(
  gpu: Gpu,
  buffer: GPUBuffer,
  offset: number,
  byteSize: number,
): Promise<Uint8Array> {
  const out = new Uint8Array(byteSize);
  const stagingSize = Math.min(PIECE, Math.max(4, byteSize));
  const staging = gpu.device.createBuffer({
    size: stagingSize,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const earlier = latest.get(gpu);
  const requested = Promise.withResolvers<void>(), finished = Promise.withResolvers<void>();
  const mine: InFlight = { requested: requested.promise, finished: finished.promise };
  latest.set(gpu, mine);
  try {
    for (let done = 0; done < byteSize; done += stagingSize) {
      const n = Math.min(stagingSize, byteSize - done);
      gpu.submission.copy(buffer, offset + done, staging, 0, n);
      if (done === 0 && earlier) await earlier.requested;
      gpu.flush();
      const submitted = gpu.submission.submitted;
      if (done === 0) {
        if (earlier) await earlier.finished;
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      const map = staging.mapAsync(GPUMapMode.READ, 0, n);
      requested.resolve();
      await map;
      gpu.submission.ran(submitted);
      out.set(new Uint8Array(staging.getMappedRange(0, n)), done);
      staging.unmap();
    }
  } finally {
    requested.resolve();
    finished.resolve();
    if (latest.get(gpu) === mine) latest.delete(gpu);
    staging.destroy();
  }
  gpu.throwIfFailed();
  return out;
}

/** Reads a tensor as float32 values (f16 tensors are widened). */
export async function readTensor(gpu: Gpu, t: Tensor): Promise<Float32Array> {
  const padded = Math.ceil(t.byteSize / 4) * 4;
  const bytes = await readBytes(gpu, t.buffer, 0, padded);
  if (t.dtype === "f32") return new Float32Array(bytes.buffer, 0, t.size);
  return Float32Array.from(new Float16Array(bytes.buffer, 0, t.size));
}
