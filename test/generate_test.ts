/**
 * `sg3 generate` end to end against images made by the official gen_images.py path (fixtures): uint8 PNGs
 * for seeds, truncation, conditional classes, given ws, and the float output under a user transform; bad
 * input ends in one line, exit code 2 and no image.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { existsSync } from "node:fs";
import { fixture, fixtureTest } from "./fixtures.ts";
import { GPU_TEST, testGpu } from "./gpu.ts";
import { sg3 } from "./cli.ts";
import { assertClose, assertU8Close } from "./reference.ts";
import { decodePng } from "../formats/png.ts";
import { formatNpz, readNpy } from "../formats/npy.ts";
import { loadNetwork } from "../formats/snapshot.ts";
import { Generator } from "../models/generator.ts";
import { generateImages } from "../models/generate.ts";

/** Compares a written PNG with the fixture's uint8 image by the manifest's u8 rule. */
function assertU8(png: string, expectedNpy: string): void {
  assertU8Close(decodePng(Deno.readFileSync(png)).data, readNpy(expectedNpy).data as Uint8Array, png);
}

function outdir(): string {
  return Deno.makeTempDirSync({ prefix: "sg3-generate-" });
}

/** Runs `sg3 generate --network <fixture net> ARGS --outdir DIR --quiet` and asserts that it succeeds. */
async function generate(dir: string, net: string, ...args: string[]): Promise<void> {
  const r = await sg3("generate", "--network", fixture("sg3", net), ...args, "--outdir", dir, "--quiet");
  assert.equal(r.code, 0, r.stderr);
}

fixtureTest(
  "generate: seeds and truncation reproduce gen_images.py's PNGs (tiny-t, batch 2)",
  "sg3",
  async () => {
    const dir = outdir();
    await generate(dir, "tiny-t.pkl", "--seeds", "0,42", "--trunc", "0.7", "--batch", "2");
    assertU8(join(dir, "seed0000.png"), fixture("sg3", "tiny-t", "u8-seed0-psi0.7.npy"));
    assertU8(join(dir, "seed0042.png"), fixture("sg3", "tiny-t", "u8-seed42-psi0.7.npy"));
  },
  GPU_TEST,
);

fixtureTest(
  "generate: conditional network with --class (tiny-t-cond) and config R (tiny-r)",
  "sg3",
  async () => {
    const dir = outdir();
    // The fixtures label seed s with class s % c_dim.
    await generate(dir, "tiny-t-cond.pkl", "--seeds", "1", "--class", "1");
    assertU8(join(dir, "seed0001.png"), fixture("sg3", "tiny-t-cond", "u8-seed1-psi1.npy"));
    const dirR = outdir();
    await generate(dirR, "tiny-r.pkl", "--seeds", "1000");
    assertU8(join(dirR, "seed1000.png"), fixture("sg3", "tiny-r", "u8-seed1000-psi1.npy"));
  },
  GPU_TEST,
);

fixtureTest("generate: --projected-w renders given ws (projNN.png)", "sg3", async () => {
  const dir = outdir();
  const ws = readNpy(fixture("sg3", "tiny-t", "ws-seed0-psi1.npy"));
  const npz = join(dir, "projected_w.npz");
  Deno.writeFileSync(npz, formatNpz({ w: ws }));
  await generate(dir, "tiny-t.pkl", "--projected-w", npz);
  assertU8(join(dir, "proj00.png"), fixture("sg3", "tiny-t", "u8-seed0-psi1.npy"));
}, GPU_TEST);

fixtureTest(
  "generateImages: --translate/--rotate set the inverse transform as gen_images.py",
  "sg3",
  async () => {
    const gpu = await testGpu();
    const gen = Generator.create(gpu, await loadNetwork(fixture("sg3", "tiny-t.pkl")));
    for (
      const [translate, rotate, file] of [
        [[0.3, 0.1], 10, "img-seed0-psi1-t0.3_0.1-r10.npy"],
        [[-0.125, 0.25], 0, "img-seed0-psi1-t-0.125_0.25-r0.npy"],
      ] as const
    ) {
      const images = [];
      for await (
        const img of generateImages(gpu, gen, { seeds: [0], translate: [...translate], rotate })
      ) images.push(img);
      const want = readNpy(fixture("sg3", "tiny-t", file)).data as Float32Array;
      // The manifest's "img" tolerance: abs 1e-4.
      assertClose(images[0].float, want, { abs: 1e-4 }, file);
    }
    gen.destroy();
  },
  GPU_TEST,
);

Deno.test({ name: "generate: bad input gives one line, exit code 2 and no image", ...GPU_TEST }, async () => {
  const dir = outdir();
  const net = fixture("sg3", "tiny-t.pkl");
  const cond = fixture("sg3", "tiny-t-cond.pkl");
  const garbage = join(dir, "garbage.pkl");
  Deno.writeFileSync(garbage, new Uint8Array([0x80, 4, 0x95, 1, 2, 3]));
  const cases: [string[], RegExp][] = [
    [["--seeds", "0"], /--outdir/],
    [["--outdir", dir], /--seeds/],
    [["--network", join(dir, "missing.pkl"), "--seeds", "0", "--outdir", dir], /missing\.pkl/],
    [["--network", garbage, "--seeds", "0", "--outdir", dir], /garbage\.pkl/],
    [["--network", net, "--seeds", "3-1", "--outdir", dir], /--seeds/],
    [["--network", net, "--seeds", "0", "--translate", "1", "--outdir", dir], /--translate/],
    [["--network", net, "--seeds", "0", "--trunc", "x", "--outdir", dir], /--trunc/],
    [
      ["--network", net, "--cfg", "stylegan3-t", "--seeds", "0", "--outdir", dir],
      /either --network or --cfg/,
    ],
    [
      ["--network", net, "--res", "256", "--seeds", "0", "--outdir", dir],
      /--res applies to random-initialised/,
    ],
    [["--which", "G", "--seeds", "0", "--outdir", dir], /--which needs --network/],
  ];
  if (existsSync(cond)) cases.push([["--network", cond, "--seeds", "0", "--outdir", dir], /--class/]);
  for (const [args, pattern] of cases) {
    const r = await sg3("generate", ...args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    const lines = r.stderr.trim().split("\n").filter((l) => !l.startsWith("network:"));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], pattern);
  }
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".png")), []);
});
