/**
 * `sg3 fid`: Fréchet Inception Distance (and KID, Inception Score) between two sources: a generator,
 * an image dataset (folder, dataset zip or .npy/.npz image array) or saved statistics. Reproduces
 * StyleGAN3's calc_metrics (preset stylegan3), pytorch-fid or clean-fid numbers; see the README for the
 * presets' differences.
 */
import { GateFailure, UserError } from "../errors.ts";
import { statSync } from "node:fs";
import type { Gpu } from "../gpu/device.ts";
import { Dataset } from "../formats/dataset.ts";
import { Inception, type Preset, PRESETS } from "../models/inception.ts";
import { FEATURE_DIM, LOGIT_DIM } from "../models/inception_arch.ts";
import { loadInceptionWeights, NVIDIA_DETECTOR_URL } from "../models/inception_weights.ts";
import type { Generator } from "../models/generator.ts";
import type { Stats } from "../metrics/feature_stats.ts";
import { frechetDistance, PRESET_COVARIANCE, readStats, writeStats } from "../metrics/fid.ts";
import { inceptionScore, kernelInceptionDistanceGpu } from "../metrics/kid.ts";
import { datasetFeatures, type FeatureResult, generatorFeatures } from "../metrics/inception_features.ts";
import { readCachedStats, statsCachePath } from "../metrics/stats_cache.ts";
import { contentHash, datasetIdentity, sourceIdentity } from "../metrics/identity.ts";
import { featureArrays, type PartialStream, writePartial } from "../metrics/partial.ts";
import { formatShard, shardRange } from "../metrics/shard.ts";
import type { NdArray } from "../formats/npy.ts";
import { NETWORK_OPTS, type NetworkPlan, openGenerator, openNetwork, planNetwork } from "./network.ts";
import {
  FP16_OPT,
  GPU_OPTS,
  JSON_OPT,
  openGpu,
  PARTIAL_OPTS,
  planShard,
  type ShardPlan,
} from "./common_options.ts";
import { custom, flag, int, list, num, oneOf, parseOptions, text, usage, type Values } from "./options.ts";
import { formatDuration, Progress, transferReporter } from "./progress.ts";

/** Default detector per preset: the network file each reference tool downloads. */
const DEFAULT_DETECTOR: Record<Preset, string> = {
  "stylegan3": NVIDIA_DETECTOR_URL,
  "pytorch-fid":
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
  "clean-fid":
    "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/inception-2015-12-05.pt",
};

const SOURCES = {
  data: list(
    "FOLDER|ZIP|NPZ",
    "images (PNG, JPEG, BMP, PGM/PPM, TIFF, WebP; recursive, sorted; any sizes;\nconverted as PIL's convert('RGB')), a dataset_tool zip, or an [N, H, W, 3]\nuint8 array in .npy/.npz (arr_0); may repeat",
  ),
  stats: list("FILE.npz", "saved statistics (mu, sigma; pytorch-fid / clean-fid layout); may repeat"),
  ...NETWORK_OPTS,
};

const MEASURE = {
  preset: oneOf("whose numbers to reproduce", PRESETS, "stylegan3"),
  detector: text(
    "PATH|URL",
    "Inception weights (default: the preset tool's file, downloaded once;\npytorch-fid .pth and NVIDIA .pkl/.pt layouts are recognised)",
  ),
  metrics: custom(
    "LIST",
    "official names: fid50k_full, fid50k, fid10k, kid50k_full, kid50k, is50k, ...\n(sets --num, the real-image limit, --kid and --is)",
    planMetrics,
  ),
  num: int("N", "generated images", 50000, 1, 10_000_000),
  "max-items": int("N", "use at most N dataset items (default all)", undefined, 1),
  mirror: flag("add x-flipped copies of the dataset images (as --mirror=1)"),
  seed: int("N", "seed of the generator's latents and labels", 0, 0, 0xffffffff),
  trunc: num("PSI", "truncation psi of the generator", 1),
  kid: flag("also the Kernel Inception Distance (needs images on both sides)"),
  is: flag("also the Inception Score of the generator"),
  batch: int("N", "images per GPU batch (default: by the adapter's memory limits)", undefined, 1, 65536),
};

