/**
 * The equivariance metric procedure in audit mode against the official numbers
 * (../shared/fixtures/sg3/<net>/eq: transforms.json, expected.json, sums-per-sample.npy; see the
 * manifest's eq_procedure). Two levels: (1) the procedure alone, with a stand-in generator that returns
 * the official G.synthesis outputs saved for each sample and transform (sample<i>-{orig,eqt,eqtfrac,eqr}.npy),
 * so only the metric's own operators and sums are under test; (2) the whole pipeline with sg3's Generator.
 */
import assert from "node:assert/strict";
import { GPU_TEST, testGpu } from "./gpu.ts";
import { fixture, fixtureTest } from "./fixtures.ts";
import { readNpy } from "../formats/npy.ts";
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import {
  computeEquivariance,
  EQ_METRICS,
  type EqGenerator,
  type EqMetric,
  eqResults,
  evaluateBatch,
  parseTransforms,
  psnr,
  RandomSamples,
  sampledMetrics,
} from "../metrics/equivariance.ts";
import { parseGates, parseMetrics } from "../cli/eq_metrics.ts";
import { requireInputTransform } from "../cli/network.ts";
import { runMain } from "./cli.ts";
import { UserError } from "../errors.ts";
import { Generator } from "../models/generator.ts";
import { loadNetwork } from "../formats/snapshot.ts";

const NETS = ["tiny-t", "tiny-r", "tiny-t-cond"];

interface AuditCase {
  text: string;
  expected: Record<EqMetric, number>;
  perSample: Float64Array; // [8, 6]
}

function audit(net: string): AuditCase {
  const dir = fixture("sg3", net, "eq");
  const expected = JSON.parse(Deno.readTextFileSync(`${dir}/expected.json`)).psnr_db;
  const perSample = readNpy(`${dir}/sums-per-sample.npy`).data as Float64Array;
  return { text: Deno.readTextFileSync(`${dir}/transforms.json`), expected, perSample };
}

/** A generator that replays the official synthesis outputs of the audit samples. */
class RecordedGenerator implements EqGenerator {
  readonly zDim = 32;
  readonly resolution = 32;
  readonly #ws = new Map<Tensor, number[]>();
  readonly #seeds: Map<string, number>;

  constructor(
    readonly gpu: Gpu,
    readonly net: string,
    readonly cDim: number,
    readonly samples: ReturnType<typeof parseTransforms>,
  ) {
    this.#seeds = new Map(samples.map((s, i) => [s.z.join(","), i]));
  }

  mapping(z: Float64Array, n: number): Tensor {
    const ids = Array.from(
      { length: n },
      (_, i) => this.#seeds.get(z.slice(i * 32, (i + 1) * 32).join(","))!,
    );
    const ws = this.gpu.tensor([n, 1, 1]);
    this.#ws.set(ws, ids);
    return ws;
  }

  synthesis(ws: Tensor, opts: { transforms?: Float32Array } = {}): Tensor {
    const ids = this.#ws.get(ws)!;
    const m = opts.transforms!;
    const out = new Float32Array(ids.length * 3 * 32 * 32);
    ids.forEach((id, i) => {
      const s = this.samples[id];
      const [a, b, c, , , f] = m.subarray(9 * i, 9 * i + 9);
      const kind = b !== 0
        ? "eqr"
        : c === 0 && f === 0 && a === 1
        ? "orig"
        : s.eqt && c === Math.fround(-s.eqt[0]) && f === Math.fround(-s.eqt[1])
        ? "eqt"
        : "eqtfrac";
      const img = readNpy(fixture("sg3", this.net, "eq", `sample${id}-${kind}.npy`)).data as Float32Array;
      out.set(img, i * img.length);
    });
    return this.gpu.upload(out, [ids.length, 3, 32, 32]);
  }
}

/** Checks per-sample [num, den] pairs against sums-per-sample.npy; returns the worst relative num error. */
function checkPerSample(got: Float64Array, want: Float64Array, metricIndex: number, what: string): number {
  let worst = 0;
  for (let i = 0; i < got.length / 2; i++) {
    const [num, den] = [want[6 * i + 2 * metricIndex], want[6 * i + 2 * metricIndex + 1]];
    assert.equal(got[2 * i + 1], den, `${what} sample ${i}: mask count`);
    const rel = Math.abs(got[2 * i] - num) / num;
    worst = Math.max(worst, rel);
    // The manifest's eq_sums tolerance (the official float32 run itself moves them by ~2.5e-4).
    assert.ok(rel <= 1e-3, `${what} sample ${i}: num ${got[2 * i]} vs ${num} (rel ${rel})`);
  }
  return worst;
}

