import assert from "node:assert/strict";
import { join } from "node:path";
import { zipSync } from "fflate";
import { encode as encodeJpeg } from "jpeg-js";
import { GPU_TEST, testGpu } from "./gpu.ts";
import { runMain, sg3 } from "./cli.ts";
import { fixture, fixtureTest, manifest } from "./fixtures.ts";
import { Dataset } from "../formats/dataset.ts";
import { encodePng, toImage8 } from "../formats/png.ts";
import { type NdArray, readNpy, toFloat64 } from "../formats/npy.ts";
import { writePartial } from "../metrics/partial.ts";
import { randomF32 } from "./reference.ts";
import { readTensor } from "../gpu/readback.ts";
import { loadNetwork } from "../formats/snapshot.ts";
import { Generator } from "../models/generator.ts";
import { RandomState, zFromSeeds } from "../models/latents.ts";
import { Inception, preprocess } from "../models/inception.ts";
import { fixtureStateDict, fromPytorchFid } from "../models/inception_weights.ts";

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
  assert.equal(zip.label(1), 1);
  // Grey images are converted to RGB, as PIL's convert('RGB').
  assert.deepEqual([zip.item(0).channels, zip.item(1).data.length], [3, 36 * 3]);
  zip.close();

  // JPEG files decode to RGB.
  const jdir = Deno.makeTempDirSync();
  const rgba = new Uint8Array(8 * 6 * 4).fill(200);
  Deno.writeFileSync(join(jdir, "a.jpg"), encodeJpeg({ width: 8, height: 6, data: rgba }, 95).data);
  const jpg = Dataset.open(jdir);
  assert.deepEqual([jpg.width, jpg.height, jpg.item(0).channels], [8, 6, 3]);
  assert.ok(Math.abs(jpg.item(0).data[0] - 200) <= 1);
  Deno.removeSync(jdir, { recursive: true });

  // Folders may mix sizes and alpha (each image converted to RGB and resized on its own; see
  // fid_collections_test.ts); formats that are not read are refused.
  Deno.writeFileSync(join(dir, "c.png"), png(4, 4, 3, 5));
  Deno.writeFileSync(join(dir, "0.png"), png(5, 4, 4, 5));
  const mixed = Dataset.open(dir);
  assert.deepEqual([mixed.item(0).channels, mixed.item(3).width], [3, 4]);
  Deno.writeFileSync(join(dir, "z.gif"), new Uint8Array(4));
  assert.throws(() => Dataset.open(dir), /format is not read/);
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

/** Row i of a fixture feature file as float64. */
function featureRow(path: string, i: number): Float64Array {
  const a = readNpy(fixture(path));
  const d = a.shape[1];
  return toFloat64(a).subarray(i * d, (i + 1) * d);
}

const dot = (u: ArrayLike<number>, v: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < u.length; i++) s += u[i] * v[i];
  return s;
};
const l1 = (u: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < u.length; i++) s += Math.abs(u[i]);
  return s;
};
/** Bound on |u'.v' - u.v| when every component of u and v is off by at most eu and ev. */
const dotErr = (u: ArrayLike<number>, eu: number, v: ArrayLike<number>, ev: number) =>
  l1(u) * ev + l1(v) * eu + u.length * eu * ev;

/** A folder holding the given 299x299 fixture images (inception/images/img<i>_299.png). */
function imageFolder(root: string, name: string, images: number[]): string {
  const dir = join(root, name);
  Deno.mkdirSync(dir);
  for (const i of images) {
    Deno.copyFileSync(fixture(`inception/images/img${i}_299.png`), join(dir, `img${i}.png`));
  }
  return dir;
}

