/**
 * User transforms of gen_images.py: make_transform(translate, angle) builds the 3x3 image transform
 * [[c, s, tx], [-s, c, ty], [0, 0, 1]] (c, s = cos, sin of angle in degrees); the synthesis input's
 * `transform` buffer holds its inverse.
 */

/** gen_images.py make_transform: row-major 3x3 in float64. */
export function makeTransform(translate: [number, number], angleDeg: number): Float64Array {
  const s = Math.sin((angleDeg / 360.0) * Math.PI * 2);
  const c = Math.cos((angleDeg / 360.0) * Math.PI * 2);
  return Float64Array.from([c, s, translate[0], -s, c, translate[1], 0, 0, 1]);
}

/** Inverse of a row-major 3x3 matrix (adjugate over determinant); throws on a singular matrix. */
export function invert3x3(m: ArrayLike<number>): Float64Array {
  const [a, b, c, d, e, f, g, h, i] = Array.from(m);
  const A = e * i - f * h, B = -(d * i - f * g), C = d * h - e * g;
  const det = a * A + b * B + c * C;
  if (!Number.isFinite(det) || det === 0) throw new Error("invert3x3: singular matrix");
  const adj = [
    A,
    -(b * i - c * h),
    b * f - c * e,
    B,
    a * i - c * g,
    -(a * f - c * d),
    C,
    -(a * h - b * g),
    a * e - b * d,
  ];
  return Float64Array.from(adj, (v) => v / det);
}
