/**
 * `sg3 eq-metrics`: the equivariance metrics EQ-T, EQ-T_frac and EQ-R (metrics/equivariance.py) of a
 * StyleGAN3 network, in float32 like the official run (force_fp32). Random mode draws seeded samples;
 * audit mode (--transforms) evaluates explicitly given samples. --min turns the results into a CI gate.
 */
import { openGeneratorRun } from "./autotune.ts";
import { ownInterrupt } from "./interrupt.ts";
import { GateFailure, UserError } from "../errors.ts";
import {
  computeEquivariance,
  EQ_METRICS,
  type EqMetric,
  type EqMetricResult,
  eqResults,
  type EqRunResult,
  type EqSample,
  parseTransforms,
  RandomSamples,
  sampledMetrics,
} from "../metrics/equivariance.ts";
import { readFileOrFail } from "../formats/npy.ts";
import { NETWORK_OPTS, type NetworkPlan, planNetwork } from "./network.ts";
import {
  batchOption,
  GPU_OPTS,
  JSON_OPT,
  PARTIAL_OPTS,
  planShard,
  QUIET_OPT,
  type ShardPlan,
} from "./common_options.ts";
import { networkIdentity } from "./fid.ts";
import { sha256Hex } from "../metrics/identity.ts";
import { writePartial } from "../metrics/partial.ts";
import { formatShard, shardRange } from "../metrics/shard.ts";
import { custom, int, num, parseOptions, refuse, text, usage, type Values } from "./options.ts";
import { formatDuration, Progress } from "./progress.ts";

/** The options of `sg3 eq-metrics`, declared once. */
export const OPTIONS = {
  metrics: custom("LIST", "eqt50k_int,eqt50k_frac,eqr50k (default: all three)", parseMetrics),
  num: int("N", "samples (the official count; e.g. 10000 for CI)", 50000, 1, 10_000_000),
  seed: int("N", "seed of the random samples", 0, 0, 0xffffffff),
  "translate-max": num("T", "largest translation, a fraction of the image size (0 < T <= 1)", 0.125, 1e-6, 1),
  "rotate-max": num("R", "largest rotation in units of pi (0 < R <= 1)", 1, 1e-6, 1),
  transforms: text(
    "FILE",
    'audit mode: evaluate the samples listed in FILE instead of random ones: a JSON array\nof {"z_seed": 100, "class": null, "eqt": [tx, ty], "eqt_frac": [tx, ty], "eqr": rad};\neach metric uses the samples that name it',
  ),
  ...batchOption("samples", 4),
  min: custom(
    "eqt=50,eqr=20",
    "gate: exit 1 when a metric is below its bound (keys eqt, eqt_frac, eqr or\nthe metric names)",
    parseGates,
  ),
  ...JSON_OPT,
  ...PARTIAL_OPTS,
  ...NETWORK_OPTS,
  ...GPU_OPTS,
  ...QUIET_OPT,
};

/** Usage text of `sg3 eq-metrics`. */
export const USAGE = usage(
  "sg3 eq-metrics (--network FILE|URL|NAME | --cfg stylegan3-t|stylegan3-r --res N) [options]",
  "  Equivariance PSNRs in dB (higher is better) as metrics/equivariance.py computes them.",
  OPTIONS,
  `  Exit codes: 0 done (and every gate holds), 1 a gate failed, 2 bad input, 130 interrupted (Ctrl-C prints
  the partial results with their sample counts). An exact match (zero error) is reported as PSNR Infinity
  in the table and as null with "exact": true in --json (JSON has no Infinity).`,
);

const SHORT_NAMES: Record<string, EqMetric> = { eqt: "eqt50k_int", eqt_frac: "eqt50k_frac", eqr: "eqr50k" };

/** Parses --metrics. */
export function parseMetrics(value: string): EqMetric[] {
  const names = value.split(",").map((s) => s.trim()).filter((s) => s);
  const out: EqMetric[] = [];
  for (const name of names) {
    const m = (EQ_METRICS as readonly string[]).includes(name) ? name as EqMetric : SHORT_NAMES[name];
    if (!m) throw new UserError(`unknown metric "${name}" (expected ${EQ_METRICS.join(", ")})`);
    if (!out.includes(m)) out.push(m);
  }
  if (out.length === 0) throw new UserError("no metric given");
  return out;
}

