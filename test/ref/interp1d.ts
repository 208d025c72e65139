/**
 * A float64 reference of gen_video.py's interpolation, written the way SciPy computes it (independent of
 * models/interpolation.ts): interp1d(x, y, kind='cubic') = make_interp_spline(x, y, k=3) with not-a-knot
 * ends, i.e. the B-spline of degree 3 on the knot vector [x_0]*4 + x_2 .. x_{n-3} + [x_{n-1}]*4 whose
 * coefficients solve the collocation system B c = y (dense Gaussian elimination here), evaluated by the
 * Cox-de Boor recursion.
 */

/** The value of every degree-3 B-spline basis function of knot vector `t` at x (Cox-de Boor). */
function basis(t: number[], x: number): number[] {
  const nb = t.length - 4;
  // Degree 0: the half-open interval containing x; the last non-empty one also takes its right end.
  let last = t.length - 2;
  while (t[last] === t[last + 1]) last--;
  let b: number[] = t.slice(0, -1).map((ti, i) =>
    (x >= ti && x < t[i + 1]) || (i === last && x === t[i + 1]) ? 1 : 0
  );
  for (let k = 1; k <= 3; k++) {
    const next: number[] = [];
    for (let i = 0; i < t.length - 1 - k; i++) {
      const l = t[i + k] > t[i] ? (x - t[i]) / (t[i + k] - t[i]) * b[i] : 0;
      const r = t[i + k + 1] > t[i + 1] ? (t[i + k + 1] - x) / (t[i + k + 1] - t[i + 1]) * b[i + 1] : 0;
      next.push(l + r);
    }
    b = next;
  }
  return b.slice(0, nb);
}

/** Solves the dense system a x = rhs (columns of rhs: [n, m]) with partial pivoting. */
function solve(a: number[][], rhs: number[][]): number[][] {
  const n = a.length;
  const A = a.map((row) => row.slice()), B = rhs.map((row) => row.slice());
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(A[r][c]) > Math.abs(A[p][c])) p = r;
    [A[c], A[p]] = [A[p], A[c]];
    [B[c], B[p]] = [B[p], B[c]];
    for (let r = c + 1; r < n; r++) {
      const f = A[r][c] / A[c][c];
      for (let k = c; k < n; k++) A[r][k] -= f * A[c][k];
      for (let k = 0; k < B[r].length; k++) B[r][k] -= f * B[c][k];
    }
  }
  for (let c = n - 1; c >= 0; c--) {
    for (let k = 0; k < B[c].length; k++) {
      let s = B[c][k];
      for (let j = c + 1; j < n; j++) s -= A[c][j] * B[j][k];
      B[c][k] = s / A[c][c];
    }
  }
  return B;
}

/** scipy.interpolate.interp1d(x, y, kind='cubic', axis=0) for y of shape [n, dim]. */
function interp1dCubic(x: number[], y: number[][]): (xNew: number) => number[] {
  const n = x.length;
  const t = [x[0], x[0], x[0], x[0], ...x.slice(2, n - 2), x[n - 1], x[n - 1], x[n - 1], x[n - 1]];
  const c = solve(x.map((xi) => basis(t, xi)), y);
  return (xNew) => {
    const b = basis(t, xNew);
    return y[0].map((_, d) => b.reduce((s, bj, j) => s + bj * c[j][d], 0));
  };
}

/**
 * gen_video.py for one cell: keyframes [K, dim] tiled 2*wraps+1 times over x = arange(-K*wraps, K*(wraps+1)),
 * interpolated with interp1d(kind='cubic') and evaluated at frame_idx / w_frames.
 */
export function genVideoCell(keyframes: number[][], wFrames: number, wraps = 2): (frame: number) => number[] {
  const k = keyframes.length;
  const x: number[] = [], y: number[][] = [];
  for (let i = -k * wraps; i < k * (wraps + 1); i++) {
    x.push(i);
    y.push(keyframes[(i + k * wraps) % k]);
  }
  const f = interp1dCubic(x, y);
  return (frame) => f(frame / wFrames);
}
