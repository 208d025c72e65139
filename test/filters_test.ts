import assert from "node:assert/strict";
import {
  besselI0,
  besselJ1,
  designLowpassFilter,
  firwin,
  kaiserAtten,
  kaiserBeta,
  kaiserWindow,
  layerFilters,
  radialLowpass,
} from "../models/filters.ts";
import { readNpy } from "../formats/npy.ts";
import { assertClose, compare } from "./reference.ts";
import { fixture, fixtureTest, manifest } from "./fixtures.ts";

const FILTER_TOL = 1e-7; // manifest tolerances.filter: float32 taps, float64 design then one cast

Deno.test("Bessel functions: series identities and known zeros", () => {
  assert.equal(besselI0(0), 1);
  assertClose([besselI0(1)], [1.2660658777520082], { abs: 4e-16 });
  assertClose([besselJ1(1), besselJ1(-2)], [0.44005058574493355, -0.5767248077568734], { abs: 4e-16 });
  assertClose([besselJ1(3.8317059702075125), besselJ1(7.015586669815619)], [0, 0], { abs: 1e-15 });
  // Small-argument series J1(x) = x/2 - x^3/16 + x^5/384 - ...
  assertClose([besselJ1(1e-3)], [5e-4 - 1e-9 / 16 + 1e-15 / 384], { abs: 1e-19 });
});

fixtureTest("firwin and the radial filter match filters.json (scipy 1.10.1)", "sg3", () => {
  const cases = JSON.parse(Deno.readTextFileSync(fixture("sg3", "filters.json"))).cases;
  assert.equal(cases.length, 5);
  for (const c of cases) {
    const what = c.source;
    const atten = kaiserAtten(c.numtaps, c.width / (c.fs / 2));
    assertClose([atten], [c.kaiser_atten_dB], { abs: 1e-12 }, `${what} atten`);
    assertClose([kaiserBeta(atten)], [c.kaiser_beta], { abs: 1e-13 }, `${what} beta`);
    assertClose(kaiserWindow(c.numtaps, kaiserBeta(atten)), c.radial_kaiser_window_f64, { abs: 1e-15 }, what);
    assertClose(firwin(c.numtaps, c.cutoff, c.width, c.fs), c.firwin_f64, { abs: 1e-15 }, `${what} firwin`);
    assertClose(radialLowpass(c.numtaps, c.cutoff, c.width, c.fs), c.radial_f64.flat(), { abs: 1e-15 }, what);
    const sep = designLowpassFilter(c.numtaps, c.cutoff, c.width, c.fs)!;
    assert.deepEqual(sep.shape, [c.numtaps]);
    assertClose(sep.data, c.firwin_f32, { abs: FILTER_TOL }, `${what} firwin f32`);
    const rad = designLowpassFilter(c.numtaps, c.cutoff, c.width, c.fs, true)!;
    assert.deepEqual(rad.shape, [c.numtaps, c.numtaps]);
    assertClose(rad.data, c.radial_f32.flat(), { abs: FILTER_TOL }, `${what} radial f32`);
  }
  assert.equal(designLowpassFilter(1, 2, 4, 16), null);
});

fixtureTest(
  "every up/down filter of the full-size T and R networks at 1024 matches the fixtures",
  "sg3",
  () => {
    const files = manifest("sg3").files.filter((f: any) => /^layers\/filters-.*\.npy$/.test(f.path));
    assert.ok(files.length >= 50);
    let maxAbs = 0;
    for (const f of files) {
      const table = JSON.parse(
        Deno.readTextFileSync(fixture("sg3", "layers", `layers-${f.config}-1024.json`)),
      );
      const l = table.layers.find((x: any) => x.name === f.layer);
      const got = layerFilters(l)[f.path.endsWith(".up_filter.npy") ? "up" : "down"];
      const want = readNpy(fixture("sg3", f.path));
      assert.deepEqual(got!.shape, want.shape, f.path);
      maxAbs = Math.max(maxAbs, compare(got!.data, want.data as Float32Array).maxAbs);
      assertClose(got!.data, want.data as Float32Array, { abs: FILTER_TOL }, f.path);
    }
    console.log(`max |filter - fixture| over ${files.length} filters: ${maxAbs}`);
  },
);
