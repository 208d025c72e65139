/**
 * Dense float64 linear algebra for the Fréchet distance, on row-major Float64Arrays:
 * pivoted Cholesky of a positive semi-definite matrix, the congruence L^T B L, and the eigenvalues of a
 * symmetric matrix (Householder tridiagonalisation, then the implicit QL method). Loops run along rows
 * so that they stream through memory; d = 2048 takes seconds.
 */

/** A rank-r pivoted Cholesky factor: A[perm[i], perm[j]] = sum_k L[i, k] L[j, k], L is n x r lower-trapezoidal. */
export interface PivotedCholesky {
  n: number;
  rank: number;
  perm: Int32Array;
  /** n x n row-major; columns >= rank are zero. */
  l: Float64Array;
}

/**
 * Pivoted Cholesky of the symmetric positive semi-definite n x n matrix `a` (LAPACK dpstrf's
 * algorithm, left-looking): stops when the largest remaining diagonal is <= n * eps * max(diag(a)).
 */
export function pivotedCholesky(a: Float64Array, n: number): PivotedCholesky {
  const perm = Int32Array.from({ length: n }, (_, i) => i);
  const l = new Float64Array(n * n);
  const diag = new Float64Array(n);
  let maxDiag = 0;
  for (let i = 0; i < n; i++) {
    diag[i] = a[i * n + i];
    maxDiag = Math.max(maxDiag, diag[i]);
  }
  const tol = n * Number.EPSILON * maxDiag;
  let rank = n;
  for (let j = 0; j < n; j++) {
    let p = j;
    for (let i = j + 1; i < n; i++) if (diag[i] > diag[p]) p = i;
    if (!(diag[p] > tol)) {
      rank = j;
      break;
    }
    if (p !== j) {
      [perm[j], perm[p]] = [perm[p], perm[j]];
      [diag[j], diag[p]] = [diag[p], diag[j]];
      for (let k = 0; k < j; k++) [l[j * n + k], l[p * n + k]] = [l[p * n + k], l[j * n + k]];
    }
    const ljj = Math.sqrt(diag[j]);
    l[j * n + j] = ljj;
    const rj = perm[j] * n;
    for (let i = j + 1; i < n; i++) {
      let s = a[rj + perm[i]];
      const ri = i * n, rjl = j * n;
      for (let k = 0; k < j; k++) s -= l[ri + k] * l[rjl + k];
      const v = s / ljj;
      l[ri + j] = v;
      diag[i] -= v * v;
    }
  }
  return { n, rank, perm, l };
}

/**
 * The largest |entry| of the Schur complement A[perm, perm] - L L^T left after a rank-deficient
 * factorization (0 at full rank). For a positive semi-definite A every entry is within the stopping
 * tolerance (|S_ij| <= sqrt(S_ii S_jj)); a clearly larger one means A is indefinite.
 */
export function choleskyResidual(a: Float64Array, f: PivotedCholesky): number {
  const { n, rank, perm, l } = f;
  let worst = 0;
  for (let i = rank; i < n; i++) {
    for (let j = rank; j <= i; j++) {
      let s = a[perm[i] * n + perm[j]];
      for (let k = 0; k < rank; k++) s -= l[i * n + k] * l[j * n + k];
      worst = Math.max(worst, Math.abs(s));
    }
  }
  return worst;
}

/** M = L^T B[perm, perm] L (rank x rank, symmetric) for the factor of another matrix. */
export function congruence(f: PivotedCholesky, b: Float64Array): Float64Array {
  const { n, rank: r, perm, l } = f;
  // Rows of L^T (zero before their own index) and of the permuted B, so both products are row dots.
  const lt = new Float64Array(r * n);
  for (let i = 0; i < n; i++) for (let m = 0; m < Math.min(i + 1, r); m++) lt[m * n + i] = l[i * n + m];
  const bp = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) bp[i * n + k] = b[perm[i] * n + perm[k]];
  // Wt[m, i] = (Bp L)[i, m] = sum_{k >= m} Lt[m, k] Bp[i, k].
  const wt = new Float64Array(r * n);
  rowDots(lt, bp, n, r, n, wt, { start: (a) => a });
  // M[j, m] = sum_i Lt[j, i] Wt[m, i], non-zero terms from i >= j.
  const out = new Float64Array(r * r);
  rowDots(lt, wt, n, r, r, out, { upper: true, start: (a) => a });
  for (let j = 0; j < r; j++) for (let m = j + 1; m < r; m++) out[m * r + j] = out[j * r + m];
  return out;
}

