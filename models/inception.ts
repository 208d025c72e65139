/**
 * The FID Inception-v3 network on the GPU: uint8 images -> preprocessing of one of the three FID
 * implementations -> the blocks of `inception_arch.ts` (folded conv + ReLU, pools, concatenation by
 * channel slices; an average pool before a 1x1 convolution runs after it) -> 2048-d pool3 features and
 * 1008 logits.
 *
 * Preprocessing presets (x: uint8 values as float, resized to 299x299 per channel):
 * - "stylegan3": NVIDIA's detector (StyleGAN2-ADA/StyleGAN3 calc_metrics): TF1-style bilinear resize
 *   without half-pixel offset, edge-clamped; then (x - 128) / 128.
 * - "pytorch-fid": x / 255, torch bilinear resize (align_corners=False), then 2x - 1.
 * - "clean-fid": PIL bicubic resize in float (antialiased), clipped to [0, 255]; then (x - 128) / 128.
 */
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { convGemm, type ConvWeight, convWeightTensors, packConvWeight } from "../kernels/conv_gemm.ts";
import { globalAvgPool, pool2d } from "../kernels/pool.ts";
import { matmul } from "../kernels/matmul.ts";
import { imagesToNCHW, type ResamplePost, resize, type ResizeMethod } from "../kernels/resize.ts";
import {
  BLOCKS,
  type ConvOp,
  convOps,
  FEATURE_DIM,
  INPUT_SIZE,
  LOGIT_DIM,
  type Op,
  outSize,
  type Path,
  type PoolOp,
} from "./inception_arch.ts";
import type { InceptionWeights } from "./inception_weights.ts";

/** A preprocessing preset; see the module documentation. */
export type Preset = "stylegan3" | "pytorch-fid" | "clean-fid";

/** The presets' names. */
export const PRESETS: readonly Preset[] = ["stylegan3", "pytorch-fid", "clean-fid"];

const PREPROCESS: Record<Preset, { method: ResizeMethod; post: ResamplePost }> = {
  "stylegan3": { method: "tf1-bilinear", post: { a: 1 / 128, b: -1 } },
  "pytorch-fid": { method: "torch-bilinear", post: { a: 2 / 255, b: -1 } },
  "clean-fid": { method: "pil-bicubic", post: { lo: 0, hi: 255, a: 1 / 128, b: -1 } },
};

/**
 * Converts n uint8 HWC images (c = 1 or 3) to the network input [n, 3, 299, 299] with `preset`'s
 * resize and normalisation.
 */
export function preprocess(
  gpu: Gpu,
  bytes: Uint8Array,
  n: number,
  h: number,
  w: number,
  c: number,
  preset: Preset,
): Tensor {
  const x = imagesToNCHW(gpu, bytes, n, h, w, c);
  const y = preprocessTensor(gpu, x, preset);
  gpu.release(x);
  return y;
}

/** Resizes and normalises float NCHW images [n, 3, h, w] holding uint8 values (0..255) per `preset`. */
export function preprocessTensor(gpu: Gpu, x: Tensor, preset: Preset): Tensor {
  const { method, post } = PREPROCESS[preset];
  return resize(gpu, x, method, INPUT_SIZE, INPUT_SIZE, post);
}

/** Outputs of one forward pass; valid until the next forward pass of the same network. */
export interface InceptionOutputs {
  /** [N, 2048] pool3 features. */
  pool3: Tensor;
  /** [N, 1008] logits, when requested (with the output bias unless `outputBias` was false). */
  logits?: Tensor;
  /** Outputs of the blocks whose indices were requested in `keep` (indices into BLOCKS). */
  blocks: Map<number, Tensor>;
}

interface GpuConv {
  weight: ConvWeight;
  bias: Tensor;
}

function opChannels(op: Op, cin: number): number {
  return op.kind === "conv" ? op.cout : cin;
}

function pathChannels(p: Path, cin: number): number {
  const c = p.ops.reduce((ch, op) => opChannels(op, ch), cin);
  return p.split ? p.split.reduce((s, q) => s + pathChannels(q, c), 0) : c;
}

