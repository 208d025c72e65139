/**
 * Helpers for checking GPU results against float64 CPU references: error measures, assertions with
 * explicit tolerances, and a seeded random generator for reproducible awkward-sized inputs.
 */
import { AssertionError } from "node:assert/strict";

/** Maximum absolute difference and relative L2 error ||a - e|| / ||e||. */
export function compare(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
): { maxAbs: number; relL2: number } {
  if (actual.length !== expected.length) {
    throw new AssertionError({ message: `length ${actual.length} != expected ${expected.length}` });
  }
  let maxAbs = 0, num = 0, den = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = actual[i] - expected[i];
    if (!(Math.abs(d) <= maxAbs)) maxAbs = Number.isNaN(d) ? Infinity : Math.abs(d);
    num += d * d;
    den += expected[i] * expected[i];
  }
  return { maxAbs, relL2: den > 0 ? Math.sqrt(num / den) : Math.sqrt(num) };
}

/** Asserts max |actual - expected| <= abs and (when given) relative L2 error <= rel. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: { abs?: number; rel?: number },
  what = "values",
): void {
  const { maxAbs, relL2 } = compare(actual, expected);
  if (tol.abs !== undefined && !(maxAbs <= tol.abs)) {
    throw new AssertionError({ message: `${what}: max abs error ${maxAbs} > ${tol.abs}` });
  }
  if (tol.rel !== undefined && !(relL2 <= tol.rel)) {
    throw new AssertionError({ message: `${what}: relative L2 error ${relL2} > ${tol.rel}` });
  }
}

/**
 * The fixtures' uint8 image rule (gen_images.py's rounding of float outputs that differ in the last bits):
 * |actual - expected| <= 1 everywhere and != 0 at no more than 0.1% of the values.
 */
export function assertU8Close(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  if (actual.length !== expected.length) {
    throw new AssertionError({ message: `${what}: length ${actual.length} != expected ${expected.length}` });
  }
  let differ = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= 1)) throw new AssertionError({ message: `${what}: uint8 value ${i} differs by ${d}` });
    if (d) differ++;
  }
  if (differ > actual.length * 0.001) {
    throw new AssertionError({ message: `${what}: ${differ} uint8 values differ by 1` });
  }
}

/** A seeded uniform generator (mulberry32) in [0, 1). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n uniform values in [lo, hi) as float32 from a seeded generator. */
export function randomF32(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}