/** Parses --min "eqt=50,eqr=20" into lower bounds per metric. */
export function parseGates(value: string): Map<EqMetric, number> {
  const gates = new Map<EqMetric, number>();
  for (const item of value.split(",").map((s) => s.trim()).filter((s) => s)) {
    const [key, bound, ...rest] = item.split("=");
    const m = (EQ_METRICS as readonly string[]).includes(key) ? key as EqMetric : SHORT_NAMES[key];
    const v = Number(bound);
    if (!m || rest.length || bound === undefined || bound.trim() === "" || !Number.isFinite(v)) {
      throw new UserError(`expected KEY=DB items (keys eqt, eqt_frac, eqr), got "${item}"`);
    }
    gates.set(m, v);
  }
  if (gates.size === 0) throw new UserError("no bound given");
  return gates;
}

/** Refuses gates on metrics that are not computed. */
function checkGates(gates: Map<EqMetric, number>, metrics: EqMetric[]): void {
  for (const m of gates.keys()) {
    if (!metrics.includes(m)) throw new UserError(`--min ${m}: that metric is not computed (--metrics)`);
  }
}

/** Prints the results (a table, or one JSON line with --json); shared with `sg3 merge`. */
export function report(
  rows: EqMetricResult[],
  run: EqRunResult,
  network: string,
  seconds: number,
  json: boolean,
) {
  if (json) {
    console.log(JSON.stringify({
      network,
      results: rows.map((r) => ({
        metric: r.metric,
        value: Number.isFinite(r.value) ? r.value : null,
        num_samples: r.samples,
        ...(r.value === Infinity ? { exact: true } : {}),
      })),
      num_samples: run.samples,
      interrupted: run.stopped,
      total_time: seconds,
    }));
    return;
  }
  console.log(`${"metric".padEnd(12)} ${"PSNR (dB)".padStart(10)} ${"samples".padStart(8)}`);
  for (const r of rows) {
    console.log(`${r.metric.padEnd(12)} ${r.value.toFixed(4).padStart(10)} ${String(r.samples).padStart(8)}`);
  }
  console.log(
    `${run.stopped ? "interrupted after" : "done:"} ${run.samples} samples in ${formatDuration(seconds)}; ` +
      `network ${network}`,
  );
}

/** Throws a GateFailure (exit 1) naming every metric below its --min bound. */
export function applyGates(rows: EqMetricResult[], gates: Map<EqMetric, number>): void {
  const failed = rows.filter((r) => gates.has(r.metric) && !(r.value >= gates.get(r.metric)!));
  if (failed.length) {
    throw new GateFailure(
      failed.map((r) => `${r.metric} ${r.value.toFixed(4)} dB is below --min ${gates.get(r.metric)}`).join(
        "; ",
      ),
    );
  }
}

/** Everything `sg3 eq-metrics` was asked, checked; nothing loaded or opened. */
export interface EqPlan {
  network: NetworkPlan;
  /** The metrics asked for; undefined in audit mode without --metrics (the file decides). */
  metrics?: EqMetric[];
  gates: Map<EqMetric, number>;
  /** Audit mode: the transforms file's name and text. */
  audit: { file: string; text: string } | null;
  /** A sharded run (--shard, --partial): its samples' sums go to a partial-result file. */
  sharding: ShardPlan | null;
  values: Values<typeof OPTIONS>;
}

/** Parses and checks the arguments of `sg3 eq-metrics` (no GPU; reads the --transforms file). */
export function plan(args: string[]): EqPlan {
  const { values: v, given } = parseOptions(args, OPTIONS);
  const audit = v.transforms === undefined
    ? null
    : { file: v.transforms, text: new TextDecoder().decode(readFileOrFail(v.transforms)) };
  if (audit) {
    refuse(given, ["num", "seed", "translate-max", "rotate-max"], "does not apply with --transforms");
  }
  const gates = v.min ?? new Map<EqMetric, number>();
  const metrics = v.metrics ?? (audit ? undefined : [...EQ_METRICS]);
  if (metrics) checkGates(gates, metrics);
  const sharding = planShard(v, given, ["min"]);
  return { network: planNetwork(v, given), metrics, gates, audit, sharding, values: v };
}

