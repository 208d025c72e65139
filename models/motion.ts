/**
 * Input motion for equivariance videos: the StyleGAN3 synthesis input samples its Fourier features at
 * T_inv · p, where p is an output position (image centre at 0, image width 1, x right, y down) and T_inv is
 * the `transform` buffer, the inverse of the user transform T = make_transform(translate, angle) of
 * gen_images.py. Moving T over time moves the image: an equivariant generator gives
 * out_t(p) = out_0(T_inv(t) · p), e.g. content shifted by translate * resolution pixels.
 *
 * Paths, with τ = frame / fps seconds:
 * - translate: translate = speed * τ * (cos d, sin d) (speed in image widths per second, d = direction);
 * - rotate: angle = speed * τ (degrees per second) about the image centre;
 * - circle: translate = radius * (cos φ - 1, sin φ), φ = 2π * speed * τ (revolutions per second), so the
 *   path starts at the untransformed image.
 * {@link resampleImage} applies the same T_inv to an image by bilinear resampling: the motion an ideal,
 * perfectly equivariant generator would show (the "texture sticking" comparison of the paper's videos).
 */
import { invert3x3, makeTransform } from "./transform.ts";

/** The kinds of input motion. */
export type MotionKind = "translate" | "rotate" | "circle";

/** Default speeds: image widths/s (translate), degrees/s (rotate), revolutions/s (circle). */
export const DEFAULT_SPEED: Record<MotionKind, number> = { translate: 0.05, rotate: 10, circle: 0.25 };

/** A motion path; see the module comment for the units. */
export interface Motion {
  /** The path: translate, rotate or circle. */
  kind: MotionKind;
  /** Image widths per second (translate), degrees per second (rotate) or revolutions per second (circle). */
  speed: number;
  /** Frames per second of the video (time of frame f is f / fps). */
  fps: number;
  /** Direction of `translate` in degrees (0 = +x, to the right; 90 = +y, down). */
  direction?: number;
  /** Radius of `circle` in image widths (default 0.125, the equivariance metrics' largest translation). */
  radius?: number;
}

/** The user transform (gen_images.py's --translate and --rotate) of a frame. */
export function motionAt(m: Motion, frame: number): { translate: [number, number]; angle: number } {
  const tau = frame / m.fps;
  switch (m.kind) {
    case "translate": {
      const d = (m.direction ?? 0) * Math.PI / 180, dist = m.speed * tau;
      return { translate: [dist * Math.cos(d), dist * Math.sin(d)], angle: 0 };
    }
    case "rotate":
      return { translate: [0, 0], angle: m.speed * tau };
    case "circle": {
      const r = m.radius ?? 0.125, phi = 2 * Math.PI * m.speed * tau;
      return { translate: [r * (Math.cos(phi) - 1), r * Math.sin(phi)], angle: 0 };
    }
  }
}

/** The synthesis input `transform` buffer of a frame: inv(make_transform(translate, angle)), row-major 3x3. */
export function motionTransform(m: Motion, frame: number): Float64Array {
  const { translate, angle } = motionAt(m, frame);
  return invert3x3(makeTransform(translate, angle));
}

/**
 * Resamples one CHW float image (`channels` x `height` x `width`) by a buffer matrix: out(p) = img(T_inv · p)
 * in the centred, width-1 coordinates of the module comment (pixel (x, y) is at ((x + 0.5) / W - 0.5,
 * (y + 0.5) / H - 0.5)), bilinear, zero outside the image. Integer pixel translations copy values exactly.
 */
export function resampleImage(
  img: Float32Array,
  channels: number,
  height: number,
  width: number,
  tInv: ArrayLike<number>,
): Float32Array {
  const out = new Float32Array(channels * height * width);
  for (let y = 0; y < height; y++) {
    const py = (y + 0.5) / height - 0.5;
    for (let x = 0; x < width; x++) {
      const px = (x + 0.5) / width - 0.5;
      // Source position in pixel units (pixel centres at integers).
      const sx = snap((tInv[0] * px + tInv[1] * py + tInv[2] + 0.5) * width - 0.5);
      const sy = snap((tInv[3] * px + tInv[4] * py + tInv[5] + 0.5) * height - 0.5);
      const x0 = Math.floor(sx), y0 = Math.floor(sy);
      const fx = sx - x0, fy = sy - y0;
      for (let c = 0; c < channels; c++) {
        const plane = c * height * width;
        const at = (xx: number, yy: number) =>
          xx >= 0 && xx < width && yy >= 0 && yy < height ? img[plane + yy * width + xx] : 0;
        let v = at(x0, y0) * (1 - fx) * (1 - fy);
        if (fx) v += at(x0 + 1, y0) * fx * (1 - fy);
        if (fy) v += at(x0, y0 + 1) * (1 - fx) * fy;
        if (fx && fy) v += at(x0 + 1, y0 + 1) * fx * fy;
        out[plane + y * width + x] = v;
      }
    }
  }
  return out;
}

/** Rounds positions within rounding noise of a pixel centre onto it, so integer shifts copy exactly. */
function snap(v: number): number {
  const r = Math.round(v);
  return Math.abs(v - r) < 1e-9 ? r : v;
}
