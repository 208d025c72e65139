/**
 * Running mean and covariance of feature vectors in float64, streamed in batches (50k images are never
 * held at once unless asked). Sums are taken about a shift (the first vector seen) so that the
 * covariance does not lose digits to large means: with y = x - shift,
 *   mean = shift + sum(y) / N,   cov = (sum(y y^T) - sum(y) sum(y)^T / N) / D,
 * D = N (StyleGAN3's metric_utils, "biased") or N - 1 (numpy.cov as pytorch-fid and clean-fid, "unbiased").
 * Accumulations of disjoint parts (shards) combine exactly into the whole's (see {@link FeatureStats.merge}).
 */
import { rowDots } from "./linalg.ts";
import type { GramPool } from "./gram_pool.ts";

/** Covariance normalisation: 1/N (StyleGAN3) or 1/(N-1) (pytorch-fid, clean-fid). */
export type CovarianceConvention = "biased" | "unbiased";

/** Mean and covariance of a feature set (float64; sigma is d x d row-major). */
export interface Stats {
  /** The mean [dim]. */
  mu: Float64Array;
  /** The covariance [dim, dim], row-major. */
  sigma: Float64Array;
  /** The feature dimension (2048 for Inception's pool features). */
  dim: number;
  /** Number of vectors they came from (0 when read from a file that does not say). */
  count: number;
}

/**
 * The float64 sums of an accumulation: count, the shift, sum(y) and the upper triangle of sum(y y^T) (d x d,
 * row-major; entries below the diagonal are 0) for y = x - shift.
 */
export interface FeatureSums {
  /** Number of vectors N. */
  count: number;
  /** The shift s [dim] (the first vector; zeros when N = 0). */
  shift: Float64Array;
  /** sum(x - s) [dim]. */
  sum: Float64Array;
  /** The upper triangle of sum((x - s)(x - s)^T) [dim, dim]. */
  gram: Float64Array;
}

/** Accumulates feature statistics; optionally keeps the vectors (for KID and the Inception Score). */
export class FeatureStats {
  readonly #sum: Float64Array;
  /** Upper triangle of sum(y y^T), in shared memory (for {@link FeatureStats.addOn}). */
  readonly #gram: Float64Array;
  #shift: Float64Array | null = null;
  #count = 0;
  readonly #kept: Float32Array[] = [];

  /** An empty accumulator. */
  constructor(
    /** The feature dimension. */
    readonly dim: number,
    /** Whether to keep every vector added (as float32) for {@link FeatureStats.all}. */
    readonly keep = false,
  ) {
    this.#sum = new Float64Array(dim);
    this.#gram = new Float64Array(new SharedArrayBuffer(dim * dim * 8));
  }

  /** Number of vectors added. */
  get count(): number {
    return this.#count;
  }

