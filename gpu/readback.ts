/**
 * Readback: copies a tensor (or a byte range) into a mappable buffer, submits, and waits for the map.
 * Large tensors come back in pieces so that the staging buffer stays small. The first piece is mapped in a
 * later task than the one that records its copy: Deno's WebGPU blocks the thread in `mapAsync` until all
 * submitted work has run, so the caller's synchronous work after starting a readback (the previous batch's PNG
 * encoding, gpu/ahead.ts) runs while the GPU does, not after it. For the same reason a readback started while
 * an earlier one has not yet made its map request submits its work only once that request is made: the next
 * batch can be recorded while the GPU runs this one (gpu/ahead.ts) without this one's map waiting for it.
 */
import type { Gpu } from "./device.ts";
import type { Tensor } from "./tensor.ts";

const PIECE = 64 << 20;

/** Per GPU, the latest readback whose first map request is not yet made: it resolves when it is. */
const unmapped = new WeakMap<Gpu, Promise<void>>();

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
  const earlier = unmapped.get(gpu);
  const { promise: mine, resolve: requested } = Promise.withResolvers<void>();
  unmapped.set(gpu, mine);
  // Lets the next readback submit; called once, when the first map request is made (or on failure).
  const release = () => {
    requested();
    if (unmapped.get(gpu) === mine) unmapped.delete(gpu);
  };
  try {
    for (let done = 0; done < byteSize; done += stagingSize) {
      const n = Math.min(stagingSize, byteSize - done);
      gpu.submission.copy(buffer, offset + done, staging, 0, n);
      if (done === 0 && earlier) await earlier;
      gpu.flush();
      const submitted = gpu.submission.submitted;
      if (done === 0) await new Promise((resolve) => setTimeout(resolve, 0));
      const map = staging.mapAsync(GPUMapMode.READ, 0, n);
      release();
      await map;
      gpu.submission.ran(submitted);
      out.set(new Uint8Array(staging.getMappedRange(0, n)), done);
      staging.unmap();
    }
  } finally {
    release();
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
