/**
 * Dataset images decoded on several CPU cores: a 1024x1024 PNG takes ~40 ms to decode on one core, two
 * hundred times the official Inception pass on an H100 (0.22 ms per image), so the first FID of a dataset (its
 * statistics are cached afterwards) would be bound by decoding. A {@link DatasetReader} spreads the items
 * over workers, each of which opens the same folder or zip itself; every item is what {@link Dataset.item}
 * gives (the same bytes, mirroring and errors included).
 */
import { UserError } from "../errors.ts";
import type { Dataset } from "./dataset.ts";
import type { DatasetJob, DatasetResult } from "./dataset_worker.ts";
import type { Image8 } from "./png.ts";

/** Reads a dataset's items on worker threads; {@link DatasetReader.close} ends them. */
export class DatasetReader {
  readonly #workers: Worker[];
  /** Per worker, resolved once it listens (its `ready` message). */
  readonly #ready: Promise<void>[] = [];
  readonly #waiting = new Map<number, { resolve: (im: Image8) => void; reject: (e: Error) => void }>();
  #next = 0;
  #failure: Error | null = null;

  /** Starts `workers` workers (at least 1), each opening `data`'s folder or zip with its options. */
  constructor(data: Dataset, workers: number) {
    const open: DatasetJob = {
      open: { path: data.path, opts: { mirror: data.mirror, maxItems: data.count } },
    };
    this.#workers = Array.from({ length: Math.max(1, workers) }, () => {
      const w = new Worker(new URL("./dataset_worker.ts", import.meta.url), { type: "module" });
      let listening = () => {};
      this.#ready.push(new Promise<void>((resolve) => listening = resolve));
      w.onmessage = (e: MessageEvent<DatasetResult>) => {
        if ("ready" in e.data) return listening();
        const job = this.#waiting.get(e.data.id)!;
        this.#waiting.delete(e.data.id);
        if ("image" in e.data) job.resolve(e.data.image);
        else job.reject(e.data.user ? new UserError(e.data.error) : new Error(e.data.error));
      };
      w.onerror = (e) => {
        e.preventDefault();
        const failure = this.#failure ??= new Error(`dataset worker: ${e.message}`);
        for (const job of this.#waiting.values()) job.reject(failure);
        this.#waiting.clear();
      };
      this.#ready.at(-1)!.then(() => w.postMessage(open));
      return w;
    });
  }

  /** Items start..start+n-1, as {@link Dataset.item} gives them, decoded in parallel. */
  items(start: number, n: number): Promise<Image8[]> {
    return Promise.all(Array.from({ length: n }, (_, i) => {
      const id = this.#next++;
      return new Promise<Image8>((resolve, reject) => {
        if (this.#failure) return reject(this.#failure);
        this.#waiting.set(id, { resolve, reject });
        const k = id % this.#workers.length;
        this.#ready[k].then(() =>
          this.#workers[k].postMessage({ id, index: start + i } satisfies DatasetJob)
        );
      });
    }));
  }

  /** Ends the workers (items still asked for are rejected). */
  close(): void {
    for (const w of this.#workers) w.terminate();
    for (const job of this.#waiting.values()) job.reject(new Error("dataset reader closed"));
    this.#waiting.clear();
  }
}
