/**
 * Latent paths for videos, with the official gen_video.py semantics: a grid of cells, each a looping path
 * through `K` keyframe latents. gen_video.py tiles a cell's keyframes 2*wraps+1 = 5 times over
 * x = arange(-2K, 3K) and evaluates scipy.interpolate.interp1d(x, y, kind) at t = frame / w_frames for
 * t in [0, K), so the path wraps around smoothly. interp1d's 'cubic' is make_interp_spline(k=3) with
 * not-a-knot ends, reproduced here in float64; 'linear' reproduces interp1d's arithmetic bit for bit.
 * Also: a spherical path between consecutive keyframes (slerp), and stylegan3-fun's circular video.
 */
import { UserError } from "../errors.ts";
import { RandomState } from "./latents.ts";

/** How a path moves between keyframes. */
export type InterpKind = "cubic" | "linear" | "slerp";

/** gen_video.py's `wraps`: copies of the keyframes on each side of the rendered period. */
const WRAPS = 2;

/**
 * NumPy's legacy `RandomState.shuffle` of a 1-D array, in place: for i = n-1 down to 1, swap item i with
 * item j = random_interval(i), i.e. the first 32-bit draw masked to the bit length of i that is <= i —
 * the same draws as `randint(0, i + 1)`.
 */
export function shuffle<T>(rs: RandomState, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rs.randint(0, i + 1, 1)[0];
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/** `RandomState.choice(n, k, replace=False)`: the first k items of `permutation(n)`. */
export function choiceWithoutReplacement(rs: RandomState, n: number, k: number): number[] {
  if (k > n) throw new UserError(`cannot choose ${k} distinct items out of ${n}`);
  return shuffle(rs, Array.from({ length: n }, (_, i) => i)).slice(0, k);
}

/** The keyframe seeds of every cell, as gen_video.py assigns them. */
export interface KeyframeSeeds {
  /** Seeds in [grid_h, grid_w, K] order: cell (row, col) keyframe k is at ((row * gridW) + col) * K + k. */
  seeds: number[];
  /** Keyframes per cell, K. */
  numKeyframes: number;
}

/**
 * gen_video.py's seed layout: K = numKeyframes ?? len(seeds) / (gridW * gridH) (which must divide);
 * all_seeds[i] = seeds[i % len(seeds)] for i < K * cells; then RandomState(shuffleSeed).shuffle(all_seeds)
 * when a shuffle seed is given; the list is read as [grid_h, grid_w, K].
 */
export function keyframeSeeds(
  seeds: number[],
  gridW: number,
  gridH: number,
  numKeyframes?: number,
  shuffleSeed?: number,
): KeyframeSeeds {
  const cells = gridW * gridH;
  if (seeds.length === 0) throw new UserError("need at least one seed", "seeds");
  if (numKeyframes === undefined) {
    if (seeds.length % cells !== 0) {
      throw new UserError(
        `the number of seeds (${seeds.length}) must be divisible by the grid size ${gridW}x${gridH}`,
        "num-keyframes",
      );
    }
    numKeyframes = seeds.length / cells;
  }
  const all = Array.from({ length: numKeyframes * cells }, (_, i) => seeds[i % seeds.length]);
  if (shuffleSeed !== undefined) shuffle(new RandomState(shuffleSeed), all);
  return { seeds: all, numKeyframes };
}

/**
 * The not-a-knot cubic spline through knots x_i = x0 + i (i < n) with values y_i of dimension `dim`
 * (row-major [n, dim]). This is the interpolant of make_interp_spline(x, y, k=3): C2 piecewise cubics whose
 * third derivative is also continuous at x_1 and x_{n-2}. In terms of the second derivatives M_i (unit
 * spacing): M_{i-1} + 4 M_i + M_{i+1} = 6 (y_{i+1} - 2 y_i + y_{i-1}) inside, and not-a-knot
 * M_0 = 2 M_1 - M_2, M_{n-1} = 2 M_{n-2} - M_{n-3}, which turn the end rows into 6 M_1 = r_1 and
 * 6 M_{n-2} = r_{n-2}; the tridiagonal system is solved once for all `dim` columns (Thomas algorithm).
 */
export class UniformCubicSpline {
  readonly #m: Float64Array;

  /** Solves for the second derivatives (needs n >= 4). */
  constructor(
    /** The knot values, row-major [n, dim]. */
    readonly y: Float64Array,
    /** Number of knots. */
    readonly n: number,
    /** Values per knot. */
    readonly dim: number,
    /** Position of the first knot. */
    readonly x0 = 0,
  ) {
    if (n < 4) throw new Error(`a not-a-knot cubic spline needs at least 4 knots, got ${n}`);
    const m = new Float64Array(n * dim);
    // Forward elimination on rows 1..n-2 (sub-diagonal a, diagonal b, super-diagonal c).
    const cPrime = new Float64Array(n);
    for (let i = 1; i <= n - 2; i++) {
      const end = i === 1 || i === n - 2;
      const a = end ? 0 : 1, b = end ? 6 : 4, c = end ? 0 : 1;
      const denom = b - a * cPrime[i - 1];
      cPrime[i] = c / denom;
      for (let d = 0; d < dim; d++) {
        const r = 6 * (y[(i + 1) * dim + d] - 2 * y[i * dim + d] + y[(i - 1) * dim + d]);
        m[i * dim + d] = (r - a * m[(i - 1) * dim + d]) / denom;
      }
    }
    for (let i = n - 3; i >= 1; i--) {
      for (let d = 0; d < dim; d++) m[i * dim + d] -= cPrime[i] * m[(i + 1) * dim + d];
    }
    for (let d = 0; d < dim; d++) {
      m[d] = 2 * m[dim + d] - m[2 * dim + d];
      m[(n - 1) * dim + d] = 2 * m[(n - 2) * dim + d] - m[(n - 3) * dim + d];
    }
    this.#m = m;
  }

  /**
   * The spline at x (extrapolating with the end pieces outside the knots): on [x_i, x_i + 1] with
   * t = x - x_i, s = (1-t) y_i + t y_{i+1} + ((1-t)^3 - (1-t)) M_i / 6 + (t^3 - t) M_{i+1} / 6.
   */
  at(x: number, out: Float64Array = new Float64Array(this.dim)): Float64Array {
    const { y, dim, n } = this;
    const i = Math.min(Math.max(Math.floor(x - this.x0), 0), n - 2);
    const t = x - this.x0 - i, u = 1 - t;
    const a = (u * u * u - u) / 6, b = (t * t * t - t) / 6;
    const m = this.#m;
    for (let d = 0; d < dim; d++) {
      const p = i * dim + d, q = p + dim;
      out[d] = u * y[p] + t * y[q] + a * m[p] + b * m[q];
    }
    return out;
  }
}

/**
 * A looping path through `k` keyframes of dimension `dim` (row-major [k, dim]), evaluated at t in [0, k):
 * keyframe j sits at t = j and the path returns to keyframe 0 at t = k.
 * - cubic: interp1d(arange(-2k, 3k), tile(y, 5), kind='cubic') as gen_video.py.
 * - linear: interp1d kind='linear' on the same tiled knots (its formula: slope * (t - x_lo) + y_lo, with the
 *   interval to the left of a knot chosen at the knot itself).
 * - slerp: along the great circle between consecutive keyframes, rows of `rowDim` values (one z, or one w of
 *   a [num_ws, w_dim] block) each on its own circle, with the radius interpolated linearly; rows whose
 *   angle is tiny fall back to linear.
 */
export class KeyframeLoop {
  readonly #spline?: UniformCubicSpline;

  /** Prepares the path (the cubic spline is solved once here). */
  constructor(
    /** The keyframes, row-major [k, dim]. */
    readonly keyframes: Float64Array,
    /** Number of keyframes. */
    readonly k: number,
    /** Values per keyframe. */
    readonly dim: number,
    /** The interpolation: "cubic", "linear" or "slerp". */
    readonly kind: InterpKind,
    /** Values per slerp row (dividing `dim`; default `dim`, one circle per keyframe). */
    readonly rowDim = dim,
  ) {
    if (keyframes.length !== k * dim) {
      throw new Error(`keyframes: expected ${k}x${dim} values, got ${keyframes.length}`);
    }
    if (dim % rowDim !== 0) throw new Error(`rowDim ${rowDim} does not divide dim ${dim}`);
    if (kind === "cubic") {
      const copies = 2 * WRAPS + 1;
      const tiled = new Float64Array(copies * k * dim);
      for (let c = 0; c < copies; c++) tiled.set(keyframes, c * k * dim);
      this.#spline = new UniformCubicSpline(tiled, copies * k, dim, -WRAPS * k);
    }
  }

  /** The path at t (gen_video.py: t = frame_idx / w_frames). */
  at(t: number, out: Float64Array = new Float64Array(this.dim)): Float64Array {
    if (this.#spline) return this.#spline.at(t, out);
    const { k, dim, keyframes } = this;
    // interp1d's linear search: hi = first knot >= t, lo = hi - 1 (knots are the integers -2k .. 3k-1).
    const hi = Math.min(Math.max(Math.ceil(t), 1 - WRAPS * k), (WRAPS + 1) * k - 1);
    const lo = hi - 1;
    const frac = t - lo;
    const yLo = keyframes.subarray(mod(lo, k) * dim, (mod(lo, k) + 1) * dim);
    const yHi = keyframes.subarray(mod(hi, k) * dim, (mod(hi, k) + 1) * dim);
    if (this.kind === "linear") {
      for (let d = 0; d < dim; d++) out[d] = (yHi[d] - yLo[d]) * frac + yLo[d];
      return out;
    }
    for (let r = 0; r < dim; r += this.rowDim) {
      slerp(
        yLo.subarray(r, r + this.rowDim),
        yHi.subarray(r, r + this.rowDim),
        frac,
        out.subarray(r, r + this.rowDim),
      );
    }
    return out;
  }
}

function mod(a: number, n: number): number {
  return ((a % n) + n) % n;
}

/**
 * Spherical interpolation: direction sin((1-f)Ω)/sin Ω â + sin(fΩ)/sin Ω b̂ (Ω the angle between a and b),
 * scaled to the linearly interpolated norm (1-f)|a| + f|b|.
 */
export function slerp(
  a: Float64Array,
  b: Float64Array,
  f: number,
  out: Float64Array = new Float64Array(a.length),
): Float64Array {
  let aa = 0, bb = 0, ab = 0;
  for (let i = 0; i < a.length; i++) {
    aa += a[i] * a[i];
    bb += b[i] * b[i];
    ab += a[i] * b[i];
  }
  const na = Math.sqrt(aa), nb = Math.sqrt(bb);
  const cos = na > 0 && nb > 0 ? Math.min(1, Math.max(-1, ab / (na * nb))) : 1;
  const omega = Math.acos(cos);
  if (omega < 1e-6) {
    for (let i = 0; i < a.length; i++) out[i] = a[i] + (b[i] - a[i]) * f;
    return out;
  }
  const s = Math.sin(omega);
  const norm = (1 - f) * na + f * nb;
  const wa = Math.sin((1 - f) * omega) / s * norm / na, wb = Math.sin(f * omega) / s * norm / nb;
  for (let i = 0; i < a.length; i++) out[i] = wa * a[i] + wb * b[i];
  return out;
}

/**
 * Frame times of an interpolation video: gen_video.py renders K * wFrames frames at t = frame / wFrames.
 * With a frame count instead (--duration-sec * --fps), the K transitions share `frames` frames:
 * t = frame * K / frames.
 */
export function frameTime(
  frame: number,
  numKeyframes: number,
  timing: { wFrames: number } | { frames: number },
): number {
  return "wFrames" in timing ? frame / timing.wFrames : frame * numKeyframes / timing.frames;
}

/** Frame count of an interpolation video for the two timings of {@link frameTime}. */
export function frameCount(numKeyframes: number, timing: { wFrames: number } | { frames: number }): number {
  return "wFrames" in timing ? numKeyframes * timing.wFrames : timing.frames;
}

/**
 * stylegan3-fun's circular video: RandomState(seed).choice(z_dim, 2 * cells, replace=False) picks two z
 * axes per cell (the first `cells` draws are the x axes, the rest the y axes); frame f of `frames` has
 * z = 0 except z[x] = 5 cos θ_f, z[y] = 5 sin θ_f with θ = linspace(0, 2π, frames), stored as float32
 * (the first and last frames coincide, as in the original). Returns z [frames, cells, z_dim].
 */
export function circularZ(seed: number, zDim: number, cells: number, frames: number): Float32Array {
  const axes = choiceWithoutReplacement(new RandomState(seed), zDim, 2 * cells);
  const out = new Float32Array(frames * cells * zDim);
  const step = frames > 1 ? 2 * Math.PI / (frames - 1) : 0;
  for (let f = 0; f < frames; f++) {
    const theta = f === frames - 1 && frames > 1 ? 2 * Math.PI : f * step;
    for (let c = 0; c < cells; c++) {
      const row = (f * cells + c) * zDim;
      out[row + axes[c]] = 5 * Math.cos(theta);
      out[row + axes[cells + c]] = 5 * Math.sin(theta);
    }
  }
  return out;
}
