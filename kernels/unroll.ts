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

/**
 * WGSL that reads `count` consecutive values of a flat array through `fetch(i)`, the WGSL of its vec4 i (an
 * index expression in u32), starting at value `start` (an i32 expression, negative only where the values read
 * are discarded): the floor((count + 2) / 4) + 1 vec4s that cover them (`code`, names prefixed by `id`), and
 * value r of the run (`value(r)`), picked from them by the start's offset within a vec4 with three selects.
 */
export function shiftedRead(
  fetch: (i: string) => string,
  start: string,
  count: number,
  id: string,
): { code: string[]; value: (r: number) => string } {
  const code = [
    `let ${id}e = ${start};`,
    `let ${id}m = u32(${id}e & 3);`,
    `let ${id}b = (${id}e - i32(${id}m)) / 4;`,
    ...range(((count + 2) >> 2) + 1).map((q) => `let ${id}q${q} = ${fetch(`u32(max(${id}b + ${q}, 0))`)};`),
  ];
  const at = (k: number) => `${id}q${k >> 2}[${k & 3}]`;
  const pick = (v: string, k: number, m: number) => `select(${v}, ${at(k)}, ${id}m == ${m}u)`;
  const value = (r: number) => pick(pick(pick(at(r), r + 1, 1), r + 2, 2), r + 3, 3);
  return { code, value };
}
