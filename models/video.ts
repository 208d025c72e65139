/**
 * Video frames from a generator: a grid of cells (gen_video.py's layout_grid), each cell's latent per frame
 * given by a {@link LatentSource} (w vectors fed to synthesis, or z vectors mapped first) and, for StyleGAN3,
 * an optional input motion (models/motion.ts). Frames are rendered in GPU batches; the next batch is
 * submitted before the current one is handed out, so generation overlaps encoding.
 */
import { roundHalfEven } from "../kernels/eq_translate.ts";
import type { Gpu } from "../gpu/device.ts";
import { readTensor } from "../gpu/readback.ts";
import { batchStarts, oneAhead } from "../gpu/ahead.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { type Image8, toImage8 } from "../formats/png.ts";
import { labels } from "./generate.ts";
import type { Generator } from "./generator.ts";
import { frameCount, frameTime, type InterpKind, KeyframeLoop } from "./interpolation.ts";
import { type Motion, motionTransform, resampleImage } from "./motion.ts";

/** The latent of every cell at every frame: w ([num_ws * w_dim] per cell) or z ([z_dim] per cell). */
export interface LatentSource {
  /** "w": latents are ws and skip the mapping network; "z": they are mapped first. */
  space: "w" | "z";
  /** Writes cell `cell`'s latent at frame `frame` into `out`. */
  fill(frame: number, cell: number, out: Float64Array | Float32Array): void;
}

/** Frames of a `seconds`-long video at `fps`: round(seconds * fps) half to even, as gen_video.py's int(np.rint(...)). */
export function durationFrames(seconds: number, fps: number): number {
  return roundHalfEven(seconds * fps);
}

/** A looping keyframe path per cell (gen_video.py): keyframes[cell] is [K, dim]; t(frame) gives the time. */
export function loopSource(
  space: "w" | "z",
  keyframes: Float64Array[],
  k: number,
  dim: number,
  kind: InterpKind,
  rowDim: number,
  time: (frame: number) => number,
): LatentSource {
  const loops = keyframes.map((y) => new KeyframeLoop(y, k, dim, kind, rowDim));
  const tmp = new Float64Array(dim);
  return {
    space,
    fill(frame, cell, out) {
      out.set(loops[cell].at(time(frame), tmp));
    },
  };
}

/**
 * gen_video.py's interpolation video: `rows` holds K keyframes [dim] per cell, cell after cell (the order of
 * keyframeSeeds), and each cell loops through its keyframes by `kind` (rowDim as in KeyframeLoop); the timing
 * is frameTime's. Returns the latent source and the frame count.
 */
export function keyframeVideo(
  space: "w" | "z",
  rows: Float64Array,
  k: number,
  dim: number,
  kind: InterpKind,
  rowDim: number,
  timing: { wFrames: number } | { frames: number },
): { source: LatentSource; frames: number } {
  const cells = rows.length / (k * dim);
  const keyframes = Array.from({ length: cells }, (_, c) => rows.slice(c * k * dim, (c + 1) * k * dim));
  return {
    source: loopSource(space, keyframes, k, dim, kind, rowDim, (f) => frameTime(f, k, timing)),
    frames: frameCount(k, timing),
  };
}

/** Fixed per-frame latents, [frames, cells, dim] (e.g. stylegan3-fun's circular z path). */
export function tableSource(
  space: "w" | "z",
  values: Float32Array | Float64Array,
  cells: number,
  dim: number,
): LatentSource {
  return {
    space,
    fill(frame, cell, out) {
      const p = (frame * cells + cell) * dim;
      out.set(values.subarray(p, p + dim));
    },
  };
}

/** The same latent in every frame, one per cell ([cells, dim]). */
export function fixedSource(
  space: "w" | "z",
  values: Float32Array | Float64Array,
  dim: number,
): LatentSource {
  return {
    space,
    fill(_frame, cell, out) {
      out.set(values.subarray(cell * dim, (cell + 1) * dim));
    },
  };
}

/** Mapping options shared by every z that passes through the mapping network. */
export interface VideoMapping {
  /** Truncation psi (default 1, none). */
  psi?: number;
  /** How many ws are truncated; null/undefined = all. */
  cutoff?: number | null;
  /** The class of conditional networks (one-hot label); required when c_dim > 0. */
  classIdx?: number;
}

/**
 * Maps `n` z rows (host) to ws and returns them on the host in float64, [n, num_ws, w_dim] (the float32
 * values the mapping network produced, as gen_video.py's ws.cpu().numpy()).
 */
export async function mapToHost(
  gpu: Gpu,
  gen: Generator,
  z: Float64Array,
  n: number,
  opts: VideoMapping,
  batch = 64,
): Promise<Float64Array> {
  const per = gen.numWs * gen.wDim;
  const out = new Float64Array(n * per);
  for (let s = 0; s < n; s += batch) {
    const m = Math.min(batch, n - s);
    const ws = gen.mapping(z.subarray(s * gen.zDim, (s + m) * gen.zDim), m, mapOpts(gen, m, opts));
    out.set(await readTensor(gpu, ws), s * per);
    gpu.release(ws);
  }
  return out;
}

function mapOpts(gen: Generator, n: number, o: VideoMapping) {
  return { c: labels(gen, n, o.classIdx), psi: o.psi ?? 1, cutoff: o.cutoff ?? null };
}

