/**
 * Sharded runs (--shard k/n with --partial, then sg3 merge) give the unsharded run's results: the partition
 * and `auto` parsing, feature sums merged across parts, EQ samples skipped exactly, and end to end on the
 * fixture networks FID (generator and folder, with KID), dataset statistics (--save-stats), EQ (random mode,
 * audit mode, a conditional network), IS logits and labels of a conditional generator, generate and video
 * frames; parts that do not belong together, duplicates and missing shards are refused in one line; a shard
 * stopped with Ctrl-C writes nothing and exits with 130.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { UserError } from "../errors.ts";
import { GPU_TEST } from "./gpu.ts";
import { runMain, sg3Command } from "./cli.ts";
import { fixture, fixtureTest } from "./fixtures.ts";
import { parseShard, shardRange } from "../metrics/shard.ts";
import { FeatureStats } from "../metrics/feature_stats.ts";
import { RandomSamples } from "../metrics/equivariance.ts";
import { readStats } from "../metrics/fid.ts";
import { readPartial } from "../metrics/partial.ts";
import * as fid from "../cli/fid.ts";
import * as eq from "../cli/eq_metrics.ts";
import * as video from "../cli/video.ts";

Deno.test("shards: contiguous blocks that cover the run once; k/n and auto from the environment", () => {
  for (const total of [0, 1, 7, 50000]) {
    for (const n of [1, 3, 8]) {
      let next = 0;
      for (let k = 0; k < n; k++) {
        const [a, b] = shardRange(total, { index: k, count: n });
        assert.equal(a, next);
        next = b;
      }
      assert.equal(next, total);
    }
  }
  assert.deepEqual(parseShard("2/5", {}), { index: 2, count: 5 });
  const slurm = { SLURM_ARRAY_TASK_ID: "4", SLURM_ARRAY_TASK_MIN: "1", SLURM_ARRAY_TASK_COUNT: "8" };
  assert.deepEqual(parseShard("auto", slurm), { index: 3, count: 8 });
  assert.deepEqual(parseShard("auto/4", { JOB_COMPLETION_INDEX: "3" }), { index: 3, count: 4 });
  assert.deepEqual(parseShard("auto", { SG3_SHARD: "1/2", SLURM_ARRAY_TASK_ID: "0" }), {
    index: 1,
    count: 2,
  });
  for (
    const [text, env, pattern] of [
      ["3/3", {}, /expected 0 <= k < n/],
      ["1-3", {}, /expected k\/n/],
      ["auto", {}, /none of SG3_SHARD/],
      ["auto", { JOB_COMPLETION_INDEX: "1" }, /auto\/n/],
      ["auto/4", slurm, /environment says 8/],
    ] as const
  ) {
    assert.throws(
      () => parseShard(text, env),
      (e: Error) => e instanceof UserError && pattern.test(e.message),
    );
  }
  // --shard auto in a plan reads the scheduler's variables.
  Deno.env.set("SLURM_ARRAY_TASK_ID", "2");
  Deno.env.set("SLURM_ARRAY_TASK_COUNT", "3");
  try {
    const p = eq.plan(["--cfg", "stylegan3-t", "--shard", "auto", "--partial", "p.npz"]);
    assert.deepEqual(p.sharding, { shard: { index: 2, count: 3 }, partial: "p.npz" });
  } finally {
    Deno.env.delete("SLURM_ARRAY_TASK_ID");
    Deno.env.delete("SLURM_ARRAY_TASK_COUNT");
  }
});

Deno.test("shard plans: --shard needs --partial; gates and whole-run outputs go to merge; video frames only", () => {
  const refused = (plan: (a: string[]) => unknown, args: string[], pattern: RegExp) =>
    assert.throws(
      () => plan(args),
      (e: Error) => e instanceof UserError && pattern.test(e.message),
      args.join(" "),
    );
  refused(eq.plan, ["--cfg", "stylegan3-t", "--shard", "0/2"], /--shard needs --partial/);
  refused(
    eq.plan,
    ["--cfg", "stylegan3-t", "--shard", "0/2", "--partial", "p.npz", "--min", "eqt=3"],
    /--min/,
  );
  refused(fid.plan, ["--data", "a", "--data", "b", "--partial", "p.npz", "--max", "3"], /--max applies/);
  refused(fid.plan, ["--data", "a", "--partial", "p.txt"], /\.npz/);
  refused(video.plan, ["--output", "a.mp4", "--seeds", "0", "--shard", "0/2"], /--frames-dir/);
  assert.equal(fid.plan(["--data", "a", "--shard", "1/2", "--partial", "p.npz"]).sharding?.shard.index, 1);
});

Deno.test("feature sums of parts merged in order equal the whole's statistics", () => {
  const d = 16, n = 40;
  let s = 1;
  const rand = () => (s = (s * 16807) % 2147483647) / 2147483647;
  const x = Float64Array.from({ length: n * d }, () => 3 + rand());
  const whole = new FeatureStats(d);
  whole.add(x, n);
  const merged = new FeatureStats(d);
  for (const [a, b] of [[0, 13], [13, 14], [14, 40]]) {
    const part = new FeatureStats(d);
    part.add(x.subarray(a * d, b * d), b - a);
    merged.merge(part.sums());
  }
  const [w, m] = [whole.stats("unbiased"), merged.stats("unbiased")];
  assert.equal(m.count, n);
  for (let i = 0; i < d * d; i++) assert.ok(Math.abs(w.sigma[i] - m.sigma[i]) <= 1e-14, `sigma[${i}]`);
  for (let i = 0; i < d; i++) assert.ok(Math.abs(w.mu[i] - m.mu[i]) <= 1e-14, `mu[${i}]`);
});

Deno.test("EQ samples: skipping s samples gives the whole stream's samples from s on", () => {
  const opts = { seed: 5, metrics: ["eqt50k_int", "eqr50k"] as const, zDim: 8, cDim: 3, resolution: 16 };
  const whole = new RandomSamples(opts);
  const all = Array.from({ length: 11 }, () => whole.next());
  for (const start of [1, 4, 6]) {
    const part = new RandomSamples(opts);
    part.skip(start);
    assert.deepEqual(part.next(), all[start]);
  }
});

const TINY_T = () => fixture("sg3", "tiny-t.pkl");

/** Runs sg3 in this process, asserting `code`; returns stdout. */
async function ok(args: string[], code = 0): Promise<string> {
  const r = await runMain(args);
  assert.equal(r.code, code, `${args.join(" ")}: ${r.err.join("\n")}`);
  return r.out;
}

