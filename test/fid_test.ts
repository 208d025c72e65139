import assert from "node:assert/strict";
import { fixture, fixtureTest, manifest } from "./fixtures.ts";
import { rng } from "./reference.ts";
import { FeatureStats, type Stats } from "../metrics/feature_stats.ts";
import { frechetDistance, readStats, traceSqrtProduct, writeStats } from "../metrics/fid.ts";
import { inceptionScore, kernelInceptionDistance, kernelInceptionDistanceGpu } from "../metrics/kid.ts";
import { GPU_TEST, testGpu } from "./gpu.ts";
import { congruence, pivotedCholesky, symmetricEigenvalues } from "../metrics/linalg.ts";
import { hashU32 } from "../models/inception_weights.ts";
import { readNpy, toFloat64 } from "../formats/npy.ts";

function relErr(a: number, b: number): number {
  return Math.abs(a - b) / Math.abs(b);
}

/** The fixture's feature sets: X = 2 u(1001) - 1, set2 = 0.9 Y + 0.1 X + 0.05 with Y from seed 1002. */
function sets(n: number, d: number): [Float64Array, Float64Array] {
  const x = new Float64Array(n * d), y = new Float64Array(n * d);
  for (let i = 0; i < n * d; i++) {
    x[i] = 2 * (hashU32(1001, i) / 4294967296) - 1;
    const yv = 2 * (hashU32(1002, i) / 4294967296) - 1;
    y[i] = 0.9 * yv + 0.1 * x[i] + 0.05;
  }
  return [x, y];
}

function statsOf(x: Float64Array, n: number, d: number, conv: "biased" | "unbiased", batch = 128): Stats {
  const fs = new FeatureStats(d);
  for (let i = 0; i < n; i += batch) {
    fs.add(x.subarray(i * d, Math.min(n, i + batch) * d), Math.min(batch, n - i));
  }
  return fs.stats(conv);
}

Deno.test("symmetric eigenvalues and pivoted Cholesky on small matrices", () => {
  const r = rng(3);
  const n = 7;
  const b = Float64Array.from({ length: n * 3 }, () => r() - 0.5);
  // Rank-3 PSD matrix A = B B^T; trace sqrt(A A) = trace(A) for PSD A.
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) for (let k = 0; k < 3; k++) a[i * n + j] += b[i * 3 + k] * b[j * 3 + k];
  }
  const f = pivotedCholesky(a, n);
  assert.equal(f.rank, 3);
  let tr = 0;
  for (let i = 0; i < n; i++) tr += a[i * n + i];
  assert.ok(relErr(traceSqrtProduct(a, a, n), tr) < 1e-12);
  // Eigenvalues of a diagonal-similar matrix: Q diag Q^T with a Householder Q.
  const eig = [3, -1, 0.5, 2, 2, 7, -4];
  const v = Float64Array.from({ length: n }, () => r() - 0.5);
  const vv = v.reduce((s, t) => s + t * t, 0);
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      for (let k = 0; k < n; k++) {
        const qik = (i === k ? 1 : 0) - (2 * v[i] * v[k]) / vv,
          qjk = (j === k ? 1 : 0) - (2 * v[j] * v[k]) / vv;
        m[i * n + j] += qik * eig[k] * qjk;
      }
    }
  }
  const got = [...symmetricEigenvalues(m.slice(), n)].sort((p, q) => p - q);
  const want = [...eig].sort((p, q) => p - q);
  got.forEach((g, i) => assert.ok(Math.abs(g - want[i]) < 1e-12, `${g} vs ${want[i]}`));
  // congruence of the identity factor is the permuted matrix itself.
  const id = new Float64Array(n * n);
  for (let i = 0; i < n; i++) id[i * n + i] = 1;
  const c = congruence(pivotedCholesky(id, n), m);
  assert.ok(Math.abs(c.reduce((s, t) => s + t, 0) - m.reduce((s, t) => s + t, 0)) < 1e-12);
});

fixtureTest(
  "d=64: statistics, FID (both conventions), KID and .npz files match the references",
  "inception",
  () => {
    const ref = manifest("inception").fid_reference.d64_n500;
    const [x, y] = sets(500, 64);
    const s1 = statsOf(x, 500, 64, "unbiased", 77), s2 = statsOf(y, 500, 64, "unbiased", 500);
    for (const [s, i] of [[s1, 1], [s2, 2]] as const) {
      const mu = toFloat64(readNpy(fixture(`inception/fid/d64_n500_mu${i}.npy`)));
      const sigma = toFloat64(readNpy(fixture(`inception/fid/d64_n500_sigma${i}.npy`)));
      s.mu.forEach((v, j) => assert.ok(Math.abs(v - mu[j]) < 1e-14, "mu"));
      s.sigma.forEach((v, j) => assert.ok(Math.abs(v - sigma[j]) < 1e-13, "sigma"));
    }
    const fid = frechetDistance(s1, s2);
    assert.ok(relErr(fid, ref.fid_scipy_sqrtm_stylegan3_formula) < 1e-9, `fid ${fid}`);
    const biased = frechetDistance(statsOf(x, 500, 64, "biased"), statsOf(y, 500, 64, "biased"));
    assert.ok(relErr(biased, ref.fid_stylegan3_biased_cov_1_over_N) < 1e-9, `biased fid ${biased}`);
    // The saved .npz stats (compressed and stored members) give the same value.
    const a = readStats(fixture("inception/fid/d64_n500_set1_stats_pytorchfid.npz"));
    const b = readStats(fixture("inception/fid/d64_n500_set2_stats_uncompressed.npz"));
    assert.ok(relErr(frechetDistance(a, b), ref.fid_scipy_sqrtm_stylegan3_formula) < 1e-9);
    // Round trip through our own writer.
    const tmp = Deno.makeTempFileSync({ suffix: ".npz" });
    writeStats(tmp, s1);
    assert.deepEqual(readStats(tmp).sigma, s1.sigma);
    Deno.removeSync(tmp);
    const kid = kernelInceptionDistance(x, 500, y, 500, 64, { numSubsets: 3, maxSubsetSize: 500 });
    assert.ok(relErr(kid, ref.kid_stylegan3_formula_subset_size_N) < 1e-9, `kid ${kid}`);
  },
);

