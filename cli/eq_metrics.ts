/**
 * `sg3 eq-metrics`: the equivariance metrics EQ-T, EQ-T_frac and EQ-R (metrics/equivariance.py) of a
 * StyleGAN3 network, in float32 like the official run (force_fp32). Random mode draws seeded samples;
 * audit mode (--transforms) evaluates explicitly given samples. --min turns the results into a CI gate.
 */
import { GateFailure, UserError } from "../errors.ts";
import { GPU_HELP, GPU_OPTIONS, openGpu } from "./gpu_options.ts";
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
import { intOption, numberOption, parse } from "./args.ts";
import { chooseNetwork, type ChosenNetwork, NETWORK_OPTIONS, openGenerator } from "./network.ts";
import { formatDuration, Progress } from "./progress.ts";

/** Usage text of `sg3 eq-metrics`. */
export const USAGE =
  `sg3 eq-metrics (--network FILE|URL|NAME | --cfg stylegan3-t|stylegan3-r --res N) [options]
  Equivariance PSNRs in dB (higher is better) as metrics/equivariance.py computes them.
  --metrics LIST           eqt50k_int,eqt50k_frac,eqr50k (default: all three)
  --num N                  samples (default 50000, the official count; e.g. 10000 for CI)
  --seed N                 seed of the random samples (default 0)
  --translate-max T        largest translation, a fraction of the image size (default 0.125)
  --rotate-max R           largest rotation in units of pi (default 1)
  --transforms FILE        audit mode: evaluate the samples listed in FILE instead of random ones: a JSON array
                           of {"z_seed": 100, "class": null, "eqt": [tx, ty], "eqt_frac": [tx, ty], "eqr": rad};
                           each metric uses the samples that name it
  --batch N                samples per GPU batch (default 4)
  --min eqt=50,eqr=20      gate: exit 1 when a metric is below its bound (keys eqt, eqt_frac, eqr or the
                           metric names)
  --json                   print the results as JSON
  --which G|G_ema, --cbase N, --cmax N, --init-seed N   see 'sg3 generate --help'
${GPU_HELP}
  --quiet                  no progress bar
  Exit codes: 0 done (and every gate holds), 1 a gate failed, 2 bad input, 130 interrupted (Ctrl-C prints
  the partial results with their sample counts).`;

const SHORT_NAMES: Record<string, EqMetric> = { eqt: "eqt50k_int", eqt_frac: "eqt50k_frac", eqr: "eqr50k" };

/** Parses --metrics. */
export function parseMetrics(value: string): EqMetric[] {
  const names = value.split(",").map((s) => s.trim()).filter((s) => s);
  const out: EqMetric[] = [];
  for (const name of names) {
    const m = (EQ_METRICS as readonly string[]).includes(name) ? name as EqMetric : SHORT_NAMES[name];
    if (!m) throw new UserError(`--metrics: unknown metric "${name}" (expected ${EQ_METRICS.join(", ")})`);
    if (!out.includes(m)) out.push(m);
  }
  if (out.length === 0) throw new UserError("--metrics: no metric given");
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
      throw new UserError(`--min: expected KEY=DB items (keys eqt, eqt_frac, eqr), got "${item}"`);
    }
    gates.set(m, v);
  }
  if (gates.size === 0) throw new UserError("--min: no bound given");
  return gates;
}

/** Refuses gates on metrics that are not computed. */
function checkGates(gates: Map<EqMetric, number>, metrics: EqMetric[]): void {
  for (const m of gates.keys()) {
    if (!metrics.includes(m)) throw new UserError(`--min ${m}: that metric is not computed (--metrics)`);
  }
}

/** Throws the official metric's complaint, as a UserError, for networks without an input transform (StyleGAN2). */
export function requireInputTransform(chosen: ChosenNetwork): void {
  if (chosen.net.arch === "stylegan2" || !chosen.net.tensors.has("synthesis.input.transform")) {
    throw new UserError(
      `${chosen.label}: cannot compute equivariance metrics: this ${chosen.net.arch} network has no input ` +
        "transform (synthesis.input.transform); only StyleGAN3 (T, R) networks take image transformations",
    );
  }
}