const OUTPUT = {
  "save-stats": text("FILE", "write the statistics of the single SOURCE (covariance as --preset) and stop"),
  "no-cache": flag("do not read or write the dataset statistics cache"),
  max: num("X", "exit 1 when FID > X (a CI gate)"),
  ...JSON_OPT,
  jsonl: text("FILE", "append one line per metric in calc_metrics' layout"),
  ...PARTIAL_OPTS,
  ...FP16_OPT,
  ...GPU_OPTS,
  quiet: flag("no progress bars"),
};

/** The options of `sg3 fid`, declared once. */
export const OPTIONS = { ...SOURCES, ...MEASURE, ...OUTPUT };

/** Usage text of `sg3 fid`. */
export const USAGE = usage(
  "sg3 fid SOURCE SOURCE [options]     sg3 fid SOURCE --save-stats OUT.npz",
  "  FID between two sources; each SOURCE is a generator (--network/--cfg; --num images), --data or --stats.",
  [["Sources:", SOURCES], ["Measurement:", MEASURE], ["Output:", OUTPUT]],
);

/** The metrics of one pass (--metrics). */
export interface MetricPlan {
  fid: string | null;
  kid: string | null;
  is: string | null;
  num: number;
  maxReal: number | undefined;
}

/** Parses --metrics into one pass's plan (all metrics must share their image counts). */
export function planMetrics(list: string): MetricPlan {
  const plan: MetricPlan = { fid: null, kid: null, is: null, num: 0, maxReal: undefined };
  const nums = new Set<number>(), reals = new Set<string>();
  for (const name of list.split(",").map((s) => s.trim()).filter(Boolean)) {
    const m = /^(fid|kid|is)(\d+)k(_full)?$/.exec(name);
    if (!m || (m[1] === "is" && m[3])) {
      throw new UserError(`unknown metric "${name}" (fid50k_full, fid50k, kid50k_full, kid50k, is50k, ...)`);
    }
    const n = Number(m[2]) * 1000;
    nums.add(n);
    if (m[1] !== "is") reals.add(m[3] ? "all" : String(n));
    plan[m[1] as "fid" | "kid" | "is"] = name;
    plan.num = n;
    if (m[1] !== "is" && !m[3]) plan.maxReal = n;
  }
  if (nums.size > 1 || reals.size > 1) {
    throw new UserError("run metrics with different image counts separately");
  }
  if (!plan.fid && !plan.kid && !plan.is) throw new UserError("no metric given");
  return plan;
}

/** The fewest images whose covariance the preset can form: 2 for the unbiased 1/(N-1) estimate, else 1. */
function minImages(preset: Preset): number {
  return PRESET_COVARIANCE[preset] === "unbiased" ? 2 : 1;
}

/** One side of the comparison. */
export type Source =
  | { kind: "network"; label: string }
  | { kind: "data"; path: string }
  | { kind: "stats"; path: string };

/** Everything `sg3 fid` was asked, checked; nothing loaded or opened. */
export interface FidPlan {
  preset: Preset;
  metrics: MetricPlan | null;
  num: number;
  maxItems: number | undefined;
  wantFid: boolean;
  wantKid: boolean;
  wantIs: boolean;
  sources: Source[];
  network: NetworkPlan | null;
  detector: string;
  /** A sharded run (--shard, --partial): its part of every image source goes to a partial-result file. */
  sharding: ShardPlan | null;
  values: Values<typeof OPTIONS>;
}

