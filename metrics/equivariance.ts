/**
 * The equivariance metrics of "Alias-Free Generative Adversarial Networks" (NVlabs/stylegan3
 * metrics/equivariance.py): EQ-T (integer translation), EQ-T_frac (fractional translation) and EQ-R
 * (rotation), each a PSNR in dB between images generated with a transformed input grid and the
 * correspondingly transformed reference image, over the valid mask:
 *   PSNR = 20 log10(2) - 10 log10(num / den),
 * num = sum over samples of sum (ref - img)^2 * mask, den = sum of the mask (float64 accumulation).
 *
 * Per sample: ws = mapping(z, c); orig = synthesis(ws) with the identity input transform; then
 * - EQ-T: M = I with M[:2, 2] = -t (t on the pixel grid); ref = orig shifted by whole pixels;
 * - EQ-T_frac: the same with a fractional t; ref = orig shifted with the Lanczos-3 windowed sinc;
 * - EQ-R: M = rotation_matrix(-angle); ref = orig rotated (band-limit filter, 4x upsampling, bilinear),
 *   compared with the pseudo-rotated (band-limited only) generated image over both masks.
 * The input transform buffer holds the inverse of the image transform, hence -t and -angle.
 */
import { UserError } from "../errors.ts";
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { batchStarts, oneAhead } from "../gpu/ahead.ts";
import { RandomState, zFromSeed } from "../models/latents.ts";
import {
  integerShift,
  integerTranslate,
  integerTranslationMask,
  roundHalfEven,
} from "../kernels/eq_translate.ts";
import { fractionalAxis, fractionalTranslate, fractionalTranslationMask } from "../kernels/eq_fractional.ts";
import { rectMasks } from "../kernels/eq_mask.ts";
import { fractionalRotation, pseudoRotation, rotationMatrix } from "../kernels/eq_rotate.ts";
import { maskedSquaredError } from "../kernels/eq_error.ts";

/** The official metric names. */
export const EQ_METRICS = ["eqt50k_int", "eqt50k_frac", "eqr50k"] as const;
/** One of the official equivariance metrics. */
export type EqMetric = typeof EQ_METRICS[number];

/** What the metrics need of the generator (models/generator.ts Generator satisfies it). */
export interface EqGenerator {
  /** Dimensionality of z. */
  readonly zDim: number;
  /** Label dimensionality (0: unconditional). */
  readonly cDim: number;
  /** Image width and height in pixels. */
  readonly resolution: number;
  /** ws [n, num_ws, w_dim] from z [n, zDim] and one-hot labels c [n, cDim]; the metrics pass psi = 1. */
  mapping(z: Float64Array, n: number, opts?: { c?: Float32Array; psi?: number }): Tensor;
  /** Images [n, C, H, W] from ws, with per-sample 3x3 row-major input transforms (n * 9 values). */
  synthesis(ws: Tensor, opts?: { transforms?: Float32Array }): Tensor;
}

/** One sample: its latent, label and the transforms of the metrics it takes part in. */
export interface EqSample {
  /** The latent z [z_dim]. */
  z: Float64Array;
  /** Class index for conditional networks, null for unconditional ones. */
  classIdx: number | null;
  /** EQ-T translation (fractions of the image size, on the pixel grid). */
  eqt?: [number, number];
  /** EQ-T_frac translation (fractions of the image size). */
  eqtFrac?: [number, number];
  /** EQ-R angle in radians. */
  eqr?: number;
}

/** Per-metric float64 sums and the number of samples that contributed. */
export interface EqSums {
  /** Sum over samples of the masked squared error sum (ref - img)^2 * mask. */
  num: number;
  /** Sum over samples of the mask (valid pixel-channel values). */
  den: number;
  /** Samples that contributed. */
  samples: number;
}

/** PSNR in dB of a mean squared error num / den for images in [-1, 1] (peak-to-peak 2). */
export function psnr(num: number, den: number): number {
  return 20 * Math.log10(2) - 10 * Math.log10(num / den);
}

