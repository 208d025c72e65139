/**
 * Per-kernel GPU timing with timestamp queries (the adapter's `timestamp-query` feature): while a
 * profiler is attached to a submission, every dispatch runs in a compute pass of its own whose start and
 * end times are written to a query set; at each flush they are resolved and read back, and the
 * durations are summed per kernel label. The texture copies a dispatch needs before it (gpu/texture.ts) are
 * timed between two empty passes, as `texture_copy` under the dispatch's tuning tag. Used by `deno task bench`
 * to say where the time goes.
 */

/** Total GPU time and dispatch count of one kernel. */
export interface OpTime {
  ms: number;
  count: number;
  /** Floating-point operations the dispatches declared (0 where a kernel declares none). */
  flops: number;
}

/** Timestamp pairs per submission (the submission flushes before this many dispatches). */
const CAPACITY = 1024;

/** Collects per-label GPU durations for the dispatches recorded while attached. */
export class OpProfiler {
  readonly totals: Map<string, OpTime> = new Map();
  /** Durations by tuning tag (dispatches that carry one; see gpu/tuner.ts). */
  readonly tagged: Map<string, OpTime> = new Map();
  readonly #querySet: GPUQuerySet;
  #labels: [string, string | undefined, number][] = [];
  #reads: Promise<void>[] = [];

  constructor(readonly device: GPUDevice) {
    this.#querySet = device.createQuerySet({ type: "timestamp", count: 2 * CAPACITY });
  }

  /** Whether the device can profile (it was opened with `timestamp-query`). */
  static supported(device: GPUDevice): boolean {
    return device.features.has("timestamp-query");
  }

  /** Whether another dispatch, with its copies ({@link around}), fits before the next flush. */
  get full(): boolean {
    return this.#labels.length >= CAPACITY - 1;
  }

  /** The timestamp writes of the next dispatch's pass: kernel `label`, tuning tag `tag`, `flops` operations. */
  next(label: string, tag?: string, flops = 0): GPUComputePassTimestampWrites {
    const i = this.#labels.push([label, tag, flops]) - 1;
    return { querySet: this.#querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /**
   * The timestamp writes of two empty passes, the first's beginning and the second's end, around work that
   * runs outside compute passes (a dispatch's texture copies, gpu/texture.ts), timed as `label` under tuning
   * tag `tag`: so that a variant's time includes the copies it needs.
   */
  around(label: string, tag?: string): [GPUComputePassTimestampWrites, GPUComputePassTimestampWrites] {
    const i = this.#labels.push([label, tag, 0]) - 1;
    return [
      { querySet: this.#querySet, beginningOfPassWriteIndex: 2 * i },
      { querySet: this.#querySet, endOfPassWriteIndex: 2 * i + 1 },
    ];
  }

  /** Records the resolve of this submission's timestamps into `encoder`; read back after submit. */
  resolve(encoder: GPUCommandEncoder): (() => void) | null {
    const labels = this.#labels;
    if (!labels.length) return null;
    this.#labels = [];
    const bytes = labels.length * 16;
    const resolved = this.device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    const staging = this.device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    encoder.resolveQuerySet(this.#querySet, 0, 2 * labels.length, resolved, 0);
    encoder.copyBufferToBuffer(resolved, 0, staging, 0, bytes);
    return () => {
      this.#reads.push(
        staging.mapAsync(GPUMapMode.READ).then(() => {
          const t = new BigUint64Array(staging.getMappedRange());
          labels.forEach(([label, tag, flops], i) => {
            const ms = Number(t[2 * i + 1] - t[2 * i]) / 1e6;
            add(this.totals, label, ms, flops);
            if (tag) add(this.tagged, tag, ms, flops);
          });
          staging.destroy();
          resolved.destroy();
        }),
      );
    };
  }

  /** Waits until every submitted submission's durations are summed. */
  async drain(): Promise<void> {
    const reads = this.#reads;
    this.#reads = [];
    await Promise.all(reads);
  }

  /** Forgets the totals. */
  reset(): void {
    this.totals.clear();
    this.tagged.clear();
  }
}

function add(map: Map<string, OpTime>, key: string, ms: number, flops: number): void {
  const entry = map.get(key) ?? { ms: 0, count: 0, flops: 0 };
  entry.ms += ms;
  entry.flops += flops;
  entry.count++;
  map.set(key, entry);
}
