/**
 * The generator against the official implementation's outputs in fixtures/sg3 (tiny-t, tiny-r,
 * tiny-t-cond): ws, every layer's activations, final images, uint8 images, user transforms and a batch
 * of 3, with the manifest's tolerances. fp16 (where the adapter has shader-f16) is checked against float32.
 */
import assert from "node:assert/strict";
import { fixture, fixtureTest, manifest } from "./fixtures.ts";
import { GPU_TEST, testGpu } from "./gpu.ts";
import { assertClose, assertU8Close, compare } from "./reference.ts";
import { readNpy, toFloat64 } from "../formats/npy.ts";
import { toImage8 } from "../formats/png.ts";
import { readTensor } from "../gpu/readback.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { loadNetwork } from "../formats/snapshot.ts";
import { Generator } from "../models/generator.ts";
import { Tuner } from "../gpu/tuner.ts";
import { zFromSeeds } from "../models/latents.ts";
import { invert3x3, makeTransform } from "../models/transform.ts";
import { labels } from "../models/generate.ts";
import { existsSync } from "node:fs";

const SEEDS = [0, 1, 42, 1000];
const TOL = { ws: 1e-5, img: 1e-4 };

function npy(net: string, file: string): Float64Array {
  return toFloat64(readNpy(fixture("sg3", net, file)));
}

