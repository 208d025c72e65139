/**
 * The StyleGAN2 synthesis network as a checked specification, read from a network description without
 * touching the GPU (networks_stylegan2.py's SynthesisNetwork, SynthesisBlock, SynthesisLayer and
 * ToRGBLayer): per block its architecture and layers with their hyper-parameters and tensors, the shapes
 * asserted as misc.assert_shape does, and the blocks' channels and resolutions checked to chain. A snapshot
 * that does not hold together is refused with one line naming the tensor or module.
 */
import { UserError } from "../errors.ts";
import { moduleAttrs, type NamedTensor, type NetworkDescription, networkTensor } from "../formats/network.ts";
import { num } from "./weights.ts";

/** One SynthesisLayer (conv0, conv1) or ToRGBLayer of a block. */
export interface Sg2LayerSpec {
  /** "b<res>.conv0", "b<res>.conv1" or "b<res>.torgb". */
  name: string;
  /** The ToRGB layer (1x1, no demodulation, linear). */
  isToRGB: boolean;
  /** conv0 upsamples 2x (a transposed convolution followed by the resample filter). */
  up: boolean;
  /** Input channels. */
  inChannels: number;
  /** Output channels. */
  outChannels: number;
  /** Kernel size (3 for convolutions, 1 for ToRGB). */
  kernel: number;
  /** Zero padding of the stride-1 convolution (conv1: kernel // 2; conv0 and ToRGB: 0). */
  padding: number;
  /** bias_act's activation. */
  activation: "linear" | "relu" | "lrelu";
  /** bias_act's gain (act_gain: sqrt 2 for lrelu, 1 for ToRGB). */
  gain: number;
  /** bias_act's clamp (conv_clamp; null = none). */
  clamp: number | null;
  /** ToRGB's weight_gain = 1/sqrt(in_channels k^2), applied to the styles; 1 otherwise. */
  styleScale: number;
  /** The weight [out, in, k, k]. */
  weight: NamedTensor;
  /** conv0's resample filter [4, 4]; null for the others. */
  resampleFilter: NamedTensor | null;
  /** noise_const [res, res] and noise_strength, for layers with use_noise. */
  noise: { constant: NamedTensor; strength: number } | null;
  /** Output resolution. */
  res: number;
}

/** One SynthesisBlock. */
export interface Sg2BlockSpec {
  /** The block's output resolution. */
  res: number;
  /** How the block's image is formed: ToRGB per block added to the upsampled image (skip), residual, or last only. */
  architecture: "skip" | "resnet" | "orig";
  /** b4's learned constant [C, 4, 4]. */
  constant: NamedTensor | null;
  /** The upsampling convolution (absent in b4). */
  conv0: Sg2LayerSpec | null;
  /** The second convolution. */
  conv1: Sg2LayerSpec;
  /** The ToRGB layer (every block in 'skip', the last otherwise). */
  torgb: Sg2LayerSpec | null;
  /** The resnet skip's 1x1 weight [out, in, 1, 1] and its weight_gain. */
  skip: { weight: NamedTensor; gain: number } | null;
  /** The block's resample filter [4, 4] (setup_filter([1, 3, 3, 1])). */
  resampleFilter: NamedTensor;
  /** Index of the block's first w; the ToRGB layer shares its w with the next block's conv0. */
  wIndex: number;
  /** The block keeps float16 activations when the generator runs with fp16. */
  useFp16: boolean;
}

/** The whole StyleGAN2 synthesis network. */
export interface Sg2SynthesisSpec {
  /** The number of ws the mapping broadcasts. */
  numWs: number;
  /** The dimension of w. */
  wDim: number;
  /** Image channels (3 for RGB). */
  imgChannels: number;
  /** The blocks b4, b8, ... in order. */
  blocks: Sg2BlockSpec[];
}

const ACTIVATIONS: Record<string, Sg2LayerSpec["activation"]> = {
  lrelu: "lrelu",
  relu: "relu",
  linear: "linear",
};

