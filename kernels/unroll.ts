/**
 * Helpers for kernels that generate unrolled WGSL: index lists to map over, and linear combinations with
 * constant coefficients written out term by term (zero terms dropped, unit coefficients without a multiply).
 */

/** [0, 1, ..., n - 1]. */
export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** A WGSL f32 literal of a finite number (always with a decimal point or exponent). */
export function f32Literal(v: number): string {
  const s = String(v);
  return /[.e]/.test(s) ? s : `${s}.0`;
}

/** sum_i c[i] * x[i] as a WGSL expression: zero terms dropped, +-1 without a multiply ("0.0" if all zero). */
export function linearCombination(c: readonly number[], x: readonly string[]): string {
  let out = "";
  c.forEach((k, i) => {
    if (k === 0) return;
    const term = Math.abs(k) === 1 ? x[i] : `${f32Literal(Math.abs(k))} * ${x[i]}`;
    out += out ? ` ${k < 0 ? "-" : "+"} ${term}` : k < 0 ? `-${term}` : term;
  });
  return out || "0.0";
}

/**
 * `f` (a pure kernel-source builder) with its results kept per argument list (compared as JSON): a kernel's
 * WGSL is built once per configuration instead of at every launch (tens of KB for the unrolled kernels; on
 * llvmpipe this took ~10 ms of host time per stylegan3-t-128 image).
 */
export function memoized<A extends unknown[]>(f: (...args: A) => string): (...args: A) => string {
  const made = new Map<string, string>();
  return (...args) => {
    const key = JSON.stringify(args);
    let source = made.get(key);
    if (source === undefined) made.set(key, source = f(...args));
    return source;
  };
}
