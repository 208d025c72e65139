/**
 * The StyleGAN3 synthesis network as a checked specification, read from a network description without
 * touching the GPU: the SynthesisInput and every SynthesisLayer with the hyper-parameters
 * networks_stylegan3.py's constructors set, their tensors, and the shapes asserted at every boundary (as
 * misc.assert_shape does): each layer's weight, bias, affine and filters must have the shapes its
 * attributes imply, and each layer must take the channels and size the previous one makes. A snapshot that
 * does not hold together is refused with one line naming the tensor or layer, before anything is uploaded.
 */
import { UserError } from "../errors.ts";
import { moduleAttrs, type NamedTensor, type NetworkDescription, networkTensor } from "../formats/network.ts";
import { num, pair } from "./weights.ts";

/** SynthesisInput: Fourier features of `channels` frequencies on a `size` grid, projected 1x1. */
export interface InputSpec {
  /** Feature channels (= frequencies). */
  channels: number;
  /** [width, height] of the feature grid (the first layer's input size). */
  size: [number, number];
  /** Sampling rate of the grid (pixels per unit). */
  samplingRate: number;
  /** Frequencies above this are faded out. */
  bandwidth: number;
  /** Frequencies [C, 2] (cycles per unit). */
  freqs: NamedTensor;
  /** Phases [C] (cycles). */
  phases: NamedTensor;
  /** The 1x1 projection [C, C] (before the division by sqrt(C)). */
  weight: NamedTensor;
  /** The input transform [3, 3]: the inverse of the user's translation and rotation. */
  transform: NamedTensor;
}

/** One SynthesisLayer (or the ToRGB layer) of StyleGAN3. */
export interface LayerSpec {
  /** Its name in the network ("L0_36_512", ..., the last is ToRGB). */
  name: string;
  /** The ToRGB layer: no demodulation, styles scaled by 1/sqrt(in_channels k^2), linear activation. */
  isToRGB: boolean;
  /** Input channels. */
  inChannels: number;
  /** Output channels. */
  outChannels: number;
  /** [width, height] of the input. */
  inSize: [number, number];
  /** [width, height] of the output. */
  outSize: [number, number];
  /** Convolution kernel size k (3 for T, 1 for R and ToRGB); the convolution pads by k - 1. */
  kernel: number;
  /** Upsampling factor of the filtered leaky ReLU. */
  up: number;
  /** Downsampling factor of the filtered leaky ReLU. */
  down: number;
  /** [x0, x1, y0, y1] padding of the upsampled signal (negative values crop). */
  padding: [number, number, number, number];
  /** Clamp of the pre-activation (conv_clamp; null = none). */
  clamp: number | null;
  /** The layer keeps float16 activations when the generator runs with fp16. */
  useFp16: boolean;
  /** input_gain = magnitude_ema^-1/2, in float32 as the official code computes it. */
  inputGain: number;
  /** The convolution weight [out, in, k, k] (bias [out] and affine.weight [in, w_dim] are checked too). */
  weight: NamedTensor;
  /** The up filter (1-D, or 2-D radial); null = identity (ToRGB). */
  upFilter: NamedTensor | null;
  /** The down filter (1-D, or 2-D radial); null = identity. */
  downFilter: NamedTensor | null;
}

/** The whole synthesis network. */
export interface SynthesisSpec {
  /** The number of ws the mapping broadcasts (layers + 2). */
  numWs: number;
  /** The dimension of w. */
  wDim: number;
  /** Factor of the last layer's output. */
  outputScale: number;
  /** The Fourier-feature input. */
  input: InputSpec;
  /** The layers in order, ToRGB last. */
  layers: LayerSpec[];
}

/** Reads and checks the synthesis network of a StyleGAN3 description (see the module doc). */
export function parseStyleGAN3(net: NetworkDescription): SynthesisSpec {
  const attrs = (path: string) => moduleAttrs(net, path);
  const tensor = (name: string, shape: number[]) => networkTensor(net, name, shape);
  const syn = attrs("synthesis");
  const wDim = num(attrs("").w_dim);
  const inp = attrs("synthesis.input");
  const c = num(inp.channels);
  const input: InputSpec = {
    channels: c,
    size: pair(inp.size),
    samplingRate: num(inp.sampling_rate),
    bandwidth: num(inp.bandwidth),
    freqs: tensor("synthesis.input.freqs", [c, 2]),
    phases: tensor("synthesis.input.phases", [c]),
    weight: tensor("synthesis.input.weight", [c, c]),
    transform: tensor("synthesis.input.transform", [3, 3]),
  };
  tensor("synthesis.input.affine.weight", [4, wDim]);
  const names = syn.layer_names;
  if (!Array.isArray(names) || names.length === 0) throw new UserError("synthesis.layer_names is missing");
  let channels = c, size = input.size;
  const layers = names.map((name: unknown): LayerSpec => {
    const path = `synthesis.${String(name)}`;
    const a = attrs(path);
    const inChannels = num(a.in_channels), outChannels = num(a.out_channels);
    const inSize = pair(a.in_size), outSize = pair(a.out_size);
    if (inChannels !== channels || inSize[0] !== size[0] || inSize[1] !== size[1]) {
      throw new UserError(
        `${path} takes ${inChannels} channels of ${
          inSize.join("x")
        }, but the previous layer makes ${channels} of ${size.join("x")}`,
      );
    }
    channels = outChannels;
    size = outSize;
    const weight = net.tensors.get(`${path}.weight`);
    const kernel = weight?.shape[3] ?? 0;
    const filter = (which: string) => net.tensors.get(`${path}.${which}`) ?? null;
    const padding = (Array.isArray(a.padding) ? a.padding : []).map(num);
    if (padding.length !== 4) throw new UserError(`${path}.padding: expected 4 values`);
    const magnitude = tensor(`${path}.magnitude_ema`, []).data[0];
    if (!(magnitude > 0)) {
      throw new UserError(`${path}.magnitude_ema is ${magnitude}, expected a positive value`);
    }
    tensor(`${path}.bias`, [outChannels]);
    tensor(`${path}.affine.weight`, [inChannels, wDim]);
    return {
      name: String(name),
      isToRGB: a.is_torgb === true,
      inChannels,
      outChannels,
      inSize,
      outSize,
      kernel,
      up: num(a.up_factor),
      down: num(a.down_factor),
      padding: padding as [number, number, number, number],
      clamp: a.conv_clamp === null || a.conv_clamp === undefined ? null : num(a.conv_clamp),
      useFp16: a.use_fp16 === true,
      inputGain: Math.fround(1 / Math.sqrt(magnitude)),
      weight: tensor(`${path}.weight`, [outChannels, inChannels, kernel, kernel]),
      upFilter: filter("up_filter"),
      downFilter: filter("down_filter"),
    };
  });
  const last = layers[layers.length - 1];
  if (!last.isToRGB) throw new UserError(`synthesis: the last layer ${last.name} is not the ToRGB layer`);
  return {
    numWs: num(attrs("mapping").num_ws ?? syn.num_ws),
    wDim,
    outputScale: num(syn.output_scale ?? 1),
    input,
    layers,
  };
}
