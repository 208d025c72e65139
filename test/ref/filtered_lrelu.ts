/**
 * Float64 references of upfirdn2d's `_upfirdn2d_ref` and filtered_lrelu's `_filtered_lrelu_ref`
 * (flip_filter=False), written literally: zero-stuffing, padding/cropping, convolution, decimation.
 */

/** An image stack [c, h, w] in float64. */
export interface Planes {
  data: Float64Array;
  c: number;
  h: number;
  w: number;
}

/**
 * upfirdn2d(x, f, up, down, padding [px0, px1, py0, py1], gain): f is 1-D (separable, [taps]) or 2-D
 * ([taps, taps], row-major), null = identity.
 */
export function upfirdn2dRef(
  x: Planes,
  f: ArrayLike<number> | null,
  fullFilter: boolean,
  up: number,
  down: number,
  pad: [number, number, number, number],
  gain: number,
): Planes {
  const [px0, px1, py0, py1] = pad;
  const taps = f ? (fullFilter ? Math.round(Math.sqrt(f.length)) : f.length) : 1;
  const filt = f ? Array.from(f, (v) => v * gain ** ((fullFilter ? 2 : 1) / 2)) : [gain];
  // Zero-stuffed, padded/cropped image.
  const ph = x.h * up + py0 + py1, pw = x.w * up + px0 + px1;
  const p = new Float64Array(x.c * ph * pw);
  for (let c = 0; c < x.c; c++) {
    for (let y = 0; y < ph; y++) {
      for (let xx = 0; xx < pw; xx++) {
        const sy = y - py0, sx = xx - px0;
        if (sy < 0 || sx < 0 || sy >= x.h * up || sx >= x.w * up || sy % up || sx % up) continue;
        p[(c * ph + y) * pw + xx] = x.data[(c * x.h + sy / up) * x.w + sx / up];
      }
    }
  }
  // Convolution with f (correlation with the flipped filter), then keep every down-th sample.
  const ch = ph - taps + 1, cw = pw - taps + 1;
  const oh = Math.ceil(ch / down), ow = Math.ceil(cw / down);
  const out = new Float64Array(x.c * oh * ow);
  const tap = (a: number, b: number) =>
    fullFilter ? filt[(taps - 1 - a) * taps + (taps - 1 - b)] : filt[taps - 1 - a] * filt[taps - 1 - b];
  for (let c = 0; c < x.c; c++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        let acc = 0;
        for (let a = 0; a < taps; a++) {
          for (let b = 0; b < taps; b++) {
            acc += p[(c * ph + oy * down + a) * pw + ox * down + b] * tap(a, b);
          }
        }
        out[(c * oh + oy) * ow + ox] = acc;
      }
    }
  }
  return { data: out, c: x.c, h: oh, w: ow };
}

/** _filtered_lrelu_ref: bias, upfirdn2d(up, padding, gain up^2), lrelu * gain, clamp, upfirdn2d(down). */
export function filteredLreluRef(
  x: Planes,
  bias: ArrayLike<number>,
  fu: { f: ArrayLike<number> | null; full: boolean },
  fd: { f: ArrayLike<number> | null; full: boolean },
  up: number,
  down: number,
  pad: [number, number, number, number],
  gain: number,
  slope: number,
  clamp: number | null,
): Planes {
  const hw = x.h * x.w;
  const biased = { ...x, data: x.data.map((v, i) => v + bias[Math.floor(i / hw)]) };
  const u = upfirdn2dRef(biased, fu.f, fu.full, up, 1, pad, up * up);
  u.data = u.data.map((v) => {
    const a = (v >= 0 ? v : v * slope) * gain;
    return clamp === null ? a : Math.min(Math.max(a, -clamp), clamp);
  });
  return upfirdn2dRef(u, fd.f, fd.full, 1, down, [0, 0, 0, 0], 1);
}
