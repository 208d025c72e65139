/**
 * Plain float64 CPU references of the equivariance image operators, written as literal transcriptions of
 * metrics/equivariance.py and torch_utils/ops/upfirdn2d.py (_upfirdn2d_ref): explicit zero insertion,
 * padding, flipped-filter correlation, slicing, affine_grid and grid_sample. Images are flat NCHW arrays.
 */

/** A batch of images: flat NCHW data and its shape. */
export interface Images {
  data: Float64Array;
  shape: [number, number, number, number];
}

function sincRef(x: number): number {
  const y = Math.abs(x * Math.PI);
  return y < 1e-30 ? 1 : Math.sin(y) / y;
}

function roundEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 ? 2 * Math.round(v / 2) : r;
}

function zeros(shape: [number, number, number, number]): Images {
  return { data: new Float64Array(shape.reduce((a, b) => a * b)), shape: [...shape] };
}

/** Copies the slice [y0:y1, x0:x1] of every plane of `src` into [ty0:, tx0:] of `dst`. */
function blit(
  src: Images,
  y0: number,
  y1: number,
  x0: number,
  x1: number,
  dst: Images,
  ty0: number,
  tx0: number,
) {
  const [n, c, sh, sw] = src.shape;
  const [, , dh, dw] = dst.shape;
  for (let p = 0; p < n * c; p++) {
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        dst.data[p * dh * dw + (ty0 + y - y0) * dw + tx0 + x - x0] = src.data[p * sh * sw + y * sw + x];
      }
    }
  }
}

/** apply_integer_translation(x, tx, ty): [img, mask], both [N, C, H, W]. */
export function integerTranslationRef(x: Images, tx: number, ty: number): [Images, Images] {
  const [, , h, w] = x.shape;
  const ix = roundEven(Math.fround(Math.fround(tx) * w)), iy = roundEven(Math.fround(Math.fround(ty) * h));
  const z = zeros(x.shape), m = zeros(x.shape);
  if (Math.abs(ix) < w && Math.abs(iy) < h) {
    const shift = (src: Images, dst: Images) =>
      blit(
        src,
        Math.max(-iy, 0),
        h + Math.min(-iy, 0),
        Math.max(-ix, 0),
        w + Math.min(-ix, 0),
        dst,
        Math.max(iy, 0),
        Math.max(ix, 0),
      );
    shift(x, z);
    shift({ data: new Float64Array(x.data.length).fill(1), shape: x.shape }, m);
  }
  return [z, m];
}

/**
 * _upfirdn2d_ref(x, f, up, padding=[px0, px1, py0, py1], gain) with a 2-D filter f [fh][fw] (flat):
 * zero insertion, pad/crop, convolution (correlation with the flipped filter).
 */
export function upfirdn2dRef(
  x: Images,
  f: ArrayLike<number>,
  fh: number,
  fw: number,
  up: number,
  pad: [number, number, number, number],
  gain = 1,
): Images {
  const [n, c, h, w] = x.shape;
  const [px0, px1, py0, py1] = pad;
  const uh = h * up + py0 + py1, uw = w * up + px0 + px1;
  const oh = uh - fh + 1, ow = uw - fw + 1;
  const out = zeros([n, c, oh, ow]);
  const at = (p: number, j: number, i: number) => {
    const sy = j - py0, sx = i - px0;
    if (sy < 0 || sx < 0 || sy % up || sx % up || sy / up >= h || sx / up >= w) return 0;
    return x.data[p * h * w + (sy / up) * w + sx / up];
  };
  for (let p = 0; p < n * c; p++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        let s = 0;
        for (let ky = 0; ky < fh; ky++) {
          for (let kx = 0; kx < fw; kx++) {
            s += at(p, oy + ky, ox + kx) * f[(fh - 1 - ky) * fw + fw - 1 - kx] * gain;
          }
        }
        out.data[p * oh * ow + oy * ow + ox] = s;
      }
    }
  }
  return out;
}

