/**
 * The worker of {@link GramPool} (metrics/gram_pool.ts): adds the rows [a0, a1) of the upper triangle of
 * Y Y^T into a shared Gram matrix, with {@link rowDots} exactly as one call over all rows would.
 */
import { rowDots } from "./linalg.ts";
import { serve } from "../formats/worker_pool.ts";

/** One job: Y (d x n, row-major, shared) and the d x d Gram matrix (shared) to add rows a0..a1 into. */
export interface GramJob {
  y: SharedArrayBuffer;
  gram: SharedArrayBuffer;
  n: number;
  d: number;
  rows: [number, number];
}

serve((job: GramJob) => {
  const { y, gram, n, d, rows } = job;
  const yt = new Float64Array(y, 0, d * n);
  rowDots(yt, yt, n, d, d, new Float64Array(gram), { upper: true, rows });
  return { value: rows };
});
