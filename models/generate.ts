/**
 * Image generation as gen_images.py does it: z = RandomState(seed).randn(1, z_dim), a one-hot label for
 * conditional networks, ws = mapping(z, c, psi, cutoff), for StyleGAN3 the input transform buffer set to
 * inv(make_transform(translate, rotate)), img = synthesis(ws, noise_mode), then (img * 127.5 + 128).clamp(0,
 * 255) to uint8. Samples are batched on the GPU; results come out in input order.
 */
import { UserError } from "../errors.ts";
import type { Gpu } from "../gpu/device.ts";
import { readTensor } from "../gpu/readback.ts";
import { batchStarts, oneAhead } from "../gpu/ahead.ts";
import { type Image8, toImage8 } from "../formats/png.ts";
import type { Generator, NoiseMode } from "./generator.ts";
import { zFromSeed } from "./latents.ts";
import { invert3x3, makeTransform } from "./transform.ts";

/** What to generate: seeds (through the mapping network) or given ws (synthesis only). */
export interface GenerateRequest {
  /** Seeds for z; mutually exclusive with `ws`. */
  seeds?: number[];
  /** Given w vectors, [count, num_ws, w_dim] flattened (e.g. a projector's projected_w.npz). */
  ws?: { data: Float32Array; count: number };
  /** Given z vectors, [count, z_dim] flattened, instead of seeds. */
  zs?: { data: Float64Array | Float32Array; count: number };
  /** Truncation psi: w = w_avg + psi (w - w_avg) (default 1, none). */
  psi?: number;
  /** How many ws are truncated; null/undefined = all. */
  cutoff?: number | null;
  /** Class index for conditional networks (required there, as in gen_images.py). */
  classIdx?: number;
  /** Translation [tx, ty] of the image content, in image widths (StyleGAN3 only; default [0, 0]). */
  translate?: [number, number];
  /** Rotation of the image content in degrees (StyleGAN3 only; default 0). */
  rotate?: number;
  /** StyleGAN2 noise inputs (default const, as gen_images.py); "random" draws from each image's seed. */
  noiseMode?: NoiseMode;
  /** Images per GPU batch (default 1; capped at the generator's maxBatch). */
  batch?: number;
  /** Only the items [start, end) of the request (a shard), named as in the whole request; default all. */
  range?: [number, number];
}

/** One generated image with the file stem gen_images.py would give it (seed0042, proj00). */
export interface GeneratedImage {
  /** The file stem: seedNNNN for seeds, projNN for given ws or zs. */
  name: string;
  /** 8-bit HWC image: (img * 127.5 + 128) clamped to [0, 255]. */
  image: Image8;
  /** The float output (NCHW, unclamped) of this sample. */
  float: Float32Array;
}

/**
 * The one-hot label rows for `n` samples of class `classIdx` (empty for unconditional nets, which ignore a
 * class as gen_images.py does).
 */
export function labels(gen: Generator, n: number, classIdx?: number): Float32Array | undefined {
  if (gen.cDim === 0) return undefined;
  if (classIdx === undefined) {
    throw new UserError(`this network is conditional (${gen.cDim} classes): a class is required`, "class");
  }
  if (!Number.isInteger(classIdx) || classIdx < 0 || classIdx >= gen.cDim) {
    throw new UserError(`expected a class in 0..${gen.cDim - 1}, got ${classIdx}`, "class");
  }
  const c = new Float32Array(n * gen.cDim);
  for (let i = 0; i < n; i++) c[i * gen.cDim + classIdx] = 1;
  return c;
}

/**
 * Generates the request's images (those of `req.range`) batch by batch, in request order; each batch is
 * submitted before the previous one's images are handed out (gpu/ahead.ts).
 *
 * @example Write seed0000.png ... seed0007.png as `sg3 generate` does
 * ```ts
 * import { generateImages, Generator, Gpu, loadNetwork, writePng } from "@sg3/sg3";
 *
 * const gpu = await Gpu.open();
 * const gen = Generator.create(gpu, await loadNetwork("stylegan3-t-ffhq-1024x1024"));
 * const seeds = [0, 1, 2, 3, 4, 5, 6, 7];
 * for await (const { name, image } of generateImages(gpu, gen, { seeds, psi: 0.7, batch: 4 })) {
 *   writePng(`out/${name}.png`, image);
 * }
 * ```
 */
export async function* generateImages(
  gpu: Gpu,
  gen: Generator,
  req: GenerateRequest,
): AsyncGenerator<GeneratedImage> {
  const count = req.ws?.count ?? req.zs?.count ?? req.seeds?.length ?? 0;
  // Batches larger than the GPU's maxBufferSize allows for the largest activation are split.
  const batch = Math.max(1, Math.min(req.batch ?? 1, gen.maxBatch));
  const [tx, ty] = req.translate ?? [0, 0];
  if (!gen.hasInputTransform && (tx !== 0 || ty !== 0 || (req.rotate ?? 0) !== 0)) {
    throw new UserError(
      "this network has no input transform: translation and rotation apply to StyleGAN3 only",
    );
  }
  const transform = Float32Array.from(invert3x3(makeTransform([tx, ty], req.rotate ?? 0)));
  const [first, end] = req.range ?? [0, count];
  const submit = (start: number) => {
    const n = Math.min(batch, end - start);
    let ws;
    if (req.ws) {
      const stride = gen.numWs * gen.wDim;
      ws = gpu.upload(req.ws.data.subarray(start * stride, (start + n) * stride), [n, gen.numWs, gen.wDim]);
    } else {
      const z = new Float64Array(n * gen.zDim);
      for (let i = 0; i < n; i++) {
        const row = req.zs
          ? req.zs.data.subarray((start + i) * gen.zDim, (start + i + 1) * gen.zDim)
          : zFromSeed(req.seeds![start + i], gen.zDim);
        z.set(row, i * gen.zDim);
      }
      ws = gen.mapping(z, n, {
        c: labels(gen, n, req.classIdx),
        psi: req.psi ?? 1,
        cutoff: req.cutoff ?? null,
      });
    }
    const img = gen.synthesis(ws, {
      transforms: gen.hasInputTransform ? repeat(transform, n) : undefined,
      noiseMode: req.noiseMode,
      noiseSeeds: req.seeds?.slice(start, start + n),
    });
    const shape = img.shape;
    return readTensor(gpu, img).then((data) => ({ start, n, data, shape })).finally(() =>
      gpu.release(ws, img)
    );
  };
  // The next batch runs on the GPU while the caller encodes this one's images.
  for await (const { start, n, data, shape } of oneAhead(batchStarts(first, end, batch), submit)) {
    const per = gen.imgChannels * gen.resolution * gen.resolution;
    for (let i = 0; i < n; i++) {
      const k = start + i;
      const name = req.ws || req.zs
        ? `proj${String(k).padStart(2, "0")}`
        : `seed${String(req.seeds![k]).padStart(4, "0")}`;
      yield { name, image: toImage8(data, shape, i), float: data.subarray(i * per, (i + 1) * per) };
    }
  }
}

function repeat(m: Float32Array, n: number): Float32Array {
  const out = new Float32Array(m.length * n);
  for (let i = 0; i < n; i++) out.set(m, i * m.length);
  return out;
}
