/**
 * PNG files encoded on several CPU cores: fast-png's deflate takes 60-100 ms for a 1024x1024 image on one core,
 * ten times what a GPU needs to generate it (StyleGAN3-T-1024 on an H100: 7.6 ms). A {@link PngWriter}
 * encodes on worker threads (formats/worker_pool.ts) and writes each file atomically on the calling thread when its bytes are back
 * (so an interrupted run still leaves no half-written file); at most two images per worker wait, so memory
 * stays bounded. Without workers it writes each file at once, as {@link writePng} does.
 */
import { type Image8, writePng } from "./png.ts";
import { writeFileAtomic } from "./atomic.ts";
import { WorkerPool } from "./worker_pool.ts";

/** Writes PNG files through a pool of encoding workers; {@link PngWriter.close} waits for them and ends them. */
export class PngWriter {
  readonly #pool: WorkerPool<Image8, Uint8Array> | null;
  readonly #inFlight = new Set<Promise<void>>();
  #failure: Error | null = null;

  /** Starts `workers` encoding workers (0: encode on the calling thread); `onWritten` follows every file. */
  constructor(workers: number, readonly onWritten: (path: string) => void = () => {}) {
    this.#pool = workers > 0
      ? new WorkerPool(new URL("./png_worker.ts", import.meta.url), workers, "PNG worker")
      : null;
  }

  /**
   * Writes `image` to `path` as PNG (atomically): resolves once the image is handed to a worker, waiting while
   * two images per worker are in flight; throws the first failure of an earlier file.
   */
  async write(path: string, image: Image8): Promise<void> {
    if (this.#failure) throw this.#failure;
    if (!this.#pool) {
      writePng(path, image);
      this.onWritten(path);
      return;
    }
    while (this.#inFlight.size >= 2 * this.#pool.size) await Promise.race(this.#inFlight);
    if (this.#failure) throw this.#failure;
    const done: Promise<void> = this.#pool.call(image).then((b) => {
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
      this.#pool?.close();
    }
    if (this.#failure) throw this.#failure;
  }
}