/** Runs the shards of `args` (k/n for k < n) writing dir/part-k.npz; returns the part paths. */
async function shards(dir: string, args: string[], n: number): Promise<string[]> {
  const parts = [];
  for (let k = 0; k < n; k++) {
    const part = join(dir, `part-${k}.npz`);
    await ok([...args, "--shard", `${k}/${n}`, "--partial", part, "--quiet"]);
    parts.push(part);
  }
  return parts;
}

fixtureTest(
  "EQ in 3 shards merges to the single run; repeatable parts; bad part sets refused",
  "sg3",
  async () => {
    const dir = Deno.makeTempDirSync();
    const args = ["eq-metrics", "--network", TINY_T(), "--num", "7", "--seed", "3"];
    const single = JSON.parse(await ok([...args, "--json", "--quiet"]));
    const parts = await shards(dir, args, 3);
    const merged = JSON.parse(await ok(["merge", ...parts, "--json"]));
    for (const [i, r] of single.results.entries()) {
      const m = merged.results[i];
      console.log(`${r.metric}: single ${r.value} dB, merged ${m.value} dB`);
      assert.equal(m.metric, r.metric);
      assert.equal(m.num_samples, r.num_samples);
      assert.ok(Math.abs(m.value - r.value) <= 1e-9, `${m.value} vs ${r.value}`);
    }
    // The gate works on the merged result.
    await ok(["merge", ...parts, "--min", `eqt=${single.results[0].value + 1}`, "--quiet"], 1);
    // A shard run again writes the same file.
    const again = join(dir, "again.npz");
    await ok([...args, "--shard", "1/3", "--partial", again, "--quiet"]);
    assert.deepEqual(Deno.readFileSync(again), Deno.readFileSync(parts[1]));
    // Missing, duplicated and mismatched parts: one line, exit 2.
    const other = join(dir, "other.npz");
    await ok([...args.slice(0, -1), "4", "--shard", "2/3", "--partial", other, "--quiet"]);
    for (
      const [set, pattern] of [
        [[parts[0], parts[1]], /missing shard 2\/3/],
        [[...parts, again], /shard 1\/3 given twice/],
        [[parts[0], parts[1], other], /other\.npz: not from the same run as .*part-0\.npz: samples differs/],
        [[fixture("inception/fid/d64_n500_set1_stats_pytorchfid.npz")], /not an sg3 partial result/],
      ] as const
    ) {
      const r = await runMain(["merge", ...set]);
      assert.equal(r.code, 2, r.err.join("\n"));
      assert.equal(r.err.length, 1, r.err.join("\n"));
      assert.match(r.err[0], pattern);
    }
    Deno.removeSync(dir, { recursive: true });
  },
  GPU_TEST,
);

