/**
 * `sg3 fid`: Fréchet Inception Distance (and KID, Inception Score) between two sources: a generator,
 * an image dataset (folder, dataset zip or .npy/.npz image array) or saved statistics. Reproduces
 * StyleGAN3's calc_metrics (preset stylegan3), pytorch-fid or clean-fid numbers; see the README for the
 * presets' differences.
 */
import { GateFailure, UserError } from "../errors.ts";
import { GPU_HELP, GPU_OPTIONS, openGpu } from "./gpu_options.ts";
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
import { intOption, numberOption, parse } from "./args.ts";
import { chooseNetwork, NETWORK_OPTIONS, openGenerator } from "./network.ts";
import { formatDuration, Progress } from "./progress.ts";

/** Default detector per preset: the network file each reference tool downloads. */
const DEFAULT_DETECTOR: Record<Preset, string> = {
  "stylegan3": NVIDIA_DETECTOR_URL,
  "pytorch-fid":
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
  "clean-fid":
    "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/inception-2015-12-05.pt",
};

/** Usage text of `sg3 fid`. */
export const USAGE = `sg3 fid SOURCE SOURCE [options]     sg3 fid SOURCE --save-stats OUT.npz
  FID between two sources; each SOURCE is one of
    --network FILE|URL|NAME (or --cfg stylegan3-t|r --res N ...)  a generator (--num images, seeded)
    --data FOLDER|ZIP|NPZ    images (PNG, JPEG, BMP, PGM/PPM, TIFF, WebP; recursive, sorted; any sizes;
                           converted as PIL's convert('RGB')), a dataset_tool zip, or an [N, H, W, 3]
                           uint8 array in .npy/.npz (arr_0); may repeat
    --stats FILE.npz         saved statistics (mu, sigma; pytorch-fid / clean-fid layout); may repeat
  --preset stylegan3|pytorch-fid|clean-fid  whose numbers to reproduce (default stylegan3)
  --detector PATH|URL      Inception weights (default: the preset tool's file, downloaded once;
                           pytorch-fid .pth and NVIDIA .pkl/.pt layouts are recognised)
  --metrics LIST           official names: fid50k_full, fid50k, fid10k, kid50k_full, kid50k, is50k, ...
                           (sets --num, the real-image limit, --kid and --is)
  --num N                  generated images (default 50000)
  --max-items N            use at most N dataset items (default all)
  --mirror                 add x-flipped copies of the dataset images (as --mirror=1)
  --seed N                 seed of the generator's latents and labels (default 0)
  --trunc PSI              truncation psi of the generator (default 1)
  --kid                    also the Kernel Inception Distance (needs images on both sides)
  --is                     also the Inception Score of the generator
  --batch N                images per GPU batch (default: by the adapter's memory limits)
  --save-stats FILE        write the statistics of the single SOURCE (covariance as --preset) and stop
  --no-cache               do not read or write the dataset statistics cache
  --max X                  exit 1 when FID > X (a CI gate)
  --json                   print the results as JSON
  --jsonl FILE             append one line per metric in calc_metrics' layout
  --fp16                   run the generator's highest-resolution layers in float16
${GPU_HELP}
  --quiet                  no progress bars`;

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
      throw new UserError(
        `--metrics: unknown metric "${name}" (fid50k_full, fid50k, kid50k_full, kid50k, is50k, ...)`,
      );
    }
    const n = Number(m[2]) * 1000;
    nums.add(n);
    if (m[1] !== "is") reals.add(m[3] ? "all" : String(n));
    plan[m[1] as "fid" | "kid" | "is"] = name;
    plan.num = n;
    if (m[1] !== "is" && !m[3]) plan.maxReal = n;
  }
  if (nums.size > 1 || reals.size > 1) {
    throw new UserError("--metrics: run metrics with different image counts separately");
  }
  if (!plan.fid && !plan.kid && !plan.is) throw new UserError("--metrics: no metric given");
  return plan;
}

/** One side of the comparison. */
type Source =
  | { kind: "network"; label: string }
  | { kind: "data"; path: string }
  | { kind: "stats"; path: string };