/** Parses and checks the arguments of `sg3 fid` (no GPU, nothing loaded). */
export function plan(args: string[]): FidPlan {
  const { values: v, given } = parseOptions(args, OPTIONS);
  const preset = v.preset;
  const metrics = v.metrics ?? null;
  const maxItems = metrics?.maxReal !== undefined
    ? Math.min(metrics.maxReal, v["max-items"] ?? Infinity)
    : v["max-items"];
  const wantKid = v.kid || !!metrics?.kid;
  const wantIs = v.is || !!metrics?.is;
  const hasNetwork = v.network !== undefined || v.cfg !== undefined;
  const sources: Source[] = [];
  if (hasNetwork) sources.push({ kind: "network", label: v.network ?? `random ${v.cfg}` });
  for (const p of v.data) sources.push({ kind: "data", path: p });
  for (const p of v.stats) sources.push({ kind: "stats", path: p });
  const saving = v["save-stats"];
  const sharding = planShard(v, given, ["save-stats", "max", "jsonl"]);
  if (sharding && (sources.length < 1 || sources.length > 2)) {
    throw new UserError(
      `a sharded run takes one or two sources (--network, --data, --stats); got ${sources.length}`,
    );
  }
  if (!sharding && (saving !== undefined ? sources.length !== 1 : sources.length !== 2)) {
    throw new UserError(
      saving !== undefined
        ? "--save-stats takes exactly one source (--network, --data or --stats)"
        : `give exactly two sources (--network, --data, --stats); got ${sources.length}`,
    );
  }
  if (sharding && sources.length === 1 && (wantKid || wantIs)) {
    throw new UserError(
      "--kid/--is compare two sources: a one-source shard holds statistics for --save-stats",
    );
  }
  if ((wantKid || wantIs) && saving !== undefined) {
    throw new UserError("--kid/--is cannot be combined with --save-stats");
  }
  if (wantKid && sources.some((s) => s.kind === "stats")) {
    throw new UserError("KID needs the images of both sides; statistics files hold only mu and sigma");
  }
  if (wantIs && !hasNetwork) {
    throw new UserError("the Inception Score is computed for a generator: give --network");
  }
  const num = metrics ? metrics.num : v.num;
  if (hasNetwork && num < minImages(preset)) {
    throw new UserError(`--num ${num}: the ${preset} covariance (1/(N-1)) needs at least two images`);
  }
  for (const path of [saving, v.jsonl]) {
    if (path !== undefined && statSync(path, { throwIfNoEntry: false })?.isDirectory()) {
      throw new UserError(`${path}: is a folder, expected a file name`);
    }
  }
  return {
    preset,
    metrics,
    num,
    maxItems,
    wantFid: metrics ? !!metrics.fid : true,
    wantKid,
    wantIs,
    sources,
    network: hasNetwork ? planNetwork(v, given) : null,
    detector: v.detector ?? DEFAULT_DETECTOR[preset],
    sharding,
    values: v,
  };
}

/** One side's measured statistics; the kept vectors (KID) and logits (IS) when asked. */
export interface SourceResult {
  kind: Source["kind"];
  stats: Stats;
  /** Every feature vector, row-major count x FEATURE_DIM (KID). */
  features: Float32Array | null;
  /** Logits without output bias, count x LOGIT_DIM (IS of a generator). */
  logits: Float32Array | null;
}

/** What {@link conclude} reports and checks. */
export interface Conclusion {
  metrics: MetricPlan | null;
  wantFid: boolean;
  wantKid: boolean;
  wantIs: boolean;
  /** The KID subset seed (the run's --seed). */
  seed: number;
  saving: string | undefined;
  gate: number | null;
  json: boolean;
  jsonl: string | undefined;
  quiet: boolean;
  network: string | null;
  /** Seconds since the run started (calc_metrics' total_time). */
  started: number;
  /** The GPU for KID's Gram matrices (opened only when KID is asked). */
  gpu: () => Promise<Gpu>;
}