fixtureTest(
  "FID and KID of a generator vs a folder in 2 shards equal the single run",
  "inception",
  async () => {
    const dir = Deno.makeTempDirSync();
    const real = join(dir, "real");
    Deno.mkdirSync(real);
    for (const i of [0, 1, 2]) {
      Deno.copyFileSync(fixture(`inception/images/img${i}_299.png`), join(real, `img${i}.png`));
    }
    const args = [
      "fid",
      ...[
        "--network",
        TINY_T(),
        "--num",
        "3",
        "--data",
        real,
        "--detector",
        "test-prng",
        "--kid",
        "--no-cache",
      ],
    ];
    const single = JSON.parse(await ok([...args, "--json", "--quiet"]));
    const parts = await shards(dir, args, 2);
    const merged = JSON.parse(await ok(["merge", ...parts, "--json", "--quiet"]));
    console.log(`single ${JSON.stringify(single)}, merged ${JSON.stringify(merged)}`);
    assert.ok(Math.abs(merged.fid - single.fid) <= 1e-9 * single.fid, `FID ${merged.fid} vs ${single.fid}`);
    assert.ok(
      Math.abs(merged.kid - single.kid) <= 1e-9 * Math.abs(single.kid),
      `KID ${merged.kid} vs ${single.kid}`,
    );
    await ok(["merge", ...parts, "--max", String(single.fid / 2), "--quiet"], 1);
    Deno.removeSync(dir, { recursive: true });
  },
  GPU_TEST,
);

fixtureTest(
  "dataset statistics in 2 shards: merge --save-stats equals fid --save-stats",
  "inception",
  async () => {
    const dir = Deno.makeTempDirSync();
    const real = join(dir, "real");
    Deno.mkdirSync(real);
    for (const i of [0, 1, 3]) {
      Deno.copyFileSync(fixture(`inception/images/img${i}_299.png`), join(real, `img${i}.png`));
    }
    const args = ["fid", "--data", real, "--detector", "test-prng", "--preset", "pytorch-fid", "--no-cache"];
    await ok([...args, "--save-stats", join(dir, "single.npz"), "--quiet"]);
    const parts = await shards(dir, args, 2);
    await ok(["merge", ...parts, "--save-stats", join(dir, "merged.npz"), "--quiet"]);
    const [a, b] = [readStats(join(dir, "single.npz")), readStats(join(dir, "merged.npz"))];
    assert.equal(b.count, 3);
    let err = 0, scale = 0;
    for (let i = 0; i < a.sigma.length; i++) {
      err = Math.max(err, Math.abs(a.sigma[i] - b.sigma[i]));
      scale = Math.max(scale, Math.abs(a.sigma[i]));
    }
    for (let i = 0; i < a.mu.length; i++) err = Math.max(err, Math.abs(a.mu[i] - b.mu[i]));
    console.log(`largest difference ${err.toExponential(2)} (largest sigma entry ${scale.toExponential(2)})`);
    assert.ok(err <= 1e-12 * scale, `${err}`);
    const r = await runMain(["merge", ...parts]);
    assert.equal(r.code, 2);
    assert.match(r.err[0], /--save-stats/);
    Deno.removeSync(dir, { recursive: true });
  },
  GPU_TEST,
);

fixtureTest("generate --shard writes the single run's images, under the same names", "sg3", async () => {
  const dir = Deno.makeTempDirSync();
  const args = ["generate", "--network", TINY_T(), "--seeds", "3-7", "--batch", "2", "--quiet"];
  await ok([...args, "--outdir", join(dir, "single")]);
  for (const k of [0, 1]) await ok([...args, "--outdir", join(dir, "sharded"), "--shard", `${k}/2`]);
  const names = (d: string) => [...Deno.readDirSync(join(dir, d))].map((e) => e.name).sort();
  assert.deepEqual(names("sharded"), names("single"));
  for (const f of names("single")) {
    assert.deepEqual(
      Deno.readFileSync(join(dir, "sharded", f)),
      Deno.readFileSync(join(dir, "single", f)),
      f,
    );
  }
  Deno.removeSync(dir, { recursive: true });
}, GPU_TEST);

