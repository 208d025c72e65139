/** Float64 references of StyleGAN3's FullyConnectedLayer, normalize_2nd_moment and truncation. */

/** act(x W^T * wg + b * bg) for x [n, inF], W [outF, inF]; act = linear or lrelu (0.2, gain sqrt 2). */
export function fcRef(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number> | null,
  n: number,
  inF: number,
  outF: number,
  wg: number,
  bg: number,
  lrelu: boolean,
): Float64Array {
  const y = new Float64Array(n * outF);
  for (let i = 0; i < n; i++) {
    for (let o = 0; o < outF; o++) {
      let s = 0;
      for (let k = 0; k < inF; k++) s += x[i * inF + k] * w[o * inF + k] * wg;
      if (b) s += b[o] * bg;
      if (lrelu) s = (s >= 0 ? s : 0.2 * s) * Math.SQRT2;
      y[i * outF + o] = s;
    }
  }
  return y;
}

/** x / sqrt(mean(x^2) + 1e-8) per row of d values. */
export function normalize2ndMomentRef(x: ArrayLike<number>, n: number, d: number): Float64Array {
  const y = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < d; k++) s += x[i * d + k] ** 2;
    const g = 1 / Math.sqrt(s / d + 1e-8);
    for (let k = 0; k < d; k++) y[i * d + k] = x[i * d + k] * g;
  }
  return y;
}

/** ws [n, numWs, d]: w repeated; the first `cutoff` ws are wAvg + psi (w - wAvg). */
export function truncateRef(
  w: ArrayLike<number>,
  wAvg: ArrayLike<number>,
  n: number,
  d: number,
  numWs: number,
  psi: number,
  cutoff: number,
): Float64Array {
  const ws = new Float64Array(n * numWs * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < numWs; j++) {
      for (let k = 0; k < d; k++) {
        const v = w[i * d + k];
        ws[(i * numWs + j) * d + k] = j < cutoff ? wAvg[k] + psi * (v - wAvg[k]) : v;
      }
    }
  }
  return ws;
}