// Two folders of two 299x299 fixture images each, through the whole command (PNG decoding, the stylegan3
// preset, the fixture's PRNG detector, statistics with the 1/N covariance, the distance; KID on the GPU).
// The reference comes from the official pool3 features of those images (pipeline_nvidia_preproc_pool3_all8:
// pytorch-fid's network with NVIDIA's preprocessing) and the FID and KID formulas written out for two
// images a side: with 1/N covariances S = a a^T, a = (f1 - f2) / 2, so tr sqrt(S1 S2) = |a . b| and
// FID = |mu1 - mu2|^2 + |a|^2 + |b|^2 - 2 |a . b|; KID with m = N = 2 uses every row once:
// KID = [2 k(x1, x2) + 2 k(y1, y2) - sum_ij k(x_i, y_j)] / 2, k(x, y) = (x . y / d + 1)^3. The tolerance is
// what the features' own tolerance (abs 1e-4 per value, test/inception_test.ts) allows each term to move.
fixtureTest(
  "sg3 fid folder vs folder (stylegan3 preset): FID and KID match the formulas on the official features",
  "inception",
  async () => {
    const root = Deno.makeTempDirSync();
    const real = imageFolder(root, "real", [0, 1]), gen = imageFolder(root, "gen", [2, 3]);
    const r = await runMain([
      "fid",
      ...[
        "--data",
        real,
        "--data",
        gen,
        "--detector",
        "test-prng",
        "--kid",
        "--no-cache",
        "--json",
        "--quiet",
      ],
    ]);
    Deno.removeSync(root, { recursive: true });
    assert.equal(r.code, 0, r.err.join("\n"));
    const out = JSON.parse(r.out);
    const f = [0, 1, 2, 3].map((i) =>
      featureRow("inception/features/pipeline_nvidia_preproc_pool3_all8.npy", i)
    );
    const d = f[0].length, eps = 1e-4;
    const a = f[0].map((v, j) => (v - f[1][j]) / 2), b = f[2].map((v, j) => (v - f[3][j]) / 2);
    const dmu = f[0].map((v, j) => (v + f[1][j] - f[2][j] - f[3][j]) / 2);
    const fid = dot(dmu, dmu) + dot(a, a) + dot(b, b) - 2 * Math.abs(dot(a, b));
    // a and b are off by at most eps per value, dmu by 2 eps.
    const fidTol = dotErr(dmu, 2 * eps, dmu, 2 * eps) + dotErr(a, eps, a, eps) + dotErr(b, eps, b, eps) +
      2 * dotErr(a, eps, b, eps);
    const k = (x: Float64Array, y: Float64Array) => (dot(x, y) / d + 1) ** 3;
    // |k' - k| <= 3 (|s| + 1 + ds)^2 ds for s = x . y / d moved by at most ds.
    const kErr = (x: Float64Array, y: Float64Array) => {
      const s = dot(x, y) / d, ds = dotErr(x, eps, y, eps) / d;
      return 3 * (Math.abs(s) + 1 + ds) ** 2 * ds;
    };
    const [y1, y2, x1, x2] = f;
    const cross = [[x1, y1], [x1, y2], [x2, y1], [x2, y2]] as const;
    const kid = (2 * k(x1, x2) + 2 * k(y1, y2) - cross.reduce((s, [x, y]) => s + k(x, y), 0)) / 2;
    const kidTol = (2 * kErr(x1, x2) + 2 * kErr(y1, y2) + cross.reduce((s, [x, y]) => s + kErr(x, y), 0)) / 2;
    // The general N-image reference used for the other presets below agrees with these closed forms.
    const general = referenceFidKid([y1, y2], [x1, x2], false, eps);
    assert.ok(
      Math.abs(general.fid - fid) <= 1e-12 * fid && Math.abs(general.kid - kid) <= 1e-12 * Math.abs(kid),
    );
    console.log(
      `FID ${out.fid} vs ${fid} (diff ${Math.abs(out.fid - fid).toExponential(2)}, bound ${
        fidTol.toExponential(2)
      }); ` +
        `KID ${out.kid} vs ${kid} (diff ${Math.abs(out.kid - kid).toExponential(2)}, bound ${
          kidTol.toExponential(2)
        })`,
    );
    assert.ok(Math.abs(out.fid - fid) <= fidTol, `FID ${out.fid} vs ${fid} (bound ${fidTol})`);
    assert.ok(Math.abs(out.kid - kid) <= kidTol, `KID ${out.kid} vs ${kid} (bound ${kidTol})`);
  },
  GPU_TEST,
);

