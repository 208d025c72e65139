/**
 * PNG files encoded on several CPU cores: fast-png's deflate takes 60-100 ms for a 1024x1024 image on one core,
 * ten times what a GPU needs to generate it (StyleGAN3-T-1024 on an H100: 7.6 ms). A {@link PngWriter}
 * encodes on worker threads and writes each file atomically on the calling thread when its bytes are back
 * (so an interrupted run still leaves no half-written file); at most two images per worker wait, so memory
 * stays bounded. Without workers it writes each file at once, as {@link writePng} does.
 */
import { type Image8, writePng } from "./png.ts";
import { writeFileAtomic } from "./atomic.ts";
import type { PngJob, PngResult } from "./png_worker.ts";

/** Writes PNG files through a pool of encoding workers; {@link PngWriter.close} waits for them and ends them. */
export class PngWriter {
  readonly #workers: Worker[];
  readonly #waiting = new Map<number, { resolve: (b: Uint8Array) => void; reject: (e: Error) => void }>();
  readonly #inFlight = new Set<Promise<void>>();
  #next = 0;
  #failure: Error | null = null;

  /** Starts `workers` encoding workers (0: encode on the calling thread); `onWritten` follows every file. */
  constructor(workers: number, readonly onWritten: (path: string) => void = () => {}) {
    this.#workers = Array.from({ length: Math.max(0, workers) }, () => {
      const w = new Worker(new URL("./png_worker.ts", import.meta.url), { type: "module" });
      w.onmessage = (e: MessageEvent<PngResult>) => {
        const job = this.#waiting.get(e.data.id)!;
        this.#waiting.delete(e.data.id);
        if ("bytes" in e.data) job.resolve(e.data.bytes);
        else job.reject(new Error(`PNG encoding: ${e.data.error}`));
      };
      w.onerror = (e) => {
        e.preventDefault();
        this.#failure ??= new Error(`PNG worker: ${e.message}`);
        for (const job of this.#waiting.values()) job.reject(this.#failure);
        this.#waiting.clear();
      };
      return w;
    });
  }

  /**
   * Writes `image` to `path` as PNG (atomically): resolves once the image is handed to a worker, waiting while
   * two images per worker are in flight; throws the first failure of an earlier file.
   */
  async write(path: string, image: Image8): Promise<void> {
    if (this.#failure) throw this.#failure;
    if (!this.#workers.length) {
      writePng(path, image);
      this.onWritten(path);
      return;
    }
    while (this.#inFlight.size >= 2 * this.#workers.length) await Promise.race(this.#inFlight);
    if (this.#failure) throw this.#failure;
    const id = this.#next++;
    const bytes = new Promise<Uint8Array>((resolve, reject) => this.#waiting.set(id, { resolve, reject }));
    this.#workers[id % this.#workers.length].postMessage({ id, image } satisfies PngJob);
    const done: Promise<void> = bytes.then((b) => {
      writeFileAtomic(path, b);
      this.onWritten(path);
    }).catch((e) => {
      this.#failure ??= e as Error;
    }).finally(() => this.#inFlight.delete(done));
    this.#inFlight.add(done);
  }

  /** Waits for every file, ends the workers, and throws the first failure. */
  async close(): Promise<void> {
    try {
      await Promise.all(this.#inFlight);
    } finally {
      for (const w of this.#workers) w.terminate();
    }
    if (this.#failure) throw this.#failure;
  }
}