/** Runs `sg3 fid`; returns the exit code. */
export async function run(args: string[]): Promise<number> {
  const { values: v } = parse("fid", args, {
    ...NETWORK_OPTIONS,
    data: { type: "string", multiple: true },
    stats: { type: "string", multiple: true },
    preset: { type: "string" },
    detector: { type: "string" },
    metrics: { type: "string" },
    num: { type: "string" },
    "max-items": { type: "string" },
    mirror: { type: "boolean" },
    seed: { type: "string" },
    trunc: { type: "string" },
    kid: { type: "boolean" },
    is: { type: "boolean" },
    batch: { type: "string" },
    "save-stats": { type: "string" },
    "no-cache": { type: "boolean" },
    max: { type: "string" },
    json: { type: "boolean" },
    jsonl: { type: "string" },
    fp16: { type: "boolean" },
    ...GPU_OPTIONS,
    quiet: { type: "boolean" },
  });
  const t0 = performance.now();
  const preset = (v.preset ?? "stylegan3") as Preset;
  if (!PRESETS.includes(preset)) {
    throw new UserError(`--preset: expected ${PRESETS.join(", ")}, got "${v.preset}"`);
  }
  const plan = v.metrics ? planMetrics(v.metrics) : null;
  const num = plan ? plan.num : intOption("num", v.num, 50000, 1);
  const maxItemsOpt = v["max-items"] === undefined ? undefined : intOption("max-items", v["max-items"], 0, 1);
  const maxItems = plan?.maxReal !== undefined
    ? Math.min(plan.maxReal, maxItemsOpt ?? Infinity)
    : maxItemsOpt;
  const wantKid = (v.kid ?? false) || !!plan?.kid;
  const wantIs = (v.is ?? false) || !!plan?.is;
  const wantFid = plan ? !!plan.fid : true;
  const gate = v.max === undefined ? null : numberOption("max", v.max, 0);

  const sources: Source[] = [];
  const hasNetwork = v.network !== undefined || v.cfg !== undefined;
  if (hasNetwork) sources.push({ kind: "network", label: v.network ?? `random ${v.cfg}` });
  for (const p of v.data ?? []) sources.push({ kind: "data", path: p });
  for (const p of v.stats ?? []) sources.push({ kind: "stats", path: p });
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

  // Sources that need the GPU.
  let gpu: Gpu | null = null;
  let inception: Inception | null = null;
  let generator: Generator | null = null;
  const detector = v.detector ?? DEFAULT_DETECTOR[preset];
  const quiet = v.quiet ?? false;
  const needsGpu = sources.some((s) => s.kind !== "stats");
  const datasets = new Map<string, Dataset>();
  try {
    for (const s of sources) {
      if (s.kind === "data") datasets.set(s.path, Dataset.open(s.path, { mirror: v.mirror, maxItems }));
    }
    if (needsGpu) {
      const chosen = hasNetwork ? await chooseNetwork(v) : null;
      const weights = await loadInceptionWeights(detector);
      gpu = await openGpu(v);
      inception = Inception.create(gpu, weights);
      if (chosen) generator = await openGenerator(gpu, chosen, { fp16: v.fp16 ?? false });
    }
    const userBatch = v.batch === undefined ? null : intOption("batch", v.batch, 1, 1);
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
          { num, seed: intOption("seed", v.seed, 0, 0), psi: numberOption("trunc", v.trunc, 1), labels },
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
      out[plan?.fid ?? "fid"] = frechetDistance(results[0].stats, results[1].stats);
      bar.tick();
      bar.finish();
    }
    if (wantKid) {
      // Official argument order: generated features first, real second; without a generator the
      // second source plays the generated side.
      const network = sources.findIndex((s) => s.kind === "network");
      const genIndex = network >= 0 ? network : 1;
      const gen = results[genIndex].features!.stats, real = results[1 - genIndex].features!.stats;
      out[plan?.kid ?? "kid"] = await kernelInceptionDistanceGpu(
        gpu!,
        real.all(),
        real.count,
        gen.all(),
        gen.count,
        FEATURE_DIM,
        {
          seed: intOption("seed", v.seed, 0, 0),
        },
      );
    }
    if (wantIs) {
      const g = results[sources.findIndex((s) => s.kind === "network")].features!;
      const { mean, std } = inceptionScore(g.logits!, g.stats.count, LOGIT_DIM);
      const name = plan?.is ?? "is";
      out[`${name}_mean`] = mean;
      out[`${name}_std`] = std;
    }
    const totalTime = (performance.now() - t0) / 1000;
    report(out, v.json ?? false);
    if (v.jsonl) appendJsonl(v.jsonl, out, plan, totalTime, v.network ?? null);
    const fid = out[plan?.fid ?? "fid"];
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
