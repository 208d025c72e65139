/** Float64 references of convolution and pooling on NCHW arrays, written as the plain sums. */

/** conv2d with zero padding, bias and optional ReLU: x [n, cin, h, w], w [cout, cin, kh, kw]. */
export function conv2dRef(
  x: ArrayLike<number>,
  [n, cin, h, w]: number[],
  wt: ArrayLike<number>,
  bias: ArrayLike<number>,
  [cout, , kh, kw]: number[],
  stride: number,
  padH: number,
  padW: number,
  relu: boolean,
): { data: Float64Array; shape: number[] } {
  const oh = Math.floor((h + 2 * padH - kh) / stride) + 1, ow = Math.floor((w + 2 * padW - kw) / stride) + 1;
  const out = new Float64Array(n * cout * oh * ow);
  for (let b = 0; b < n; b++) {
    for (let o = 0; o < cout; o++) {
      for (let y = 0; y < oh; y++) {
        for (let xx = 0; xx < ow; xx++) {
          let s = bias[o];
          for (let c = 0; c < cin; c++) {
            for (let i = 0; i < kh; i++) {
              const iy = y * stride - padH + i;
              if (iy < 0 || iy >= h) continue;
              for (let j = 0; j < kw; j++) {
                const ix = xx * stride - padW + j;
                if (ix < 0 || ix >= w) continue;
                s += wt[((o * cin + c) * kh + i) * kw + j] * x[((b * cin + c) * h + iy) * w + ix];
              }
            }
          }
          out[((b * cout + o) * oh + y) * ow + xx] = relu ? Math.max(0, s) : s;
        }
      }
    }
  }
  return { data: out, shape: [n, cout, oh, ow] };
}

/** Max pool, or average pool over in-bounds samples only (count_include_pad=False). */
export function pool2dRef(
  x: ArrayLike<number>,
  [n, c, h, w]: number[],
  mode: "avg" | "max",
  k: number,
  stride: number,
  pad: number,
): { data: Float64Array; shape: number[] } {
  const oh = Math.floor((h + 2 * pad - k) / stride) + 1, ow = Math.floor((w + 2 * pad - k) / stride) + 1;
  const out = new Float64Array(n * c * oh * ow);
  for (let p = 0; p < n * c; p++) {
    for (let y = 0; y < oh; y++) {
      for (let xx = 0; xx < ow; xx++) {
        const vals: number[] = [];
        for (let i = 0; i < k; i++) {
          for (let j = 0; j < k; j++) {
            const iy = y * stride - pad + i, ix = xx * stride - pad + j;
            if (iy >= 0 && iy < h && ix >= 0 && ix < w) vals.push(x[(p * h + iy) * w + ix]);
          }
        }
        out[(p * oh + y) * ow + xx] = mode === "max"
          ? Math.max(...vals)
          : vals.reduce((a, b) => a + b, 0) / vals.length;
      }
    }
  }
  return { data: out, shape: [n, c, oh, ow] };
}