const CHUNK = 256, BLOCK = 32;

/** The row blocks of {@link rowDots}: a row range given to it starts at a multiple of this. */
export const ROW_BLOCK = BLOCK;

/**
 * out[a, b] += sum_{k >= start} P[a, k] Q[b, k] for row-major P (na x len) and Q (nb x len): products of
 * rows, blocked so that the rows in use stay in cache and tiled 2 x 4 in registers. `start(a0, b0)`
 * gives a lower bound of the first non-zero k for a tile beginning at rows a0, b0 (the terms before it
 * must be zero); `upper` skips tiles entirely below the diagonal (entries with b < a are then
 * unspecified); `rows` [a0, a1) limits the work to those rows of P and out (a0 a multiple of
 * {@link ROW_BLOCK}), each entry summed exactly as in the whole call, so that disjoint row ranges can run in
 * parallel (metrics/gram_pool.ts) and give the same bits.
 */
export function rowDots(
  p: Float64Array,
  q: Float64Array,
  len: number,
  na: number,
  nb: number,
  out: Float64Array,
  opts: { upper?: boolean; start?: (a0: number, b0: number) => number; rows?: [number, number] } = {},
): void {
  const upper = opts.upper ?? false;
  const [a0, a1] = opts.rows ?? [0, na];
  if (a0 % BLOCK !== 0) throw new Error(`rowDots: rows start at ${a0}, not a multiple of ${BLOCK}`);
  for (let k0 = 0; k0 < len; k0 += CHUNK) {
    const k1 = Math.min(len, k0 + CHUNK);
    for (let ab = a0; ab < a1; ab += BLOCK) {
      const aEnd = Math.min(a1, ab + BLOCK);
      for (let bb = upper ? ab - (ab % BLOCK) : 0; bb < nb; bb += BLOCK) {
        const bEnd = Math.min(nb, bb + BLOCK);
        for (let a = ab; a < aEnd; a += 2) {
          const two = a + 1 < aEnd;
          const pa = a * len, pa1 = two ? pa + len : pa;
          for (let b = upper ? Math.max(bb, a - (a % 4)) : bb; b < bEnd; b += 4) {
            const kStart = Math.max(k0, opts.start ? opts.start(a, b) : 0);
            if (kStart >= k1) continue;
            const nq = Math.min(4, bEnd - b);
            const q0 = b * len,
              q1 = (nq > 1 ? b + 1 : b) * len,
              q2 = (nq > 2 ? b + 2 : b) * len,
              q3 = (nq > 3 ? b + 3 : b) * len;
            let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
            for (let k = kStart; k < k1; k++) {
              const x0 = p[pa + k], x1 = p[pa1 + k];
              const y0 = q[q0 + k], y1 = q[q1 + k], y2 = q[q2 + k], y3 = q[q3 + k];
              s00 += x0 * y0;
              s01 += x0 * y1;
              s02 += x0 * y2;
              s03 += x0 * y3;
              s10 += x1 * y0;
              s11 += x1 * y1;
              s12 += x1 * y2;
              s13 += x1 * y3;
            }
            const o = a * nb + b;
            out[o] += s00;
            if (nq > 1) out[o + 1] += s01;
            if (nq > 2) out[o + 2] += s02;
            if (nq > 3) out[o + 3] += s03;
            if (two) {
              out[o + nb] += s10;
              if (nq > 1) out[o + nb + 1] += s11;
              if (nq > 2) out[o + nb + 2] += s12;
              if (nq > 3) out[o + nb + 3] += s13;
            }
          }
        }
      }
    }
  }
}

/**
 * Eigenvalues of the symmetric n x n matrix `a` (overwritten), unsorted: Householder reduction to
 * tridiagonal form on the lower triangle (Numerical Recipes' tred2 without eigenvectors), then implicit
 * QL with Wilkinson shifts. The rank-2 update of step i and the matrix-vector product of step i - 1 share
 * one pass over the matrix, halving the memory traffic that bounds this at large n.
 */
