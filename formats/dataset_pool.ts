/**
 * Dataset images decoded on several CPU cores: a 1024x1024 PNG takes ~40 ms to decode on one core, two
 * hundred times the official Inception pass on an H100 (0.22 ms per image), so the first FID of a dataset (its
 * statistics are cached afterwards) would be bound by decoding. A {@link DatasetReader} spreads the items
 * over workers (formats/worker_pool.ts), each of which opens the same folder or zip itself; every item is
 * what {@link Dataset.item} gives (the same bytes, mirroring and errors included).
 */
import type { Dataset } from "./dataset.ts";
import type { DatasetJob } from "./dataset_worker.ts";
import type { Image8 } from "./png.ts";
import { WorkerPool } from "./worker_pool.ts";

/** Reads a dataset's items on worker threads; {@link DatasetReader.close} ends them. */
export class DatasetReader {
  readonly #pool: WorkerPool<DatasetJob, Image8 | null>;

  /** Starts `workers` workers (at least 1), each opening `data`'s folder or zip with its options. */
  constructor(data: Dataset, workers: number) {
    this.#pool = new WorkerPool(new URL("./dataset_worker.ts", import.meta.url), workers, "dataset worker");
    const open: DatasetJob = {
      open: { path: data.path, opts: { mirror: data.mirror, maxItems: data.count } },
    };
    // A failed open is reported by the items asked for.
    for (let k = 0; k < this.#pool.size; k++) this.#pool.call(open, { worker: k }).catch(() => {});
  }

  /** Items start..start+n-1, as {@link Dataset.item} gives them, decoded in parallel. */
  items(start: number, n: number): Promise<Image8[]> {
    return Promise.all(
      Array.from({ length: n }, (_, i) => this.#pool.call({ index: start + i }) as Promise<Image8>),
    );
  }

  /** Ends the workers (items still asked for are rejected). */
  close(): void {
    this.#pool.close();
  }
}
