import assert from "node:assert/strict";
import { join } from "node:path";
import { zipSync } from "fflate";
import { encode as encodeJpeg } from "jpeg-js";
import { GPU_TEST } from "./gpu.ts";
import { sg3 } from "./cli.ts";
import { fixture, fixtureTest, manifest } from "./fixtures.ts";
import { Dataset } from "../formats/dataset.ts";
import { encodePng } from "../formats/png.ts";

const STATS1 = () => fixture("inception/fid/d64_n500_set1_stats_pytorchfid.npz");
const STATS2 = () => fixture("inception/fid/d64_n500_set2_stats_uncompressed.npz");

function png(w: number, h: number, c: number, seed: number): Uint8Array {
  const data = Uint8Array.from({ length: w * h * c }, (_, i) => (i * 7 + seed * 13) % 256);
  return encodePng({ width: w, height: h, channels: c, data });
}

fixtureTest("sg3 fid --stats a --stats b prints the reference FID; gate and jsonl", "inception", async () => {
  const want = manifest("inception").fid_reference.d64_n500.fid_scipy_sqrtm_stylegan3_formula;
  const r = await sg3("fid", "--stats", STATS1(), "--stats", STATS2(), "--json", "--quiet");
  assert.equal(r.code, 0, r.stderr);
  const fid = JSON.parse(r.stdout).fid;
  assert.ok(Math.abs(fid - want) / want < 1e-9, `${fid} vs ${want}`);
  const dir = Deno.makeTempDirSync();
  const jsonl = join(dir, "metrics.jsonl");
  const gated = await sg3(
    "fid",
    "--stats",
    STATS1(),
    "--stats",
    STATS2(),
    "--max",
    "1.5",
    "--jsonl",
    jsonl,
    "--quiet",
  );
  assert.equal(gated.code, 1);
  assert.match(gated.stderr, /exceeds --max 1.5/);
  const line = JSON.parse(Deno.readTextFileSync(jsonl).trim());
  assert.deepEqual(Object.keys(line), [
    "results",
    "metric",
    "total_time",
    "total_time_str",
    "num_gpus",
    "snapshot_pkl",
    "timestamp",
  ]);
  assert.equal(line.metric, "fid");
  const ok = await sg3("fid", "--stats", STATS1(), "--stats", STATS2(), "--max", "2", "--quiet");
  assert.equal(ok.code, 0);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test({ name: "sg3 fid: argument errors are one line with exit code 2", ...GPU_TEST }, async () => {
  for (
    const args of [
      ["fid", "--stats", "a.npz"],
      ["fid", "--stats", "a.npz", "--stats", "b.npz", "--kid"],
      ["fid", "--stats", "a.npz", "--stats", "b.npz", "--preset", "tf2"],
      ["fid", "--stats", "a.npz", "--stats", "b.npz", "--metrics", "ppl_zfull"],
      ["fid", "--stats", "/no/such.npz", "--stats", "/no/such2.npz"],
      ["fid", "--data", "/no/such/folder", "--stats", "/no/such2.npz"],
    ]
  ) {
    const r = await sg3(...args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
});

Deno.test("datasets: folders and zips, sorted, mirrored, limited, labels; mismatched images fail", () => {
  const dir = Deno.makeTempDirSync();
  Deno.mkdirSync(join(dir, "b"));
  Deno.writeFileSync(join(dir, "b", "x.png"), png(5, 4, 3, 1));
  Deno.writeFileSync(join(dir, "a.png"), png(5, 4, 3, 2));
  Deno.writeTextFileSync(join(dir, "notes.txt"), "ignored");
  const folder = Dataset.open(dir, { mirror: true });
  assert.deepEqual(folder.files, ["a.png", "b/x.png"]);
  assert.equal(folder.count, 4);
  const a = folder.item(0), flipped = folder.item(2);
  assert.equal(flipped.data[0], a.data[4 * 3]);
  assert.equal(Dataset.open(dir, { mirror: true, maxItems: 3 }).count, 3);

  const zipPath = join(dir, "ds.zip");
  Deno.writeFileSync(
    zipPath,
    zipSync({
      "00000/img00000001.png": [png(6, 6, 1, 3), { level: 6 }],
      "00000/img00000000.png": [png(6, 6, 1, 4), { level: 0 }],
      "dataset.json": [
        new TextEncoder().encode('{"labels": [["00000/img00000000.png", 3], ["00000/img00000001.png", 1]]}'),
        {
          level: 0,
        },
      ],
    }),
  );
  const zip = Dataset.open(zipPath);
  assert.deepEqual(zip.files, ["00000/img00000000.png", "00000/img00000001.png"]);
  assert.equal(zip.channels, 1);
  assert.equal(zip.label(1), 1);
  assert.deepEqual(zip.batch(0, 2).length, 2 * 36);
  zip.close();

  // JPEG files decode to RGB.
  const jdir = Deno.makeTempDirSync();
  const rgba = new Uint8Array(8 * 6 * 4).fill(200);
  Deno.writeFileSync(join(jdir, "a.jpg"), encodeJpeg({ width: 8, height: 6, data: rgba }, 95).data);
  const jpg = Dataset.open(jdir);
  assert.deepEqual([jpg.width, jpg.height, jpg.channels], [8, 6, 3]);
  assert.ok(Math.abs(jpg.item(0).data[0] - 200) <= 1);
  Deno.removeSync(jdir, { recursive: true });

  Deno.writeFileSync(join(dir, "c.png"), png(4, 4, 3, 5));
  assert.throws(() => Dataset.open(dir).batch(0, 3), /all images must match/);
  Deno.writeFileSync(join(dir, "0.png"), png(5, 4, 4, 5));
  assert.throws(() => Dataset.open(dir), /alpha/);
  Deno.writeFileSync(join(dir, "z.webp"), new Uint8Array(4));
  assert.throws(() => Dataset.open(dir), /only PNG and JPEG/);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test(
  { name: "sg3 fid: tiny generator against a one-image folder, end to end", ...GPU_TEST },
  async () => {
    const dir = Deno.makeTempDirSync();
    Deno.writeFileSync(join(dir, "img.png"), png(24, 20, 3, 9));
    Deno.env.set("SG3_CACHE", join(dir, "cache"));
    const r = await sg3(
      "fid",
      ...["--cfg", "stylegan3-t", "--res", "16", "--cbase", "512", "--cmax", "32"],
      ...["--data", dir, "--num", "1", "--detector", "test-prng", "--json", "--quiet"],
    );
    assert.equal(r.code, 0, r.stderr);
    const fid = JSON.parse(r.stdout).fid;
    assert.ok(Number.isFinite(fid) && fid > 0, r.stdout);
    // The dataset's statistics went into the cache.
    assert.equal([...Deno.readDirSync(join(dir, "cache", "fid-stats"))].length, 1);
    Deno.removeSync(dir, { recursive: true });
  },
);