/** A random StyleGAN3-T small enough for runs of a few seconds on a software adapter. */
const TINY_RANDOM = ["--cfg", "stylegan3-t", "--res", "16", "--cbase", "256", "--cmax", "16"];

/** Writes `names` (fixture images) into dir/sub, with dataset.json labels when `labels` is given. */
function folder(dir: string, sub: string, names: string[], labels?: number[]): string {
  const path = join(dir, sub);
  Deno.mkdirSync(path);
  names.forEach((n, i) => Deno.copyFileSync(fixture(`inception/images/${n}`), join(path, `img${i}.png`)));
  if (labels) {
    const rows = labels.map((c, i) => [`img${i}.png`, c]);
    Deno.writeTextFileSync(join(path, "dataset.json"), JSON.stringify({ labels: rows }));
  }
  return path;
}

fixtureTest(
  "IS logits and labels of a conditional generator in 3 shards are the whole run's; FID and IS merge equal",
  "inception",
  async () => {
    // tiny-t-cond (c_dim 5) draws each image's label from the dataset's labels; 10 images for the Inception
    // Score's 10 splits (one image each, so IS is 1 by its definition: the logits carry the test); the 2
    // dataset items leave shard 0/3 with none. The whole run is shard 0/1, whose part holds its logits.
    const dir = Deno.makeTempDirSync();
    const real = folder(dir, "real", ["img0_299.png", "img1_299.png"], [1, 4]);
    const args = [
      "fid",
      ...["--network", fixture("sg3", "tiny-t-cond.pkl"), "--num", "10", "--data", real],
      ...["--detector", "test-prng", "--is", "--no-cache"],
    ];
    Deno.mkdirSync(join(dir, "whole"));
    const [whole] = await shards(join(dir, "whole"), args, 1);
    const parts = await shards(dir, args, 3);
    const logits = (path: string) => readPartial(path).arrays.get("s0_logits")!.data as Float32Array;
    const joined = parts.map(logits);
    assert.deepEqual(joined.map((l) => l.length / 1008), [3, 3, 4]);
    assert.deepEqual(new Float32Array(joined.flatMap((l) => [...l])), logits(whole));
    const single = JSON.parse(await ok(["merge", whole, "--json", "--quiet"]));
    const merged = JSON.parse(await ok(["merge", ...parts, "--json", "--quiet"]));
    console.log(`whole ${JSON.stringify(single)}, merged ${JSON.stringify(merged)}`);
    assert.equal(merged.is_mean, single.is_mean);
    assert.equal(merged.is_std, single.is_std);
    assert.ok(Math.abs(merged.fid - single.fid) <= 1e-9 * single.fid, `FID ${merged.fid} vs ${single.fid}`);
    Deno.removeSync(dir, { recursive: true });
  },
  GPU_TEST,
);

fixtureTest(
  "EQ audit (--transforms) in 3 shards merges to the single run (tiny-t, tiny-t-cond)",
  "sg3",
  async () => {
    for (const net of ["tiny-t", "tiny-t-cond"]) {
      const dir = Deno.makeTempDirSync();
      const args = [
        "eq-metrics",
        ...[
          "--network",
          fixture("sg3", `${net}.pkl`),
          "--transforms",
          fixture("sg3", net, "eq", "transforms.json"),
        ],
      ];
      const single = JSON.parse(await ok([...args, "--json", "--quiet"]));
      const parts = await shards(dir, args, 3);
      const merged = JSON.parse(await ok(["merge", ...parts, "--json"]));
      assert.equal(merged.num_samples, single.num_samples);
      for (const [i, r] of single.results.entries()) {
        const m = merged.results[i];
        console.log(`${net} ${r.metric}: single ${r.value} dB, merged ${m.value} dB`);
        assert.deepEqual([m.metric, m.num_samples], [r.metric, r.num_samples]);
        assert.ok(Math.abs(m.value - r.value) <= 1e-9, `${m.value} vs ${r.value}`);
      }
      Deno.removeSync(dir, { recursive: true });
    }
  },
  GPU_TEST,
);

