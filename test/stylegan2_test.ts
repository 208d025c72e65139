/**
 * StyleGAN2 networks: the official tiny-sg2 snapshot against its golden ws, float and uint8 images (through
 * the library and `sg3 generate`), random-initialised skip / resnet / orig networks (conditional, with noise)
 * against the float64 reference of test/ref/stylegan2.ts, and the noise modes.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fixture, fixtureTest } from "./fixtures.ts";
import { GPU_TEST, testGpu } from "./gpu.ts";
import { sg3 } from "./cli.ts";
import { assertClose, assertU8Close } from "./reference.ts";
import { mappingRef, synthesisRef } from "./ref/stylegan2.ts";
import { decodePng } from "../formats/png.ts";
import { readNpy } from "../formats/npy.ts";
import { loadNetwork } from "../formats/snapshot.ts";
import { readTensor } from "../gpu/readback.ts";
import { Generator, type NoiseMode } from "../models/generator.ts";
import { randomStyleGAN2 } from "../models/random_init_sg2.ts";
import { RandomState, zFromSeed } from "../models/latents.ts";

const SEEDS_PSI = [[0, 1], [0, 0.7], [1, 1], [1, 0.7]] as const;

fixtureTest(
  "tiny-sg2: ws and float images of seeds 0, 1 at psi 1 and 0.7 (and the float64 reference)",
  "sg3",
  async () => {
    const gpu = await testGpu();
    const net = await loadNetwork(fixture("sg3", "tiny-sg2.pkl"));
    const gen = Generator.create(gpu, net);
    assert.equal(gen.hasInputTransform, false);
    for (const [seed, psi] of SEEDS_PSI) {
      const npy = (kind: string) =>
        readNpy(fixture("sg3", "tiny-sg2", `${kind}-seed${seed}-psi${psi}.npy`)).data;
      const ws = gen.mapping(zFromSeed(seed, gen.zDim), 1, { psi });
      assertClose(
        await readTensor(gpu, ws),
        npy("ws") as Float32Array,
        { abs: 1e-5 },
        `ws seed ${seed} psi ${psi}`,
      );
      const img = gen.synthesis(ws, { noiseMode: "const" });
      assertClose(
        await readTensor(gpu, img),
        npy("img") as Float32Array,
        { abs: 1e-4 },
        `img seed ${seed} psi ${psi}`,
      );
      // The float64 reference reproduces the official images too, so it can judge configurations without fixtures.
      const ref = synthesisRef(net, npy("ws") as Float32Array, 1, "const");
      assertClose(ref, npy("img") as Float32Array, { abs: 1e-4 }, `reference seed ${seed} psi ${psi}`);
      ws.destroy();
      img.destroy();
    }
    gen.destroy();
  },
  GPU_TEST,
);

fixtureTest(
  "sg3 generate on tiny-sg2 writes gen_images.py's PNGs; --translate is refused",
  "sg3",
  async () => {
    const dir = Deno.makeTempDirSync();
    try {
      const pkl = fixture("sg3", "tiny-sg2.pkl");
      for (const psi of [1, 0.7]) {
        const out = join(dir, `psi${psi}`);
        const r = await sg3(
          "generate",
          "--network",
          pkl,
          "--seeds",
          "0-1",
          "--trunc",
          String(psi),
          "--outdir",
          out,
          "--quiet",
        );
        assert.equal(r.code, 0, r.stderr);
        for (const seed of [0, 1]) {
          const png = join(out, `seed000${seed}.png`);
          const want = readNpy(fixture("sg3", "tiny-sg2", `u8-seed${seed}-psi${psi}.npy`)).data as Uint8Array;
          assertU8Close(decodePng(Deno.readFileSync(png)).data, want, png);
        }
      }
      const bad = await sg3(
        "generate",
        "--network",
        pkl,
        "--seeds",
        "0",
        "--translate",
        "0.1,0",
        "--outdir",
        dir,
      );
      assert.equal(bad.code, 2);
      assert.equal(bad.stderr.trim().split("\n").length, 1, bad.stderr);
      assert.match(bad.stderr, /StyleGAN2 networks have none/);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
  GPU_TEST,
);

/** A tiny random StyleGAN2 with labels and non-zero noise strengths (random init has them at 0). */
function tinyNetwork(architecture: "skip" | "resnet" | "orig") {
  const net = randomStyleGAN2({
    res: 16,
    cbase: 128,
    cmax: 8,
    zDim: 12,
    wDim: 10,
    cDim: 3,
    mappingLayers: 2,
    architecture,
    seed: 7,
  });
  let i = 0;
  for (const [name, t] of net.tensors) {
    if (name.endsWith("noise_strength")) t.data[0] = 0.3 * (++i % 2 ? 1 : -1);
    if (name.endsWith(".bias") && name.startsWith("synthesis")) {
      t.data.forEach((_, k) => t.data[k] = 0.05 * ((k % 3) - 1));
    }
  }
  return net;
}

