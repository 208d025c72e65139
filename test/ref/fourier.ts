/** Float64 reference of StyleGAN3's SynthesisInput.forward (without float32 rounding). */

/**
 * Output [n, c, h, w] for t = affine(w) [n, 4], user transforms [n, 9] (row-major), freqs [c, 2],
 * phases [c], weight [c, c]; grid at pixel centres (j + 0.5 - size / 2) / samplingRate.
 */
export function synthesisInputRef(
  t: ArrayLike<number>,
  user: ArrayLike<number>,
  freqs: ArrayLike<number>,
  phases: ArrayLike<number>,
  weight: ArrayLike<number>,
  n: number,
  c: number,
  size: number,
  samplingRate: number,
  bandwidth: number,
): Float64Array {
  const out = new Float64Array(n * c * size * size);
  const mul = (a: number[], b: number[]) =>
    Array.from({ length: 9 }, (_, i) => {
      const r = Math.floor(i / 3), col = i % 3;
      return a[r * 3] * b[col] + a[r * 3 + 1] * b[3 + col] + a[r * 3 + 2] * b[6 + col];
    });
  const grid = Array.from({ length: size }, (_, j) => (j + 0.5 - size / 2) / samplingRate);
  for (let s = 0; s < n; s++) {
    const norm = Math.hypot(t[s * 4], t[s * 4 + 1]);
    const [rc, rs, tx, ty] = [0, 1, 2, 3].map((i) => t[s * 4 + i] / norm);
    const mr = [rc, -rs, 0, rs, rc, 0, 0, 0, 1];
    const mt = [1, 0, -tx, 0, 1, -ty, 0, 0, 1];
    const m = mul(mul(mr, mt), Array.from({ length: 9 }, (_, i) => user[s * 9 + i]));
    const feats = new Float64Array(c * size * size);
    for (let ch = 0; ch < c; ch++) {
      const f0 = freqs[ch * 2], f1 = freqs[ch * 2 + 1];
      const ph = phases[ch] + f0 * m[2] + f1 * m[5];
      const fx = f0 * m[0] + f1 * m[3], fy = f0 * m[1] + f1 * m[4];
      const amp = Math.min(
        Math.max(1 - (Math.hypot(fx, fy) - bandwidth) / (samplingRate / 2 - bandwidth), 0),
        1,
      );
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          feats[(ch * size + y) * size + x] = Math.sin(2 * Math.PI * (grid[x] * fx + grid[y] * fy + ph)) *
            amp;
        }
      }
    }
    for (let o = 0; o < c; o++) {
      for (let p = 0; p < size * size; p++) {
        let acc = 0;
        for (let i = 0; i < c; i++) acc += weight[o * c + i] / Math.sqrt(c) * feats[i * size * size + p];
        out[(s * c + o) * size * size + p] = acc;
      }
    }
  }
  return out;
}