fixtureTest("EQ of a conditional network in 2 shards: each sample keeps its drawn class", "sg3", async () => {
  const dir = Deno.makeTempDirSync();
  const args = ["eq-metrics", "--network", fixture("sg3", "tiny-t-cond.pkl"), "--num", "5", "--seed", "2"];
  const single = JSON.parse(await ok([...args, "--json", "--quiet"]));
  const merged = JSON.parse(await ok(["merge", ...await shards(dir, args, 2), "--json"]));
  for (const [i, r] of single.results.entries()) {
    console.log(`${r.metric}: single ${r.value} dB, merged ${merged.results[i].value} dB`);
    assert.ok(
      Math.abs(merged.results[i].value - r.value) <= 1e-9,
      `${merged.results[i].value} vs ${r.value}`,
    );
  }
  Deno.removeSync(dir, { recursive: true });
}, GPU_TEST);

Deno.test(
  "video --shard --frames-dir writes the single run's frames, same names and bytes",
  GPU_TEST,
  async () => {
    const dir = Deno.makeTempDirSync();
    const names = (d: string) => [...Deno.readDirSync(join(dir, d))].map((e) => e.name).sort();
    for (
      const [mode, extra] of [
        ["interpolation, 2x1 grid", ["--seeds", "0-3", "--grid", "2x1", "--w-frames", "3", "--batch", "4"]],
        ["z space", ["--seeds", "5,6", "--w-frames", "3", "--space", "z", "--batch", "2"]],
        ["circular", ["--seeds", "1", "--circular", "--duration-sec", "0.1"]],
        ["motion", ["--seeds", "2", "--motion", "rotate", "--duration-sec", "0.1", "--batch", "4"]],
      ] as const
    ) {
      const args = ["video", ...TINY_RANDOM, ...extra, "--quiet"];
      const single = `${mode} single`, sharded = `${mode} sharded`;
      await ok([...args, "--frames-dir", join(dir, single)]);
      for (const k of [0, 1, 2]) await ok([...args, "--frames-dir", join(dir, sharded), "--shard", `${k}/3`]);
      assert.ok(names(single).length >= 3, `${mode}: ${names(single).length} frames`);
      assert.deepEqual(names(sharded), names(single), mode);
      for (const f of names(single)) {
        assert.deepEqual(
          Deno.readFileSync(join(dir, sharded, f)),
          Deno.readFileSync(join(dir, single, f)),
          `${mode}: ${f}`,
        );
      }
    }
    Deno.removeSync(dir, { recursive: true });
  },
);

/**
 * Starts `sg3 args` in a subprocess, sends SIGINT once stderr holds `ready` (after `delay` ms), and returns
 * the exit code, stdout and stderr.
 */
async function interrupt(args: string[], ready: string, delay: number) {
  const child = sg3Command(args).spawn();
  const decoder = new TextDecoder();
  const reader = child.stderr.getReader();
  let err = "";
  while (!err.includes(ready)) {
    const { value, done } = await reader.read();
    if (done) break;
    err += decoder.decode(value);
  }
  await new Promise((r) => setTimeout(r, delay));
  child.kill("SIGINT");
  const stdout = new Response(child.stdout).text();
  for (let r = await reader.read(); !r.done; r = await reader.read()) err += decoder.decode(r.value);
  return { code: (await child.status).code, out: await stdout, err };
}

Deno.test("a shard interrupted with Ctrl-C writes no partial file and exits with 130", GPU_TEST, async () => {
  if (Deno.build.os === "windows") return;
  const dir = Deno.makeTempDirSync();
  const partial = join(dir, "part-1.npz");
  const shard = ["--shard", "1/2", "--partial", partial];
  // eq-metrics finishes the batch in flight, prints what it has and stops; nothing is written.
  const eqRun = await interrupt(
    ["eq-metrics", ...TINY_RANDOM, "--num", "100000", "--batch", "1", "--json", ...shard],
    "network:",
    300,
  );
  assert.equal(eqRun.code, 130, eqRun.err);
  assert.match(eqRun.err, /interrupted: finishing the current batch/);
  assert.equal(JSON.parse(eqRun.out).interrupted, true);
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [], "no partial, no temporary file");
  // fid, whichever step it is in (loading, generating, Inception).
  const fidRun = await interrupt(
    ["fid", ...TINY_RANDOM, "--num", "100000", "--detector", "test-prng", ...shard],
    "",
    1500,
  );
  assert.equal(fidRun.code, 130, fidRun.err);
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [], "no partial, no temporary file");
  Deno.removeSync(dir, { recursive: true });
});
