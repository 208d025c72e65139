/**
 * `sg3 merge`: combines the partial results of a sharded `sg3 fid` or `sg3 eq-metrics` run (--shard k/n
 * --partial FILE) into the whole run's result: checks that the parts belong together (metrics/partial.ts),
 * merges their float64 sums in shard order and prints what the single run prints, with its gates.
 */
import { UserError } from "../errors.ts";
import type { Gpu } from "../gpu/device.ts";
import { FEATURE_DIM, LOGIT_DIM } from "../models/inception_arch.ts";
import type { Preset } from "../models/inception.ts";
import {
  EQ_METRICS,
  type EqMetric,
  eqResults,
  type EqRunResult,
  type EqSums,
} from "../metrics/equivariance.ts";
import { PRESET_COVARIANCE } from "../metrics/fid.ts";
import { checkParts, mergeFeatures, type Part, partArray, readPartial } from "../metrics/partial.ts";
import { applyGates, parseGates, parseMetrics, report } from "./eq_metrics.ts";
import { conclude, type MetricPlan, planMetrics, type Source, type SourceResult } from "./fid.ts";
import { GPU_OPTS, JSON_OPT, openGpu, QUIET_OPT } from "./common_options.ts";
import { custom, num, parseOptions, text, usage, type Values } from "./options.ts";

/** The options of `sg3 merge`, declared once. */
export const OPTIONS = {
  metrics: text(
    "LIST",
    "report only these of the metrics the parts hold (fid50k_full, kid50k_full, is50k;\neqt50k_int, eqt50k_frac, eqr50k)",
  ),
  max: num("X", "FID parts: exit 1 when FID > X (a CI gate)"),
  min: custom("eqt=50,eqr=20", "EQ parts: exit 1 when a metric is below its bound", parseGates),
  "save-stats": text("FILE", "one-source FID parts: write the merged statistics (mu, sigma) to FILE"),
  ...JSON_OPT,
  jsonl: text("FILE", "FID parts: append one line per metric in calc_metrics' layout"),
  ...GPU_OPTS,
  ...QUIET_OPT,
};

/** Usage text of `sg3 merge`. */
export const USAGE = usage(
  "sg3 merge PART.npz... [options]",
  `  Combines the partial results of 'sg3 fid|eq-metrics --shard k/n --partial PART.npz' into the result of
  the unsharded run. The parts must come from one run (same network, data, preset, detector, seed, ...) and
  hold every shard once; anything else is refused with one line naming the part (exit code 2).`,
  OPTIONS,
);

/** Everything `sg3 merge` was asked, checked; nothing read. */
export interface MergePlan {
  parts: string[];
  values: Values<typeof OPTIONS>;
}

/** Parses and checks the arguments of `sg3 merge` (reads nothing). */
export function plan(args: string[]): MergePlan {
  const { values: v, given, positionals } = parseOptions(args, OPTIONS, true);
  if (positionals.length === 0) throw new UserError("give the partial results to merge (PART.npz ...)");
  if (given.has("max") && given.has("min")) {
    throw new UserError("--max gates FID parts, --min EQ parts: not both");
  }
  return { parts: positionals, values: v };
}

/** Runs `sg3 merge`; returns the exit code. */
export function run(args: string[]): Promise<number> {
  const t0 = performance.now();
  const p = plan(args);
  const parts = checkParts(p.parts.map(readPartial));
  return parts[0].header.kind === "fid" ? mergeFid(parts, p.values, t0) : mergeEq(parts, p.values, t0);
}

/** Refuses options that do not apply to parts of `kind`. */
function refuseFor(v: Values<typeof OPTIONS>, kind: string, names: (keyof typeof OPTIONS)[]): void {
  const bad = names.find((n) => v[n] !== undefined);
  if (bad) throw new UserError(`--${bad} does not apply to ${kind} parts`);
}

async function mergeFid(parts: Part[], v: Values<typeof OPTIONS>, t0: number): Promise<number> {
  refuseFor(v, "FID", ["min"]);
  const run = parts[0].header.run as {
    sources: { kind: Source["kind"] }[];
    preset: Preset;
    metrics: MetricPlan | null;
    fid: boolean;
    kid: boolean;
    is: boolean;
    seed: number;
  };
  const convention = PRESET_COVARIANCE[run.preset];
  if (!convention) throw new UserError(`${parts[0].path}: unknown preset ${run.preset}`);
  const results: SourceResult[] = run.sources.map((s, i) => {
    const prefix = `s${i}_`;
    if (s.kind === "stats") {
      const mu = partArray<Float64Array>(parts[0], `${prefix}mu`, "<f8", FEATURE_DIM);
      const sigma = partArray<Float64Array>(parts[0], `${prefix}sigma`, "<f8", FEATURE_DIM * FEATURE_DIM);
      return { kind: s.kind, stats: { mu, sigma, dim: FEATURE_DIM, count: 0 }, features: null, logits: null };
    }
    const merged = mergeFeatures(parts, prefix, FEATURE_DIM, run.kid);
    const least = convention === "unbiased" ? 2 : 1;
    if (merged.count < least) {
      throw new UserError(
        `source ${i}: ${merged.count} image(s); the ${run.preset} covariance needs ${least}`,
      );
    }
    const logits = run.is && s.kind === "network" ? concatLogits(parts, `${prefix}logits`) : null;
    return { kind: s.kind, stats: merged.stats(convention), features: run.kid ? merged.all() : null, logits };
  });
  const m = chosenFidMetrics(v.metrics, run);
  const single = results.length === 1;
  if (single !== (v["save-stats"] !== undefined)) {
    throw new UserError(
      single
        ? "the parts hold one source's statistics: give --save-stats FILE"
        : "--save-stats takes one-source parts (sg3 fid with one --data or --network)",
    );
  }
  if (single) refuseFor(v, "one-source", ["max", "jsonl", "metrics"]);
  let gpu: Gpu | null = null;
  try {
    return await conclude(results, {
      metrics: m.metrics,
      wantFid: m.fid,
      wantKid: m.kid,
      wantIs: m.is,
      seed: run.seed,
      saving: v["save-stats"],
      gate: v.max ?? null,
      json: v.json,
      jsonl: v.jsonl,
      quiet: v.quiet,
      network: (parts[0].header.values.network as string | null) ?? null,
      started: t0,
      gpu: async () => gpu ??= await openGpu(v),
    });
  } finally {
    (gpu as Gpu | null)?.destroy();
  }
}