/** apply_fractional_translation(x, tx, ty, a=3): [img, mask]. */
export function fractionalTranslationRef(x: Images, tx: number, ty: number): [Images, Images] {
  const a = 3, b = a - 1;
  const [, , h, w] = x.shape;
  const sx = Math.fround(Math.fround(tx) * w), sy = Math.fround(Math.fround(ty) * h);
  const ix = Math.floor(sx), iy = Math.floor(sy);
  const fx = sx - ix, fy = sy - iy;
  const taps = (frac: number) => {
    const t = Array.from({ length: 2 * a }, (_, k) => sincRef(k - b - frac) * sincRef((k - b - frac) / a));
    const s = t.reduce((u, v) => u + v);
    return t.map((v) => v / s);
  };
  const z = zeros(x.shape);
  const zx0 = Math.max(ix - b, 0), zy0 = Math.max(iy - b, 0);
  const zx1 = Math.min(ix + a, 0) + w, zy1 = Math.min(iy + a, 0) + h;
  if (zx0 < zx1 && zy0 < zy1) {
    // filter2d(y, f [1, 6], padding=[b, a, 0, 0]) -> upfirdn2d padding [b + 3, a + 2, 0, 0]; then vertically.
    let y = upfirdn2dRef(x, taps(fx), 1, 2 * a, 1, [b + a, a + b, 0, 0]);
    y = upfirdn2dRef(y, taps(fy), 2 * a, 1, 1, [0, 0, b + a, a + b]);
    const cy0 = Math.max(b - iy, 0), cy1 = h + b + a + Math.min(-iy - a, 0);
    const cx0 = Math.max(b - ix, 0), cx1 = w + b + a + Math.min(-ix - a, 0);
    blit(y, cy0, cy1, cx0, cx1, z, zy0, zx0);
  }
  const m = zeros(x.shape);
  const mx0 = Math.max(ix + a, 0), my0 = Math.max(iy + a, 0);
  const mx1 = Math.min(ix - b, 0) + w, my1 = Math.min(iy - b, 0) + h;
  if (mx0 < mx1 && my0 < my1) {
    const ones = { data: new Float64Array(x.data.length).fill(1), shape: x.shape };
    blit(ones, my0, my1, mx0, mx1, m, my0, mx0);
  }
  return [z, m];
}

/**
 * construct_affine_bandlimit_filter by brute force: the circular convolutions evaluated directly on the
 * full (2 aflt up - 1)^2 grid (the official code uses FFTs), then roll, crop, pad, polyphase normalisation.
 */
export function bandlimitFilterRef(
  mat: ArrayLike<number>,
  a: number,
  amax: number,
  aflt: number,
  up: number,
): { size: number; taps: Float64Array } {
  const n = aflt * up * 2 - 1;
  // taps after roll(1 - aflt*up): index j -> signed value.
  const tap = (j: number) => (j < aflt * up ? j : j - n) / up;
  const lw = (x: number) => Math.abs(x) / a < 1 ? sincRef(Math.abs(x) / a) : 0;
  const xo = (yi: number, xi: number) => xi * mat[0] + yi * mat[1];
  const yo = (yi: number, xi: number) => xi * mat[3] + yi * mat[4];
  const fi = (r: number, c: number) => sincRef(tap(c)) * sincRef(tap(r));
  const fo = (r: number, c: number) => sincRef(xo(tap(r), tap(c))) * sincRef(yo(tap(r), tap(c)));
  const wi = (r: number, c: number) => lw(tap(c)) * lw(tap(r));
  const wo = (r: number, c: number) => lw(xo(tap(r), tap(c))) * lw(yo(tap(r), tap(c)));
  const cc = (aflt - amax) * up;
  const k = n - 2 * cc;
  const raw = new Float64Array(k * k);
  for (let r = 0; r < k; r++) {
    for (let c = 0; c < k; c++) {
      // After roll by aflt*up - 1 and crop at cc, output (r, c) is unrolled index (r + cc - (aflt*up - 1)) mod n.
      const pr = ((r + cc - (aflt * up - 1)) % n + n) % n, pc = ((c + cc - (aflt * up - 1)) % n + n) % n;
      let f = 0, wsum = 0;
      for (let qr = 0; qr < n; qr++) {
        for (let qc = 0; qc < n; qc++) {
          const dr = ((pr - qr) % n + n) % n, dc = ((pc - qc) % n + n) % n;
          f += fi(qr, qc) * fo(dr, dc);
          const wq = wi(qr, qc);
          if (wq) wsum += wq * wo(dr, dc);
        }
      }
      raw[r * k + c] = f * wsum;
    }
  }
  // pad to (k+1)^2, reshape (2 amax, up, 2 amax, up), normalise over the amax axes, / up^2, crop.
  const sums = new Float64Array(up * up);
  for (let r = 0; r < k; r++) for (let c = 0; c < k; c++) sums[(r % up) * up + (c % up)] += raw[r * k + c];
  return {
    size: k,
    taps: raw.map((v, i) => v / sums[(Math.floor(i / k) % up) * up + ((i % k) % up)] / (up * up)),
  };
}