/**
 * The whole run's final step, shared by `sg3 fid` and `sg3 merge`: writes --save-stats, or computes FID, KID
 * and IS from the sources' results, prints them and applies the --max gate (GateFailure: exit 1).
 */
export async function conclude(results: SourceResult[], c: Conclusion): Promise<number> {
  if (c.saving !== undefined) {
    writeStats(c.saving, results[0].stats);
    if (!c.quiet) {
      console.error(`wrote ${c.saving} (${results[0].stats.count} images, d=${results[0].stats.dim})`);
    }
    return 0;
  }
  const out: Record<string, number> = {};
  if (c.wantFid) {
    const bar = new Progress("frechet distance", 1, "step", c.quiet);
    out[c.metrics?.fid ?? "fid"] = frechetDistance(results[0].stats, results[1].stats);
    bar.tick();
    bar.finish();
  }
  if (c.wantKid) {
    // Official argument order: generated features first, real second; without a generator the
    // second source plays the generated side.
    const network = results.findIndex((s) => s.kind === "network");
    const genIndex = network >= 0 ? network : 1;
    const gen = results[genIndex], real = results[1 - genIndex];
    out[c.metrics?.kid ?? "kid"] = await kernelInceptionDistanceGpu(
      await c.gpu(),
      real.features!,
      real.stats.count,
      gen.features!,
      gen.stats.count,
      FEATURE_DIM,
      { seed: c.seed },
    );
  }
  if (c.wantIs) {
    const g = results[results.findIndex((s) => s.kind === "network")];
    const { mean, std } = inceptionScore(g.logits!, g.stats.count, LOGIT_DIM);
    const name = c.metrics?.is ?? "is";
    out[`${name}_mean`] = mean;
    out[`${name}_std`] = std;
  }
  const totalTime = (performance.now() - c.started) / 1000;
  report(out, c.json);
  if (c.jsonl) appendJsonl(c.jsonl, out, c.metrics, totalTime, c.network);
  const fid = out[c.metrics?.fid ?? "fid"];
  if (c.gate !== null && fid !== undefined && !(fid <= c.gate)) {
    throw new GateFailure(`FID ${fid.toFixed(4)} exceeds --max ${c.gate}`);
  }
  return 0;
}