for (const architecture of ["skip", "resnet", "orig"] as const) {
  Deno.test({
    name: `random StyleGAN2 (${architecture}, conditional, noise) matches the float64 reference`,
    ...GPU_TEST,
  }, async () => {
    const gpu = await testGpu();
    const net = tinyNetwork(architecture);
    const gen = Generator.create(gpu, net);
    const n = 2;
    const z = new RandomState(3).randn(n * gen.zDim);
    const c = new Float32Array([0, 1, 0, 0, 0, 1]);
    const ws = gen.mapping(z, n, { c });
    const wsRef = mappingRef(net, z, n, c);
    assertClose(await readTensor(gpu, ws), wsRef, { abs: 1e-5 }, "ws");
    for (const mode of ["const", "none"] as const) {
      const img = gen.synthesis(ws, { noiseMode: mode });
      assert.deepEqual(img.shape, [n, 3, 16, 16]);
      assertClose(
        await readTensor(gpu, img),
        synthesisRef(net, wsRef, n, mode),
        { abs: 1e-4 },
        `${architecture} ${mode}`,
      );
      img.destroy();
    }
    ws.destroy();
    gen.destroy();
  });
}

Deno.test({
  name: "StyleGAN2 noise modes: none and const differ; random follows each image's seed",
  ...GPU_TEST,
}, async () => {
  const gpu = await testGpu();
  const gen = Generator.create(gpu, tinyNetwork("skip"));
  const c = new Float32Array([1, 0, 0, 0, 1, 0]);
  const render = async (seeds: number[], mode: NoiseMode) => {
    const z = new Float64Array(seeds.length * gen.zDim);
    seeds.forEach((s, i) => z.set(zFromSeed(s, gen.zDim), i * gen.zDim));
    const ws = gen.mapping(z, seeds.length, { c: c.subarray(0, seeds.length * 3) });
    const img = gen.synthesis(ws, { noiseMode: mode, noiseSeeds: seeds });
    const data = await readTensor(gpu, img);
    ws.destroy();
    img.destroy();
    return data;
  };
  const per = 3 * 16 * 16;
  const pair = await render([5, 6], "random");
  const alone = await render([6], "random");
  // Seed 6 got class 1 in the pair and class 0 alone: compare seed 5 (class 0 in both).
  const first = await render([5], "random");
  assert.deepEqual(pair.subarray(0, per), first, "random noise does not depend on the batch");
  assert.notDeepEqual(pair.subarray(per), alone, "a different class changes the image");
  const [none, konst, again] = [
    await render([5], "none"),
    await render([5], "const"),
    await render([5], "random"),
  ];
  assert.deepEqual(again, first, "random noise is reproducible");
  const maxDiff = (a: Float32Array, b: Float32Array) =>
    a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
  assert.ok(maxDiff(none, konst) > 1e-3 && maxDiff(konst, first) > 1e-3 && maxDiff(none, first) > 1e-3);
  gen.destroy();
});

fixtureTest(
  "sg3 video and sg3 fid --network run tiny-sg2 end to end; --motion is refused",
  "sg3",
  async () => {
    const dir = Deno.makeTempDirSync();
    try {
      const pkl = fixture("sg3", "tiny-sg2.pkl");
      const mp4 = join(dir, "lerp.mp4");
      const video = await sg3(
        "video",
        "--network",
        pkl,
        "--seeds",
        "0-3",
        "--grid",
        "2x1",
        "--w-frames",
        "3",
        "--output",
        mp4,
        "--quiet",
      );
      assert.equal(video.code, 0, video.stderr);
      assert.ok(Deno.statSync(mp4).size > 1000);
      const motion = await sg3(
        "video",
        "--network",
        pkl,
        "--seeds",
        "0",
        "--motion",
        "rotate",
        "--output",
        mp4,
      );
      assert.equal(motion.code, 2);
      assert.match(motion.stderr, /StyleGAN2 networks have none/);
      const imgs = join(dir, "imgs");
      assert.equal(
        (await sg3("generate", "--network", pkl, "--seeds", "3-4", "--outdir", imgs, "--quiet")).code,
        0,
      );
      const fid = await sg3(
        "fid",
        "--network",
        pkl,
        "--data",
        imgs,
        "--num",
        "2",
        "--detector",
        "test-prng",
        "--json",
        "--quiet",
        "--no-cache",
      );
      assert.equal(fid.code, 0, fid.stderr);
      const value = JSON.parse(fid.stdout.trim().split("\n").pop()!).fid;
      assert.ok(Number.isFinite(value) && value > 0, fid.stdout);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
  GPU_TEST,
);

fixtureTest("tiny-sg2 with fp16 blocks follows float32 (values, not zeros)", "sg3", async () => {
  const gpu = await testGpu();
  if (!gpu.f16) return;
  const gen = Generator.create(gpu, await loadNetwork(fixture("sg3", "tiny-sg2.pkl")), { fp16: true });
  const img = await readTensor(gpu, gen.synthesis(gen.mapping(zFromSeed(0, gen.zDim), 1)));
  assert.ok(img.some((v) => v !== 0), "fp16 image is all zeros");
  const want = readNpy(fixture("sg3", "tiny-sg2", "img-seed0-psi1.npy")).data as Float32Array;
  let maxAbs = 0, err = 0, ref = 0;
  img.forEach((v, i) => {
    maxAbs = Math.max(maxAbs, Math.abs(v - want[i]));
    err += (v - want[i]) ** 2;
    ref += want[i] ** 2;
  });
  const relL2 = Math.sqrt(err / ref);
  console.log(
    `tiny-sg2 fp16 vs official float32: max abs ${maxAbs.toExponential(2)}, rel L2 ${relL2.toExponential(2)}`,
  );
  assert.ok(maxAbs > 0 && maxAbs < 0.05 && relL2 < 0.01, `max abs ${maxAbs}, rel L2 ${relL2}`);
  gen.destroy();
}, GPU_TEST);
