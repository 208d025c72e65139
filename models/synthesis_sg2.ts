/**
 * The StyleGAN2 synthesis network (training/networks_stylegan2.py SynthesisNetwork) on the GPU, for the
 * 'skip' (default), 'resnet' and 'orig' architectures. Blocks b4, b8, ..., b<res>; block b<r> uses
 * ws[i .. i + num_conv + num_torgb) where i advances by num_conv per block (a block's ToRGB shares its w
 * with the next block's first convolution).
 *
 * - b4 starts from the learned constant [C, 4, 4]; every other block first upsamples: conv0 is
 *   modulated_conv2d with up=2, which conv2d_resample computes as a transposed stride-2 convolution
 *   followed by the [1,3,3,1] FIR filter; the same operator is v = upfirdn2d(x, f, up=2, padding
 *   [3,2,3,2], gain 4) (zero-stuffing, then the filter) followed by a stride-1 correlation of v with the
 *   spatially flipped weight, no padding (the flip because conv0 runs with flip_weight=False).
 * - Each SynthesisLayer: styles = affine(w); demodulated modulated convolution (3x3, padding 1 for conv1);
 *   + noise (noise_const * noise_strength for noise_mode 'const', Gaussian * noise_strength for 'random');
 *   bias_act(bias, lrelu, gain act_gain = sqrt 2, clamp conv_clamp), all fused in one convolution kernel.
 * - ToRGB: styles = affine(w) * weight_gain; modulated 1x1 convolution without demodulation; bias, clamp.
 *   'skip': img = upsample2d(img) (upfirdn2d up=2, padding [2,1,2,1], gain 4) + ToRGB(x) at every block;
 *   'orig': only the last block's ToRGB; 'resnet': x = skip(x) + conv1(conv0(x)) with skip = the 1x1
 *   upsampling Conv2dLayer (upfirdn2d then 1x1 convolution) and both branches at gain sqrt(1/2).
 * Everything runs in float32 (the official code runs StyleGAN2 in float32 off CUDA); with fp16 the use_fp16
 * blocks store their activations in float16, as the official code does on CUDA.
 */
import type { Gpu } from "../gpu/device.ts";
import type { DType, Tensor } from "../gpu/tensor.ts";
import { UserError } from "../errors.ts";
import { type Fc, type NetworkWeights, runFc } from "./weights.ts";
import { parseStyleGAN2, type Sg2LayerSpec } from "./spec_sg2.ts";
import type { NamedTensor } from "../formats/network.ts";
import type { NoiseMode, Synthesis, SynthesisOptions } from "./synthesis.ts";
import { type ModConvWeight, modulatedConv2d, prepareModConvWeight } from "../kernels/modconv.ts";
import { convGemm, type ConvWeight, convWeightTensors, packConvWeight } from "../kernels/conv_gemm.ts";
import { upfirdn2d } from "../kernels/eq_upfirdn.ts";
import { RandomState } from "./latents.ts";

/** One SynthesisLayer or ToRGBLayer. */
interface Layer {
  name: string;
  affine: Fc;
  /** Factor of the styles (ToRGB's weight_gain, else 1). */
  styleScale: number;
  conv: ModConvWeight;
  /** conv0: the input is upsampled first (with this layer's resample_filter) and the weight was flipped. */
  up: Tensor | null;
  padding: number;
  bias: Tensor;
  act: "linear" | "relu" | "lrelu";
  gain: number;
  clamp: number | null;
  /** noise_const [res, res] and noise_strength (SynthesisLayers with use_noise). */
  noise: { constant: Tensor; strength: number } | null;
  res: number;
}

interface Block {
  res: number;
  architecture: "skip" | "resnet" | "orig";
  /** b4's constant [C, 4, 4]. */
  constant: Float32Array | null;
  conv0: Layer | null;
  conv1: Layer;
  torgb: Layer | null;
  /** The resnet skip: a 1x1 weight with its weight_gain folded in. */
  skip: ConvWeight | null;
  /** The block's resample filter [1, 4, 4] (setup_filter of [1, 3, 3, 1]). */
  filter: Tensor;
  wIndex: number;
  /** The dtype of the block's activations (float16 for use_fp16 blocks under fp16). */
  dtype: DType;
}

