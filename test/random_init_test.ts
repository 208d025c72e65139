import assert from "node:assert/strict";
import { randomNetwork } from "../models/random_init.ts";
import { countParameters } from "../models/inspect.ts";
import { loadNetwork } from "../formats/snapshot.ts";
import type { NetworkDescription } from "../formats/network.ts";
import { assertClose } from "./reference.ts";
import { fixture, fixtureTest, fixtureTrainOptions, sg3FixtureNetworks } from "./fixtures.ts";
import { assertLayerAttrs } from "./layer_attrs.ts";

// The fixture networks were built with explicit magnitude_ema_beta, conv_clamp and num_fp16_res keyword
// arguments (their defaults), which train.py does not pass; they only show up in the recorded _init_kwargs.
const EXPLICIT_DEFAULTS = new Set(["magnitude_ema_beta", "conv_clamp", "num_fp16_res"]);

function withoutExplicitDefaults(kwargs: unknown): Record<string, unknown> {
  return Object.fromEntries(Object.entries(kwargs as object).filter(([k]) => !EXPLICIT_DEFAULTS.has(k)));
}

/** Asserts that two networks have the same modules, attributes, tensor names (in order) and shapes. */
function assertSameStructure(got: NetworkDescription, want: NetworkDescription): void {
  assert.equal(got.arch, want.arch);
  assert.deepEqual(withoutExplicitDefaults(got.hparams), withoutExplicitDefaults(want.hparams));
  assert.deepEqual([...got.modules.keys()], [...want.modules.keys()]);
  for (const [path, m] of want.modules) {
    const g = got.modules.get(path)!;
    assert.equal(g.className, m.className, path);
    const { _init_kwargs: gk, ...gAttrs } = g.attrs;
    const { _init_kwargs: wk, ...wAttrs } = m.attrs;
    if (m.className === "SynthesisLayer") {
      assert.deepEqual(Object.keys(gAttrs), Object.keys(wAttrs), path);
      assertLayerAttrs(gAttrs, wAttrs, path);
      assertLayerAttrs(withoutExplicitDefaults(gk), withoutExplicitDefaults(wk), `${path} _init_kwargs`);
    } else {
      assert.deepEqual(gAttrs, wAttrs, path);
      assert.deepEqual(withoutExplicitDefaults(gk), withoutExplicitDefaults(wk), `${path} _init_kwargs`);
    }
  }
  assert.deepEqual([...got.tensors.keys()], [...want.tensors.keys()]);
  for (const [k, t] of want.tensors) assert.deepEqual(got.tensors.get(k)!.shape, t.shape, k);
  assert.deepEqual(got.buffers, want.buffers);
}

fixtureTest("random networks have the structure of the tiny fixture snapshots", "sg3", async () => {
  for (const [name, net] of sg3FixtureNetworks()) {
    const got = randomNetwork({ ...fixtureTrainOptions(net), seed: 5 });
    const want = await loadNetwork(fixture("sg3", net.file));
    assertSameStructure(got, want);
    // The designed filters and the untouched buffers equal the snapshot's.
    for (const [k, t] of want.tensors) {
      if (/(up_filter|down_filter|transform)$/.test(k)) {
        assertClose(got.tensors.get(k)!.data, t.data, { abs: 1e-7 }, k);
      }
    }
    assert.equal(countParameters(got), net.num_params_G_ema, `${name} parameter count`);
  }
});

Deno.test("random weights follow the constructors' initialisation", () => {
  const net = randomNetwork({ cfg: "stylegan3-t", res: 16, cbase: 512, cmax: 16, zDim: 8, wDim: 8, cDim: 3 });
  const t = (k: string) => net.tensors.get(k)!.data;
  const stats = (d: Float32Array) => {
    const mean = d.reduce((a, b) => a + b, 0) / d.length;
    return { mean, std: Math.sqrt(d.reduce((a, b) => a + (b - mean) ** 2, 0) / d.length) };
  };
  const conv = stats(t("synthesis.L1_36_16.weight")); // 16 x 16 x 3 x 3 N(0, 1) draws
  assert.ok(Math.abs(conv.mean) < 0.1 && Math.abs(conv.std - 1) < 0.1, JSON.stringify(conv));
  const fc = stats(t("mapping.fc0.weight")); // N(0, 1) / lr_multiplier 0.01
  assert.ok(Math.abs(fc.std - 100) < 10, JSON.stringify(fc));
  assert.ok(t("mapping.fc0.bias").every((v) => v === 0) && t("mapping.w_avg").every((v) => v === 0));
  assert.ok(t("synthesis.L1_36_16.affine.bias").every((v) => v === 1));
  assert.deepEqual([...t("synthesis.input.affine.bias")], [1, 0, 0, 0]);
  assert.ok(t("synthesis.input.affine.weight").every((v) => v === 0));
  assert.deepEqual(net.tensors.get("synthesis.L0_36_16.magnitude_ema"), {
    shape: [],
    data: new Float32Array([1]),
  });
  const freqs = t("synthesis.input.freqs"), phases = t("synthesis.input.phases");
  for (let c = 0; c < phases.length; c++) {
    assert.ok(
      Math.hypot(freqs[2 * c], freqs[2 * c + 1]) <= 2,
      "frequencies inside the disc of radius bandwidth",
    );
    assert.ok(phases[c] >= -0.5 && phases[c] < 0.5);
  }
  assert.deepEqual(net.modules.get("mapping.embed")!.attrs.in_features, 3);
  assert.equal(net.tensors.get("mapping.fc0.weight")!.shape[1], 16); // z_dim + w_dim for conditional nets
  // Deterministic in the seed.
  const again = randomNetwork({
    cfg: "stylegan3-t",
    res: 16,
    cbase: 512,
    cmax: 16,
    zDim: 8,
    wDim: 8,
    cDim: 3,
  });
  assert.deepEqual(again.tensors.get("synthesis.input.weight"), net.tensors.get("synthesis.input.weight"));
});