// Generator against a folder: tiny-t.pkl's first image of --seed 0 is gen_images.py's seed 0 (z is the first
// z_dim draws of RandomState(0)), whose official uint8 image the fixtures hold. sg3's own image of it is
// checked equal to the official one here, so the command must give the same FID as for a folder holding
// the official image (the only difference is the route: GPU quantisation vs a decoded PNG).
fixtureTest(
  "sg3 fid generator vs folder equals folder vs folder on the official image of the same latent",
  "sg3",
  async () => {
    const u8 = readNpy(fixture("sg3/tiny-t/u8-seed0-psi1.npy"));
    const [, h, w, c] = u8.shape;
    // sg3's generator draws this image equal to the official uint8 image (no one-level differences here).
    const gpu = await testGpu();
    const g = Generator.create(gpu, await loadNetwork(fixture("sg3", "tiny-t.pkl")));
    const img = g.synthesis(g.mapping(zFromSeeds([0], g.zDim), 1));
    assert.deepEqual(toImage8(await readTensor(gpu, img), img.shape).data, u8.data);
    img.destroy();
    g.destroy();

    const root = Deno.makeTempDirSync();
    const real = imageFolder(root, "real", [0]);
    Deno.mkdirSync(join(root, "official"));
    Deno.writeFileSync(
      join(root, "official", "seed0000.png"),
      encodePng({ width: w, height: h, channels: c, data: u8.data as Uint8Array }),
    );
    const common = ["--data", real, "--detector", "test-prng", "--no-cache", "--json", "--quiet"];
    const viaNet = await runMain([
      "fid",
      ...["--network", fixture("sg3", "tiny-t.pkl"), "--num", "1", "--seed", "0", ...common],
    ]);
    const viaFolder = await runMain(["fid", "--data", join(root, "official"), ...common]);
    Deno.removeSync(root, { recursive: true });
    assert.equal(viaNet.code, 0, viaNet.err.join("\n"));
    assert.equal(viaFolder.code, 0, viaFolder.err.join("\n"));
    const [a, b] = [JSON.parse(viaNet.out).fid, JSON.parse(viaFolder.out).fid];
    console.log(`generator ${a}, folder ${b} (rel diff ${(Math.abs(a - b) / b).toExponential(2)})`);
    assert.ok(Number.isFinite(a) && Math.abs(a - b) <= 1e-9 * b, `${a} vs ${b}`);
  },
  GPU_TEST,
);

/** Path of fixture image `i` (0-3: 299 px, 4-5: 64 px, 6-7: 256 px). */
const fixtureImage = (i: number) => fixture(`inception/images/img${i}_${i < 4 ? 299 : i < 6 ? 64 : 256}.png`);

/** A folder holding the given fixture images of any size. */
function mixedFolder(root: string, name: string, images: number[]): string {
  const dir = join(root, name);
  Deno.mkdirSync(dir);
  for (const i of images) Deno.copyFileSync(fixtureImage(i), join(dir, `img${i}.png`));
  return dir;
}

/** Eigenvalues of a small symmetric k x k matrix (row-major, float64) by cyclic Jacobi rotations. */
function jacobiEigenvalues(a: Float64Array, k: number): number[] {
  const m = Float64Array.from(a);
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < k; p++) for (let q = p + 1; q < k; q++) off += m[p * k + q] ** 2;
    if (off < 1e-300) break;
    for (let p = 0; p < k; p++) {
      for (let q = p + 1; q < k; q++) {
        const apq = m[p * k + q];
        if (apq === 0) continue;
        const theta = (m[q * k + q] - m[p * k + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let r = 0; r < k; r++) { // columns p, q
          const [rp, rq] = [m[r * k + p], m[r * k + q]];
          m[r * k + p] = c * rp - s * rq;
          m[r * k + q] = s * rp + c * rq;
        }
        for (let r = 0; r < k; r++) { // rows p, q
          const [pr, qr] = [m[p * k + r], m[q * k + r]];
          m[p * k + r] = c * pr - s * qr;
          m[q * k + r] = s * pr + c * qr;
        }
      }
    }
  }
  return Array.from({ length: k }, (_, i) => m[i * k + i]);
}

