/**
 * loadNetwork on the official-format fixture snapshots: architecture, hyper-parameters, every layer's
 * attributes against the manifest's layer tables, parameter counts, filter buffers against the
 * filter-design vectors, and the mapping network's tensors through a float64 CPU mapping network whose
 * ws must match the reference ws (tolerance "ws").
 */
import assert from "node:assert/strict";
import { fixture, fixtureTest, manifest } from "./fixtures.ts";
import { describeNetwork, loadNetwork } from "../formats/snapshot.ts";
import { PyDict, PyObject } from "../formats/pickle.ts";
import { TorchStorage, TorchTensor } from "../formats/torch.ts";
import { readNpy, toFloat64 } from "../formats/npy.ts";
import { assertClose } from "./reference.ts";
import type { NetworkDescription } from "../formats/network.ts";
import { UserError } from "../errors.ts";

const NETS = ["tiny-t", "tiny-r", "tiny-t-cond"];
const BUFFERS = /\.(w_avg|transform|freqs|phases|magnitude_ema|up_filter|down_filter)$/;

/** Float64 MappingNetwork.forward (training/networks_stylegan3.py) for one z and optional label. */
function mappingRef(
  net: NetworkDescription,
  z: Float64Array,
  c: number[] | null,
  psi: number,
): Float64Array[] {
  const t = (k: string) => net.tensors.get(k)!;
  const attrs = (k: string) => net.modules.get(k)!.attrs as Record<string, number & string>;
  const fc = (name: string, x: Float64Array) => {
    const { weight_gain: wg, bias_gain: bg, activation } = attrs(name);
    const w = t(`${name}.weight`), b = t(`${name}.bias`);
    const [out, inp] = w.shape;
    const y = new Float64Array(out);
    for (let o = 0; o < out; o++) {
      let s = 0;
      for (let i = 0; i < inp; i++) s += w.data[o * inp + i] * wg * x[i];
      s += b.data[o] * bg;
      y[o] = activation === "lrelu" ? (s < 0 ? 0.2 * s : s) * Math.SQRT2 : s;
    }
    return y;
  };
  const normalize = (x: Float64Array) => {
    const ms = x.reduce((a, v) => a + v * v, 0) / x.length;
    return x.map((v) => v / Math.sqrt(ms + 1e-8));
  };
  let x = normalize(Float64Array.from(z, Math.fround));
  if (c) x = Float64Array.from([...x, ...normalize(fc("mapping.embed", Float64Array.from(c)))]);
  const m = attrs("mapping");
  for (let i = 0; i < m.num_layers; i++) x = fc(`mapping.fc${i}`, x);
  const avg = t("mapping.w_avg").data;
  const w = psi === 1 ? x : x.map((v, i) => avg[i] + (v - avg[i]) * psi);
  return Array.from({ length: m.num_ws }, () => w);
}