function report(
  rows: EqMetricResult[],
  run: EqRunResult,
  chosen: ChosenNetwork,
  seconds: number,
  json: boolean,
) {
  if (json) {
    console.log(JSON.stringify({
      network: chosen.label,
      results: rows.map((r) => ({ metric: r.metric, value: r.value, num_samples: r.samples })),
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
      `network ${chosen.label}`,
  );
}

/** Runs `sg3 eq-metrics`; returns the exit code. */
export async function run(args: string[]): Promise<number> {
  const { values: v } = parse("eq-metrics", args, {
    ...NETWORK_OPTIONS,
    metrics: { type: "string" },
    num: { type: "string" },
    seed: { type: "string" },
    "translate-max": { type: "string" },
    "rotate-max": { type: "string" },
    transforms: { type: "string" },
    batch: { type: "string" },
    min: { type: "string" },
    json: { type: "boolean" },
    ...GPU_OPTIONS,
    quiet: { type: "boolean" },
  });
  const audit = v.transforms !== undefined;
  if (audit) {
    for (const flag of ["num", "seed", "translate-max", "rotate-max"] as const) {
      if (v[flag] !== undefined) throw new UserError(`--${flag} does not apply with --transforms`);
    }
  }
  const gates = v.min === undefined ? new Map<EqMetric, number>() : parseGates(v.min);
  const num = intOption("num", v.num, 50000, 1);
  const seed = intOption("seed", v.seed, 0, 0);
  if (seed > 0xffffffff) throw new UserError("--seed: expected an integer below 2^32");
  const translateMax = numberOption("translate-max", v["translate-max"], 0.125);
  const rotateMax = numberOption("rotate-max", v["rotate-max"], 1);
  const batch = intOption("batch", v.batch, 4, 1);
  const transformsText = audit ? new TextDecoder().decode(readFileOrFail(v.transforms!)) : "";
  const chosenMetrics = v.metrics !== undefined
    ? parseMetrics(v.metrics)
    : audit
    ? undefined
    : [...EQ_METRICS];
  if (chosenMetrics) checkGates(gates, chosenMetrics);

  const chosen = await chooseNetwork(v);
  requireInputTransform(chosen);
  const gpu = await openGpu(v);
  const gen = await openGenerator(gpu, chosen, { fp16: false });
  try {
    let count: number, source: (i: number) => EqSample, metrics: EqMetric[];
    if (audit) {
      const samples = parseTransforms(transformsText, v.transforms!, gen.zDim, gen.cDim);
      metrics = chosenMetrics ?? sampledMetrics(samples);
      if (metrics.length === 0) throw new UserError(`${v.transforms}: no sample names eqt, eqt_frac or eqr`);
      checkGates(gates, metrics);
      count = samples.length;
      source = (i) => samples[i];
    } else {
      metrics = chosenMetrics!;
      const sampler = new RandomSamples({
        seed,
        metrics,
        zDim: gen.zDim,
        cDim: gen.cDim,
        resolution: gen.resolution,
        translateMax,
        rotateMax,
      });
      count = num;
      source = () => sampler.next();
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
    Deno.addSignalListener("SIGINT", onSigint);
    const start = performance.now();
    const progress = new Progress("eq", count, "samples", v.quiet ?? false);
    let last = 0;
    let run: EqRunResult;
    try {
      run = await computeEquivariance(gpu, gen, source, count, {
        metrics,
        batch,
        stop: () => interrupted,
        onBatch: (done) => (progress.tick(done - last), last = done),
      });
    } finally {
      Deno.removeSignalListener("SIGINT", onSigint);
      progress.finish();
    }
    const seconds = (performance.now() - start) / 1000;
    const rows = eqResults(run, metrics);
    report(rows, run, chosen, seconds, v.json ?? false);
    if (run.stopped) return 130;
    const failed = rows.filter((r) => gates.has(r.metric) && !(r.value >= gates.get(r.metric)!));
    if (failed.length) {
      throw new GateFailure(
        failed.map((r) => `${r.metric} ${r.value.toFixed(4)} dB is below --min ${gates.get(r.metric)}`).join(
          "; ",
        ),
      );
    }
    return 0;
  } finally {
    gen.destroy();
    gpu.destroy();
  }
}
