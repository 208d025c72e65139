/**
 * Released storage buffers kept for reuse, by byte size (tensors ask for size classes, {@link sizeClass}). A
 * network's forward pass allocates and releases similar sizes layer after layer and the same ones batch after
 * batch; handing a released buffer to the next tensor of its size class saves creating it (and WebGPU's zero-filling of every new buffer) and lets intermediates be freed without
 * submitting the work recorded so far. Reuse within one submission is safe because WebGPU runs the commands of
 * a queue in order: the next owner's writes are recorded after the previous owner's last use.
 */

/**
 * The buffer size that serves a tensor of `bytes` bytes: rounded up to 1, 1.25, 1.5 or 1.75 times a power of
 * two (at most 25% more; at least 16 bytes; a multiple of 4), so that a released buffer also serves the next
 * tensors of similar size, not only of equal size, and a forward pass reuses its own released buffers.
 */
export function sizeClass(bytes: number): number {
  if (bytes <= 16) return 16;
  const step = Math.max(4, 2 ** Math.floor(Math.log2(bytes)) / 4);
  return Math.ceil(bytes / step) * step;
}

/** The pool's budget in peak live bytes (see {@link BufferPool}). */
export const LIVE_FACTOR = 2;

/**
 * Lends per window over which the peak is taken: the budget follows the larger peak of this window and the
 * last, so that a network run long ago (a viewer that switched networks) no longer sets it. A batch of
 * stylegan3-t-128 or Inception lends 100-200 buffers.
 */
export const PEAK_WINDOW = 4096;

/**
 * Free buffers by size, the oldest dropped first when they hold more than the budget: `floor` bytes, or
 * {@link LIVE_FACTOR} times the most bytes lent out at once lately ({@link PEAK_WINDOW}), if more. A
 * network's pass needs more distinct buffers than it holds at once (its tensors come in many size classes), so
 * that a pool of only the peak live bytes would still drop buffers the next batch takes again: on llvmpipe
 * (2026-12-03, floor 0) stylegan3-t-128 at batch 8 created 48 buffers per warm batch with a budget of its peak
 * live bytes, 38 with 1.5 times it, 7 with twice it; Inception none. The floor covers every network at the sizes llvmpipe runs; the
 * peak term lets large networks on GPUs keep their largest tensors (stylegan3-t-1024's largest activation holds
 * 337 MB per image, so that at batch 4 and more a fixed 1 GiB pool dropped it at once and created it again for
 * every batch; not measured on a GPU yet), at the price of holding up to that many bytes of free buffers
 * between passes.
 */
export class BufferPool {
  /** Free buffers of each byte size, most recently released last. */
  readonly #bySize = new Map<number, GPUBuffer[]>();
  /** Every free buffer, in the order released (for dropping the oldest). */
  readonly #order = new Set<GPUBuffer>();
  #bytes = 0;
  /** Bytes lent out ({@link BufferPool.lend}) and neither put back nor forgotten. */
  #live = 0;
  /** The most bytes live at once during this window of {@link PEAK_WINDOW} lends, and during the last one. */
  #peak = 0;
  #lastPeak = 0;
  #lends = 0;

  /** Keeps at least `floor` bytes of free buffers. */
  constructor(readonly floor: number) {}

  /** The most bytes of free buffers kept now. */
  get budget(): number {
    return Math.max(this.floor, LIVE_FACTOR * Math.max(this.#peak, this.#lastPeak));
  }

  /** Counts `buffer` (taken from the pool or new) as handed out to a tensor. */
  lend(buffer: GPUBuffer): void {
    this.#live += buffer.size;
    this.#peak = Math.max(this.#peak, this.#live);
    if (++this.#lends % PEAK_WINDOW === 0) {
      this.#lastPeak = this.#peak;
      this.#peak = this.#live;
    }
  }

  /** Counts a lent buffer as gone for good (destroyed with its tensor, not put back). */
  forget(buffer: GPUBuffer): void {
    this.#live = Math.max(0, this.#live - buffer.size);
  }

  /** Bytes of the free buffers held. */
  get bytes(): number {
    return this.#bytes;
  }

  /** A free buffer of exactly `size` bytes (the most recently released one), taken out of the pool, if any. */
  take(size: number): GPUBuffer | undefined {
    const buffer = this.#bySize.get(size)?.pop();
    if (buffer) {
      this.#order.delete(buffer);
      this.#bytes -= size;
    }
    return buffer;
  }

  /**
   * Adds a released buffer; returns the buffers dropped to stay within the budget, oldest first (the caller
   * destroys them once no recorded work uses them). A buffer larger than the whole budget is dropped at once;
   * one already free is not added twice.
   */
  put(buffer: GPUBuffer): GPUBuffer[] {
    if (this.#order.has(buffer)) return [];
    this.#live = Math.max(0, this.#live - buffer.size);
    if (buffer.size > this.budget) return [buffer];
    const list = this.#bySize.get(buffer.size);
    if (list) list.push(buffer);
    else this.#bySize.set(buffer.size, [buffer]);
    this.#order.add(buffer);
    this.#bytes += buffer.size;
    const dropped: GPUBuffer[] = [];
    const budget = this.budget;
    for (const old of this.#order) {
      if (this.#bytes <= budget) break;
      this.#order.delete(old);
      const same = this.#bySize.get(old.size)!;
      same.splice(same.indexOf(old), 1);
      this.#bytes -= old.size;
      dropped.push(old);
    }
    return dropped;
  }
}