for (const name of NETS) {
  fixtureTest(`loadNetwork ${name}: arch, hparams, layer attributes, parameter count`, "sg3", async () => {
    const ref = manifest("sg3").networks[name];
    const net = await loadNetwork(fixture("sg3", ref.file));
    assert.equal(net.arch, ref.cfg === "r" ? "stylegan3-r" : "stylegan3-t");
    for (const [k, v] of Object.entries({ ...ref.G_kwargs, ...ref.common_kwargs })) {
      if (k !== "class_name") assert.deepEqual(net.hparams[k], v, `hparam ${k}`);
    }
    assert.equal(net.hparams.num_ws, ref.num_ws);
    for (const layer of ref.layers) {
      const mod = net.modules.get(`synthesis.${layer.name}`);
      assert.ok(mod, `module synthesis.${layer.name}`);
      assert.equal(mod.className, layer.name === "input" ? "SynthesisInput" : "SynthesisLayer");
      for (const [k, v] of Object.entries(layer)) {
        if (k === "name" || k === "num_params") continue;
        if (k.endsWith("_filter_shape")) {
          // A None buffer (ToRGB: 1 tap) is absent from the state dict, as in PyTorch.
          const t = net.tensors.get(`synthesis.${layer.name}.${k.slice(0, -6)}`);
          assert.deepEqual(t?.shape ?? null, v, `${layer.name}.${k}`);
        } else assert.deepEqual(mod.attrs[k], v, `${layer.name}.${k}`);
      }
      if (layer.num_params !== undefined) {
        let n = 0;
        for (const [k, t] of net.tensors) {
          if (k.startsWith(`synthesis.${layer.name}.`) && !BUFFERS.test(k)) n += t.data.length;
        }
        assert.equal(n, layer.num_params, `${layer.name} parameters`);
      }
    }
    let params = 0;
    for (const [k, t] of net.tensors) {
      assert.equal(t.data.length, t.shape.reduce((a, b) => a * b, 1), k);
      assert.ok(t.data.every(Number.isFinite), `${k} finite`);
      assert.equal(net.buffers!.has(k), BUFFERS.test(k), `${k} is a buffer`);
      if (!BUFFERS.test(k)) params += t.data.length;
    }
    assert.equal(params, ref.num_params_G_ema);
    for (
      const k of [
        "mapping.w_avg",
        "synthesis.input.transform",
        "synthesis.input.freqs",
        "synthesis.input.phases",
      ]
    ) assert.ok(net.tensors.has(k), k);
    assert.deepEqual(
      net.tensors.get("synthesis.input.transform")!.data,
      new Float32Array([1, 0, 0, 0, 1, 0, 0, 0, 1]),
    );
  });

  fixtureTest(`loadNetwork ${name}: filter buffers equal the filter-design vectors`, "sg3", async () => {
    const cases = JSON.parse(Deno.readTextFileSync(fixture("sg3", "filters.json"))).cases;
    const net = await loadNetwork(fixture("sg3", `${name}.pkl`));
    let matched = 0;
    for (const [path, mod] of net.modules) {
      if (mod.className !== "SynthesisLayer") continue;
      const a = mod.attrs as Record<string, number & boolean>;
      const filters = [
        ["up_filter", a.up_taps, a.in_cutoff, a.in_half_width * 2, false],
        ["down_filter", a.down_taps, a.out_cutoff, a.out_half_width * 2, a.down_radial],
      ] as const;
      for (const [buf, taps, cutoff, width, radial] of filters) {
        const c = cases.find((c: any) =>
          c.numtaps === taps && c.cutoff === cutoff && c.width === width && c.fs === a.tmp_sampling_rate
        );
        if (!c || taps <= 1) continue;
        assertClose(net.tensors.get(`${path}.${buf}`)!.data, radial ? c.radial_f32.flat() : c.firwin_f32, {
          abs: 1e-7,
        });
        matched++;
      }
    }
    assert.ok(matched >= 2, `${matched} filters matched a design case`);
  });

  fixtureTest(`loadNetwork ${name}: mapping tensors reproduce the reference ws`, "sg3", async () => {
    const ref = manifest("sg3").networks[name];
    const net = await loadNetwork(fixture("sg3", ref.file));
    const cDim = ref.common_kwargs.c_dim;
    for (const seed of [0, 42]) {
      for (const psi of [1, 0.7]) {
        const z = toFloat64(readNpy(fixture("sg3", name, `z-seed${seed}.npy`)));
        const c = cDim ? Array.from({ length: cDim }, (_, i) => (i === seed % cDim ? 1 : 0)) : null;
        const expected = toFloat64(readNpy(fixture("sg3", name, `ws-seed${seed}-psi${psi}.npy`)));
        const ws = mappingRef(net, z, c, psi);
        assertClose(Float64Array.from(ws.flatMap((w) => [...w])), expected, { abs: 1e-5 }, `ws seed ${seed}`);
      }
    }
  });
}