fixtureTest("d=64: KID with GPU Gram matrices agrees with float64", "inception", async () => {
  const ref = manifest("inception").fid_reference.d64_n500;
  const [x, y] = sets(500, 64);
  const gpu = await testGpu();
  const kid = await kernelInceptionDistanceGpu(
    gpu,
    Float32Array.from(x),
    500,
    Float32Array.from(y),
    500,
    64,
    {
      numSubsets: 2,
      maxSubsetSize: 500,
    },
  );
  assert.ok(relErr(kid, ref.kid_stylegan3_formula_subset_size_N) < 1e-4, `kid ${kid}`);
  console.log(
    `GPU KID relative error ${relErr(kid, ref.kid_stylegan3_formula_subset_size_N).toExponential(2)}`,
  );
}, GPU_TEST);

fixtureTest("d=2048, N=3000: FID of regenerated feature sets in seconds", "inception", () => {
  const ref = manifest("inception").fid_reference.d2048_n3000;
  const [x, y] = sets(3000, 2048);
  const t0 = performance.now();
  const s1 = statsOf(x, 3000, 2048, "unbiased", 256), s2 = statsOf(y, 3000, 2048, "unbiased", 256);
  const t1 = performance.now();
  const mu1 = toFloat64(readNpy(fixture("inception/fid/d2048_n3000_mu1.npy")));
  s1.mu.forEach((v, j) => assert.ok(Math.abs(v - mu1[j]) < 1e-13, "mu1"));
  const fid = frechetDistance(s1, s2);
  const t2 = performance.now();
  assert.ok(relErr(fid, ref.fid_scipy_sqrtm_stylegan3_formula) < 1e-9, `fid ${fid}`);
  // Biased statistics scale sigma by k = (N-1)/N, so FID_biased = |dmu|^2 + k (FID - |dmu|^2).
  let m = 0;
  s1.mu.forEach((v, j) => m += (v - s2.mu[j]) ** 2);
  const biased = m + (2999 / 3000) * (fid - m);
  assert.ok(relErr(biased, ref.fid_stylegan3_biased_cov_1_over_N) < 1e-9, `biased fid ${biased}`);
  assert.ok(relErr(m, ref.mean_diff_sq) < 1e-12);
  console.log(
    `fid ${fid} (rel err ${relErr(fid, ref.fid_scipy_sqrtm_stylegan3_formula).toExponential(2)}); ` +
      `stats ${((t1 - t0) / 1000).toFixed(1)} s, distance ${((t2 - t1) / 1000).toFixed(1)} s`,
  );
});

// About 28 G multiply-adds in float64 (~15 s on one core).
fixtureTest("d=2048, N=3000: KID in float64", "inception", () => {
  const ref = manifest("inception").fid_reference.d2048_n3000;
  const [x, y] = sets(3000, 2048);
  const kid = kernelInceptionDistance(x, 3000, y, 3000, 2048, { numSubsets: 1, maxSubsetSize: 3000 });
  console.log(
    `kid ${kid} (rel err ${relErr(kid, ref.kid_stylegan3_formula_subset_size_N).toExponential(2)})`,
  );
  assert.ok(relErr(kid, ref.kid_stylegan3_formula_subset_size_N) < 1e-9, `kid ${kid}`);
});

