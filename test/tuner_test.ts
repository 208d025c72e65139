/**
 * The tuner: cached choices per adapter and shape, "off" mode, and a real measurement of convGemm tile
 * variants on the test adapter that writes the cache and is reused by the next measurement.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { GPU_TEST, testGpu } from "./gpu.ts";
import { Tuner } from "../gpu/tuner.ts";
import { tuneWith } from "../gpu/tune.ts";
import type { AdapterSummary } from "../gpu/adapter.ts";
import {
  convCandidates,
  convGemm,
  type ConvVariant,
  MIN_FILL_WG,
  packConvWeight,
} from "../kernels/conv_gemm.ts";
import { readTensor } from "../gpu/readback.ts";
import { assertClose, randomF32 } from "./reference.ts";
import { conv2dRef } from "./ref/conv.ts";
import { generatorWorkload, tuneNewShapes } from "../cli/autotune.ts";
import { Generator } from "../models/generator.ts";
import { randomNetwork } from "../models/random_init.ts";

const SUMMARY = {
  description: "test adapter",
  vendor: "v",
  architecture: "a",
  device: "d",
} as AdapterSummary;

Deno.test("the tuner answers defaults, then cached winners, and the defaults again when off", () => {
  const dir = Deno.makeTempDirSync();
  const path = () => join(dir, "tune.json");
  const tuner = new Tuner(SUMMARY, path);
  const candidates = [{ t: 1 }, { t: 2 }, { t: 3 }];
  assert.deepEqual(tuner.pick("k", "shape A", candidates), { variant: { t: 1 } });
  tuner.beginRound(1);
  const measured = tuner.pick("k", "shape A", candidates);
  assert.deepEqual(measured, { variant: { t: 2 }, tag: "k shape A#1" });
  assert.equal(tuner.rounds, 3);
  const won = tuner.finish(new Map([["k shape A#0", 5], ["k shape A#1", 2], ["k shape A#2", 3]]));
  assert.deepEqual(won, { "k shape A": { variant: { t: 2 }, ms: 2, default_ms: 5 } });
  // A leader that loses the confirmation runs against the default is not kept; one that wins them is, with the
  // confirmation's times.
  tuner.beginRound(2);
  const shapes = ["shape B", "shape C"];
  for (const shape of shapes) tuner.pick("k", shape, candidates);
  const times = new Map(
    shapes.flatMap((shape) => [[`k ${shape}#0`, 5], [`k ${shape}#1`, 9], [`k ${shape}#2`, 3]]),
  );
  const leaders = tuner.leaders(times);
  assert.deepEqual([...leaders], [["k shape B", 2], ["k shape C", 2]]);
  tuner.confirm(leaders, true);
  assert.deepEqual(tuner.pick("k", "shape B", candidates), { variant: { t: 3 }, tag: "k shape B#2" });
  assert.deepEqual(tuner.pick("k", "shape D", candidates), { variant: { t: 1 } }, "untimed while confirming");
  tuner.confirm(leaders, false);
  assert.deepEqual(tuner.pick("k", "shape B", candidates), { variant: { t: 1 }, tag: "k shape B#0" });
  const confirmed = new Map([["k shape B#2", 6], ["k shape B#0", 4], ["k shape C#2", 2.5], [
    "k shape C#0",
    4.5,
  ]]);
  assert.deepEqual(tuner.finish(times, confirmed), {
    "k shape B": { variant: { t: 1 }, ms: 4, default_ms: 4 },
    "k shape C": { variant: { t: 3 }, ms: 2.5, default_ms: 4.5 },
  });
  // A new tuner (a later run) reads the cache file; another adapter does not see it.
  assert.deepEqual(new Tuner(SUMMARY, path).pick("k", "shape A", candidates), { variant: { t: 2 } });
  const other = new Tuner({ ...SUMMARY, description: "another adapter" }, path);
  assert.deepEqual(other.pick("k", "shape A", candidates), { variant: { t: 1 } });
  const off = new Tuner(SUMMARY, path);
  off.mode = "off";
  assert.deepEqual(off.pick("k", "shape A", candidates), { variant: { t: 1 } });
  // A cached variant that is no longer a candidate falls back to the default.
  assert.deepEqual(new Tuner(SUMMARY, path).pick("k", "shape A", [{ t: 7 }, { t: 8 }]), {
    variant: { t: 7 },
  });
  const file = JSON.parse(Deno.readTextFileSync(path()));
  assert.equal(file.version, 1);
  assert.ok(Object.keys(file.adapters).every((k) => k.startsWith("test adapter | v | a | d | deno ")));
  Deno.removeSync(dir, { recursive: true });
});

Deno.test(
  { name: "tuneWith measures convGemm variants, caches the winner and reuses it", ...GPU_TEST },
  async () => {
    const gpu = await testGpu();
    if (!gpu.profilable) {
      console.log("note: the adapter has no timestamp-query; measurement not tested");
      return;
    }
    const dir = Deno.makeTempDirSync();
    const tuner = gpu.tuner;
    const saved = tuner.path;
    Object.defineProperty(tuner, "path", { value: () => join(dir, "tune.json") });
    try {
      const dims = [2, 5, 9, 11];
      const x = randomF32(dims.reduce((a, b) => a * b), 3);
      const w = randomF32(6 * 5 * 9, 4);
      const xt = gpu.upload(x, dims), wt = packConvWeight(gpu, w, [6, 5, 3, 3]);
      const run = async () => {
        await readTensor(gpu, convGemm(gpu, xt, wt, { padH: 1, padW: 1 }));
      };
      const won = await tuneWith(gpu, run, { reps: 1 });
      const key = "conv_gemm 3x3 s1 5->6 9x11 n2 f32";
      assert.deepEqual(Object.keys(won), [key]);
      // A candidate, or (software adapters, fillingFirst) the default's tile with a smaller workgroup.
      const winner = won[key].variant as ConvVariant,
        { wg, ...tile } = winner,
        { wg: wg0, ...tile0 } = convCandidates(3, 3, true, 1, false)[0]; // 5 -> 6 channels: narrow, a direct default
      const candidate = convCandidates().some((c) => JSON.stringify(c) === JSON.stringify(winner));
      const shrunk = JSON.stringify(tile) === JSON.stringify(tile0) && wg < wg0 && wg >= MIN_FILL_WG;
      assert.ok(candidate || shrunk, JSON.stringify(winner));
      assert.ok(won[key].ms <= won[key].default_ms);
      assert.deepEqual(await tuneWith(gpu, run, { reps: 1 }), {}, "a second measurement reuses the cache");
      // The tuned choice computes the same convolution.
      const ref = conv2dRef(x, dims, w, new Float32Array(6), [6, 5, 3, 3], 1, 1, 1, false);
      assertClose(await readTensor(gpu, convGemm(gpu, xt, wt, { padH: 1, padW: 1 })), ref.data, {
        abs: 1e-5,
      });
    } finally {
      Object.defineProperty(tuner, "path", { value: saved });
      Deno.removeSync(dir, { recursive: true });
    }
  },
);

Deno.test({
  name: "runs tune new shapes on hardware adapters only, once, and not with --tune off",
  ...GPU_TEST,
}, async () => {
  const gpu = await testGpu();
  if (!gpu.profilable) return;
  const dir = Deno.makeTempDirSync();
  const tuner = gpu.tuner;
  const saved = { path: tuner.path, summary: gpu.summary, mode: tuner.mode };
  Object.defineProperty(tuner, "path", { value: () => join(dir, "tune.json") });
  const mutable = gpu as unknown as { summary: AdapterSummary };
  try {
    const gen = Generator.create(
      gpu,
      randomNetwork({ cfg: "stylegan3-t", res: 16, cbase: 256, cmax: 16, zDim: 8, wDim: 8 }),
    );
    const workload = generatorWorkload(gpu, gen, 1);
    mutable.summary = { ...saved.summary, isFallback: true };
    assert.deepEqual(
      await tuneNewShapes(gpu, workload, true),
      {},
      "software adapters are not tuned automatically",
    );
    mutable.summary = { ...saved.summary, isFallback: false };
    tuner.mode = "off";
    assert.deepEqual(await tuneNewShapes(gpu, workload, true), {}, "--tune off");
    tuner.mode = "on";
    const found = await tuneNewShapes(gpu, workload, true);
    assert.ok(Object.keys(found).some((k) => k.startsWith("conv_gemm ")), Object.keys(found).join(", "));
    assert.deepEqual(await tuneNewShapes(gpu, workload, true), {}, "the second run finds them cached");
    gen.destroy();
  } finally {
    Object.defineProperty(tuner, "path", { value: saved.path });
    mutable.summary = saved.summary;
    tuner.mode = saved.mode;
    Deno.removeSync(dir, { recursive: true });
  }
});