/**
 * apply_affine_transformation(x, mat, up=4) with a given filter f (size k): upsample2d, affine_grid,
 * bilinear and nearest grid_sample (zero padding, align_corners=False). Returns [img, mask].
 */
export function affineTransformationRef(
  x: Images,
  mat: ArrayLike<number>,
  f: ArrayLike<number>,
  k: number,
): [Images, Images] {
  const up = 4;
  const [n, c, h, w] = x.shape;
  const p = (k - 1) / 2;
  const y = upfirdn2dRef(x, f, k, k, up, [
    p + Math.floor((k + up - 1) / 2),
    p + Math.floor((k - up) / 2),
    p + Math.floor((k + up - 1) / 2),
    p + Math.floor((k - up) / 2),
  ], up * up);
  const [, , uh, uw] = y.shape;
  // theta = inverse(mat) (a rotation here: the transpose), adjusted as the official code does.
  const det = mat[0] * mat[4] - mat[1] * mat[3];
  const t = [mat[4] / det, -mat[1] / det, 0, -mat[3] / det, mat[0] / det, 0];
  t[2] += 1 / up / w;
  t[5] += 1 / up / h;
  for (let i = 0; i < 3; i++) t[i] *= w / (w + (p / up) * 2);
  for (let i = 3; i < 6; i++) t[i] *= h / (h + (p / up) * 2);
  const z = zeros(x.shape), m = zeros(x.shape);
  const border = 2 * p + 1;
  const ySample = (pl: number, yy: number, xx: number) =>
    xx < 0 || yy < 0 || xx >= uw || yy >= uh ? 0 : y.data[pl * uh * uw + yy * uw + xx];
  for (let pl = 0; pl < n * c; pl++) {
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        const xn = ((2 * j + 1) / w) - 1, yn = ((2 * i + 1) / h) - 1;
        const gx = xn * t[0] + yn * t[1] + t[2], gy = xn * t[3] + yn * t[4] + t[5];
        const ix = ((gx + 1) * uw - 1) / 2, iy = ((gy + 1) * uh - 1) / 2;
        const x0 = Math.floor(ix), y0 = Math.floor(iy), ax = ix - x0, ay = iy - y0;
        z.data[pl * h * w + i * w + j] = ySample(pl, y0, x0) * (1 - ax) * (1 - ay) +
          ySample(pl, y0, x0 + 1) * ax * (1 - ay) + ySample(pl, y0 + 1, x0) * (1 - ax) * ay +
          ySample(pl, y0 + 1, x0 + 1) * ax * ay;
        const nx = roundEven(ix), ny = roundEven(iy);
        m.data[pl * h * w + i * w + j] = nx >= border && nx < uw - border && ny >= border && ny < uh - border
          ? 1
          : 0;
      }
    }
  }
  return [z, m];
}

/** apply_fractional_pseudo_rotation with a given up=1 filter f (size k): filter2d and its mask. */
export function pseudoRotationRef(x: Images, f: ArrayLike<number>, k: number): [Images, Images] {
  const half = Math.floor(k / 2);
  const y = upfirdn2dRef(x, f, k, k, 1, [half, Math.floor((k - 1) / 2), half, Math.floor((k - 1) / 2)]);
  const [, , h, w] = x.shape;
  const m = zeros(x.shape);
  for (let i = 0; i < m.data.length; i++) {
    const yy = Math.floor(i / w) % h, xx = i % w;
    m.data[i] = yy >= half && yy < h - half && xx >= half && xx < w - half ? 1 : 0;
  }
  return [y, m];
}

/** Per-sample [num, den]: sum (a - b)^2 * mask and sum mask over [C, H, W] (masks [N, C, H, W]). */
export function maskedSumsRef(a: Images, b: Images, mask: Images): Float64Array {
  const [n] = a.shape;
  const per = a.data.length / n;
  const out = new Float64Array(2 * n);
  for (let i = 0; i < a.data.length; i++) {
    const s = Math.floor(i / per);
    out[2 * s] += (a.data[i] - b.data[i]) ** 2 * mask.data[i];
    out[2 * s + 1] += mask.data[i];
  }
  return out;
}