/** The transform of a sample that a metric uses (undefined: the sample does not take part in it). */
export function sampleTransform(metric: EqMetric, s: EqSample): [number, number] | number | undefined {
  return metric === "eqt50k_int" ? s.eqt : metric === "eqt50k_frac" ? s.eqtFrac : s.eqr;
}

/** Options of the random sampler. */
export interface RandomSampleOptions {
  /** Seed of the RandomState that draws everything. */
  seed: number;
  /** The metrics whose transforms the samples carry (the draws are the same whichever are chosen). */
  metrics: readonly EqMetric[];
  /** Dimensionality of z. */
  zDim: number;
  /** Label dimensionality; > 0 draws a uniform class per sample. */
  cDim: number;
  /** Image size in pixels, for rounding EQ-T translations to the pixel grid. */
  resolution: number;
  /** Largest translation as a fraction of the image size (official 0.125). */
  translateMax?: number;
  /** Largest rotation in units of pi (official 1). */
  rotateMax?: number;
}

/**
 * Official draws per batch of 4 samples (metric_main runs the metrics with batch_size=4): one translation and
 * one angle for each group of 4, whatever the GPU batch size, so results do not depend on --batch.
 */
export const DRAW_GROUP = 4;

/**
 * The seeded random stream of samples: numpy-style RandomState(seed) draws, in
 * sample order, per group of {@link DRAW_GROUP}: t_int, t_frac (uniform in +-translate_max each), the angle
 * (uniform in +-rotate_max * pi), then per sample z ~ N(0, I) and a uniform class. Values are float32 like the
 * official torch.rand draws; t_int is rounded to the pixel grid.
 *
 * @example The samples of a shard: the same draws as a whole run's samples 1000..1999
 * ```ts
 * import { RandomSamples } from "@sg3/sg3";
 *
 * const samples = new RandomSamples({ seed: 0, metrics: ["eqt50k_frac"], zDim: 512, cDim: 0, resolution: 1024 });
 * samples.skip(1000);
 * const s = samples.next(); // { z: Float64Array(512), classIdx: null, eqtFrac: [tx, ty], ... }
 * ```
 */
export class RandomSamples {
  readonly #rs: RandomState;
  #group: Omit<EqSample, "z" | "classIdx"> = {};
  #index = 0;

  /** Starts the stream at sample 0. */
  constructor(
    /** The sampler's settings. */
    readonly opts: RandomSampleOptions,
  ) {
    this.#rs = new RandomState(opts.seed);
  }

  /**
   * Skips `n` samples (drawing and dropping them), so that the following ones are those of the whole run
   * at their indices: a shard starting at sample s skips s.
   */
  skip(n: number): void {
    for (let i = 0; i < n; i++) this.next();
  }

  /** The next sample. */
  next(): EqSample {
    const { metrics, zDim, cDim, resolution: res, translateMax = 0.125, rotateMax = 1 } = this.opts;
    const f = Math.fround;
    if (this.#index++ % DRAW_GROUP === 0) {
      const u = () => f(this.#rs.nextDouble() * 2 - 1);
      const tInt = [f(u() * translateMax), f(u() * translateMax)];
      const tFrac: [number, number] = [f(u() * translateMax), f(u() * translateMax)];
      const angle = f(u() * f(rotateMax * Math.PI));
      const grid = (t: number) => f(roundHalfEven(f(t * res)) / res);
      this.#group = {
        eqt: metrics.includes("eqt50k_int") ? [grid(tInt[0]), grid(tInt[1])] : undefined,
        eqtFrac: metrics.includes("eqt50k_frac") ? tFrac : undefined,
        eqr: metrics.includes("eqr50k") ? angle : undefined,
      };
    }
    const z = this.#rs.randn(zDim);
    const classIdx = cDim > 0 ? Math.min(cDim - 1, Math.floor(this.#rs.nextDouble() * cDim)) : null;
    return { z, classIdx, ...this.#group };
  }
}

function pair(v: unknown, what: string): [number, number] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => typeof x === "number" && Number.isFinite(x))) {
    throw new UserError(`${what}: expected [tx, ty], got ${JSON.stringify(v)}`);
  }
  return [v[0], v[1]];
}