function absmax(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

async function setup(name: string) {
  const gpu = await testGpu();
  const net = await loadNetwork(fixture("sg3", `${name}.pkl`));
  return { gpu, g: Generator.create(gpu, net) };
}

/** z per seed and gen_images.py's labels (class seed % c_dim, as the fixtures were made; see c-seed*.npy). */
function inputs(g: Generator, seeds: number[]) {
  const z = zFromSeeds(seeds, g.zDim);
  const c = g.cDim ? new Float32Array(seeds.length * g.cDim) : undefined;
  seeds.forEach((s, i) => c?.set(labels(g, 1, s % g.cDim)!, i * g.cDim));
  return { z, c };
}

/** The official activation of `layer` (sample 0) and, for crops, where it sits in the full tensor. */
function activation(net: string, layer: string, shape: readonly number[]) {
  const dir = `act-seed0-psi1`;
  try {
    return { ref: npy(net, `${dir}/${layer}.npy`), crop: null };
  } catch {
    // Only the central 16 x 16 crop is kept for some layers.
    return { ref: npy(net, `${dir}/${layer}.crop16.npy`), crop: { c: shape[1], h: shape[2], w: shape[3] } };
  }
}

function cropSample0(v: Float32Array, crop: { c: number; h: number; w: number } | null): ArrayLike<number> {
  if (!crop) return v;
  const out = new Float32Array(crop.c * 256);
  const y0 = (crop.h - 16) / 2, x0 = (crop.w - 16) / 2;
  for (let ch = 0; ch < crop.c; ch++) {
    for (let y = 0; y < 16; y++) {
      for (let x = 0; x < 16; x++) out[(ch * 16 + y) * 16 + x] = v[(ch * crop.h + y0 + y) * crop.w + x0 + x];
    }
  }
  return out;
}

/**
 * Where the fixture keeps only a crop of a layer's output, it also keeps per-channel [mean, std, min, max]
 * over H and W of the whole tensor (`<layer>.stats.npy`, float64; std over the N values, with 1 / N):
 * compared with the manifest's act_stats tolerance, abs 1e-4 * max(1, |value|) per entry.
 */
function checkStats(net: string, layer: string, v: Float32Array, crop: { c: number; h: number; w: number }) {
  const path = fixture("sg3", net, "act-seed0-psi1", `${layer}.stats.npy`);
  if (!existsSync(path)) return;
  const ref = npy(net, `act-seed0-psi1/${layer}.stats.npy`);
  const n = crop.h * crop.w;
  assert.equal(ref.length, 4 * crop.c, `${net} ${layer} stats shape`);
  for (let ch = 0; ch < crop.c; ch++) {
    const x = v.subarray(ch * n, (ch + 1) * n);
    let sum = 0, min = Infinity, max = -Infinity;
    for (const t of x) (sum += t, min = Math.min(min, t), max = Math.max(max, t));
    const mean = sum / n;
    let ss = 0;
    for (const t of x) ss += (t - mean) ** 2;
    const got = [mean, Math.sqrt(ss / n), min, max];
    got.forEach((g, k) => {
      const want = ref[ch * 4 + k];
      assert.ok(
        Math.abs(g - want) <= 1e-4 * Math.max(1, Math.abs(want)),
        `${net} ${layer} channel ${ch} ${["mean", "std", "min", "max"][k]}: ${g} vs ${want}`,
      );
    });
  }
}

fixtureTest(
  "tiny-t-cond labels: one-hot class seed % c_dim equal to the official c-seed*.npy",
  "sg3",
  async () => {
    const { g } = await setup("tiny-t-cond");
    for (const s of SEEDS) {
      const ref = readNpy(fixture("sg3", "tiny-t-cond", `c-seed${s}.npy`));
      assert.deepEqual(ref.shape, [1, g.cDim]);
      assert.deepEqual(labels(g, 1, s % g.cDim), ref.data, `seed ${s}`);
    }
    g.destroy();
  },
  GPU_TEST,
);

for (const name of ["tiny-t", "tiny-r", "tiny-t-cond"]) {
  fixtureTest(`generator ${name}: z and ws for 4 seeds at psi 1 and 0.7`, "sg3", async () => {
    const { gpu, g } = await setup(name);
    const { z, c } = inputs(g, SEEDS);
    if (g.cDim) assert.throws(() => g.mapping(z, SEEDS.length), /conditional/);
    SEEDS.forEach((s, i) =>
      assert.deepEqual(z.subarray(i * g.zDim, (i + 1) * g.zDim), npy(name, `z-seed${s}.npy`))
    );
    for (const psi of [1, 0.7]) {
      const ws = g.mapping(z, SEEDS.length, { c, psi });
      const wsv = await readTensor(gpu, ws);
      const len = g.numWs * g.wDim;
      SEEDS.forEach((s, i) => {
        const ref = npy(name, `ws-seed${s}-psi${psi}.npy`);
        assertClose(
          wsv.subarray(i * len, (i + 1) * len),
          ref,
          { abs: TOL.ws },
          `${name} seed ${s} psi ${psi} ws`,
        );
      });
      ws.destroy();
    }
    g.destroy();
  }, GPU_TEST);

  fixtureTest(
    `generator ${name}: batch of seeds 0, 1, 42: layer activations, images, uint8`,
    "sg3",
    async () => {
      const { gpu, g } = await setup(name);
      const seeds = [0, 1, 42];
      const { z, c } = inputs(g, seeds);
      const capture = new Map<string, Tensor>();
      const img = g.synthesis(g.mapping(z, seeds.length, { c }), { capture });
      assert.equal(capture.size, 16);
      for (const [layer, t] of capture) {
        const { ref, crop } = activation(name, layer, t.shape);
        // The last layer's capture includes output_scale (0.25), applied after it in the official code.
        const scaled = t === img ? ref.map((v) => v * 0.25) : ref;
        const sample0 = (await readTensor(gpu, t)).subarray(0, t.size / seeds.length);
        const tol = { abs: 1e-4 * Math.max(1, absmax(ref)) };
        assertClose(cropSample0(sample0, crop), scaled, tol, `${name} ${layer}`);
        if (crop) checkStats(name, layer, sample0, crop);
        if (t !== img) t.destroy();
      }
      const imgv = await readTensor(gpu, img);
      assertClose(imgv, npy(name, "img-batch-seeds0_1_42-psi1.npy"), { abs: TOL.img }, `${name} batch`);
      const len = imgv.length / seeds.length;
      seeds.forEach((s, i) => {
        const got = imgv.subarray(i * len, (i + 1) * len);
        assertClose(got, npy(name, `img-seed${s}-psi1.npy`), { abs: TOL.img }, `${name} seed ${s}`);
        assertU8Close(
          toImage8(imgv, img.shape, i).data,
          npy(name, `u8-seed${s}-psi1.npy`),
          `${name} seed ${s}`,
        );
      });
      img.destroy();
      g.destroy();
    },
    GPU_TEST,
  );

  fixtureTest(
    `generator ${name}: ${name === "tiny-t" ? "psi 0.7 and " : ""}per-sample user transforms`,
    "sg3",
    async () => {
      const { gpu, g } = await setup(name);
      // Truncation only changes ws (checked for every net above); one truncated image end to end suffices.
      if (name === "tiny-t") {
        const seed = 1000;
        const one = inputs(g, [seed]);
        const img = g.synthesis(g.mapping(one.z, 1, { c: one.c, psi: 0.7 }));
        const imgv = await readTensor(gpu, img);
        assertClose(imgv, npy(name, `img-seed${seed}-psi0.7.npy`), { abs: TOL.img }, `${name} psi 0.7`);
        assertU8Close(
          toImage8(imgv, img.shape).data,
          npy(name, `u8-seed${seed}-psi0.7.npy`),
          `${name} psi 0.7`,
        );
      }

      // Seed 0 twice in one batch, each sample with its own transform.
      const cases = [["t0.3_0.1-r10", [0.3, 0.1], 10], ["t-0.125_0.25-r0", [-0.125, 0.25], 0]] as const;
      const transforms = new Float32Array(18);
      cases.forEach(([tag, t, r], i) => {
        const m64 = invert3x3(makeTransform([t[0], t[1]], r));
        const m = Float32Array.from(m64);
        // The stored float32 buffer, exactly (the manifest's tolerance "exact"). Compared as numbers: sg3's
        // inverse has -0 where numpy's (LAPACK) has +0 in the bottom row, which changes no product.
        const ref = readNpy(fixture("sg3", name, `transform-${tag}.npy`)).data as Float32Array;
        m.forEach((v, k) => assert.ok(v === ref[k], `transform ${tag} [${k}]: ${v} vs ${ref[k]}`));
        // The float64 inverse the manifest records (m_f64) to the last bit or two of a double.
        const entry = manifest("sg3").files.find((f: { path: string }) =>
          f.path === `${name}/transform-${tag}.npy`
        );
        assertClose(m64, entry.m_f64.flat(), { abs: 2.3e-16 }, `transform ${tag} float64`);
        transforms.set(m, i * 9);
      });
      const two = inputs(g, [0, 0]);
      const capture = new Map<string, Tensor>();
      const out = await readTensor(
        gpu,
        g.synthesis(g.mapping(two.z, 2, { c: two.c }), { transforms, capture }),
      );
      const input = await readTensor(gpu, capture.get("input")!);
      cases.forEach(([tag], i) => {
        const ref = npy(name, `act-seed0-psi1-${tag}/input.npy`);
        const got = input.subarray(i * ref.length, (i + 1) * ref.length);
        assertClose(got, ref, { abs: 1e-4 * Math.max(1, absmax(ref)) }, `${name} input ${tag}`);
        const len = out.length / 2;
        assertClose(out.subarray(i * len, (i + 1) * len), npy(name, `img-seed0-psi1-${tag}.npy`), {
          abs: TOL.img,
        }, `${name} ${tag}`);
      });
      capture.forEach((t) => t.destroy());
      g.destroy();
    },
    GPU_TEST,
  );
}

/** A tuner that picks f16-arithmetic convolution tiles wherever they are offered (a GPU's usual choice). */
class HalfFirst extends Tuner {
  override pick<V>(family: string, shape: string, candidates: V[]): { variant: V; tag?: string } {
    const half = candidates.find((c) => (c as { half?: true }).half);
    return half ? { variant: half } : super.pick(family, shape, candidates);
  }
}

fixtureTest(
  "generator fp16 follows float32 (values, not zeros), in f32 and in f16 arithmetic",
  "sg3",
  async () => {
    const gpu = await testGpu();
    if (!gpu.f16) return;
    const name = "tiny-t";
    const net = await loadNetwork(fixture("sg3", `${name}.pkl`));
    const tuner = gpu.tuner, settable = gpu as { tuner: Tuner };
    try {
      for (const arithmetic of ["f32", "f16"]) {
        if (arithmetic === "f16") settable.tuner = new HalfFirst(gpu.summary, () => "/nonexistent/tune.json");
        const g = Generator.create(gpu, net, { fp16: true });
        const { z } = inputs(g, [0]);
        const img = await readTensor(gpu, g.synthesis(g.mapping(z, 1)));
        g.destroy();
        assert.ok(img.some((v) => v !== 0), "fp16 image is all zeros");
        const { maxAbs, relL2 } = compare(img, npy(name, "img-seed0-psi1.npy"));
        console.log(
          `${name} fp16 (${arithmetic} arithmetic) vs official float32: max abs ${
            maxAbs.toExponential(2)
          }, ` +
            `rel L2 ${relL2.toExponential(2)}`,
        );
        assert.ok(
          maxAbs < 0.05 && relL2 < 0.01,
          `${name} fp16 ${arithmetic}: max abs ${maxAbs}, rel L2 ${relL2}`,
        );
      }
    } finally {
      settable.tuner = tuner;
    }
  },
  GPU_TEST,
);
