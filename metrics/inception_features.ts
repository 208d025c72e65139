/**
 * Streaming Inception features of a dataset or a generator, batch by batch: images go through the
 * preset's preprocessing and the network on the GPU; pool3 features (and, for the Inception Score, the
 * logits without output bias) come back to the host and are accumulated in float64 statistics.
 * Generated images are quantised to uint8 exactly as the official metrics do before the detector;
 * latents are drawn from a seeded numpy-compatible RandomState, so repeated runs give the same number.
 */
import type { Gpu } from "../gpu/device.ts";
import { readTensor } from "../gpu/readback.ts";
import { batchStarts, oneAhead } from "../gpu/ahead.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { quantizeImages } from "../kernels/resize.ts";
import type { Dataset } from "../formats/dataset.ts";
import { type Inception, preprocess, preprocessTensor, type Preset } from "../models/inception.ts";
import { FEATURE_DIM, INPUT_SIZE, LOGIT_DIM } from "../models/inception_arch.ts";
import type { Generator } from "../models/generator.ts";
import { RandomState } from "../models/latents.ts";
import { UserError } from "../errors.ts";
import { FeatureStats } from "./feature_stats.ts";
import { GramPool } from "./gram_pool.ts";
import { DatasetReader } from "../formats/dataset_pool.ts";
import type { Image8 } from "../formats/png.ts";
import { helperThreads } from "../formats/threads.ts";
import type { IndexRange } from "./shard.ts";

/** What to collect from a pass. */
export interface FeatureOptions {
  /** Whose preprocessing (resize and value range) the images get: stylegan3, pytorch-fid or clean-fid. */
  preset: Preset;
  /** Images per GPU batch. */
  batch: number;
  /** Keep every feature vector (for KID). */
  keepFeatures?: boolean;
  /** Collect logits without output bias (for the Inception Score). */
  logits?: boolean;
  /** Called after each batch with the number of images done in it. */
  onBatch?: (n: number) => void;
  /**
   * Only the images [start, end) of the source (a shard, metrics/shard.ts); default all. They are exactly
   * the whole run's images at those indices (the same dataset items, latents and labels).
   */
  range?: IndexRange;
  /**
   * Worker threads that decode a folder's or zip's images (formats/dataset_pool.ts) and sum the statistics'
   * Gram updates (metrics/gram_pool.ts), with the same results as the main thread; default
   * {@link helperThreads} for passes of at least {@link POOL_MIN_IMAGES} images; 0 keeps the work on the main
   * thread.
   */
  threads?: number;
}

/** Passes shorter than this keep their host work on the main thread by default (starting workers costs ~0.1 s). */
export const POOL_MIN_IMAGES = 256;

/** Features of a pass: statistics (and kept vectors) plus the logits when asked. */
export interface FeatureResult {
  /** Running statistics of the 2048-d pool3 features (the vectors too with `keepFeatures`). */
  stats: FeatureStats;
  /** Logits [N, 1008] without the output bias, with `logits`; else null. */
  logits: Float32Array | null;
}

/** The images of `total` that `opts` asks for, as [first, count]; a range outside 0..total is a bug. */
function span(total: number, opts: FeatureOptions): [number, number] {
  const [first, end] = opts.range ?? [0, total];
  if (!(0 <= first && first <= end && end <= total)) {
    throw new Error(`image range ${first}..${end} of ${total}`);
  }
  return [first, end - first];
}

/** The worker threads of a pass of `count` images (see {@link FeatureOptions.threads}). */
function threadsFor(count: number, opts: FeatureOptions): number {
  return opts.threads ?? (count >= POOL_MIN_IMAGES ? helperThreads() : 0);
}

