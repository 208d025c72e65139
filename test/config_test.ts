import assert from "node:assert/strict";
import { generatorKwargs, type Sg3Config, synthesisLayout } from "../models/config.ts";
import { layerFilters } from "../models/filters.ts";
import { readNpy } from "../formats/npy.ts";
import { assertClose } from "./reference.ts";
import { fixture, fixtureTest, fixtureTrainOptions, sg3FixtureNetworks } from "./fixtures.ts";
import { assertLayerAttrs } from "./layer_attrs.ts";

for (const cfg of ["stylegan3-t", "stylegan3-r"] as Sg3Config[]) {
  for (const res of [256, 512, 1024]) {
    fixtureTest(`layer table of ${cfg} at ${res} matches the official constructor`, "sg3", () => {
      const want = JSON.parse(Deno.readTextFileSync(fixture("sg3", "layers", `layers-${cfg}-${res}.json`)));
      const layout = synthesisLayout(generatorKwargs({ cfg, res }));
      assert.equal(layout.attrs.num_ws, want.num_ws);
      const [input, ...layers] = want.layers;
      assert.deepEqual(
        [layout.input.channels, layout.input.size, layout.input.sampling_rate, layout.input.bandwidth],
        [input.out_channels, input.out_size, input.out_sampling_rate, input.bandwidth],
      );
      assert.deepEqual(layout.attrs.layer_names, layers.map((l: any) => l.name));
      let inexact = 0;
      layout.layers.forEach((l, i) => inexact += assertLayerAttrs(l.attrs as any, layers[i], l.name));
      // Parameter counts: affine (w_dim x in + in), weight (out x in x k x k), bias (out); input: weight
      // (ch x ch) and affine (w_dim x 4 + 4); mapping: two w_dim x w_dim layers with biases.
      const w = 512, ch = layout.input.channels;
      assert.equal(ch * ch + w * 4 + 4, input.num_params);
      let synthesis = input.num_params;
      layout.layers.forEach(({ attrs: a }, i) => {
        const n = w * a.in_channels + a.in_channels + a.out_channels * a.in_channels * a.conv_kernel ** 2 +
          a.out_channels;
        assert.equal(n, layers[i].num_params, layers[i].name);
        synthesis += n;
      });
      assert.deepEqual(want.num_params, {
        G: synthesis + 2 * (w * w + w),
        mapping: 2 * (w * w + w),
        synthesis,
      });
      assert.ok(inexact <= 14, `${inexact} fields differ in the last place`);
    });
  }
}

fixtureTest("filters designed from our own 1024 tables equal the fixture filters", "sg3", () => {
  for (const cfg of ["stylegan3-t", "stylegan3-r"] as Sg3Config[]) {
    for (const { name, attrs: a } of synthesisLayout(generatorKwargs({ cfg, res: 1024 })).layers) {
      const { up, down } = layerFilters(a);
      for (const [kind, f] of [["up_filter", up], ["down_filter", down]] as const) {
        if (a.is_torgb) {
          assert.equal(f, null);
          continue;
        }
        const want = readNpy(fixture("sg3", "layers", `filters-${cfg}-1024`, `${name}.${kind}.npy`));
        assert.deepEqual(f!.shape, want.shape);
        assertClose(f!.data, want.data as Float32Array, { abs: 1e-7 }, `${cfg} ${name}.${kind}`);
      }
    }
  }
});

Deno.test("cutoffs are the correctly rounded powers", () => {
  const t1024 = synthesisLayout(generatorKwargs({ cfg: "stylegan3-t", res: 1024 })).layers;
  assert.equal(t1024[2].attrs.out_cutoff, 5.039684199579493);
  assert.equal(t1024[11].attrs.out_cutoff, 322.5397887730875);
  const t256 = synthesisLayout(generatorKwargs({ cfg: "stylegan3-t", res: 256 })).layers;
  assert.equal(t256[4].attrs.out_cutoff, 7.999999999999999); // 2 * 64 ** 0.33333333333333331
});

fixtureTest("tiny fixture networks: train.py kwargs and layer tables", "sg3", () => {
  for (const [name, net] of sg3FixtureNetworks()) {
    const g = net.G_kwargs;
    const kw = generatorKwargs(fixtureTrainOptions(net));
    for (const k of ["z_dim", "w_dim", "mapping_kwargs", "channel_base", "channel_max", "conv_kernel"]) {
      assert.deepEqual((kw as any)[k], g[k], `${name} ${k}`);
    }
    assert.equal(kw.use_radial_filters, g.use_radial_filters, name);
    const layout = synthesisLayout(kw);
    assert.equal(layout.attrs.num_ws, net.num_ws);
    const [input, ...layers] = net.layers;
    assert.deepEqual(
      { name: "input", channels: layout.input.channels, size: layout.input.size },
      { name: input.name, channels: input.channels, size: input.size },
    );
    assert.deepEqual([layout.input.sampling_rate, layout.input.bandwidth], [
      input.sampling_rate,
      input.bandwidth,
    ]);
    assert.deepEqual(layout.attrs.layer_names, layers.map((l: any) => l.name), name);
    layout.layers.forEach((l, i) => assertLayerAttrs(l.attrs as any, layers[i], `${name}.${l.name}`));
  }
});