/**
 * Parses an audit file: a JSON array of {"z_seed": 100, "class": null, "eqt": [tx, ty],
 * "eqt_frac": [tx, ty], "eqr": angle}, z = RandomState(z_seed).randn(z_dim) as in gen_images.py,
 * translations as fractions of the image size (eqt on the pixel grid), angles in radians; a metric uses
 * only the samples that name it.
 */
export function parseTransforms(text: string, name: string, zDim: number, cDim: number): EqSample[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${name}: not valid JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(data) || data.length === 0) {
    throw new UserError(`${name}: expected a non-empty JSON array`);
  }
  return data.map((entry, i) => {
    const where = `${name}[${i}]`;
    if (typeof entry !== "object" || entry === null) throw new UserError(`${where}: expected an object`);
    const e = entry as Record<string, unknown>;
    const seed = e.z_seed;
    if (typeof seed !== "number" || !Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new UserError(`${where}.z_seed: expected an integer in [0, 2^32)`);
    }
    const cls = e.class ?? null;
    if (cDim > 0 && (typeof cls !== "number" || !Number.isInteger(cls) || cls < 0 || cls >= cDim)) {
      throw new UserError(`${where}.class: this network is conditional; expected 0..${cDim - 1}`);
    }
    if (cDim === 0 && cls !== null) {
      throw new UserError(`${where}.class: the network is unconditional; use null`);
    }
    const eqr = e.eqr ?? undefined;
    if (eqr !== undefined && (typeof eqr !== "number" || !Number.isFinite(eqr))) {
      throw new UserError(`${where}.eqr: expected an angle in radians`);
    }
    return {
      z: zFromSeed(seed, zDim),
      classIdx: cDim > 0 ? cls as number : null,
      eqt: pair(e.eqt, `${where}.eqt`),
      eqtFrac: pair(e.eqt_frac, `${where}.eqt_frac`),
      eqr: eqr as number | undefined,
    };
  });
}

/** Per-sample [num, den] pairs (length 2N) per metric; a sample without that metric's transform is NaN. */
export type BatchSums = Partial<Record<EqMetric, Float64Array>>;

/** The per-sample input transform buffers (row-major 3x3); `make` returning undefined means the identity. */
function inputTransforms(
  samples: EqSample[],
  make: (s: EqSample, i: number) => Float32Array | undefined,
): Float32Array {
  const out = new Float32Array(9 * samples.length);
  samples.forEach((s, i) => out.set(make(s, i) ?? Float32Array.of(1, 0, 0, 0, 1, 0, 0, 0, 1), 9 * i));
  return out;
}

function translationMatrix(t: [number, number]): Float32Array {
  return Float32Array.of(1, 0, -t[0], 0, 1, -t[1], 0, 0, 1);
}

/**
 * Runs one batch: mapping, the reference image, and for each metric that some sample names, the
 * transformed synthesis, the reference operator and the masked error sums. Samples that lack a metric's
 * transform run with the identity and are reported as NaN for that metric. All of the batch's GPU work is
 * recorded before the returned promise first waits, so that a caller can submit the next batch meanwhile.
 */