/** Runs `count` images through the network; `input(start, n)` makes the images start..start+n of the pass. */
async function run(
  inception: Inception,
  count: number,
  opts: FeatureOptions,
  input: (start: number, n: number) => Tensor | Promise<Tensor>,
): Promise<FeatureResult> {
  const gpu = inception.gpu;
  const stats = new FeatureStats(FEATURE_DIM, opts.keepFeatures ?? false);
  const logits = opts.logits ? new Float32Array(count * LOGIT_DIM) : null;
  // Inception.forward frees the previous batch's outputs: their readbacks are recorded before it runs again.
  const submit = async (start: number) => {
    const n = Math.min(opts.batch, count - start);
    const made = input(start, n);
    // Synchronous inputs are recorded at once, before the previous batch is handed out (gpu/ahead.ts).
    const x = made instanceof Promise ? await made : made;
    const out = inception.forward(x, { logits: opts.logits, outputBias: false });
    const features = readTensor(gpu, out.pool3);
    const logitsOf = out.logits ? readTensor(gpu, out.logits) : null;
    return Promise.all([features, logitsOf]).then(([f, l]) => ({ start, n, features: f, logits: l }))
      .finally(() => gpu.release(x));
  };
  const workers = threadsFor(count, opts);
  const pool = workers > 0 ? new GramPool(workers) : null;
  try {
    // The GPU runs the next batch while the CPU accumulates this one's statistics.
    for await (const batch of oneAhead(batchStarts(0, count, opts.batch), submit)) {
      if (logits) logits.set(batch.logits!, batch.start * LOGIT_DIM);
      if (pool) await stats.addOn(pool, batch.features, batch.n);
      else stats.add(batch.features, batch.n);
      opts.onBatch?.(batch.n);
    }
  } finally {
    pool?.close();
  }
  return { stats, logits };
}

/**
 * Features of the dataset's items (mirror and max-items applied by the dataset). Images of different
 * sizes are resized on their own: each run of equally sized images in a batch (split further to fit one
 * storage binding) is preprocessed to 299x299, and the runs are copied into the batch's input tensor.
 *
 * @example FID of a generator against a dataset (fid50k_full)
 * ```ts
 * import {
 *   Dataset,
 *   datasetFeatures,
 *   frechetDistance,
 *   Generator,
 *   generatorFeatures,
 *   Gpu,
 *   Inception,
 *   loadInceptionWeights,
 *   loadNetwork,
 *   NVIDIA_DETECTOR_URL,
 *   PRESET_COVARIANCE,
 * } from "@sg3/sg3";
 *
 * const gpu = await Gpu.open();
 * const inception = Inception.create(gpu, await loadInceptionWeights(NVIDIA_DETECTOR_URL));
 * const data = Dataset.open("ffhq-1024x1024.zip", { mirror: true });
 * const real = await datasetFeatures(inception, data, { preset: "stylegan3", batch: 16 });
 * data.close();
 * const gen = Generator.create(gpu, await loadNetwork("stylegan3-t-ffhq-1024x1024"));
 * const fake = await generatorFeatures(inception, gen, { num: 50_000, seed: 0 }, { preset: "stylegan3", batch: 16 });
 * const cov = PRESET_COVARIANCE.stylegan3; // "biased": StyleGAN3's metric_utils
 * console.log(`FID ${frechetDistance(fake.stats.stats(cov), real.stats.stats(cov)).toFixed(3)}`);
 * ```
 */
export function datasetFeatures(
  inception: Inception,
  data: Dataset,
  opts: FeatureOptions,
): Promise<FeatureResult> {
  const gpu: Gpu = inception.gpu;
  const [first, count] = span(data.count, opts);
  // A folder's or zip's images are decoded on workers, the next batch's while the GPU runs this one's.
  const threads = data.files.length ? threadsFor(count, opts) : 0;
  const reader = threads > 0 ? new DatasetReader(data, threads) : null;
  const prefetched = new Map<number, Promise<Image8[]>>();
  const fetch = (start: number) => {
    const items = reader!.items(first + start, Math.min(opts.batch, count - start));
    items.catch(() => {}); // observed when its batch awaits it
    prefetched.set(start, items);
  };
  // The batch's input tensor from its decoded images.
  const tensor = (images: Image8[]) => {
    const n = images.length, runs: Tensor[] = [];
    for (let i = 0; i < n;) {
      const { height: h, width: w } = images[i];
      const fit = Math.max(1, Math.floor(gpu.maxBinding / (3 * h * w * 4)));
      let j = i + 1;
      while (j < n && j - i < fit && images[j].height === h && images[j].width === w) j++;
      const bytes = new Uint8Array((j - i) * h * w * 3);
      for (let k = i; k < j; k++) bytes.set(images[k].data, (k - i) * h * w * 3);
      runs.push(preprocess(gpu, bytes, j - i, h, w, 3, opts.preset));
      i = j;
    }
    if (runs.length === 1) return runs[0];
    const x = gpu.tensor([n, 3, INPUT_SIZE, INPUT_SIZE]);
    let offset = 0;
    for (const r of runs) {
      gpu.submission.copy(r.buffer, 0, x.buffer, offset, r.byteSize);
      offset += r.byteSize;
    }
    gpu.release(...runs);
    return x;
  };
  const result = run(inception, count, opts, (start, n) => {
    if (!reader) return tensor(Array.from({ length: n }, (_, i) => data.item(first + start + i)));
    if (!prefetched.has(start)) fetch(start);
    const mine = prefetched.get(start)!;
    prefetched.delete(start);
    if (start + n < count) fetch(start + n);
    return mine.then(tensor);
  });
  return reader ? result.finally(() => reader.close()) : result;
}