/**
 * FID and KID of two small feature sets (rows of float64 vectors) written out in float64, with the bounds
 * on how far each may move when every feature value is off by at most `eps`.
 *
 * FID = |mu1 - mu2|^2 + tr S1 + tr S2 - 2 tr sqrt(S1 S2), S = C C^T / (N - 1) (`unbiased`) or / N, C the
 * centred features as columns. The nonzero eigenvalues of S1 S2 = C1 C1^T C2 C2^T are those of M M^T with
 * M = C1^T C2 / norm (N1 x N2), so tr sqrt(S1 S2) is the sum of M's singular values (its nuclear norm),
 * taken from the eigenvalues of the small matrix M M^T. Bounds: a centred value moves by at most
 * 2 eps (N-1)/N; each dot product by dotErr; the nuclear norm by at most the sum of |dM_ij| (it is at most
 * the sum of the rank-one terms' norms).
 *
 * KID with subsets of m = N1 = N2 vectors uses every row once (the draw only permutes them):
 * KID = [sum_{i!=j} (k(x_i, x_j) + k(y_i, y_j)) / (m - 1) - 2 sum_ij k(x_i, y_j) / m] / m,
 * k(x, y) = (x . y / d + 1)^3, x the generated (second) side; |k' - k| <= 3 (|s| + 1 + ds)^2 ds.
 */
function referenceFidKid(real: Float64Array[], gen: Float64Array[], unbiased: boolean, eps: number) {
  const d = real[0].length;
  const mean = (f: Float64Array[]) =>
    Float64Array.from({ length: d }, (_, j) => f.reduce((s, v) => s + v[j], 0) / f.length);
  const centred = (f: Float64Array[]) => {
    const mu = mean(f);
    return { mu, c: f.map((v) => v.map((x, j) => x - mu[j])), ec: 2 * eps * (f.length - 1) / f.length };
  };
  const r = centred(real), g = centred(gen);
  const norm = (n: number) => unbiased ? n - 1 : n;
  const dmu = r.mu.map((v, j) => v - g.mu[j]);
  let fid = dot(dmu, dmu), fidTol = dotErr(dmu, 2 * eps, dmu, 2 * eps);
  for (const side of [r, g]) {
    for (const c of side.c) {
      fid += dot(c, c) / norm(side.c.length);
      fidTol += dotErr(c, side.ec, c, side.ec) / norm(side.c.length);
    }
  }
  const n1 = real.length, n2 = gen.length, scale = Math.sqrt(norm(n1) * norm(n2));
  const mm = new Float64Array(n1 * n2);
  for (let i = 0; i < n1; i++) {
    for (let j = 0; j < n2; j++) {
      mm[i * n2 + j] = dot(r.c[i], g.c[j]) / scale;
      fidTol += 2 * dotErr(r.c[i], r.ec, g.c[j], g.ec) / scale;
    }
  }
  const mmt = new Float64Array(n1 * n1);
  for (let i = 0; i < n1; i++) {
    for (let k = 0; k < n1; k++) {
      for (let j = 0; j < n2; j++) mmt[i * n1 + k] += mm[i * n2 + j] * mm[k * n2 + j];
    }
  }
  const nuclear = jacobiEigenvalues(mmt, n1).reduce((s, l) => s + Math.sqrt(Math.max(l, 0)), 0);
  fid -= 2 * nuclear;

  const k = (x: Float64Array, y: Float64Array) => (dot(x, y) / d + 1) ** 3;
  const kErr = (x: Float64Array, y: Float64Array) => {
    const s = dot(x, y) / d, ds = dotErr(x, eps, y, eps) / d;
    return 3 * (Math.abs(s) + 1 + ds) ** 2 * ds;
  };
  const m = n1;
  assert.equal(n2, m, "KID reference: m = N on both sides");
  let within = 0, withinTol = 0, across = 0, acrossTol = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      across += k(gen[i], real[j]);
      acrossTol += kErr(gen[i], real[j]);
      if (i === j) continue;
      within += k(gen[i], gen[j]) + k(real[i], real[j]);
      withinTol += kErr(gen[i], gen[j]) + kErr(real[i], real[j]);
    }
  }
  const kid = (within / (m - 1) - 2 * across / m) / m;
  const kidTol = (withinTol / (m - 1) + 2 * acrossTol / m) / m;
  return { fid, fidTol, kid, kidTol };
}