function opSize(op: Op, size: number): number {
  return op.kind === "conv"
    ? outSize(size, op.kh, op.stride, op.padH) // square inputs: kh/padH and kw/padW give the same size
    : outSize(size, op.k, op.stride, op.pad);
}

function pathSize(p: Path, size: number): number {
  return p.ops.reduce((s, op) => opSize(op, s), size);
}

/** The Inception network with its weights on the GPU. */
export class Inception {
  readonly #convs = new Map<string, GpuConv>();
  readonly #fcWeight: Tensor;
  readonly #fcBias: Tensor;
  /**
   * The previous forward pass's outputs (and the blocks it kept), freed by the next one. Intermediates are
   * handed to `gpu.release` after their last use, so their buffers serve the pass's later tensors and the next
   * pass (gpu/buffer_pool.ts).
   */
  #outputs: Tensor[] = [];

  private constructor(readonly gpu: Gpu, weights: InceptionWeights) {
    for (const op of convOps()) {
      const c = weights.convs.get(op.name)!;
      this.#convs.set(op.name, {
        weight: packConvWeight(gpu, c.weight, [op.cout, op.cin, op.kh, op.kw]),
        bias: gpu.upload(c.bias, [op.cout]),
      });
    }
    this.#fcWeight = gpu.upload(weights.fcWeight, [LOGIT_DIM, FEATURE_DIM]);
    this.#fcBias = gpu.upload(weights.fcBias, [LOGIT_DIM]);
  }

  /** Uploads `weights`. */
  static create(gpu: Gpu, weights: InceptionWeights): Inception {
    return new Inception(gpu, weights);
  }

  /**
   * Bytes of intermediate activations per image at 299x299 (for choosing a batch size): their sum, an upper
   * bound on what a pass holds at once (intermediates are released after their last use), and the largest
   * single activation (which must fit one storage binding).
   */
  static activationBytes(): { total: number; largest: number } {
    let size = INPUT_SIZE, cin = 3, total = 0, largest = 0;
    const count = (c: number, s: number) => {
      const b = c * s * s * 4;
      total += b;
      largest = Math.max(largest, b);
    };
    const walk = (p: Path, c: number, s: number) => {
      for (const op of p.ops) {
        c = opChannels(op, c);
        s = opSize(op, s);
        count(c, s);
      }
      p.split?.forEach((q) => walk(q, c, s));
    };
    for (const b of BLOCKS) {
      b.paths.forEach((p) => walk(p, cin, size));
      cin = b.paths.reduce((s, p) => s + pathChannels(p, cin), 0);
      size = pathSize(b.paths[0], size);
    }
    return { total, largest };
  }

  /** Applies one op; the result goes into `into` (a channel slice) or a new tensor. */
  #op(op: Op, x: Tensor, into?: { out: Tensor; cOffset: number }): Tensor {
    const [n, c, h] = x.shape;
    if (op.kind === "conv") {
      const g = this.#convs.get(op.name)!;
      const { kh, kw, stride, padH, padW } = op;
      const out = into ??
        {
          out: this.gpu.tensor([n, op.cout, outSize(h, kh, stride, padH), outSize(h, kw, stride, padW)]),
          cOffset: 0,
        };
      return convGemm(this.gpu, x, g.weight, { stride, padH, padW, bias: g.bias, act: "relu", into: out });
    }
    const s = outSize(h, op.k, op.stride, op.pad);
    const out = into ?? { out: this.gpu.tensor([n, c, s, s]), cOffset: 0 };
    return pool2d(this.gpu, x, op.kind, op, out);
  }

  /**
   * An average pool followed by a 1x1 convolution (the pool branches of the FID blocks), run in the other
   * order: the convolution without its bias, then the pool with the bias and ReLU. Both are linear and act on
   * different axes (the pool on pixels, with weights that depend only on the position; the convolution on
   * channels), so relu(conv(avgpool(x)) + b) = relu(avgpool(conv(x)) + b) up to rounding, and the pool then
   * runs over the convolution's 32-192 output channels instead of its 192-1280 input channels. Runs the
   * convolution and returns the pool, which writes the output channels from cOffset and returns their count.
   */
  #convThenPool(pool: PoolOp, op: ConvOp, x: Tensor, out: Tensor, cOffset: number): () => number {
    const [n, , h, w] = x.shape;
    const g = this.#convs.get(op.name)!;
    const z = convGemm(this.gpu, x, g.weight, {
      padH: 0,
      padW: 0,
      into: { out: this.gpu.tensor([n, op.cout, h, w]), cOffset: 0 },
    });
    return () => {
      pool2d(this.gpu, z, "avg", pool, { out, cOffset }, g.bias);
      this.gpu.release(z);
      return op.cout;
    };
  }

  /**
   * Runs the first op of path p on x and returns the rest of the path, which writes the path's output channels
   * into out from cOffset and returns their count. A block starts every path before finishing any, so that the
   * launches that read the block's input run one after another and its texture copy (gpu/texture.ts) serves
   * them all, instead of being made again after another branch's launches refilled the texture.
   */
  #begin(p: Path, x: Tensor, out: Tensor, cOffset: number): () => number {
    const [pool, conv] = p.ops;
    if (
      !p.split && p.ops.length === 2 && pool.kind === "avg" && conv.kind === "conv" && conv.kh === 1 &&
      conv.kw === 1 && conv.stride === 1 && conv.padH === 0 && conv.padW === 0
    ) {
      return this.#convThenPool(pool, conv, x, out, cOffset);
    }
    const step = (cur: Tensor, i: number): Tensor => {
      const last = i === p.ops.length - 1 && !p.split;
      const next = this.#op(p.ops[i], cur, last ? { out, cOffset } : undefined);
      if (cur !== x) this.gpu.release(cur);
      return next;
    };
    const first = p.ops.length ? step(x, 0) : x;
    return () => {
      const cur = p.ops.slice(1).reduce((t, _, i) => step(t, i + 1), first);
      if (!p.split) return opChannels(p.ops[p.ops.length - 1], x.shape[1]);
      let written = 0;
      for (const q of p.split) written += this.#begin(q, cur, out, cOffset + written)();
      if (cur !== x) this.gpu.release(cur);
      return written;
    };
  }

  /**
   * Runs the network on preprocessed input x [N, 3, 299, 299]. `logits` adds the output layer, with
   * its bias unless `outputBias` is false (NVIDIA's Inception Score uses the logits without bias);
   * `keep` lists block indices whose outputs to return (for diagnosis).
   */
  forward(
    x: Tensor,
    opts: { logits?: boolean; outputBias?: boolean; keep?: number[] } = {},
  ): InceptionOutputs {
    this.gpu.release(...this.#outputs);
    const blocks = new Map<number, Tensor>();
    let cur = x;
    BLOCKS.forEach((block, bi) => {
      const [n, c, h] = cur.shape;
      const channels = block.paths.reduce((s, p) => s + pathChannels(p, c), 0);
      const size = pathSize(block.paths[0], h);
      const out = this.gpu.tensor([n, channels, size, size]);
      let offset = 0;
      const rests = block.paths.map((p) => {
        const rest = this.#begin(p, cur, out, offset);
        offset += pathChannels(p, c);
        return rest;
      });
      rests.forEach((rest) => rest());
      if (opts.keep?.includes(bi)) blocks.set(bi, out);
      if (cur !== x && !blocks.has(bi - 1)) this.gpu.release(cur);
      cur = out;
    });
    const pool3 = globalAvgPool(this.gpu, cur);
    if (!blocks.has(BLOCKS.length - 1)) this.gpu.release(cur);
    const logits = opts.logits
      ? matmul(this.gpu, pool3, this.#fcWeight, {
        transB: true,
        bias: opts.outputBias === false ? undefined : this.#fcBias,
      })
      : undefined;
    this.#outputs = [pool3, ...logits ? [logits] : [], ...blocks.values()];
    return { pool3, logits, blocks };
  }

  /** Frees the weights and intermediates (after submitting work recorded with them). */
  destroy(): void {
    this.gpu.flush();
    for (const g of this.#convs.values()) {
      convWeightTensors(g.weight).forEach((t) => t.destroy());
      g.bias.destroy();
    }
    this.#fcWeight.destroy();
    this.#fcBias.destroy();
    for (const t of this.#outputs) t.destroy();
  }
}