export function symmetricEigenvalues(a: Float64Array, n: number): Float64Array {
  const d = new Float64Array(n), e = new Float64Array(n);
  let p = new Float64Array(n), pNext = new Float64Array(n);
  // Scales row i into the Householder vector u = a[i, 0..i-1]; returns h (0: no reflection needed).
  const prepare = (i: number): number => {
    const ri = i * n, last = i - 1;
    if (last === 0) {
      e[i] = a[ri];
      return 0;
    }
    let scale = 0;
    for (let k = 0; k <= last; k++) scale += Math.abs(a[ri + k]);
    if (scale === 0) {
      e[i] = a[ri + last];
      return 0;
    }
    let h = 0;
    for (let k = 0; k <= last; k++) {
      a[ri + k] /= scale;
      h += a[ri + k] * a[ri + k];
    }
    const f = a[ri + last];
    const g = f >= 0 ? -Math.sqrt(h) : Math.sqrt(h);
    e[i] = scale * g;
    a[ri + last] = f - g;
    return h - f * g;
  };
  // p = A[0..m, 0..m] u from the lower triangle, u = row `ui` (first m + 1 entries).
  const matvec = (m: number, ui: number, out: Float64Array) => {
    out.fill(0, 0, m + 1);
    for (let j = 0; j <= m; j++) {
      const rj = j * n, uj = a[ui + j];
      let s = a[rj + j] * uj;
      for (let k = 0; k < j; k++) {
        s += a[rj + k] * a[ui + k];
        out[k] += a[rj + k] * uj;
      }
      out[j] += s;
    }
  };
  if (n > 1) {
    let h = prepare(n - 1);
    let ready = false;
    for (let i = n - 1; i > 0; i--) {
      const last = i - 1, ri = i * n;
      let hNext = 0;
      if (h > 0) {
        if (!ready) matvec(last, ri, p);
        let f = 0;
        for (let j = 0; j <= last; j++) {
          p[j] /= h;
          f += p[j] * a[ri + j];
        }
        const hh = f / (h + h);
        for (let j = 0; j <= last; j++) p[j] -= hh * a[ri + j]; // q
        // Row `last` first: the next reflection is built from it.
        const rl = last * n, ul = a[ri + last], ql = p[last];
        for (let k = 0; k <= last; k++) a[rl + k] -= ul * p[k] + ql * a[ri + k];
        if (last > 0) hNext = prepare(last);
        const next = hNext > 0;
        if (next) pNext.fill(0, 0, last);
        for (let j = 0; j < last; j++) {
          const rj = j * n, uj = a[ri + j], qj = p[j];
          if (!next) {
            for (let k = 0; k <= j; k++) a[rj + k] -= uj * p[k] + qj * a[ri + k];
            continue;
          }
          const vj = a[rl + j];
          let s = 0;
          for (let k = 0; k < j; k++) {
            const v = a[rj + k] - (uj * p[k] + qj * a[ri + k]);
            a[rj + k] = v;
            s += v * a[rl + k];
            pNext[k] += v * vj;
          }
          const diag = a[rj + j] - (uj * p[j] + qj * a[ri + j]);
          a[rj + j] = diag;
          pNext[j] += s + diag * vj;
        }
        [p, pNext] = [pNext, p];
        ready = next;
      } else {
        if (last > 0) hNext = prepare(last);
        ready = false;
      }
      h = hNext;
    }
  }
  for (let i = 0; i < n; i++) d[i] = a[i * n + i];
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  tridiagonalQL(d, e, n);
  return d;
}

/** Implicit QL iterations on a symmetric tridiagonal matrix (diagonal d, subdiagonal e); d gets the eigenvalues. */
function tridiagonalQL(d: Float64Array, e: Float64Array, n: number): void {
  for (let l = 0; l < n; l++) {
    let iter = 0;
    let m: number;
    do {
      for (m = l; m < n - 1; m++) {
        const dd = Math.abs(d[m]) + Math.abs(d[m + 1]);
        if (Math.abs(e[m]) <= Number.EPSILON * dd) break;
      }
      if (m !== l) {
        if (iter++ === 100) throw new Error("symmetricEigenvalues: QL iteration did not converge");
        let g = (d[l + 1] - d[l]) / (2 * e[l]);
        let r = Math.hypot(g, 1);
        g = d[m] - d[l] + e[l] / (g + (g >= 0 ? r : -r));
        let s = 1, c = 1, p = 0;
        let i: number;
        for (i = m - 1; i >= l; i--) {
          const f = s * e[i], b = c * e[i];
          r = Math.hypot(f, g);
          e[i + 1] = r;
          if (r === 0) {
            d[i + 1] -= p;
            e[m] = 0;
            break;
          }
          s = f / r;
          c = g / r;
          g = d[i + 1] - p;
          r = (d[i] - g) * s + 2 * c * b;
          p = s * r;
          d[i + 1] = g + p;
          g = c * r - b;
        }
        if (r === 0 && i >= l) continue;
        d[l] -= p;
        e[l] = g;
        e[m] = 0;
      }
    } while (m !== l);
  }
}