// The CLI's KID path (GPU Gram matrices of gathered subsets) at the detector's d = 2048 with subsets smaller
// than N, against the float64 sums over the same subsets (the same seeded draw): ~1e-5 relative, as
// kernelInceptionDistanceGpu documents. Small subsets: the float32 Gram on llvmpipe is slow.
fixtureTest(
  "d=2048, N=3000: KID on the GPU with subsets of 96 agrees with float64",
  "inception",
  async () => {
    const [x, y] = sets(3000, 2048);
    const gpu = await testGpu();
    const opts = { numSubsets: 3, maxSubsetSize: 96, seed: 5 };
    const cpu = kernelInceptionDistance(x, 3000, y, 3000, 2048, opts);
    const gpuKid = await kernelInceptionDistanceGpu(
      gpu,
      Float32Array.from(x),
      3000,
      Float32Array.from(y),
      3000,
      2048,
      opts,
    );
    // Another seed draws other subsets, so another value.
    const other = kernelInceptionDistance(x, 3000, y, 3000, 2048, { ...opts, seed: 6 });
    console.log(
      `GPU ${gpuKid}, float64 ${cpu} (rel ${relErr(gpuKid, cpu).toExponential(2)}); seed 6: ${other}`,
    );
    assert.ok(relErr(gpuKid, cpu) < 1e-5, `${gpuKid} vs ${cpu}`);
    assert.notEqual(other, cpu);
  },
  GPU_TEST,
);

// KID's subset sampling (m < N rows drawn without replacement on each side) makes each subset's value an
// unbiased estimate of the all-rows value (a U-statistic): E[KID_m] = KID_N. 6000 single-subset values
// (m = 40 of 500) must average to the official all-rows number within 4 standard errors of their mean.
fixtureTest(
  "d=64, N=500: subsets of 40 average to the official all-rows KID (unbiased sampling)",
  "inception",
  () => {
    const want = manifest("inception").fid_reference.d64_n500.kid_stylegan3_formula_subset_size_N;
    const [x, y] = sets(500, 64);
    const n = 6000;
    const v = Array.from(
      { length: n },
      (_, s) => kernelInceptionDistance(x, 500, y, 500, 64, { numSubsets: 1, maxSubsetSize: 40, seed: s }),
    );
    const mean = v.reduce((a, b) => a + b, 0) / n;
    const se = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1) / n);
    console.log(`mean ${mean} +- ${se} (standard error) vs ${want}: ${((mean - want) / se).toFixed(2)} SE`);
    assert.ok(Math.abs(mean - want) <= 4 * se, `mean ${mean} vs ${want} (SE ${se})`);
  },
);

/**
 * The Inception Score written out as StyleGAN3's metrics/inception_score.py computes it, in float64: softmax
 * of each row (log-softmax via log-sum-exp), parts [i n / s, (i + 1) n / s), per part
 * exp(mean_i sum_c p_ic (log p_ic - log mean_i p_ic)), then the mean and the population std of the parts.
 */
function referenceIs(logits: Float64Array, n: number, k: number, splits: number): [number, number] {
  const logp = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    const row = logits.subarray(i * k, (i + 1) * k);
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
    for (let c = 0; c < k; c++) logp[i * k + c] = row[c] - lse;
  }
  const scores = [];
  for (let s = 0; s < splits; s++) {
    const lo = Math.floor(s * n / splits), hi = Math.floor((s + 1) * n / splits);
    let kl = 0;
    for (let c = 0; c < k; c++) {
      let pbar = 0;
      for (let i = lo; i < hi; i++) pbar += Math.exp(logp[i * k + c]);
      pbar /= hi - lo;
      for (let i = lo; i < hi; i++) kl += Math.exp(logp[i * k + c]) * (logp[i * k + c] - Math.log(pbar));
    }
    scores.push(Math.exp(kl / (hi - lo)));
  }
  const mean = scores.reduce((a, b) => a + b, 0) / splits;
  return [mean, Math.sqrt(scores.reduce((a, b) => a + (b - mean) ** 2, 0) / splits)];
}

fixtureTest(
  "Inception Score of the official no-bias logits (NVIDIA layout, 8 images) matches the formula",
  "inception",
  () => {
    const a = readNpy(fixture("inception/features/gamma1_nvidia_preproc_logits_nobias_all8.npy"));
    const [n, k] = a.shape;
    const logits = toFloat64(a);
    for (const splits of [1, 2, 4]) {
      const got = inceptionScore(a.data as Float32Array, n, k, splits);
      const [mean, std] = referenceIs(logits, n, k, splits);
      console.log(`${splits} splits: IS ${got.mean} +- ${got.std} (reference ${mean} +- ${std})`);
      assert.ok(relErr(got.mean, mean) < 1e-9, `${splits} splits: mean ${got.mean} vs ${mean}`);
      assert.ok(Math.abs(got.std - std) <= 1e-9 * mean, `${splits} splits: std ${got.std} vs ${std}`);
      assert.ok(mean > 1, "the images' predictions differ, so the score exceeds 1");
    }
    // The official 10 splits need at least 10 images (numpy would average empty parts into NaN).
    assert.throws(() => inceptionScore(a.data as Float32Array, n, k), /at least 10 images/);
  },
);

Deno.test("inception score of uniform and one-hot predictions", () => {
  // Identical rows: p = mean, KL = 0, IS = 1.
  assert.ok(Math.abs(inceptionScore(new Float32Array(20 * 5), 20, 5, 2).mean - 1) < 1e-12);
  // Confident, evenly spread predictions over c classes: IS = c.
  const logits = new Float32Array(40 * 4);
  for (let i = 0; i < 40; i++) logits[i * 4 + (i % 4)] = 100;
  assert.ok(Math.abs(inceptionScore(logits, 40, 4, 2).mean - 4) < 1e-9);
});