/** A StyleGAN2 synthesis network with its weights on the GPU. */
export class StyleGAN2Synthesis implements Synthesis {
  readonly numWs: number;
  readonly activationBytes: number;
  readonly transform = null;
  readonly #blocks: Block[];

  /**
   * Uploads the synthesis weights of `w` (a StyleGAN2 network). With `fp16`, the blocks the network marks
   * use_fp16 (the num_fp16_res highest resolutions) keep their activations in float16, computing in float32,
   * as the official code does on CUDA; the image stays float32.
   */
  constructor(readonly gpu: Gpu, w: NetworkWeights, opts: { fp16?: boolean }) {
    const spec = parseStyleGAN2(w.net);
    this.numWs = spec.numWs;
    let bytes = 0;
    const upload = (t: NamedTensor, shape = t.shape) => w.own(this.gpu.upload(t.data, shape));
    const layer = (l: Sg2LayerSpec): Layer => {
      const lp = `synthesis.${l.name}`;
      const { outChannels: co, inChannels: ci, kernel: k } = l;
      // conv0 (up=2) convolves (flip_weight=False): flip the taps once so that the kernel correlates.
      const data = l.up ? flipTaps(l.weight.data, co * ci, k) : l.weight.data;
      const conv = prepareModConvWeight(this.gpu, data, l.weight.shape, !l.isToRGB);
      w.own(...convWeightTensors(conv.weight), ...(conv.wsq ? [conv.wsq] : []));
      bytes = Math.max(bytes, co * l.res * l.res * 4, l.up ? ci * (l.res + 2) * (l.res + 2) * 4 : 0);
      return {
        name: l.name,
        affine: w.fc(`${lp}.affine`),
        styleScale: l.styleScale,
        conv,
        up: l.resampleFilter ? upload(l.resampleFilter, [1, 4, 4]) : null,
        padding: l.padding,
        bias: w.upload(`${lp}.bias`),
        act: l.activation,
        gain: l.gain,
        clamp: l.clamp,
        noise: l.noise ? { constant: upload(l.noise.constant), strength: l.noise.strength } : null,
        res: l.res,
      };
    };
    this.#blocks = spec.blocks.map((b): Block => {
      let skip: ConvWeight | null = null;
      if (b.skip) {
        const { weight, gain } = b.skip;
        skip = packConvWeight(this.gpu, weight.data.map((v) => v * gain), weight.shape);
        w.own(...convWeightTensors(skip));
      }
      return {
        res: b.res,
        architecture: b.architecture,
        constant: b.constant?.data ?? null,
        conv0: b.conv0 ? layer(b.conv0) : null,
        conv1: layer(b.conv1),
        torgb: b.torgb ? layer(b.torgb) : null,
        skip,
        filter: upload(b.resampleFilter, [1, 4, 4]),
        wIndex: b.wIndex,
        dtype: opts.fp16 && b.useFp16 ? "f16" : "f32",
      };
    });
    this.activationBytes = bytes;
  }

  /** Images [N, img_channels, res, res] from ws [N, num_ws, w_dim]. */
  run(ws: Tensor, opts: SynthesisOptions): Tensor {
    if (opts.transforms) {
      throw new UserError(
        "StyleGAN2 networks have no input transform (translation and rotation are StyleGAN3's)",
      );
    }
    const gpu = this.gpu;
    const [n, , wDim] = ws.shape;
    const mode: NoiseMode = opts.noiseMode ?? "const";
    const rngs = mode === "random"
      ? Array.from({ length: n }, (_, i) => new RandomState(opts.noiseSeeds?.[i] ?? i))
      : [];
    const styles = (l: Layer, wi: number) =>
      runFc(gpu, ws, l.affine, { n, xStride: this.numWs * wDim, xOffset: wi * wDim }, l.styleScale);
    /** A finished intermediate: captured, or freed once the work using it is submitted. */
    const release = (name: string, t: Tensor) => {
      if (opts.capture) return opts.capture.set(name, t);
      gpu.release(t);
    };
    /** One SynthesisLayer/ToRGB on x (upsampled first for conv0), written into `into` or a new tensor. */
    const apply = (l: Layer, x: Tensor, wi: number, dtype: DType, into?: Tensor, gain = 1): Tensor => {
      const input = l.up ? upfirdn2d(gpu, x, l.up, { up: 2, padding: [3, 2, 3, 2], gain: 4 }) : x;
      const s = styles(l, wi);
      let noise: { tensor: Tensor; strength: number } | null = null;
      if (l.noise && mode === "const") noise = { tensor: l.noise.constant, strength: l.noise.strength };
      if (l.noise && mode === "random") {
        const data = new Float32Array(n * l.res * l.res);
        rngs.forEach((rng, i) => data.set(rng.randn(l.res * l.res), i * l.res * l.res));
        noise = { tensor: gpu.upload(data, [n, l.res, l.res]), strength: l.noise.strength };
      }
      const out = modulatedConv2d(gpu, input, l.conv, s, {
        inputGain: 1,
        padding: l.padding,
        outDtype: dtype,
        epilogue: {
          bias: l.bias,
          act: l.act,
          gain: l.gain * gain,
          clamp: l.clamp === null ? null : l.clamp * gain,
          noise,
          into: into ? { out: into, cOffset: 0 } : undefined,
          accumulate: !!into,
        },
      });
      gpu.release(s, input !== x ? input : null, noise && mode === "random" ? noise.tensor : null);
      return out;
    };
    let x: Tensor | null = null, img: Tensor | null = null;
    for (const b of this.#blocks) {
      const prev: Tensor | null = x;
      if (b.constant) {
        const c = b.constant;
        const batch = new Float32Array(n * c.length);
        for (let i = 0; i < n; i++) batch.set(c, i * c.length);
        const x0 = gpu.upload(batch, [n, c.length / 16, 4, 4]);
        x = apply(b.conv1, x0, b.wIndex, b.dtype);
        gpu.release(x0);
      } else if (b.architecture === "resnet") {
        const up = upfirdn2d(gpu, prev!, b.filter, { up: 2, padding: [2, 1, 2, 1], gain: 4 });
        const y = convGemm(gpu, up, b.skip!, { padH: 0, padW: 0, gain: Math.SQRT1_2, outDtype: b.dtype });
        gpu.release(up);
        const h = apply(b.conv0!, prev!, b.wIndex, b.dtype);
        x = apply(b.conv1, h, b.wIndex + 1, b.dtype, y, Math.SQRT1_2);
        release(b.conv0!.name, h);
      } else {
        const h = apply(b.conv0!, prev!, b.wIndex, b.dtype);
        x = apply(b.conv1, h, b.wIndex + 1, b.dtype);
        release(b.conv0!.name, h);
      }
      if (prev) release(`b${b.res / 2}`, prev);
      if (b.torgb) {
        const wi = b.wIndex + (b.conv0 ? 2 : 1);
        if (img) {
          const up: Tensor = upfirdn2d(gpu, img, b.filter, { up: 2, padding: [2, 1, 2, 1], gain: 4 });
          gpu.release(img);
          img = apply(b.torgb, x, wi, "f32", up);
        } else img = apply(b.torgb, x, wi, "f32");
      }
    }
    if (x) release(`b${this.#blocks[this.#blocks.length - 1].res}`, x);
    return img!;
  }
}

/** Reverses the k x k taps of each of `planes` kernels (a 180-degree rotation: convolution to correlation). */
function flipTaps(w: Float32Array, planes: number, k: number): Float32Array {
  const out = new Float32Array(w.length);
  const kk = k * k;
  for (let p = 0; p < planes; p++) {
    for (let t = 0; t < kk; t++) out[p * kk + t] = w[p * kk + kk - 1 - t];
  }
  return out;
}
