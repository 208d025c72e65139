/**
 * Float64 references of the three detector resizes, written from their definitions (not from the
 * kernel's tables): one NCHW image plane at a time, width first then height where the method is
 * separable in that order (PIL), directly 2-D for the bilinear ones.
 */
import type { ResizeMethod } from "../../kernels/resize.ts";

function bilinear2d(
  src: ArrayLike<number>,
  h: number,
  w: number,
  oh: number,
  ow: number,
  coord: (d: number, inSize: number, outSize: number) => [number, number, number],
): Float64Array {
  const out = new Float64Array(oh * ow);
  for (let y = 0; y < oh; y++) {
    const [y0, y1, fy] = coord(y, h, oh);
    for (let x = 0; x < ow; x++) {
      const [x0, x1, fx] = coord(x, w, ow);
      const top = src[y0 * w + x0] * (1 - fx) + src[y0 * w + x1] * fx;
      const bot = src[y1 * w + x0] * (1 - fx) + src[y1 * w + x1] * fx;
      out[y * ow + x] = top * (1 - fy) + bot * fy;
    }
  }
  return out;
}

function tf1(d: number, inSize: number, outSize: number): [number, number, number] {
  const s = d * (inSize / outSize);
  const i0 = Math.floor(s);
  return [i0, Math.min(i0 + 1, inSize - 1), s - i0];
}

function torch(d: number, inSize: number, outSize: number): [number, number, number] {
  const s = Math.max(0, (d + 0.5) * (inSize / outSize) - 0.5);
  const i0 = Math.floor(s);
  return [i0, Math.min(i0 + 1, inSize - 1), s - i0];
}

function cubic(x: number): number {
  x = Math.abs(x);
  if (x < 1) return (1.5 * x - 2.5) * x * x + 1;
  if (x < 2) return ((-0.5 * x + 2.5) * x - 4) * x + 2;
  return 0;
}

/** PIL's antialiased bicubic along one axis of a [rows, n] array (stride 1) or columns (stride = n). */
function pil1d(
  src: Float64Array,
  lines: number,
  n: number,
  out: number,
  stride: number,
  step: number,
): Float64Array {
  const res = new Float64Array(lines * out);
  const scale = n / out, fs = Math.max(scale, 1);
  for (let l = 0; l < lines; l++) {
    for (let d = 0; d < out; d++) {
      const c = (d + 0.5) * scale;
      let acc = 0, norm = 0;
      for (
        let x = Math.max(0, Math.trunc(c - 2 * fs + 0.5));
        x < Math.min(n, Math.trunc(c + 2 * fs + 0.5));
        x++
      ) {
        const k = cubic((x - c + 0.5) / fs);
        acc += k * src[l * step + x * stride];
        norm += k;
      }
      res[stride === 1 ? l * out + d : d * lines + l] = acc / norm;
    }
  }
  return res;
}

/** Resizes one h x w plane to oh x ow with `method` in float64. */
export function resizePlaneRef(
  src: ArrayLike<number>,
  h: number,
  w: number,
  oh: number,
  ow: number,
  method: ResizeMethod,
): Float64Array {
  if (method === "tf1-bilinear") return bilinear2d(src, h, w, oh, ow, tf1);
  if (method === "torch-bilinear") return bilinear2d(src, h, w, oh, ow, torch);
  const rows = pil1d(Float64Array.from(src), h, w, ow, 1, w);
  return pil1d(rows, ow, h, oh, ow, 1);
}