  /** Adds n vectors (row-major n x dim). */
  add(x: ArrayLike<number>, n: number): void {
    const yt = this.#center(x, n);
    if (!yt) return;
    rowDots(yt, yt, n, this.dim, this.dim, this.#gram, { upper: true });
    this.#count += n;
  }

  /**
   * {@link FeatureStats.add} with the Gram update spread over `pool`'s workers: the same sums, bit for bit.
   * The accumulator must not be used again until the promise resolves.
   */
  async addOn(pool: GramPool, x: ArrayLike<number>, n: number): Promise<void> {
    const yt = this.#center(x, n, true);
    if (!yt) return;
    await pool.addGram(yt, n, this.dim, this.#gram);
    this.#count += n;
  }

  /**
   * Takes n vectors in (shift, kept copies, sum(y)) and returns them transposed and shifted, yt[j * n + b] =
   * x[b, j] - shift[j], so that the Gram entries are contiguous dot products (in shared memory when `shared`);
   * null when n = 0.
   */
  #center(x: ArrayLike<number>, n: number, shared = false): Float64Array | null {
    const d = this.dim;
    if (x.length < n * d) throw new Error(`FeatureStats.add: ${x.length} values for ${n} x ${d}`);
    if (n === 0) return null;
    this.#shift ??= Float64Array.from({ length: d }, (_, j) => x[j]);
    if (this.keep) this.#kept.push(Float32Array.from({ length: n * d }, (_, i) => x[i]));
    const yt: Float64Array = shared
      ? new Float64Array(new SharedArrayBuffer(d * n * 8))
      : new Float64Array(d * n);
    const shift = this.#shift;
    for (let b = 0; b < n; b++) {
      for (let j = 0; j < d; j++) {
        const v = x[b * d + j] - shift[j];
        yt[j * n + b] = v;
        this.#sum[j] += v;
      }
    }
    return yt;
  }

  /** The sums so far (views of the accumulator's arrays; null shift before the first vector). */
  sums(): FeatureSums {
    return {
      count: this.#count,
      shift: this.#shift ?? new Float64Array(this.dim),
      sum: this.#sum,
      gram: this.#gram,
    };
  }

  /**
   * Adds the sums of another accumulation of the same dimension (and its vectors, when this one keeps them),
   * re-centred on this one's shift (taken from the other's when this one is empty): with delta = s' - s,
   * sum(x - s) = sum(x - s') + n delta and sum((x - s)(x - s)^T) = G' + delta sum'^T + sum' delta^T + n delta delta^T.
   * Merging the parts of a run in index order gives the whole run's statistics up to float64 rounding.
   */
  merge(other: FeatureSums, vectors?: Float32Array): void {
    const d = this.dim;
    if (other.sum.length !== d || other.gram.length !== d * d || other.shift.length !== d) {
      throw new Error(`FeatureStats.merge: sums of dimension ${other.sum.length}, expected ${d}`);
    }
    if (this.keep) {
      if (!vectors || vectors.length !== other.count * d) {
        throw new Error("FeatureStats.merge: vectors missing");
      }
      this.#kept.push(vectors);
    }
    if (other.count === 0) return;
    this.#shift ??= Float64Array.from(other.shift);
    const n = other.count, shift = this.#shift;
    const delta = Float64Array.from({ length: d }, (_, j) => other.shift[j] - shift[j]);
    for (let i = 0; i < d; i++) {
      const di = delta[i], si = other.sum[i];
      for (let j = i; j < d; j++) {
        this.#gram[i * d + j] += other.gram[i * d + j] + di * other.sum[j] + si * delta[j] +
          n * di * delta[j];
      }
      this.#sum[i] += si + n * di;
    }
    this.#count += n;
  }

  /** The mean and covariance under `convention`. */
  stats(convention: CovarianceConvention): Stats {
    const d = this.dim, n = this.#count;
    const denom = convention === "biased" ? n : n - 1;
    if (n === 0 || denom <= 0) throw new Error(`FeatureStats: ${n} vectors are too few for a covariance`);
    const shift = this.#shift!;
    const mu = new Float64Array(d);
    for (let j = 0; j < d; j++) mu[j] = shift[j] + this.#sum[j] / n;
    const sigma = new Float64Array(d * d);
    for (let i = 0; i < d; i++) {
      for (let j = i; j < d; j++) {
        const v = (this.#gram[i * d + j] - (this.#sum[i] * this.#sum[j]) / n) / denom;
        sigma[i * d + j] = v;
        sigma[j * d + i] = v;
      }
    }
    return { mu, sigma, dim: d, count: n };
  }

  /** All vectors added (only when constructed with keep = true), row-major count x dim. */
  all(): Float32Array {
    if (!this.keep) throw new Error("FeatureStats: vectors were not kept");
    const out = new Float32Array(this.#count * this.dim);
    let o = 0;
    for (const part of this.#kept) {
      out.set(part, o);
      o += part.length;
    }
    return out;
  }
}