// The pytorch-fid and clean-fid presets through the whole command, folder vs folder, as the stylegan3 preset
// above: three fixture images a side, of all three sizes (299 px, and 64 and 256 px, which the presets resize:
// torch bilinear, PIL bicubic in float), PNG decoding, the fixture's PRNG detector, statistics with the
// presets' 1/(N-1) covariance, the distance; KID on the GPU. The reference is the FID and KID formulas in
// float64 (referenceFidKid) on the official pool3 features of those images under each preset's pipeline
// (pipeline_pytorchfid_pool3_all8, pipeline_cleanfid_clean_preproc_pool3_all8; the same network, the
// reference tools' preprocessing); the tolerance is what the features' own tolerance (abs 1e-4 per value,
// checked for every image and preset in test/inception_test.ts) allows each term to move.
for (
  const [preset, pipeline, real, gen] of [
    ["pytorch-fid", "pipeline_pytorchfid", [0, 4, 6], [1, 5, 7]],
    ["clean-fid", "pipeline_cleanfid_clean_preproc", [2, 5, 7], [3, 4, 6]],
  ] as const
) {
  fixtureTest(
    `sg3 fid folder vs folder (${preset} preset, 64/256/299 px): FID and KID match the formulas on the official features`,
    "inception",
    async () => {
      const root = Deno.makeTempDirSync();
      const r = await runMain([
        "fid",
        ...["--data", mixedFolder(root, "real", [...real]), "--data", mixedFolder(root, "gen", [...gen])],
        ...["--preset", preset, "--detector", "test-prng", "--kid", "--no-cache", "--json", "--quiet"],
      ]);
      Deno.removeSync(root, { recursive: true });
      assert.equal(r.code, 0, r.err.join("\n"));
      const out = JSON.parse(r.out);
      const rows = (idx: readonly number[]) =>
        idx.map((i) => featureRow(`inception/features/${pipeline}_pool3_all8.npy`, i));
      const want = referenceFidKid(rows(real), rows(gen), true, 1e-4);
      console.log(
        `${preset}: FID ${out.fid} vs ${want.fid} (diff ${
          Math.abs(out.fid - want.fid).toExponential(2)
        }, bound ${want.fidTol.toExponential(2)}); KID ${out.kid} vs ${want.kid} (diff ${
          Math.abs(out.kid - want.kid).toExponential(2)
        }, bound ${want.kidTol.toExponential(2)})`,
      );
      assert.ok(
        Math.abs(out.fid - want.fid) <= want.fidTol,
        `FID ${out.fid} vs ${want.fid} (bound ${want.fidTol})`,
      );
      assert.ok(
        Math.abs(out.kid - want.kid) <= want.kidTol,
        `KID ${out.kid} vs ${want.kid} (bound ${want.kidTol})`,
      );
      // The bound tells the covariance conventions apart: the two values' bounds do not overlap, so the
      // stylegan3 preset's 1/N covariance would fail the check.
      const biased = referenceFidKid(rows(real), rows(gen), false, 1e-4);
      assert.ok(
        Math.abs(biased.fid - want.fid) > want.fidTol + biased.fidTol,
        `1/N covariance ${biased.fid} vs ${want.fid}`,
      );
    },
    GPU_TEST,
  );
}