/**
 * Writes a shard's partial result: the header's `run` names the network (content identity), the sample
 * stream (seed, count and ranges, or the transforms file's hash) and the metrics; `values.sums` holds each
 * metric's float64 num, den and sample count.
 */
async function writeEqPartial(
  p: EqPlan,
  sharding: ShardPlan,
  label: string,
  metrics: EqMetric[],
  total: number,
  run: EqRunResult,
): Promise<void> {
  const v = p.values;
  const samples = p.audit
    ? { transforms: `sha256:${await sha256Hex(p.audit.text)}` }
    : { seed: v.seed, translateMax: v["translate-max"], rotateMax: v["rotate-max"] };
  writePartial(sharding.partial, {
    kind: "eq",
    shard: sharding.shard,
    run: { network: await networkIdentity(p.network), samples, metrics },
    streams: [{ name: "samples", total, range: shardRange(total, sharding.shard) }],
    values: { network: label, sums: Object.fromEntries(metrics.map((m) => [m, run.sums[m]])) },
  }, {});
}

/** Runs `sg3 eq-metrics`; returns the exit code. */
export async function run(args: string[]): Promise<number> {
  const p = plan(args);
  const { gates, audit, sharding, values: v } = p;
  const { chosen, gpu, gen } = await openGeneratorRun(p.network, v, {
    fp16: false,
    moves: (c) => `${c.label}: cannot compute equivariance metrics`,
  });
  try {
    let count: number, source: (i: number) => EqSample, metrics: EqMetric[];
    if (audit) {
      const samples = parseTransforms(audit.text, audit.file, gen.zDim, gen.cDim);
      metrics = p.metrics ?? sampledMetrics(samples);
      if (metrics.length === 0) throw new UserError(`${audit.file}: no sample names eqt, eqt_frac or eqr`);
      checkGates(gates, metrics);
      count = samples.length;
      const first = sharding ? shardRange(count, sharding.shard)[0] : 0;
      source = (i) => samples[first + i];
    } else {
      metrics = p.metrics!;
      const sampler = new RandomSamples({
        seed: v.seed,
        metrics,
        zDim: gen.zDim,
        cDim: gen.cDim,
        resolution: gen.resolution,
        translateMax: v["translate-max"],
        rotateMax: v["rotate-max"],
      });
      count = v.num;
      if (sharding) sampler.skip(shardRange(count, sharding.shard)[0]);
      source = () => sampler.next();
    }
    const total = count;
    if (sharding) {
      const [first, end] = shardRange(total, sharding.shard);
      count = end - first;
    }
    if (!v.quiet) {
      console.error(`network: ${chosen.label}; ${gpu.summary.description}; metrics ${metrics.join(", ")}`);
    }

    // Ctrl-C: finish the batch in flight, then report what was accumulated; a second Ctrl-C exits at once.
    let interrupted = false;
    const onSigint = () => {
      if (interrupted) Deno.exit(130);
      interrupted = true;
      console.error("\ninterrupted: finishing the current batch (Ctrl-C again to quit now)");
    };
    const releaseInterrupt = ownInterrupt(onSigint);
    const start = performance.now();
    const progress = new Progress("eq", count, "samples", v.quiet);
    let last = 0;
    let run: EqRunResult;
    try {
      run = await computeEquivariance(gpu, gen, source, count, {
        metrics,
        batch: v.batch,
        stop: () => interrupted,
        onBatch: (done) => (progress.tick(done - last), last = done),
      });
    } finally {
      releaseInterrupt();
      progress.finish();
    }
    const seconds = (performance.now() - start) / 1000;
    const rows = eqResults(run, metrics);
    report(rows, run, chosen.label, seconds, v.json);
    if (run.stopped) return 130; // an interrupted shard writes no partial result
    if (sharding) {
      await writeEqPartial(p, sharding, chosen.label, metrics, total, run);
      if (!v.quiet) console.error(`wrote ${sharding.partial} (shard ${formatShard(sharding.shard)})`);
      return 0;
    }
    applyGates(rows, gates);
    return 0;
  } finally {
    gen.destroy();
    gpu.destroy();
  }
}