/** The logits stored under `name` of every part, in shard order. */
function concatLogits(parts: Part[], name: string): Float32Array {
  const chunks = parts.map((p) => {
    const a = p.arrays.get(name);
    if (!a || a.dtype !== "<f4" || a.data.length % LOGIT_DIM !== 0) {
      throw new UserError(`${p.path}: array ${name} is missing or has the wrong type or size`);
    }
    return a.data as Float32Array;
  });
  const out = new Float32Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) out.set(c, o), o += c.length;
  return out;
}

/** Which of the held FID metrics to report: --metrics (each must be held), else all of them. */
function chosenFidMetrics(
  names: string | undefined,
  run: { metrics: MetricPlan | null; fid: boolean; kid: boolean; is: boolean },
): { metrics: MetricPlan | null; fid: boolean; kid: boolean; is: boolean } {
  if (names === undefined) return { metrics: run.metrics, fid: run.fid, kid: run.kid, is: run.is };
  let asked: MetricPlan;
  try {
    asked = planMetrics(names);
  } catch (e) {
    throw e instanceof UserError ? new UserError(`--metrics: ${e.message}`) : e;
  }
  for (const k of ["fid", "kid", "is"] as const) {
    if (asked[k] && !run[k]) {
      throw new UserError(`--metrics ${asked[k]}: the parts hold no ${k.toUpperCase()}`);
    }
    if (asked[k] && run.metrics && asked.num !== run.metrics.num) {
      throw new UserError(`--metrics ${asked[k]}: the parts measured ${run.metrics.num} images`);
    }
  }
  return { metrics: asked, fid: !!asked.fid, kid: !!asked.kid, is: !!asked.is };
}

function mergeEq(parts: Part[], v: Values<typeof OPTIONS>, t0: number): Promise<number> {
  refuseFor(v, "EQ", ["max", "save-stats", "jsonl"]);
  const held = parts[0].header.run.metrics as EqMetric[];
  if (!Array.isArray(held) || !held.every((m) => (EQ_METRICS as readonly string[]).includes(m))) {
    throw new UserError(`${parts[0].path}: corrupt metric list`);
  }
  const metrics = v.metrics === undefined ? held : parseMetricsOption(v.metrics);
  const missing = metrics.find((m) => !held.includes(m));
  if (missing) throw new UserError(`--metrics ${missing}: the parts hold ${held.join(", ")}`);
  const gates = v.min ?? new Map<EqMetric, number>();
  const ungated = [...gates.keys()].find((m) => !metrics.includes(m));
  if (ungated) throw new UserError(`--min ${ungated}: that metric is not merged (--metrics)`);
  const sums = Object.fromEntries(EQ_METRICS.map((m) => [m, { num: 0, den: 0, samples: 0 }])) as Record<
    EqMetric,
    EqSums
  >;
  let samples = 0;
  for (const p of parts) {
    const partSums = (p.header.values.sums ?? {}) as Record<string, EqSums>;
    for (const m of held) {
      const s = partSums[m];
      if (!s || ![s.num, s.den, s.samples].every(Number.isFinite)) {
        throw new UserError(`${p.path}: corrupt sums of ${m}`);
      }
      sums[m].num += s.num;
      sums[m].den += s.den;
      sums[m].samples += s.samples;
    }
    samples += p.header.streams[0].range[1] - p.header.streams[0].range[0];
  }
  const merged: EqRunResult = { sums, samples, stopped: false };
  const rows = eqResults(merged, metrics);
  report(rows, merged, String(parts[0].header.values.network), (performance.now() - t0) / 1000, v.json);
  applyGates(rows, gates);
  return Promise.resolve(0);
}

function parseMetricsOption(value: string): EqMetric[] {
  try {
    return parseMetrics(value);
  } catch (e) {
    throw e instanceof UserError ? new UserError(`--metrics: ${e.message}`) : e;
  }
}
