/**
 * The synthesis specifications read on the CPU (models/spec_sg3.ts, models/spec_sg2.ts): the tiny fixture snapshots give the
 * official layer tables, and networks whose tensors or layers do not fit together are refused with one line
 * naming the tensor or layer, before anything is uploaded.
 */
import assert from "node:assert/strict";
import { fixture, fixtureTest, sg3FixtureNetworks } from "./fixtures.ts";
import { UserError } from "../errors.ts";
import { loadNetwork } from "../formats/snapshot.ts";
import { parseStyleGAN3 } from "../models/spec_sg3.ts";
import { parseStyleGAN2 } from "../models/spec_sg2.ts";
import { randomNetwork } from "../models/random_init.ts";

fixtureTest(
  "StyleGAN3 specifications of the tiny snapshots follow the official layer tables",
  "sg3",
  async () => {
    for (const [name, ref] of sg3FixtureNetworks()) {
      const spec = parseStyleGAN3(await loadNetwork(fixture("sg3", ref.file)));
      const [input, ...layers] = ref.layers;
      assert.equal(spec.numWs, ref.num_ws, name);
      assert.equal(spec.input.channels, input.channels, name);
      assert.deepEqual(spec.layers.map((l) => l.name), layers.map((l: any) => l.name), name);
      spec.layers.forEach((l, i) => {
        assert.equal(l.outChannels, layers[i].out_channels ?? layers[i].channels, `${name}.${l.name}`);
        assert.equal(l.kernel, l.isToRGB ? 1 : ref.cfg === "r" ? 1 : 3, `${name}.${l.name} kernel`);
      });
      assert.ok(spec.layers[spec.layers.length - 1].isToRGB);
    }
  },
);

Deno.test("StyleGAN3 specifications refuse tensors and layers that do not fit together", () => {
  const fails = (edit: (net: ReturnType<typeof randomNetwork>) => void, pattern: RegExp) => {
    const net = randomNetwork({ cfg: "stylegan3-t", res: 16, cbase: 256, cmax: 16, zDim: 8, wDim: 8 });
    edit(net);
    assert.throws(() => parseStyleGAN3(net), (e: Error) => e instanceof UserError && pattern.test(e.message));
  };
  fails((net) => net.tensors.get("synthesis.L2_36_16.weight")!.shape.reverse(), /L2_36_16\.weight has shape/);
  fails((net) => net.tensors.delete("synthesis.L3_36_16.bias"), /no tensor synthesis\.L3_36_16\.bias/);
  fails((net) => (net.modules.get("synthesis.L4_36_16")!.attrs.in_channels = 7), /L4_36_16 takes 7 channels/);
  fails((net) => (net.tensors.get("synthesis.L1_36_16.magnitude_ema")!.data[0] = 0), /magnitude_ema is 0/);
  fails((net) => net.tensors.get("synthesis.input.freqs")!.shape.push(1), /input\.freqs has shape/);
});

fixtureTest("the StyleGAN2 specification of tiny-sg2 reads its blocks", "sg3", async () => {
  const spec = parseStyleGAN2(await loadNetwork(fixture("sg3", "tiny-sg2.pkl")));
  assert.deepEqual(spec.blocks.map((b) => b.res), [4, 8, 16, 32]);
  assert.equal(spec.numWs, 8);
  assert.deepEqual(spec.blocks.map((b) => b.wIndex), [0, 1, 3, 5]);
  assert.ok(spec.blocks.every((b) => b.architecture === "skip" && b.torgb !== null));
  assert.ok(spec.blocks.slice(1).every((b) => b.conv0?.up === true && b.conv0.resampleFilter !== null));
});

Deno.test("StyleGAN2 specifications refuse tensors and blocks that do not fit together", () => {
  const fails = (edit: (net: ReturnType<typeof randomNetwork>) => void, pattern: RegExp) => {
    const net = randomNetwork({
      cfg: "stylegan2",
      res: 16,
      cbase: 128,
      cmax: 8,
      zDim: 8,
      wDim: 8,
      mappingLayers: 2,
    });
    parseStyleGAN2(net);
    edit(net);
    assert.throws(() => parseStyleGAN2(net), (e: Error) => e instanceof UserError && pattern.test(e.message));
  };
  fails(
    (net) => net.tensors.get("synthesis.b8.conv0.weight")!.shape.reverse(),
    /b8\.conv0\.weight has shape/,
  );
  fails((net) => net.tensors.delete("synthesis.b16.torgb.bias"), /no tensor synthesis\.b16\.torgb\.bias/);
  fails((net) => (net.modules.get("synthesis.b16")!.attrs.in_channels = 5), /b16 takes 5 channels/);
  fails((net) => (net.modules.get("synthesis")!.attrs.num_ws = 9), /num_ws is 9/);
  fails(
    (net) => (net.modules.get("synthesis.b8")!.attrs.architecture = "dense"),
    /unknown StyleGAN2 architecture/,
  );
});
