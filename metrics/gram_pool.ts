/**
 * Feature statistics on several CPU cores: the Gram matrix update G += Y Y^T (upper triangle, float64) of
 * {@link FeatureStats} costs d^2 / 2 multiply-adds per vector (2.1 M for Inception's 2048-d features, ~0.9
 * ms per image on one core in JavaScript), which would bound FID on a GPU (the official Inception pass takes
 * 0.22 ms per image on one H100). A pool of workers splits the triangle into bands of rows of about equal
 * area, each summed exactly as the single-threaded {@link rowDots} sums it: the same bits, in parallel.
 */
import { ROW_BLOCK } from "./linalg.ts";
import type { GramJob } from "./gram_worker.ts";
import { WorkerPool } from "../formats/worker_pool.ts";

/**
 * Row bands [a0, a1) of the upper triangle of a d x d matrix for `parts` workers, each starting at a multiple
 * of ROW_BLOCK and holding about the same number of entries (row a holds d - a).
 */
export function triangleBands(d: number, parts: number): [number, number][] {
  const total = (d * (d + 1)) / 2, bands: [number, number][] = [];
  let a0 = 0, area = 0;
  for (let a = 0; a < d; a += ROW_BLOCK) {
    const end = Math.min(d, a + ROW_BLOCK);
    for (let r = a; r < end; r++) area += d - r;
    const want = (total * (bands.length + 1)) / parts;
    if ((area >= want && bands.length < parts - 1) || end === d) {
      bands.push([a0, end]);
      a0 = end;
    }
  }
  return bands;
}

/** A pool of workers that add Y Y^T into a shared Gram matrix; {@link GramPool.close} ends them. */
export class GramPool {
  readonly #pool: WorkerPool<GramJob, [number, number]>;

  /** Starts `size` workers (at least 1). */
  constructor(size: number) {
    this.#pool = new WorkerPool(new URL("./gram_worker.ts", import.meta.url), size, "gram worker");
  }

  /**
   * gram += Y Y^T on the upper triangle (entries below the diagonal unspecified), for Y (d x n, row-major) and
   * gram (d x d, row-major), both views of SharedArrayBuffers starting at offset 0.
   */
  async addGram(y: Float64Array, n: number, d: number, gram: Float64Array): Promise<void> {
    if (!(y.buffer instanceof SharedArrayBuffer) || !(gram.buffer instanceof SharedArrayBuffer)) {
      throw new Error("GramPool.addGram: Y and the Gram matrix must be shared");
    }
    const [ys, gs] = [y.buffer as SharedArrayBuffer, gram.buffer as SharedArrayBuffer];
    await Promise.all(
      triangleBands(d, this.#pool.size).map((rows, worker) =>
        this.#pool.call({ y: ys, gram: gs, n, d, rows }, { worker })
      ),
    );
  }

  /** Ends the workers. */
  close(): void {
    this.#pool.close();
  }
}