/** Generator sampling: seeded latents, truncation, and labels drawn from a dataset for conditional nets. */
export interface GeneratorSampling {
  /** Number of images. */
  num: number;
  /** Seed of the RandomState that draws z (labels use seed + 1). */
  seed: number;
  /** Truncation psi (default 1, none). */
  psi?: number;
  /** Source of labels for conditional networks (random items, as the official metrics pick them). */
  labels?: Dataset | null;
}

/**
 * Features of `num` generated images (or of the images `opts.range` of them: the streams are advanced past
 * the earlier images' draws, so each image has the latent and label it has in the whole run).
 *
 * @example Inception Score of 50k generated images (is50k)
 * ```ts
 * import {
 *   Generator,
 *   generatorFeatures,
 *   Gpu,
 *   Inception,
 *   inceptionScore,
 *   loadInceptionWeights,
 *   loadNetwork,
 *   NVIDIA_DETECTOR_URL,
 * } from "@sg3/sg3";
 *
 * const gpu = await Gpu.open();
 * const inception = Inception.create(gpu, await loadInceptionWeights(NVIDIA_DETECTOR_URL));
 * const gen = Generator.create(gpu, await loadNetwork("stylegan3-t-ffhq-1024x1024"));
 * const sampling = { num: 50_000, seed: 0 }; // z from RandomState(0), no truncation
 * const fake = await generatorFeatures(inception, gen, sampling, { preset: "stylegan3", batch: 16, logits: true });
 * const { mean, std } = inceptionScore(fake.logits!, sampling.num, 1008);
 * console.log(`IS ${mean.toFixed(2)} ± ${std.toFixed(2)}`);
 * ```
 */
export function generatorFeatures(
  inception: Inception,
  g: Generator,
  sampling: GeneratorSampling,
  opts: FeatureOptions,
): Promise<FeatureResult> {
  const gpu = inception.gpu;
  // Separate streams for latents and labels, so that the images do not depend on the batch size.
  const rs = new RandomState(sampling.seed);
  const labelRs = new RandomState((sampling.seed + 1) % 2 ** 32);
  if (g.cDim > 0 && !sampling.labels?.labels) {
    throw new UserError(
      "the network is conditional: its labels come from a dataset with labels (dataset.json)",
      "data-labels",
    );
  }
  const [first, count] = span(sampling.num, opts);
  for (let done = 0; done < first;) { // skip the earlier images' latents, in bounded steps
    const n = Math.min(first - done, 1024);
    rs.randn(n * g.zDim);
    if (g.cDim > 0) labelRs.randint(0, sampling.labels!.count, n);
    done += n;
  }
  return run(inception, count, opts, (_start, n) => {
    const z = rs.randn(n * g.zDim);
    let c: Float32Array | undefined;
    if (g.cDim > 0) {
      c = new Float32Array(n * g.cDim);
      const data = sampling.labels!;
      for (const [i, item] of labelRs.randint(0, data.count, n).entries()) {
        const label = data.label(item);
        if (label === null || label >= g.cDim) {
          throw new UserError(`${data.path}: item ${item} has no label below c_dim ${g.cDim}`);
        }
        c[i * g.cDim + label] = 1;
      }
    }
    const ws = g.mapping(z, n, { c, psi: sampling.psi ?? 1 });
    const img = g.synthesis(ws);
    const q = quantizeImages(gpu, img);
    const x = preprocessTensor(gpu, q, opts.preset);
    gpu.release(ws, img, q);
    return x;
  });
}