/** Runs `sg3 fid`; returns the exit code. */
export async function run(args: string[]): Promise<number> {
  const t0 = performance.now();
  const p = plan(args);
  const { preset, num, maxItems, wantFid, wantKid, wantIs, sources, detector, sharding, values: v } = p;
  const saving = v["save-stats"];

  // Sources that need the GPU.
  let gpu: Gpu | null = null;
  let inception: Inception | null = null;
  let generator: Generator | null = null;
  const quiet = v.quiet;
  const needsGpu = sources.some((s) => s.kind !== "stats");
  const datasets = new Map<string, Dataset>();
  try {
    for (const s of sources) {
      if (s.kind !== "data") continue;
      const data = Dataset.open(s.path, { mirror: v.mirror, maxItems });
      datasets.set(s.path, data);
      if (data.count < minImages(preset)) {
        throw new UserError(`${s.path}: ${data.count} image(s); the ${preset} covariance needs at least two`);
      }
    }
    if (needsGpu) {
      const chosen = p.network ? await openNetwork(p.network) : null;
      const weights = await loadInceptionWeights(detector, transferReporter(quiet));
      gpu = await openGpu(v);
      inception = Inception.create(gpu, weights);
      if (chosen) generator = await openGenerator(gpu, chosen, { fp16: v.fp16 });
    }
    const userBatch = v.batch ?? null;
    const convention = PRESET_COVARIANCE[preset];
    const labels = [...datasets.values()][0] ?? null;
    const shard = sharding?.shard ?? null;

    const results: SourceResult[] = [];
    const accumulated: (FeatureResult | null)[] = [];
    const result = (kind: Source["kind"], f: FeatureResult) => ({
      kind,
      stats: shard
        ? { mu: new Float64Array(0), sigma: new Float64Array(0), dim: 0, count: 0 }
        : f.stats.stats(convention),
      features: wantKid ? f.stats.all() : null,
      logits: f.logits,
    });
    for (const s of sources) {
      if (s.kind === "stats") {
        results.push({ kind: s.kind, stats: readStats(s.path), features: null, logits: null });
        accumulated.push(null);
        continue;
      }
      const res = s.kind === "data"
        ? [datasets.get(s.path)!.height, datasets.get(s.path)!.width]
        : [generator!.resolution, generator!.resolution];
      const fits = s.kind === "network" ? generator!.maxBatch : Infinity;
      const batch = Math.min(userBatch ?? defaultBatch(gpu!, res[0], res[1]), fits);
      const keep = { preset, batch, keepFeatures: wantKid };
      if (s.kind === "data") {
        const data = datasets.get(s.path)!;
        const range = shard ? shardRange(data.count, shard) : undefined;
        const cachePath = v["no-cache"] || wantKid || shard
          ? null
          : await statsCachePath(data, detector, preset);
        const cached = cachePath ? readCachedStats(cachePath) : null;
        if (cached) {
          results.push({ kind: s.kind, stats: cached, features: null, logits: null });
          accumulated.push(null);
          if (!quiet) console.error(`${s.path}: statistics from the cache (${cachePath})`);
          continue;
        }
        const bar = new Progress(`dataset features`, range ? range[1] - range[0] : data.count, "img", quiet);
        const f = await datasetFeatures(inception!, data, { ...keep, range, onBatch: (n) => bar.tick(n) });
        bar.finish();
        results.push(result(s.kind, f));
        accumulated.push(f);
        if (cachePath) writeStats(cachePath, results.at(-1)!.stats);
      } else {
        const range = shard ? shardRange(num, shard) : undefined;
        const bar = new Progress(`generator features`, range ? range[1] - range[0] : num, "img", quiet);
        const f = await generatorFeatures(
          inception!,
          generator!,
          { num, seed: v.seed, psi: v.trunc, labels },
          { ...keep, range, logits: wantIs, onBatch: (n) => bar.tick(n) },
        );
        bar.finish();
        results.push(result(s.kind, f));
        accumulated.push(f);
      }
    }
    if (sharding) {
      await writeFidPartial(p, sharding, results, accumulated, [...datasets.values()]);
      if (!quiet) console.error(`wrote ${sharding.partial} (shard ${formatShard(sharding.shard)})`);
      return 0;
    }
    return await conclude(results, {
      metrics: p.metrics,
      wantFid,
      wantKid,
      wantIs,
      seed: v.seed,
      saving,
      gate: v.max ?? null,
      json: v.json,
      jsonl: v.jsonl,
      quiet,
      network: v.network ?? null,
      started: t0,
      gpu: () => Promise.resolve(gpu!),
    });
  } finally {
    for (const d of datasets.values()) d.close();
    generator?.destroy();
    inception?.destroy();
    gpu?.destroy();
  }
}

/**
 * Writes a shard's partial result: per source `s<i>_` its feature sums (metrics/partial.ts featureArrays),
 * kept vectors for KID and logits for IS, or a statistics file's mu and sigma; the header's `run` holds
 * everything the shards must share (sources by content identity, preset, detector hash, seed, counts, ...).
 */
