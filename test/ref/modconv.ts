/** Float64 reference of modulated_conv2d (networks_stylegan3.py), computed the way the official code is. */

/**
 * x [n, ci, h, w], weight [co, ci, k, k], styles [n, ci]: per sample, w' = w / rms(w[o]) and
 * s' = s / rms(s) when demodulating, W = w' * s' (* 1/sqrt(sum W^2 + 1e-8) per o), times inputGain, then
 * conv2d with zero padding `pad`.
 */
export function modulatedConv2dRef(
  x: ArrayLike<number>,
  weight: ArrayLike<number>,
  styles: ArrayLike<number>,
  dims: { n: number; ci: number; co: number; h: number; w: number; k: number },
  demodulate: boolean,
  pad: number,
  inputGain: number,
): Float64Array {
  const { n, ci, co, h, w, k } = dims;
  const taps = ci * k * k;
  const ho = h + 2 * pad - k + 1, wo = w + 2 * pad - k + 1;
  const y = new Float64Array(n * co * ho * wo);
  for (let s = 0; s < n; s++) {
    let sNorm = 1;
    if (demodulate) {
      let m = 0;
      for (let i = 0; i < ci; i++) m += styles[s * ci + i] ** 2;
      sNorm = 1 / Math.sqrt(m / ci);
    }
    for (let o = 0; o < co; o++) {
      const wm = new Float64Array(taps);
      let wNorm = 1;
      if (demodulate) {
        let m = 0;
        for (let t = 0; t < taps; t++) m += weight[o * taps + t] ** 2;
        wNorm = 1 / Math.sqrt(m / taps);
      }
      for (let t = 0; t < taps; t++) {
        wm[t] = weight[o * taps + t] * wNorm * styles[s * ci + Math.floor(t / (k * k))] * sNorm;
      }
      if (demodulate) {
        let m = 0;
        for (let t = 0; t < taps; t++) m += wm[t] ** 2;
        const d = 1 / Math.sqrt(m + 1e-8);
        for (let t = 0; t < taps; t++) wm[t] *= d;
      }
      for (let t = 0; t < taps; t++) wm[t] *= inputGain;
      for (let oy = 0; oy < ho; oy++) {
        for (let ox = 0; ox < wo; ox++) {
          let acc = 0;
          for (let i = 0; i < ci; i++) {
            for (let ky = 0; ky < k; ky++) {
              const iy = oy + ky - pad;
              if (iy < 0 || iy >= h) continue;
              for (let kx = 0; kx < k; kx++) {
                const ix = ox + kx - pad;
                if (ix < 0 || ix >= w) continue;
                acc += wm[(i * k + ky) * k + kx] * x[((s * ci + i) * h + iy) * w + ix];
              }
            }
          }
          y[((s * co + o) * ho + oy) * wo + ox] = acc;
        }
      }
    }
  }
  return y;
}
