/**
 * Worker threads that answer jobs: the one mechanism behind sg3's host-side pools (PNG encoding,
 * formats/png_pool.ts; dataset decoding, formats/dataset_pool.ts; feature statistics, metrics/gram_pool.ts).
 * A worker module calls {@link serve} with its job handler; the calling thread makes a {@link WorkerPool} of it
 * and gets each job's answer as a promise. A worker says `ready` once it listens, and jobs wait for that:
 * messages sent while a worker's modules still load (the WASM image decoders) would be lost.
 */
import { UserError } from "../errors.ts";

type Answer<R> = { id: number; value: R } | { id: number; error: string; user: boolean } | { ready: true };

/**
 * Serves jobs in a worker module: `handle(job)` gives the answer (and the buffers to transfer with it); a
 * {@link UserError} it throws reaches the caller as a UserError with the same one line.
 */
export function serve<J, R>(handle: (job: J) => { value: R; transfer?: Transferable[] }): void {
  // deno-lint-ignore no-explicit-any
  const scope = self as any;
  scope.onmessage = (e: MessageEvent<{ id: number; job: J }>) => {
    const { id, job } = e.data;
    try {
      const { value, transfer } = handle(job);
      scope.postMessage({ id, value } satisfies Answer<R>, transfer ?? []);
    } catch (err) {
      const user = err instanceof UserError;
      scope.postMessage({ id, error: (err as Error).message, user } satisfies Answer<R>);
    }
  };
  scope.postMessage({ ready: true } satisfies Answer<R>);
}

/** Workers of one module answering jobs J with R; {@link WorkerPool.close} ends them. */
export class WorkerPool<J, R> {
  readonly #workers: Worker[];
  /** Per worker, resolved once it listens. */
  readonly #ready: Promise<void>[] = [];
  readonly #waiting = new Map<number, { resolve: (r: R) => void; reject: (e: Error) => void }>();
  #next = 0;
  #failure: Error | null = null;

  /** Starts `size` workers (at least 1) of the module at `url`; `label` prefixes their internal errors. */
  constructor(url: URL, size: number, readonly label: string) {
    this.#workers = Array.from({ length: Math.max(1, size) }, () => {
      const w = new Worker(url, { type: "module" });
      let listening = () => {};
      this.#ready.push(new Promise<void>((resolve) => listening = resolve));
      w.onmessage = (e: MessageEvent<Answer<R>>) => {
        if ("ready" in e.data) return listening();
        const job = this.#waiting.get(e.data.id)!;
        this.#waiting.delete(e.data.id);
        if ("value" in e.data) job.resolve(e.data.value);
        else job.reject(e.data.user ? new UserError(e.data.error) : new Error(`${label}: ${e.data.error}`));
      };
      w.onerror = (e) => {
        e.preventDefault();
        const failure = this.#failure ??= new Error(`${label}: ${e.message}`);
        for (const job of this.#waiting.values()) job.reject(failure);
        this.#waiting.clear();
      };
      return w;
    });
  }

  /** How many workers run. */
  get size(): number {
    return this.#workers.length;
  }

  /** The answer to `job`, from worker `worker` (default: the next in turn), sending `transfer` with it. */
  call(job: J, opts: { worker?: number; transfer?: Transferable[] } = {}): Promise<R> {
    const id = this.#next++, k = opts.worker ?? id % this.#workers.length;
    return new Promise<R>((resolve, reject) => {
      if (this.#failure) return reject(this.#failure);
      this.#waiting.set(id, { resolve, reject });
      this.#ready[k].then(() => this.#workers[k].postMessage({ id, job }, opts.transfer ?? []));
    });
  }

  /** Ends the workers (jobs still waiting are rejected). */
  close(): void {
    for (const w of this.#workers) w.terminate();
    for (const job of this.#waiting.values()) job.reject(new Error(`${this.label}: closed`));
    this.#waiting.clear();
  }
}