async function writeFidPartial(
  p: FidPlan,
  sharding: ShardPlan,
  results: SourceResult[],
  accumulated: (FeatureResult | null)[],
  datasets: Dataset[],
): Promise<void> {
  const v = p.values;
  const arrays: Record<string, NdArray> = {};
  const streams: PartialStream[] = [];
  const sources: Record<string, unknown>[] = [];
  let dataIndex = 0;
  for (const [i, s] of p.sources.entries()) {
    const prefix = `s${i}_`;
    if (s.kind === "stats") {
      const st = results[i].stats;
      arrays[`${prefix}mu`] = { shape: [st.dim], dtype: "<f8", data: st.mu };
      arrays[`${prefix}sigma`] = { shape: [st.dim, st.dim], dtype: "<f8", data: st.sigma };
      sources.push({ kind: "stats", identity: `sha256:${await contentHash(s.path)}` });
      continue;
    }
    const f = accumulated[i]!;
    Object.assign(arrays, featureArrays(prefix, f.stats, p.wantKid));
    if (f.logits) {
      arrays[`${prefix}logits`] = { shape: [f.stats.count, LOGIT_DIM], dtype: "<f4", data: f.logits };
    }
    if (s.kind === "data") {
      const data = datasets[dataIndex++];
      const total = data.count;
      streams.push({ name: `source ${i} items`, total, range: shardRange(total, sharding.shard) });
      sources.push({ kind: "data", identity: await datasetIdentity(data) });
    } else {
      streams.push({ name: `source ${i} images`, total: p.num, range: shardRange(p.num, sharding.shard) });
      sources.push({
        kind: "network",
        identity: await networkIdentity(p.network!),
        seed: v.seed,
        trunc: v.trunc,
        fp16: v.fp16,
        labels: datasets[0] ? await datasetIdentity(datasets[0]) : null,
      });
    }
  }
  writePartial(sharding.partial, {
    kind: "fid",
    shard: sharding.shard,
    run: {
      sources,
      preset: p.preset,
      detector: await sourceIdentity(p.detector),
      metrics: p.metrics,
      fid: p.wantFid,
      kid: p.wantKid,
      is: p.wantIs,
      seed: v.seed,
    },
    streams,
    values: { network: v.network ?? null },
  }, arrays);
}

/** The content identity of a planned network: its file's hash, or the random configuration. */
export async function networkIdentity(n: NetworkPlan): Promise<string> {
  return n.kind === "file" ? `${await sourceIdentity(n.source)} ${n.which}` : `random:${JSON.stringify(n)}`;
}

/**
 * The largest batch (up to 32) whose biggest Inception activation and whose h x w input images (as float
 * RGB) fit one storage binding, with the whole pass within 1 GiB.
 */
function defaultBatch(gpu: Gpu, h: number, w: number): number {
  const { total, largest } = Inception.activationBytes();
  const limit = Math.min(gpu.maxBinding / Math.max(largest, 3 * h * w * 4), (1 << 30) / total);
  return Math.max(1, Math.min(32, Math.floor(limit)));
}

function report(out: Record<string, number>, json: boolean): void {
  if (json) {
    console.log(JSON.stringify(out));
    return;
  }
  for (const [k, val] of Object.entries(out)) console.log(`${k.padEnd(16)} ${val}`);
}

/** Appends calc_metrics-style lines: {results, metric, total_time, total_time_str, num_gpus, snapshot_pkl, timestamp}. */
function appendJsonl(
  path: string,
  out: Record<string, number>,
  plan: MetricPlan | null,
  totalTime: number,
  snapshot: string | null,
): void {
  const groups = new Map<string, Record<string, number>>();
  for (const [k, val] of Object.entries(out)) {
    const metric = plan?.is && k.startsWith(`${plan.is}_`) ? plan.is : k;
    groups.set(metric, { ...groups.get(metric), [k]: val });
  }
  let text = "";
  for (const [metric, results] of groups) {
    text += JSON.stringify({
      results,
      metric,
      total_time: totalTime,
      total_time_str: formatDuration(totalTime),
      num_gpus: 1,
      snapshot_pkl: snapshot,
      timestamp: Date.now() / 1000,
    }) + "\n";
  }
  try {
    Deno.writeTextFileSync(path, text, { append: true, create: true });
  } catch (e) {
    throw new UserError(`${path}: cannot append: ${(e as Error).message.split("\n")[0]}`);
  }
}