export async function evaluateBatch(
  gpu: Gpu,
  gen: EqGenerator,
  samples: EqSample[],
  metrics: readonly EqMetric[],
): Promise<BatchSums> {
  const n = samples.length;
  const z = new Float64Array(n * gen.zDim);
  samples.forEach((s, i) => z.set(s.z, i * gen.zDim));
  let c: Float32Array | undefined;
  if (gen.cDim > 0) {
    c = new Float32Array(n * gen.cDim);
    samples.forEach((s, i) => c![i * gen.cDim + (s.classIdx ?? 0)] = 1);
  }
  const ws = gen.mapping(z, n, { c, psi: 1 });
  const orig = gen.synthesis(ws, { transforms: inputTransforms(samples, () => undefined) });
  const [, , h, w] = orig.shape;
  const temps: Tensor[] = [ws, orig];
  // Every metric's work is recorded before any sums are awaited: one wait per batch, not one per metric.
  const pending: [EqMetric, Promise<Float64Array>][] = [];
  for (const metric of metrics) {
    if (!samples.some((s) => sampleTransform(metric, s) !== undefined)) continue;
    if (metric === "eqr50k") {
      const angles = samples.map((s) => s.eqr ?? 0);
      const img = gen.synthesis(ws, {
        transforms: inputTransforms(samples, (s) => rotationMatrix(-(s.eqr ?? 0))),
      });
      gpu.flush(); // let the GPU synthesise while the host designs the rotation filters
      const ref = fractionalRotation(gpu, orig, angles);
      const pseudo = pseudoRotation(gpu, img, angles);
      temps.push(img, ref.img, ref.mask, pseudo.img, pseudo.mask);
      pending.push([metric, maskedSquaredError(gpu, ref.img, pseudo.img, [ref.mask, pseudo.mask])]);
    } else {
      const ts = samples.map((s) =>
        (metric === "eqt50k_int" ? s.eqt : s.eqtFrac) ?? [0, 0] as [number, number]
      );
      const img = gen.synthesis(ws, {
        transforms: inputTransforms(samples, (_, i) => translationMatrix(ts[i])),
      });
      let ref: Tensor, mask: Tensor;
      if (metric === "eqt50k_int") {
        const shifts = ts.map(([tx, ty]) => [integerShift(tx, w), integerShift(ty, h)]);
        ref = integerTranslate(gpu, orig, shifts.flat());
        mask = rectMasks(gpu, shifts.map(([ix, iy]) => integerTranslationMask(ix, iy, w, h)), h, w);
      } else {
        const axes = ts.map(([tx, ty]) => [fractionalAxis(tx, w), fractionalAxis(ty, h)] as const);
        ref = fractionalTranslate(gpu, orig, axes);
        mask = rectMasks(gpu, axes.map(([ax, ay]) => fractionalTranslationMask(ax, ay, w, h)), h, w);
      }
      temps.push(img, ref, mask);
      pending.push([metric, maskedSquaredError(gpu, ref, img, [mask])]);
    }
  }
  const out: BatchSums = {};
  for (const [metric, sums] of await Promise.all(pending.map(async ([m, p]) => [m, await p] as const))) {
    samples.forEach((s, i) => {
      if (sampleTransform(metric, s) === undefined) sums[2 * i] = sums[2 * i + 1] = NaN;
    });
    out[metric] = sums;
  }
  gpu.release(...temps);
  return out;
}

/** Options of {@link computeEquivariance}. */
export interface EqRunOptions {
  /** The metrics to evaluate (each over the samples that carry its transform). */
  metrics: readonly EqMetric[];
  /** Samples per GPU batch. */
  batch: number;
  /** Called after each batch with the number of samples done so far. */
  onBatch?: (done: number, sums: Record<EqMetric, EqSums>) => void;
  /**
   * Checked before the run and after each batch; when it returns true the run ends early with the sums so far
   * (the batch already in flight is finished and dropped).
   */
  stop?: () => boolean;
}

/** The result of a run: sums per metric (PSNR via {@link psnr}), samples processed, whether it was stopped. */
export interface EqRunResult {
  /** Sums per metric (zero for metrics not run). */
  sums: Record<EqMetric, EqSums>;
  /** Samples processed. */
  samples: number;
  /** Whether `stop` ended the run before `count` samples. */
  stopped: boolean;
}

