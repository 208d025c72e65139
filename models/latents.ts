/**
 * Latent vectors exactly as the official tools make them. gen_images.py draws
 * z = np.random.RandomState(seed).randn(1, z_dim): NumPy's legacy generator, i.e. MT19937 seeded with
 * init_genrand, 53-bit doubles from two 32-bit outputs, and the polar Box-Muller Gaussian that caches its
 * second value, whose logarithm is libm's (glibc's, see glibc_log.ts). Reproducing them bit for bit makes seed N
 * give the same image as `gen_images.py --seeds=N`.
 * Also reads w or z vectors saved as .npy/.npz (e.g. projector.py's projected_w.npz).
 */
import { UserError } from "../errors.ts";
import { type NdArray, parseNpy, parseNpz, readFileOrFail } from "../formats/npy.ts";
import { glibcLog } from "./glibc_log.ts";

const N = 624;
const M = 397;
const UPPER = 0x80000000;
const LOWER = 0x7fffffff;
const MATRIX_A = 0x9908b0df;

/** NumPy's legacy `np.random.RandomState`: MT19937 with the legacy sampling algorithms. */
export class RandomState {
  #mt = new Uint32Array(N);
  #pos = N;
  #gauss = 0;
  #hasGauss = false;

  /** Seeds like `RandomState(seed)` with an integer in [0, 2^32): init_genrand. */
  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new UserError(`seed must be an integer in [0, 2^32 - 1], got ${seed}`);
    }
    const mt = this.#mt;
    mt[0] = seed;
    for (let i = 1; i < N; i++) {
      const prev = mt[i - 1] ^ (mt[i - 1] >>> 30);
      mt[i] = Math.imul(1812433253, prev) + i; // Uint32Array storage wraps modulo 2^32
    }
  }

  /** The next tempered 32-bit output of MT19937 (genrand_int32). */
  nextUint32(): number {
    const mt = this.#mt;
    if (this.#pos >= N) {
      for (let i = 0; i < N; i++) {
        const y = (mt[i] & UPPER) | (mt[(i + 1) % N] & LOWER);
        mt[i] = mt[(i + M) % N] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
      }
      this.#pos = 0;
    }
    let y = mt[this.#pos++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** A double in [0, 1) with 53 random bits: ((a >> 5) * 2^26 + (b >> 6)) / 2^53. */
  nextDouble(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /**
   * One standard normal value by NumPy's legacy_gauss: the polar method draws (x1, x2) uniform in the unit
   * disc, returns f*x2 with f = sqrt(-2 ln r² / r²) and keeps f*x1 for the next call.
   */
  gauss(): number {
    if (this.#hasGauss) {
      this.#hasGauss = false;
      const g = this.#gauss;
      this.#gauss = 0;
      return g;
    }
    let x1: number, x2: number, r2: number;
    do {
      x1 = 2 * this.nextDouble() - 1;
      x2 = 2 * this.nextDouble() - 1;
      r2 = x1 * x1 + x2 * x2;
    } while (r2 >= 1 || r2 === 0);
    const f = Math.sqrt(-2 * glibcLog(r2) / r2);
    this.#gauss = f * x1;
    this.#hasGauss = true;
    return f * x2;
  }

  /** `randn(n)`: n standard normal values (flattened; a shape [a, b] draws a*b values in C order). */
  randn(n: number): Float64Array {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = this.gauss();
    return out;
  }

  /** `rand(n)` / `random_sample(n)`: n doubles in [0, 1). */
  rand(n: number): Float64Array {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = this.nextDouble();
    return out;
  }

  /** `uniform(low, high, n)`: low + (high - low) * random_sample, as the legacy generator computes it. */
  uniform(low: number, high: number, n: number): Float64Array {
    const range = high - low;
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = low + range * this.nextDouble();
    return out;
  }

  /**
   * `randint(low, high, n)` (default int64 dtype) for ranges up to 2^32: masked rejection sampling on 32-bit
   * draws, as NumPy's legacy bounded integers do (value = low + first draw & mask that is <= high - low - 1).
   */
  randint(low: number, high: number, n: number): number[] {
    const rng = high - low - 1;
    if (!Number.isSafeInteger(low) || !Number.isSafeInteger(high) || rng < 0) {
      throw new UserError(`randint: need integers low < high, got [${low}, ${high})`);
    }
    if (rng > 0xffffffff) throw new UserError("randint: ranges above 2^32 are not supported");
    const out: number[] = [];
    if (rng === 0) return new Array(n).fill(low);
    let mask = rng;
    for (let s = 1; s <= 16; s *= 2) mask |= mask >>> s;
    mask >>>= 0;
    for (let i = 0; i < n; i++) {
      let v: number;
      do v = (this.nextUint32() & mask) >>> 0; while (v > rng);
      out.push(low + v);
    }
    return out;
  }
}

/** z for one seed exactly as gen_images.py: `np.random.RandomState(seed).randn(1, z_dim)` (float64). */
export function zFromSeed(seed: number, zDim: number): Float64Array {
  return new RandomState(seed).randn(zDim);
}

/** The z rows of several seeds, [seeds.length, zDim], each as {@link zFromSeed}. */
export function zFromSeeds(seeds: readonly number[], zDim: number): Float64Array {
  const z = new Float64Array(seeds.length * zDim);
  seeds.forEach((s, i) => z.set(zFromSeed(s, zDim), i * zDim));
  return z;
}

/** Latent vectors read from a file: n rows of z [n, zDim], or of ws [n, numWs, wDim]. */
export type Latents =
  | { kind: "z"; n: number; values: Float64Array }
  | { kind: "w"; n: number; values: Float64Array };

/** The dimensions a file's latents must agree with. */
export interface LatentDims {
  /** Dimensionality of z. */
  zDim: number;
  /** Dimensionality of w. */
  wDim: number;
  /** ws per image. */
  numWs: number;
}

/**
 * Reads latents from .npy or .npz. An array of rank 3 [n, num_ws, w_dim] (or rank 2 [num_ws, w_dim] under an
 * .npz key "w"/"ws") is ws; rank 2 [n, z_dim] or rank 1 [z_dim] is z. In an .npz the key says which
 * ("w" as projector.py saves, "ws", or "z"). Wrong ranks, shapes or dtypes throw a UserError.
 */
export function readLatents(path: string, dims: LatentDims): Latents {
  const bytes = readFileOrFail(path);
  const isZip = bytes[0] === 0x50 && bytes[1] === 0x4b;
  if (!isZip) return latentsFromArray(parseNpy(bytes, path), path, dims);
  const members = parseNpz(bytes, path);
  for (const key of ["w", "ws", "z"]) {
    const a = members.get(key);
    if (a) return latentsFromArray(a, `${path}:${key}`, dims, key === "z" ? "z" : "w");
  }
  if (members.size === 1) return latentsFromArray([...members.values()][0], path, dims);
  throw new UserError(
    `${path}: expected an array named 'w', 'ws' or 'z', found ${[...members.keys()].join(", ") || "none"}`,
  );
}

function latentsFromArray(a: NdArray, name: string, dims: LatentDims, want?: "z" | "w"): Latents {
  if (!/^<f[248]$/.test(a.dtype)) {
    throw new UserError(`${name}: latents must be floats, got dtype ${a.dtype}`);
  }
  const values = Float64Array.from(a.data as ArrayLike<number>);
  if (!values.every(Number.isFinite)) throw new UserError(`${name}: latents contain NaN or infinity`);
  const s = a.shape;
  const wShape = `[n, ${dims.numWs}, ${dims.wDim}]`;
  const isW = want === "w" || (want === undefined && s.length === 3);
  if (isW) {
    const ok = (s.length === 3 && s[1] === dims.numWs && s[2] === dims.wDim) ||
      (s.length === 2 && s[0] === dims.numWs && s[1] === dims.wDim);
    if (!ok || values.length === 0) {
      throw new UserError(`${name}: ws must have shape ${wShape}, got [${s.join(", ")}]`);
    }
    return { kind: "w", n: s.length === 3 ? s[0] : 1, values };
  }
  const ok = (s.length === 2 && s[1] === dims.zDim) || (s.length === 1 && s[0] === dims.zDim);
  if (!ok || values.length === 0) {
    throw new UserError(
      `${name}: expected z of shape [n, ${dims.zDim}] or ws of shape ${wShape}, got [${s.join(", ")}]`,
    );
  }
  return { kind: "z", n: s.length === 2 ? s[0] : 1, values };
}
