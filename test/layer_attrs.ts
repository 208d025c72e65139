/**
 * Comparison of StyleGAN3 layer attributes with the fixtures'. The cutoffs and stopbands are x ** (i / 12)
 * powers. The fixtures were made with numpy 1.24.2, whose float64 array power was not correctly rounded on
 * that machine (presumably its AVX-512 SIMD pow): 28 of the 180 cutoffs and half-widths in the three
 * full-size tables of each config, and some of the tiny networks', are 1 ulp away from the correctly rounded
 * values that glibc's pow, numpy 2.x and JavaScript's ** give (e.g. 2 * 512 ** (2/12) is
 * 5.039684199579492400517...; the fixture holds ...492, correctly rounded is ...493). Those fields are
 * compared to within one rounding error of the largest operand (a half-width is
 * max(stopband, rate / 2) - cutoff); every other field exactly.
 */
import assert from "node:assert/strict";

const POW_FIELDS = new Set(["in_cutoff", "out_cutoff", "in_half_width", "out_half_width"]);

/**
 * Asserts that every field of `want` (except name, num_params and *_filter_shape, which are fixture
 * annotations) equals `got`'s as described above. Returns how many power-derived fields were inexact.
 */
export function assertLayerAttrs(
  got: Record<string, unknown>,
  want: Record<string, unknown>,
  what: string,
): number {
  let inexact = 0;
  for (const [k, v] of Object.entries(want)) {
    if (k === "name" || k === "num_params" || k.endsWith("_filter_shape")) continue;
    const g = got[k];
    if (POW_FIELDS.has(k) && g !== v) {
      const scale = Math.max(want.in_cutoff as number, want.out_cutoff as number, Math.abs(v as number));
      assert.ok(
        Math.abs((g as number) - (v as number)) <= Number.EPSILON * scale,
        `${what}.${k}: ${g} vs ${v}`,
      );
      inexact++;
    } else {
      assert.deepEqual(g, v, `${what}.${k}`);
    }
  }
  return inexact;
}
