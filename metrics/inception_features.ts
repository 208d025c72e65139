/**
 * Streaming Inception features of a dataset or a generator, batch by batch: images go through the
 * preset's preprocessing and the network on the GPU; pool3 features (and, for the Inception Score, the
 * logits without output bias) come back to the host and are accumulated in float64 statistics.
 * Generated images are quantised to uint8 exactly as the official metrics do before the detector;
 * latents are drawn from a seeded numpy-compatible RandomState, so repeated runs give the same number.
 */
import type { Gpu } from "../gpu/device.ts";
import { readTensor } from "../gpu/readback.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { quantizeImages } from "../kernels/resize.ts";
import type { Dataset } from "../formats/dataset.ts";
import { type Inception, preprocess, preprocessTensor, type Preset } from "../models/inception.ts";
import { FEATURE_DIM, INPUT_SIZE, LOGIT_DIM } from "../models/inception_arch.ts";
import type { Generator } from "../models/generator.ts";
import { RandomState } from "../models/latents.ts";
import { UserError } from "../errors.ts";
import { FeatureStats } from "./feature_stats.ts";

/** What to collect from a pass. */
export interface FeatureOptions {
  preset: Preset;
  batch: number;
  /** Keep every feature vector (for KID). */
  keepFeatures?: boolean;
  /** Collect logits without output bias (for the Inception Score). */
  logits?: boolean;
  /** Called after each batch with the number of images done in it. */
  onBatch?: (n: number) => void;
}

/** Features of a pass: statistics (and kept vectors) plus the logits when asked. */
export interface FeatureResult {
  stats: FeatureStats;
  logits: Float32Array | null;
}

async function run(
  inception: Inception,
  count: number,
  opts: FeatureOptions,
  input: (start: number, n: number) => Tensor,
): Promise<FeatureResult> {
  const gpu = inception.gpu;
  const stats = new FeatureStats(FEATURE_DIM, opts.keepFeatures ?? false);
  const logits = opts.logits ? new Float32Array(count * LOGIT_DIM) : null;
  const launch = (start: number) => {
    const x = input(start, Math.min(opts.batch, count - start));
    const out = inception.forward(x, { logits: opts.logits, outputBias: false });
    gpu.flush();
    return { x, out };
  };
  let cur = count > 0 ? launch(0) : null;
  for (let start = 0; cur; start += opts.batch) {
    const n = Math.min(opts.batch, count - start);
    const features = await readTensor(gpu, cur.out.pool3);
    if (logits) logits.set(await readTensor(gpu, cur.out.logits!), start * LOGIT_DIM);
    cur.x.destroy();
    // The GPU runs the next batch while the CPU accumulates this one's statistics.
    cur = start + n < count ? launch(start + n) : null;
    stats.add(features, n);
    opts.onBatch?.(n);
  }
  return { stats, logits };
}

/**
 * Features of the dataset's items (mirror and max-items applied by the dataset). Images of different
 * sizes are resized on their own: each run of equally sized images in a batch (split further to fit one
 * storage binding) is preprocessed to 299x299, and the runs are copied into the batch's input tensor.
 */
export function datasetFeatures(
  inception: Inception,
  data: Dataset,
  opts: FeatureOptions,
): Promise<FeatureResult> {
  const gpu: Gpu = inception.gpu;
  return run(inception, data.count, opts, (start, n) => {
    const images = Array.from({ length: n }, (_, i) => data.item(start + i));
    const runs: Tensor[] = [];
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
    gpu.flush();
    for (const r of runs) r.destroy();
    return x;
  });
}

/** Generator sampling: seeded latents, truncation, and labels drawn from a dataset for conditional nets. */
export interface GeneratorSampling {
  num: number;
  seed: number;
  psi?: number;
  /** Source of labels for conditional networks (random items, as the official metrics pick them). */
  labels?: Dataset | null;
}

/** Features of `num` generated images. */
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
  return run(inception, sampling.num, opts, (_start, n) => {
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
    gpu.flush();
    ws.destroy();
    img.destroy();
    q.destroy();
    return x;
  });
}
