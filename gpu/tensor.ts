/**
 * A tensor on the GPU: a storage buffer holding a dense row-major (C order) array of f32 or f16.
 * Shapes follow PyTorch's NCHW convention for images and feature maps.
 */

/** Element type of a GPU tensor; f16 needs the adapter's `shader-f16` feature. */
export type DType = "f32" | "f16";

/** Bytes per element of a dtype. */
export function dtypeBytes(dtype: DType): number {
  return dtype === "f32" ? 4 : 2;
}

/** Number of elements of a shape (1 for a scalar shape []). */
export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A dense array in a GPU buffer. The buffer may be larger than the data (rounded up to 4 bytes). */
export class Tensor {
  /** Wraps a buffer of at least `ceil(numel(shape) * dtypeBytes(dtype) / 4) * 4` bytes. */
  constructor(
    /** The storage buffer holding the elements from offset 0. */
    readonly buffer: GPUBuffer,
    /** The dimensions, outermost first (row-major). */
    readonly shape: readonly number[],
    /** The element type. */
    readonly dtype: DType = "f32",
    /** Called by {@link Tensor.destroy} before the buffer is destroyed (the buffer pool's accounting). */
    readonly onDestroy?: () => void,
  ) {}

  /**
   * The texture copy of a tensor whose contents no longer change (a weight read through a texture,
   * gpu/texture.ts): made on its first texture read, destroyed with the tensor.
   */
  texture: GPUTexture | null = null;

  /** Number of elements. */
  get size(): number {
    return numel(this.shape);
  }

  /** Bytes of data (without the padding to 4 bytes). */
  get byteSize(): number {
    return this.size * dtypeBytes(this.dtype);
  }

  /** Frees the GPU memory now rather than at garbage collection. */
  destroy(): void {
    this.onDestroy?.();
    this.buffer.destroy();
    this.texture?.destroy();
    this.texture = null;
  }
}

/** A byte range of a buffer to bind as one storage binding. */
export interface BufferRange {
  /** The buffer. */
  buffer: GPUBuffer;
  /** The first byte (a multiple of the adapter's `minStorageBufferOffsetAlignment`). */
  offset: number;
  /** Bytes in the range (a multiple of 4). */
  size: number;
}