/**
 * Evaluates `count` samples from `source` batch by batch, adding per-sample sums in sample order (float64).
 *
 * @example EQ-T and EQ-R of a network (eqt50k_int, eqr50k)
 * ```ts
 * import { computeEquivariance, eqResults, type EqMetric, Generator, Gpu, loadNetwork, RandomSamples } from "@sg3/sg3";
 *
 * const gpu = await Gpu.open();
 * const gen = Generator.create(gpu, await loadNetwork("stylegan3-r-afhqv2-512x512"));
 * const metrics: EqMetric[] = ["eqt50k_int", "eqr50k"];
 * const { zDim, cDim, resolution } = gen;
 * const samples = new RandomSamples({ seed: 0, metrics, zDim, cDim, resolution });
 * const run = await computeEquivariance(gpu, gen, () => samples.next(), 50_000, { metrics, batch: 4 });
 * for (const r of eqResults(run, metrics)) console.log(r.metric, `${r.value.toFixed(2)} dB`);
 * ```
 */
export async function computeEquivariance(
  gpu: Gpu,
  gen: EqGenerator,
  source: (i: number) => EqSample,
  count: number,
  opts: EqRunOptions,
): Promise<EqRunResult> {
  const sums = Object.fromEntries(EQ_METRICS.map((m) => [m, { num: 0, den: 0, samples: 0 }])) as Record<
    EqMetric,
    EqSums
  >;
  if (opts.stop?.()) return { sums, samples: 0, stopped: true };
  let done = 0;
  // One batch in flight (gpu/ahead.ts): the next batch is recorded while this one runs and submitted before
  // this one's sums are handed out.
  const batches = oneAhead(batchStarts(0, count, opts.batch), (start) => {
    const samples = Array.from({ length: Math.min(opts.batch, count - start) }, (_, i) => source(start + i));
    return evaluateBatch(gpu, gen, samples, opts.metrics).then((batch) => ({ samples, batch }));
  });
  for await (const { samples, batch } of batches) {
    for (const metric of opts.metrics) {
      const s = batch[metric];
      if (!s) continue;
      for (let i = 0; i < samples.length; i++) {
        if (Number.isNaN(s[2 * i])) continue;
        sums[metric].num += s[2 * i];
        sums[metric].den += s[2 * i + 1];
        sums[metric].samples++;
      }
    }
    done += samples.length;
    opts.onBatch?.(done, sums);
    if (done < count && opts.stop?.()) return { sums, samples: done, stopped: true };
  }
  return { sums, samples: done, stopped: false };
}

/** One metric's result: its PSNR in dB (NaN when no sample took part) and how many samples took part. */
export interface EqMetricResult {
  /** The metric's official name. */
  metric: EqMetric;
  /** PSNR in dB; NaN when no sample took part (Infinity for an exact match). */
  value: number;
  /** Samples that took part. */
  samples: number;
}

/**
 * The PSNR of each of `metrics` from a run's sums (metrics/equivariance.py's final step).
 *
 * @example
 * ```ts
 * import { eqResults, type EqRunResult } from "@sg3/sg3";
 *
 * const zero = { num: 0, den: 0, samples: 0 };
 * const run: EqRunResult = {
 *   sums: { eqt50k_int: { num: 0.04, den: 400, samples: 4 }, eqt50k_frac: zero, eqr50k: zero },
 *   samples: 4,
 *   stopped: false,
 * };
 * console.log(eqResults(run, ["eqt50k_int"])); // [{ metric: "eqt50k_int", value: 46.02..., samples: 4 }]
 * ```
 */
export function eqResults(run: EqRunResult, metrics: readonly EqMetric[]): EqMetricResult[] {
  return metrics.map((m) => ({
    metric: m,
    value: run.sums[m].samples ? psnr(run.sums[m].num, run.sums[m].den) : NaN,
    samples: run.sums[m].samples,
  }));
}

/** The metrics, in EQ_METRICS order, that at least one of `samples` has a transform for. */
export function sampledMetrics(samples: readonly EqSample[]): EqMetric[] {
  return EQ_METRICS.filter((m) => samples.some((s) => sampleTransform(m, s) !== undefined));
}