/** PSNRs of per-sample sums added in sample order, checked against expected.json within 0.01 dB. */
function checkPsnr(
  batch: Partial<Record<EqMetric, Float64Array>>,
  expected: Record<EqMetric, number>,
  what: string,
) {
  return EQ_METRICS.map((m) => {
    const s = batch[m]!;
    let num = 0, den = 0;
    for (let i = 0; i < s.length / 2; i++) (num += s[2 * i], den += s[2 * i + 1]);
    const v = psnr(num, den);
    assert.ok(Math.abs(v - expected[m]) <= 0.01, `${what} ${m}: ${v} dB vs ${expected[m]} dB`);
    return Math.abs(v - expected[m]);
  });
}

for (const net of NETS) {
  fixtureTest(
    `equivariance audit procedure on ${net} (official synthesis outputs replayed)`,
    `sg3/${net}/eq`,
    async () => {
      const gpu = await testGpu();
      const { text, expected, perSample } = audit(net);
      const cDim = net.endsWith("cond") ? 5 : 0;
      const samples = parseTransforms(text, "transforms.json", 32, cDim);
      const gen = new RecordedGenerator(gpu, net, cDim, samples);
      // Per-sample sums (one batch of all 8) against sums-per-sample.npy.
      const batch = await evaluateBatch(gpu, gen, samples, EQ_METRICS);
      const worst = EQ_METRICS.map((m, j) => checkPerSample(batch[m]!, perSample, j, `${net} ${m}`));
      // Whole run with an awkward batch size: PSNRs within 0.01 dB.
      const run = await computeEquivariance(gpu, gen, (i) => samples[i], samples.length, {
        metrics: EQ_METRICS,
        batch: 3,
      });
      for (const m of EQ_METRICS) assert.equal(run.sums[m].samples, 8);
      const diffs = checkPsnr(
        Object.fromEntries(EQ_METRICS.map((m) => [m, Float64Array.of(run.sums[m].num, run.sums[m].den)])),
        expected,
        net,
      );
      console.log(
        `${net}: |dPSNR| ${diffs.map((d) => d.toExponential(1)).join(", ")} dB; ` +
          `worst per-sample num rel err ${worst.map((w) => w.toExponential(1)).join(", ")}`,
      );
    },
    GPU_TEST,
  );
}

fixtureTest(
  "computeEquivariance keeps one batch in flight and stops after a finished batch",
  "sg3/tiny-t/eq",
  async () => {
    const gpu = await testGpu();
    const samples = parseTransforms(audit("tiny-t").text, "transforms.json", 32, 0);
    const gen = new RecordedGenerator(gpu, "tiny-t", 0, samples);
    let asked = 0;
    const source = (i: number) => (asked = Math.max(asked, i + 1), samples[i]);
    const seen: number[] = [];
    const opts = { metrics: EQ_METRICS, batch: 3, onBatch: (done: number) => seen.push(asked - done) };
    await computeEquivariance(gpu, gen, source, samples.length, opts);
    // When batch k's sums arrive, batch k + 1 (3 samples, then the last 2) has already been asked for.
    assert.deepEqual(seen, [3, 2, 0]);
    const first = await computeEquivariance(gpu, gen, source, 3, opts);
    let finished = 0;
    const stopped = await computeEquivariance(gpu, gen, source, samples.length, {
      ...opts,
      onBatch: () => finished++,
      stop: () => finished >= 1,
    });
    assert.equal(stopped.stopped, true);
    assert.equal(stopped.samples, 3);
    assert.deepEqual(stopped.sums, first.sums);
    const never = await computeEquivariance(gpu, gen, source, samples.length, { ...opts, stop: () => true });
    assert.deepEqual([never.samples, never.stopped, never.sums.eqt50k_int.samples], [0, true, 0]);
  },
  GPU_TEST,
);