fixtureTest("loadNetwork: G differs from G_ema; D is skipped", "sg3", async () => {
  const ema = await loadNetwork(fixture("sg3", "tiny-t.pkl"));
  const g = await loadNetwork(fixture("sg3", "tiny-t.pkl"), { which: "G" });
  assert.deepEqual([...g.tensors.keys()], [...ema.tensors.keys()]);
  const a = g.tensors.get("mapping.fc0.weight")!.data, b = ema.tensors.get("mapping.fc0.weight")!.data;
  const diff = a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
  assert.ok(diff > 1e-4 && diff < 0.1, `G - G_ema = ${diff} (G = G_ema + randn * 0.01)`);
  assert.ok(![...ema.tensors.keys()].some((k) => k.startsWith("b32") || k.includes("epilogue")));
});

fixtureTest("loadNetwork: a weight file that is not a network is refused", "inception", async () => {
  const path = fixture("inception", "loader", "torch_save_zip_state_dict.pth");
  await assert.rejects(
    loadNetwork(path),
    (e) => e instanceof UserError && /not a network snapshot/.test(e.message),
  );
});

Deno.test("loadNetwork: a missing file is a UserError naming it", async () => {
  await assert.rejects(
    loadNetwork("/nonexistent/net.pkl"),
    (e) => e instanceof UserError && e.message.includes("/nonexistent/net.pkl"),
  );
});

/** A module object as the pickle reader builds it: class name, plain attributes, parameters, children. */
function fakeModule(
  className: string,
  attrs: Record<string, unknown>,
  params: Record<string, number[]> = {},
  children: Record<string, PyObject> = {},
): PyObject {
  const m = new PyObject(className);
  const state = new PyDict(Object.entries(attrs));
  const p = new PyDict();
  for (const [k, shape] of Object.entries(params)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const s = new TorchStorage("float32", n, k);
    s.bytes = new Uint8Array(Float32Array.from({ length: n }, (_, i) => i).buffer);
    p.set(
      k,
      new TorchTensor(s, 0, shape, shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1))),
    );
  }
  state.set("_parameters", p).set("_buffers", new PyDict()).set(
    "_modules",
    new PyDict(Object.entries(children)),
  );
  m.state = state;
  return m;
}

Deno.test("describeNetwork: StyleGAN2 generators are told apart by their b4.. blocks", () => {
  const dims = { z_dim: 8, w_dim: 8, c_dim: 0, img_resolution: 8, img_channels: 3 };
  const mapping = fakeModule("MappingNetwork", { num_ws: 4 }, {}, {
    fc0: fakeModule("FullyConnectedLayer", {}, { weight: [8, 8], bias: [8] }),
  });
  const block = (res: number) =>
    fakeModule("SynthesisBlock", { resolution: res, in_channels: res === 4 ? 0 : 16 }, {}, {
      conv1: fakeModule("SynthesisLayer", { out_channels: 16 }, { weight: [16, 16, 3, 3] }),
    });
  const sg2 = fakeModule("Generator", dims, {}, {
    mapping,
    synthesis: fakeModule("SynthesisNetwork", {}, {}, { b4: block(4), b8: block(8) }),
  });
  const net = describeNetwork(sg2, "sg2.pkl");
  assert.equal(net.arch, "stylegan2");
  assert.deepEqual(net.tensors.get("synthesis.b8.conv1.weight")!.shape, [16, 16, 3, 3]);
  assert.deepEqual(net.tensors.get("mapping.fc0.bias")!.data, Float32Array.from({ length: 8 }, (_, i) => i));
  const odd = fakeModule("Generator", dims, {}, { mapping, synthesis: fakeModule("SynthesisNetwork", {}) });
  assert.throws(
    () => describeNetwork(odd, "odd.pkl"),
    (e) => e instanceof UserError && /unknown synthesis/.test(e.message),
  );
  const notGen = fakeModule("Discriminator", { c_dim: 0, img_resolution: 8 });
  assert.throws(
    () => describeNetwork(notGen, "d.pkl"),
    (e) => e instanceof UserError && /not a StyleGAN generator/.test(e.message),
  );
});