/** Reads and checks the synthesis network of a StyleGAN2 description (see the module doc). */
export function parseStyleGAN2(net: NetworkDescription): Sg2SynthesisSpec {
  const attrs = (path: string) => moduleAttrs(net, path);
  const tensor = (name: string, shape: number[]) => networkTensor(net, name, shape);
  const syn = attrs("synthesis");
  const wDim = num(attrs("").w_dim), imgChannels = num(syn.img_channels ?? attrs("").img_channels);
  const resolutions = Array.isArray(syn.block_resolutions) ? syn.block_resolutions.map(num) : [];
  if (resolutions.length === 0 || resolutions[0] !== 4) {
    throw new UserError("synthesis.block_resolutions: expected 4, 8, ... up to the image resolution");
  }
  let wIndex = 0, channels = 0;
  const blocks = resolutions.map((res, i): Sg2BlockSpec => {
    if (i > 0 && res !== 2 * resolutions[i - 1]) {
      throw new UserError(`synthesis.b${res}: resolutions must double`);
    }
    const path = `synthesis.b${res}`;
    const a = attrs(path);
    const architecture = String(a.architecture ?? "skip") as Sg2BlockSpec["architecture"];
    if (!["skip", "resnet", "orig"].includes(architecture)) {
      throw new UserError(`${path}: unknown StyleGAN2 architecture "${architecture}"`);
    }
    const inChannels = num(a.in_channels);
    if (inChannels !== channels) {
      throw new UserError(`${path} takes ${inChannels} channels, but the previous block makes ${channels}`);
    }
    const layer = (name: string, torgb: boolean, cin: number): Sg2LayerSpec => {
      const lp = `${path}.${name}`;
      const la = attrs(lp);
      const cout = num(la.out_channels);
      if (num(la.in_channels) !== cin) {
        throw new UserError(`${lp} takes ${la.in_channels} channels, expected ${cin}`);
      }
      const kernel = net.tensors.get(`${lp}.weight`)?.shape[3] ?? 0;
      const weight = tensor(`${lp}.weight`, [cout, cin, kernel, kernel]);
      const up = !torgb && num(la.up ?? 1) !== 1;
      if (up && (num(la.up) !== 2 || kernel !== 3)) {
        throw new UserError(`${lp}: up ${la.up} with a ${kernel}x${kernel} kernel is not supported`);
      }
      const activation = torgb ? "linear" : ACTIVATIONS[String(la.activation ?? "lrelu")];
      if (!activation) throw new UserError(`${lp}: unsupported activation "${la.activation}"`);
      tensor(`${lp}.bias`, [cout]);
      tensor(`${lp}.affine.weight`, [cin, wDim]);
      const useNoise = !torgb && la.use_noise !== false && net.tensors.has(`${lp}.noise_const`);
      return {
        name: `b${res}.${name}`,
        isToRGB: torgb,
        up,
        inChannels: cin,
        outChannels: cout,
        kernel,
        padding: up || torgb ? 0 : num(la.padding ?? Math.floor(kernel / 2)),
        activation,
        gain: torgb ? 1 : num(la.act_gain ?? Math.SQRT2),
        clamp: la.conv_clamp === null || la.conv_clamp === undefined ? null : num(la.conv_clamp),
        styleScale: torgb ? num(la.weight_gain) : 1,
        weight,
        resampleFilter: up ? tensor(`${lp}.resample_filter`, [4, 4]) : null,
        noise: useNoise
          ? {
            constant: tensor(`${lp}.noise_const`, [res, res]),
            strength: tensor(`${lp}.noise_strength`, []).data[0],
          }
          : null,
        res,
      };
    };
    const first = inChannels === 0;
    const conv0 = first ? null : layer("conv0", false, inChannels);
    const mid = conv0 ? conv0.outChannels : num(attrs(`${path}.conv1`).in_channels);
    const conv1 = layer("conv1", false, mid);
    channels = conv1.outChannels;
    const torgb = a.is_last === true || architecture === "skip" ? layer("torgb", true, channels) : null;
    if (torgb && torgb.outChannels !== imgChannels) {
      throw new UserError(`${path}.torgb makes ${torgb.outChannels} channels, expected ${imgChannels}`);
    }
    const skip = !first && architecture === "resnet"
      ? {
        weight: tensor(`${path}.skip.weight`, [channels, inChannels, 1, 1]),
        gain: num(attrs(`${path}.skip`).weight_gain),
      }
      : null;
    const block: Sg2BlockSpec = {
      res,
      architecture,
      constant: first ? tensor(`${path}.const`, [mid, 4, 4]) : null,
      conv0,
      conv1,
      torgb,
      skip,
      resampleFilter: tensor(`${path}.resample_filter`, [4, 4]),
      wIndex,
      useFp16: a.use_fp16 === true,
    };
    wIndex += num(a.num_conv ?? (first ? 1 : 2));
    return block;
  });
  const numWs = num(syn.num_ws);
  const needed = blocks[blocks.length - 1].wIndex + (blocks[blocks.length - 1].conv0 ? 3 : 2);
  if (numWs !== needed) throw new UserError(`synthesis.num_ws is ${numWs}, but the blocks use ${needed} ws`);
  return { numWs, wDim, imgChannels, blocks };
}