Deno.test("parseTransforms: z from z_seed, optional metrics, clear errors", () => {
  const s = parseTransforms(
    '[{"z_seed": 5, "class": null, "eqr": 0.5}, {"z_seed": 6, "eqt": [0.25, 0]}]',
    "t",
    4,
    0,
  );
  assert.equal(s.length, 2);
  assert.equal(s[0].eqr, 0.5);
  assert.equal(s[0].eqt, undefined);
  assert.deepEqual(s[1].eqt, [0.25, 0]);
  assert.throws(() => parseTransforms("{}", "t", 4, 0), UserError);
  assert.throws(() => parseTransforms('[{"z_seed": -1}]', "t", 4, 0), UserError);
  assert.throws(() => parseTransforms('[{"z_seed": 1, "class": null}]', "t", 4, 3), /conditional/);
  assert.throws(() => parseTransforms('[{"z_seed": 1, "eqt": [1]}]', "t", 4, 0), /eqt/);
});

Deno.test("sampledMetrics and eqResults: audit-mode metrics in official order, PSNR per metric", () => {
  const s = parseTransforms('[{"z_seed": 5, "eqr": 0.5}, {"z_seed": 6, "eqt": [0.25, 0]}]', "t", 4, 0);
  assert.deepEqual(sampledMetrics(s), ["eqt50k_int", "eqr50k"]);
  const run = {
    sums: {
      eqt50k_int: { num: 0.04, den: 4, samples: 2 },
      eqt50k_frac: { num: 0, den: 0, samples: 0 },
      eqr50k: { num: 1, den: 1, samples: 1 },
    },
    samples: 2,
    stopped: false,
  };
  const rows = eqResults(run, ["eqt50k_int", "eqt50k_frac"]);
  assert.deepEqual(rows.map((r) => [r.metric, r.samples]), [["eqt50k_int", 2], ["eqt50k_frac", 0]]);
  assert.equal(rows[0].value, psnr(0.04, 4));
  assert.ok(Number.isNaN(rows[1].value));
});

// The whole pipeline: sg3's Generator on the official snapshots, all 8 audit samples (with the class labels of
// transforms.json for the conditional network): per-sample sums and the PSNRs of expected.json.
for (const net of NETS) {
  fixtureTest(
    `equivariance audit on ${net}.pkl with sg3's generator: all 8 samples reproduce expected.json`,
    `sg3/${net}/eq`,
    async () => {
      const gpu = await testGpu();
      const gen = Generator.create(gpu, await loadNetwork(fixture("sg3", `${net}.pkl`)));
      const { text, expected, perSample } = audit(net);
      const samples = parseTransforms(text, "transforms.json", gen.zDim, gen.cDim);
      assert.equal(samples.length, 8);
      if (net === "tiny-t-cond") {
        // The audit's labels: one-hot class i % c_dim (manifest eq_procedure), as transforms.json lists them.
        assert.equal(gen.cDim, 5);
        assert.deepEqual(samples.map((s) => s.classIdx), [0, 1, 2, 3, 4, 0, 1, 2]);
      } else assert.ok(samples.every((s) => s.classIdx === null));
      const batch = await evaluateBatch(gpu, gen, samples, EQ_METRICS);
      gen.destroy();
      const worst = EQ_METRICS.map((m, j) => checkPerSample(batch[m]!, perSample, j, `${net} ${m}`));
      const diffs = checkPsnr(batch, expected, net);
      console.log(
        `${net} (sg3 generator, ${samples.length} samples): |dPSNR| ${
          diffs.map((d) => d.toExponential(1)).join(", ")
        }` +
          ` dB; worst per-sample num rel err ${worst.map((w) => w.toExponential(1)).join(", ")}`,
      );
    },
    GPU_TEST,
  );
}

// The same audit through the command line: `sg3 eq-metrics --transforms` prints expected.json's PSNRs.
fixtureTest(
  "sg3 eq-metrics --transforms on the fixture audits prints expected.json's PSNRs (tiny-t, tiny-r, tiny-t-cond)",
  "sg3",
  async () => {
    for (const net of NETS) {
      const dir = fixture("sg3", net, "eq");
      const { expected } = audit(net);
      const r = await runMain([
        "eq-metrics",
        "--network",
        fixture("sg3", `${net}.pkl`),
        "--transforms",
        `${dir}/transforms.json`,
        "--batch",
        "3",
        "--json",
        "--quiet",
      ]);
      assert.equal(r.code, 0, r.err.join("\n"));
      const out = JSON.parse(r.out.split("\n")[0]);
      assert.deepEqual(out.results.map((x: { metric: string }) => x.metric), EQ_METRICS);
      const diffs = out.results.map((x: { metric: EqMetric; value: number; num_samples: number }) => {
        assert.equal(x.num_samples, 8, `${net} ${x.metric}`);
        const d = Math.abs(x.value - expected[x.metric]);
        assert.ok(d <= 0.01, `${net} ${x.metric}: ${x.value} dB vs ${expected[x.metric]} dB`);
        return d;
      });
      console.log(
        `${net} via the CLI: |dPSNR| ${diffs.map((d: number) => d.toExponential(1)).join(", ")} dB`,
      );
    }
  },
  GPU_TEST,
);

