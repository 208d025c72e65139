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
import { NETWORK_OPTS, type NetworkPlan, openGenerator, openNetwork, planNetwork } from "./network.ts";
import { FP16_OPT, GPU_OPTS, JSON_OPT, openGpu } from "./common_options.ts";
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

interface MetricPlan {
  fid: string | null;
  kid: string | null;
  is: string | null;
  num: number;
  maxReal: number | undefined;
}

/** Parses --metrics into one pass's plan (all metrics must share their image counts). */
function planMetrics(list: string): MetricPlan {
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
type Source =
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
  if (saving !== undefined ? sources.length !== 1 : sources.length !== 2) {
    throw new UserError(
      saving !== undefined
        ? "--save-stats takes exactly one source (--network, --data or --stats)"
        : `give exactly two sources (--network, --data, --stats); got ${sources.length}`,
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
    values: v,
  };
}

/** Runs `sg3 fid`; returns the exit code. */
export async function run(args: string[]): Promise<number> {
  const t0 = performance.now();
  const p = plan(args);
  const { preset, num, maxItems, wantFid, wantKid, wantIs, sources, detector, values: v } = p;
  const saving = v["save-stats"];
  const gate = v.max ?? null;

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

    const results: { stats: Stats; features: FeatureResult | null }[] = [];
    for (const s of sources) {
      if (s.kind === "stats") {
        results.push({ stats: readStats(s.path), features: null });
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
        const cachePath = v["no-cache"] || wantKid ? null : await statsCachePath(data, detector, preset);
        const cached = cachePath ? readCachedStats(cachePath) : null;
        if (cached) {
          results.push({ stats: cached, features: null });
          if (!quiet) console.error(`${s.path}: statistics from the cache (${cachePath})`);
          continue;
        }
        const bar = new Progress(`dataset features`, data.count, "img", quiet);
        const f = await datasetFeatures(inception!, data, { ...keep, onBatch: (n) => bar.tick(n) });
        bar.finish();
        const stats = f.stats.stats(convention);
        if (cachePath) writeStats(cachePath, stats);
        results.push({ stats, features: f });
      } else {
        const bar = new Progress(`generator features`, num, "img", quiet);
        const f = await generatorFeatures(
          inception!,
          generator!,
          { num, seed: v.seed, psi: v.trunc, labels },
          { ...keep, logits: wantIs, onBatch: (n) => bar.tick(n) },
        );
        bar.finish();
        results.push({ stats: f.stats.stats(convention), features: f });
      }
    }

    if (saving !== undefined) {
      writeStats(saving, results[0].stats);
      if (!quiet) {
        console.error(`wrote ${saving} (${results[0].stats.count} images, d=${results[0].stats.dim})`);
      }
      return 0;
    }

    const out: Record<string, number> = {};
    if (wantFid) {
      const bar = new Progress("frechet distance", 1, "step", quiet);
      out[p.metrics?.fid ?? "fid"] = frechetDistance(results[0].stats, results[1].stats);
      bar.tick();
      bar.finish();
    }
    if (wantKid) {
      // Official argument order: generated features first, real second; without a generator the
      // second source plays the generated side.
      const network = sources.findIndex((s) => s.kind === "network");
      const genIndex = network >= 0 ? network : 1;
      const gen = results[genIndex].features!.stats, real = results[1 - genIndex].features!.stats;
      out[p.metrics?.kid ?? "kid"] = await kernelInceptionDistanceGpu(
        gpu!,
        real.all(),
        real.count,
        gen.all(),
        gen.count,
        FEATURE_DIM,
        { seed: v.seed },
      );
    }
    if (wantIs) {
      const g = results[sources.findIndex((s) => s.kind === "network")].features!;
      const { mean, std } = inceptionScore(g.logits!, g.stats.count, LOGIT_DIM);
      const name = p.metrics?.is ?? "is";
      out[`${name}_mean`] = mean;
      out[`${name}_std`] = std;
    }
    const totalTime = (performance.now() - t0) / 1000;
    report(out, v.json);
    if (v.jsonl) appendJsonl(v.jsonl, out, p.metrics, totalTime, v.network ?? null);
    const fid = out[p.metrics?.fid ?? "fid"];
    if (gate !== null && fid !== undefined && !(fid <= gate)) {
      throw new GateFailure(`FID ${fid.toFixed(4)} exceeds --max ${gate}`);
    }
    return 0;
  } finally {
    for (const d of datasets.values()) d.close();
    generator?.destroy();
    inception?.destroy();
    gpu?.destroy();
  }
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