/** mulberry32 (Tommy Ettinger's generator), written out here from its definition: uniform floats in [0, 1). */
function mulberry32Uniform(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * KID's subsets as the CLI documents them (metrics/kid.ts, reproduced here independently): per subset, m
 * distinct generated indices then m distinct real ones, each a partial Fisher-Yates shuffle of 0..n-1
 * (position i swapped with i + floor(u (n - i)), i < m, u from one mulberry32(seed) stream).
 */
function kidSubsets(nReal: number, nGen: number, m: number, count: number, seed: number) {
  const u = mulberry32Uniform(seed);
  const draw = (n: number) => {
    const p = Array.from({ length: n }, (_, i) => i);
    for (let i = 0; i < m; i++) {
      const j = i + Math.floor(u() * (n - i));
      [p[i], p[j]] = [p[j], p[i]];
    }
    return p.slice(0, m);
  };
  return Array.from({ length: count }, () => {
    const gen = draw(nGen);
    return { gen, real: draw(nReal) };
  });
}

/**
 * A one-shard partial result of `sg3 fid --data A --data B --kid --metrics kid50k_full` as a sharded run
 * writes it (metrics/partial.ts: JSON header, per source count, shift, sum, Gram and the kept float32
 * feature vectors): the feature vectors are the given ones; the sums are zeros (FID is not asked).
 */
function kidPartial(path: string, real: Float32Array, gen: Float32Array, d: number, seed: number) {
  const arrays: Record<string, NdArray> = {};
  const streams = [];
  for (const [i, f] of [real, gen].entries()) {
    const n = f.length / d;
    arrays[`s${i}_count`] = { shape: [], dtype: "<f8", data: Float64Array.of(n) };
    arrays[`s${i}_shift`] = { shape: [d], dtype: "<f8", data: new Float64Array(d) };
    arrays[`s${i}_sum`] = { shape: [d], dtype: "<f8", data: new Float64Array(d) };
    arrays[`s${i}_gram`] = { shape: [d, d], dtype: "<f8", data: new Float64Array(d * d) };
    arrays[`s${i}_features`] = { shape: [n, d], dtype: "<f4", data: f };
    streams.push({ name: `source ${i} items`, total: n, range: [0, n] as [number, number] });
  }
  writePartial(path, {
    kind: "fid",
    shard: { index: 0, count: 1 },
    run: {
      sources: [{ kind: "data", identity: "real" }, { kind: "data", identity: "gen" }],
      preset: "stylegan3",
      detector: "test",
      metrics: { fid: null, kid: "kid50k_full", is: null, num: 50000, maxReal: undefined },
      fid: false,
      kid: true,
      is: false,
      seed,
    },
    streams,
    values: { network: null },
  }, arrays);
}

// KID's subset sampling through the CLI. The CLI's KID is kid50k_full's (100 subsets of at most 1000 rows a
// side, no option changes that), so subsets smaller than N need more than 1000 feature vectors on a side:
// far too many images for Inception on a software adapter. The vectors therefore enter through `sg3 merge`,
// which ends in the same step as `sg3 fid` (cli/fid.ts conclude: the GPU Gram matrices of the gathered
// subsets, kernelInceptionDistanceGpu, with the run's seed): a one-shard partial result holding 1001 vectors
// (d = 2048) on one side and 8 on the other, so m = 8 and every subset draws 8 of the 1001 rows (the small
// side's draw is a permutation, but it takes its place in the random stream). Both sides in turn are the
// large one. The reference redraws the subsets with the sampling written out here (kidSubsets) and sums the
// kernels in float64 over the same float32 vectors. Tolerance: the GPU forms each Gram entry x.y/d in
// float32; the float32 rounding of a d-term dot product stays within 4 u sqrt(d) sum_k |x_k y_k| (u = 2^-24;
// the random-walk bound used for the GPU convolutions in production_scale_test.ts), and the cube moves by
// at most 3 (|s| + 1 + ds)^2 ds; the bound is checked to tell the seed's subsets from another seed's.
Deno.test({
  name: "sg3 merge: KID with subsets of 8 from 1001 vectors (d = 2048) equals float64 on the same subsets",
  ...GPU_TEST,
}, async () => {
  const d = 2048, big = 1001, small = 8, seed = 7, subsets = 100;
  const dir = Deno.makeTempDirSync();
  try {
    for (const genIsBig of [true, false]) {
      const [nReal, nGen] = genIsBig ? [small, big] : [big, small];
      // Real: uniform in [-1, 1]; generated: 0.9 y + 0.1 x + 0.05 (as the fixture's KID sets) with fresh y.
      const real = randomF32(nReal * d, 101);
      const y = randomF32(nGen * d, 102);
      const gen = y.map((v, i) => 0.9 * v + 0.1 * real[i % real.length] + 0.05);
      const path = join(dir, `part-${genIsBig ? "gen" : "real"}-large.npz`);
      kidPartial(path, real, gen, d, seed);
      const t0 = performance.now();
      const r = await runMain(["merge", path, "--json", "--quiet"]);
      const seconds = (performance.now() - t0) / 1000;
      assert.equal(r.code, 0, r.err.join("\n"));
      const got = JSON.parse(r.out).kid50k_full;

      const row = (f: Float32Array, i: number) => f.subarray(i * d, (i + 1) * d);
      const u = 2 ** -24;
      const kernel = (a: Float32Array, b: Float32Array) => {
        let s = 0, mag = 0;
        for (let k = 0; k < d; k++) {
          s += a[k] * b[k];
          mag += Math.abs(a[k] * b[k]);
        }
        const ds = (4 * u * Math.sqrt(d) * mag) / d;
        s /= d;
        return { k: (s + 1) ** 3, err: 3 * (Math.abs(s) + 1 + ds) ** 2 * ds };
      };
      const reference = (sd: number) => {
        let kid = 0, tol = 0;
        const m = small;
        for (const sub of kidSubsets(nReal, nGen, m, subsets, sd)) {
          let xx = 0, yy = 0, xy = 0, exx = 0, eyy = 0, exy = 0;
          for (let i = 0; i < m; i++) {
            for (let j = 0; j < m; j++) {
              const c = kernel(row(gen, sub.gen[i]), row(real, sub.real[j]));
              xy += c.k;
              exy += c.err;
              if (i === j) continue;
              const a = kernel(row(gen, sub.gen[i]), row(gen, sub.gen[j]));
              const b = kernel(row(real, sub.real[i]), row(real, sub.real[j]));
              [xx, yy, exx, eyy] = [xx + a.k, yy + b.k, exx + a.err, eyy + b.err];
            }
          }
          kid += ((xx + yy) / (m - 1) - (2 * xy) / m) / m / subsets;
          tol += ((exx + eyy) / (m - 1) + (2 * exy) / m) / m / subsets;
        }
        return { kid, tol };
      };
      const want = reference(seed), other = reference(seed + 1);
      console.log(
        `${genIsBig ? "generated" : "real"} side 1001: KID ${got} vs float64 ${want.kid} (diff ${
          Math.abs(got - want.kid).toExponential(2)
        }, bound ${want.tol.toExponential(2)}; seed ${seed + 1} gives ${other.kid}); merge ${
          seconds.toFixed(1)
        } s`,
      );
      assert.ok(Math.abs(got - want.kid) <= want.tol, `KID ${got} vs ${want.kid} (bound ${want.tol})`);
      assert.ok(
        Math.abs(other.kid - want.kid) > want.tol + other.tol,
        `another seed's subsets are not told apart: ${other.kid} vs ${want.kid}`,
      );
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

/**
 * The Inception Score written out in float64 (StyleGAN3's metrics/inception_score.py): per image p =
 * softmax(logits); the images split into `splits` consecutive parts [s n / splits, (s + 1) n / splits); per
 * part exp(mean_i sum_c p_ic (log p_ic - log pbar_c)), pbar the part's mean p; mean and population standard
 * deviation of the parts' scores. With the bound on how far each may move when every logit moves by at most
 * `delta`: log p moves by at most 2 delta (the logit and the log-sum-exp), so p and pbar by factors within
 * e^(+-2 delta), and one image's KL by at most 4 delta + (e^(2 delta) - 1) sum_c p_ic |log p_ic - log pbar_c|;
 * a part's score by score (e^(max dKL) - 1); the mean by the mean of those, the standard deviation by their
 * largest (it is 1-Lipschitz in the largest change).
 */
function referenceIs(logits: Float32Array, n: number, classes: number, splits: number, delta: number) {
  const scores: number[] = [], bounds: number[] = [];
  for (let s = 0; s < splits; s++) {
    const lo = Math.floor((s * n) / splits), hi = Math.floor(((s + 1) * n) / splits);
    const logp: number[][] = [];
    for (let i = lo; i < hi; i++) {
      const z = Array.from(logits.subarray(i * classes, (i + 1) * classes));
      const top = Math.max(...z);
      const lse = top + Math.log(z.reduce((a, v) => a + Math.exp(v - top), 0));
      logp.push(z.map((v) => v - lse));
    }
    const pbar = Array.from(
      { length: classes },
      (_, c) => logp.reduce((a, l) => a + Math.exp(l[c]), 0) / logp.length,
    );
    let kl = 0, worst = 0;
    for (const l of logp) {
      let k = 0, spread = 0;
      l.forEach((v, c) => {
        k += Math.exp(v) * (v - Math.log(pbar[c]));
        spread += Math.exp(v) * Math.abs(v - Math.log(pbar[c]));
      });
      kl += k / logp.length;
      worst = Math.max(worst, 4 * delta + Math.expm1(2 * delta) * spread);
    }
    scores.push(Math.exp(kl));
    bounds.push(Math.exp(kl) * Math.expm1(worst));
  }
  const mean = scores.reduce((a, v) => a + v, 0) / splits;
  const std = Math.sqrt(scores.reduce((a, v) => a + (v - mean) ** 2, 0) / splits);
  return { mean, std, meanTol: bounds.reduce((a, v) => a + v, 0) / splits, stdTol: Math.max(...bounds) };
}

// The Inception Score through the whole command: `sg3 fid --network tiny-t.pkl --num 20 --is` (20 images, so
// that each of the 10 splits holds two and the score is not trivially 1) against the score written out in
// float64 (referenceIs) on logits obtained here by another route. The chain of checks:
// 1. the images: the latents are z = RandomState(0).randn drawn in order (20 x z_dim values), which is what the
//    CLI's --seed 0 documents; tiny-t's image of RandomState(0)'s first z equals the official one (test above);
//    here the generator's float images are quantised on the CPU (toImage8, gen_images.py's formula) rather
//    than by the CLI's GPU quantisation;
// 2. the logits: sg3's Inception with the fixture's PRNG weights (--detector test-prng), stylegan3
//    preprocessing from uint8 bytes, fc without its bias (the Inception Score's logits); that network's
//    logits, with and without bias, equal the official ones within abs 1e-4 on the fixture images
//    (test/inception_test.ts), so these logits stand for the official logits of these images within 1e-4;
// 3. the score: referenceIs, independent of metrics/kid.ts; its bound is what 1e-4 per logit allows.
// (The fixture's own logits cannot be used directly: they belong to 8 fixed images, not to a generator's
// output, and the score needs at least 10 generated images.) Measured: the two routes give bit-identical
// logits here (IS equal to the last bit); the score exceeds 1 by 0.037 against a bound of 5e-4. Cost: 41
// Inception passes, about 1.5 min of CPU on llvmpipe (2 cores), the slowest test of this file.
fixtureTest(
  "sg3 fid --is: the Inception Score of 20 generated images matches the float64 formula on their logits",
  "sg3",
  async () => {
    const n = 20, seed = 0;
    const root = Deno.makeTempDirSync();
    Deno.mkdirSync(join(root, "real"));
    Deno.writeFileSync(join(root, "real", "a.png"), png(16, 16, 3, 1));
    const r = await runMain([
      "fid",
      ...["--network", fixture("sg3", "tiny-t.pkl"), "--num", String(n), "--seed", String(seed), "--is"],
      ...["--data", join(root, "real"), "--detector", "test-prng", "--no-cache", "--json", "--quiet"],
    ]);
    Deno.removeSync(root, { recursive: true });
    assert.equal(r.code, 0, r.err.join("\n"));
    const out = JSON.parse(r.out);

    const gpu = await testGpu();
    const g = Generator.create(gpu, await loadNetwork(fixture("sg3", "tiny-t.pkl")));
    const img = g.synthesis(g.mapping(new RandomState(seed).randn(n * g.zDim), n));
    const floats = await readTensor(gpu, img);
    const [, c, h, w] = img.shape;
    const bytes = new Uint8Array(n * h * w * c);
    for (let i = 0; i < n; i++) bytes.set(toImage8(floats, img.shape, i).data, i * h * w * c);
    img.destroy();
    g.destroy();
    const sd = fixtureStateDict();
    const net = Inception.create(gpu, fromPytorchFid((k) => sd.get(k)));
    const fwd = net.forward(preprocess(gpu, bytes, n, h, w, c, "stylegan3"), {
      logits: true,
      outputBias: false,
    });
    const logits = await readTensor(gpu, fwd.logits!);
    net.destroy();
    const want = referenceIs(logits, n, logits.length / n, 10, 1e-4);
    console.log(
      `IS ${out.is_mean} vs ${want.mean} (diff ${Math.abs(out.is_mean - want.mean).toExponential(2)}, bound ${
        want.meanTol.toExponential(2)
      }); std ${out.is_std} vs ${want.std} (diff ${Math.abs(out.is_std - want.std).toExponential(2)}, bound ${
        want.stdTol.toExponential(2)
      })`,
    );
    assert.ok(Math.abs(out.is_mean - want.mean) <= want.meanTol, `IS ${out.is_mean} vs ${want.mean}`);
    assert.ok(Math.abs(out.is_std - want.std) <= want.stdTol, `IS std ${out.is_std} vs ${want.std}`);
  },
  GPU_TEST,
);