Deno.test("RandomSamples: seeded, one transform per group of 4, t_int on the pixel grid, within bounds", () => {
  const opts = {
    seed: 3,
    metrics: EQ_METRICS,
    zDim: 8,
    cDim: 0,
    resolution: 64,
    translateMax: 0.125,
    rotateMax: 1,
  };
  const a = new RandomSamples(opts), b = new RandomSamples(opts);
  const sa = Array.from({ length: 9 }, () => a.next()), sb = Array.from({ length: 9 }, () => b.next());
  assert.deepEqual(sa, sb);
  assert.deepEqual(sa[1].eqt, sa[0].eqt);
  assert.equal(sa[3].eqr, sa[0].eqr);
  assert.notEqual(sa[4].eqr, sa[0].eqr);
  assert.notDeepEqual(sa[1].z, sa[0].z);
  for (const s of sa) {
    for (const t of [...s.eqt!, ...s.eqtFrac!]) assert.ok(Math.abs(t) <= 0.125);
    for (const t of s.eqt!) assert.ok(Number.isInteger(t * 64));
    assert.ok(Math.abs(s.eqr!) <= Math.PI + 1e-6);
    assert.equal(s.classIdx, null);
  }
  const only = new RandomSamples({ ...opts, metrics: ["eqr50k"], cDim: 3 }).next();
  assert.equal(only.eqt, undefined);
  assert.ok(only.classIdx !== null && only.classIdx >= 0 && only.classIdx < 3);
});

Deno.test("eq-metrics options: --metrics, --min gates, StyleGAN2 refused", () => {
  assert.deepEqual(parseMetrics("eqr50k,eqt"), ["eqr50k", "eqt50k_int"]);
  assert.throws(() => parseMetrics("eqx"), /unknown metric/);
  assert.deepEqual([...parseGates("eqt=50,eqr=20.5,eqt_frac=1")], [["eqt50k_int", 50], ["eqr50k", 20.5], [
    "eqt50k_frac",
    1,
  ]]);
  for (const bad of ["eqt", "eqt=", "foo=3", "eqt=x", ""]) assert.throws(() => parseGates(bad), UserError);
  const net = { arch: "stylegan2", hparams: {}, modules: new Map(), tensors: new Map() } as const;
  assert.throws(
    () =>
      requireInputTransform(
        { net, label: "sg2.pkl", random: false },
        "sg2.pkl: cannot compute equivariance metrics",
      ),
    /no input transform/,
  );
});

Deno.test({
  name: "sg3 eq-metrics: random mode end to end, --json, gate exit code 1, usage errors 2",
  ...GPU_TEST,
}, async () => {
  const net = ["--cfg", "stylegan3-t", "--res", "16", "--cbase", "256", "--cmax", "16"];
  const gated = await runMain([
    "eq-metrics",
    ...net,
    "--num",
    "2",
    "--batch",
    "2",
    "--json",
    "--quiet",
    "--min",
    "eqt=1e9",
  ]);
  assert.equal(gated.code, 1);
  const out = JSON.parse(gated.out.split("\n")[0]);
  assert.deepEqual(out.results.map((r: { metric: string }) => r.metric), EQ_METRICS);
  for (const r of out.results) assert.ok(Number.isFinite(r.value) && r.num_samples === 2);
  assert.equal((await runMain(["eq-metrics", ...net, "--transforms", "x.json", "--num", "3"])).code, 2);
  assert.equal((await runMain(["eq-metrics", ...net, "--metrics", "eqx"])).code, 2);
  assert.equal((await runMain(["eq-metrics", ...net, "--metrics", "eqr50k", "--min", "eqt=3"])).code, 2);
});