/** What to render. */
export interface VideoSpec extends VideoMapping {
  /** Number of frames. */
  frames: number;
  /** Grid columns (cells per row). */
  gridW: number;
  /** Grid rows. */
  gridH: number;
  /** The latent of every cell at every frame. */
  source: LatentSource;
  /** Input motion (StyleGAN3 networks only). */
  motion?: Motion;
  /** Put each cell's frame-0 image, moved by resampling with the same motion, beside it. */
  compare?: boolean;
  /** Images per GPU batch (whole frames: at least one frame's cells). */
  batch?: number;
  /** Only the frames [start, end) (a shard), with their indices in the whole video; default all. */
  range?: [number, number];
}

/** One video frame: 8-bit RGB, HWC. */
export interface VideoFrame {
  /** The frame number, from 0. */
  index: number;
  /** The whole grid: gridH rows of gridW cells (two panels per cell with `compare`). */
  image: Image8;
}

/** Renders the frames of `spec` (those of `spec.range`) in order. Stopping the iteration early waits for work in flight. */
export async function* renderFrames(gpu: Gpu, gen: Generator, spec: VideoSpec): AsyncGenerator<VideoFrame> {
  const cells = spec.gridW * spec.gridH;
  const perFrame = Math.max(1, Math.floor((spec.batch ?? cells) / cells));
  const reference: Float32Array[] = [];
  const [first, end] = spec.range ?? [0, spec.frames];
  if (spec.compare && first > 0) throw new Error("renderFrames: comparisons need frame 0 in the range");
  const submit = (start: number) => {
    const n = Math.min(perFrame, end - start), count = n * cells;
    const ws = latentsFor(gpu, gen, spec, start, n, cells);
    let transforms: Float32Array | undefined;
    if (spec.motion) {
      transforms = new Float32Array(count * 9);
      for (let i = 0; i < n; i++) {
        const m = motionTransform(spec.motion, start + i);
        for (let c = 0; c < cells; c++) transforms.set(m, (i * cells + c) * 9);
      }
    }
    const img = gen.synthesis(ws, { transforms });
    const shape = img.shape;
    return readTensor(gpu, img).then((data) => ({ start, n, data, shape })).finally(() =>
      gpu.release(ws, img)
    );
  };
  for await (const { start, n, data, shape } of oneAhead(batchStarts(first, end, perFrame), submit)) {
    for (let i = 0; i < n; i++) {
      const index = start + i;
      yield { index, image: layoutFrame(data, shape, i * cells, index, spec, reference) };
    }
  }
}

function latentsFor(
  gpu: Gpu,
  gen: Generator,
  spec: VideoSpec,
  start: number,
  n: number,
  cells: number,
): Tensor {
  const count = n * cells;
  if (spec.source.space === "w") {
    const per = gen.numWs * gen.wDim;
    const ws = new Float32Array(count * per);
    for (let i = 0; i < count; i++) {
      spec.source.fill(start + Math.floor(i / cells), i % cells, ws.subarray(i * per, (i + 1) * per));
    }
    return gpu.upload(ws, [count, gen.numWs, gen.wDim]);
  }
  const z = new Float64Array(count * gen.zDim);
  for (let i = 0; i < count; i++) {
    spec.source.fill(start + Math.floor(i / cells), i % cells, z.subarray(i * gen.zDim, (i + 1) * gen.zDim));
  }
  return gen.mapping(z, count, mapOpts(gen, count, spec));
}

/**
 * gen_video.py's layout_grid for the samples [first, first + cells) of an NCHW batch: uint8 conversion as
 * gen_images.py, cells in row-major order; grey images become RGB, a fourth channel is dropped. With
 * `compare`, each cell is followed by its frame-0 image (kept in `reference`) resampled with the frame's
 * motion.
 */
function layoutFrame(
  data: Float32Array,
  shape: readonly number[],
  first: number,
  frame: number,
  spec: VideoSpec,
  reference: Float32Array[],
): Image8 {
  const [, ch, h, w] = shape;
  const per = ch * h * w;
  const compare = spec.compare && spec.motion ? spec.motion : null;
  const panels = compare ? 2 : 1;
  const width = spec.gridW * w * panels, height = spec.gridH * h;
  const out = new Uint8Array(width * height * 3);
  const tInv = compare ? motionTransform(compare, frame) : null;
  for (let c = 0; c < spec.gridW * spec.gridH; c++) {
    const sample = data.subarray((first + c) * per, (first + c + 1) * per);
    if (compare && frame === 0) reference[c] = sample.slice();
    const images = [toImage8(sample, [1, ch, h, w])];
    if (tInv) images.push(toImage8(resampleImage(reference[c], ch, h, w, tInv), [1, ch, h, w]));
    const gy = Math.floor(c / spec.gridW), gx = c % spec.gridW;
    images.forEach((img, p) => blit(out, width, img, (gx * panels + p) * w, gy * h));
  }
  return { width, height, channels: 3, data: out };
}

/** Copies `img` into the RGB canvas `out` (row length `width`) at (x0, y0). */
function blit(out: Uint8Array, width: number, img: Image8, x0: number, y0: number): void {
  const src = img.data, c = img.channels;
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const s = (y * img.width + x) * c, d = ((y0 + y) * width + x0 + x) * 3;
      out[d] = src[s];
      out[d + 1] = src[s + (c >= 3 ? 1 : 0)];
      out[d + 2] = src[s + (c >= 3 ? 2 : 0)];
    }
  }
}
