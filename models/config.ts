/**
 * StyleGAN3's layer table: the hyper-parameters of train.py's configs and the per-layer sampling rates,
 * cutoffs, transition bands, sizes, channels, resampling factors, filter sizes and padding, computed exactly
 * as SynthesisNetwork.__init__ and SynthesisLayer.__init__ compute them (float64, same operation order).
 * Attribute names are those of the official modules, so tables compare directly with loaded snapshots.
 */
import { roundHalfEven } from "../kernels/eq_translate.ts"; // np.rint

/** The StyleGAN3 configurations of train.py --cfg. */
export type Sg3Config = "stylegan3-t" | "stylegan3-r";

/** Keyword arguments of SynthesisNetwork / SynthesisLayer, with the official defaults when omitted. */
export interface SynthesisKwargs {
  /** Dimensionality of w. */
  w_dim: number;
  /** Output image resolution (width = height) in pixels. */
  img_resolution: number;
  /** Colour channels of the output image. */
  img_channels: number;
  /** Channel multiplier: channels = rint(min(channel_base / 2 / f_c, channel_max)) (default 32768). */
  channel_base?: number;
  /** Most channels of any layer (default 512). */
  channel_max?: number;
  /** Layers, without the Fourier input and ToRGB (default 14). */
  num_layers?: number;
  /** Critically sampled layers at the end (default 2). */
  num_critical?: number;
  /** Cutoff frequency f_c0 of the first layer (default 2). */
  first_cutoff?: number;
  /** Minimum stopband f_t0 of the first layer (default 2^2.1). */
  first_stopband?: number;
  /** Minimum stopband of the last layer, relative to its cutoff (default 2^0.3). */
  last_stopband_rel?: number;
  /** Pixels added around the image on each side of the internal layers (default 10). */
  margin_size?: number;
  /** Factor on the output image (default 0.25). */
  output_scale?: number;
  /** Layers of the N highest sampling rates use float16 on CUDA (default 4). */
  num_fp16_res?: number;
  /** Convolution kernel size, 1x1 for ToRGB (default 3; config R: 1). */
  conv_kernel?: number;
  /** Low-pass filter taps per resampling factor (default 6). */
  filter_size?: number;
  /** Sampling rate of the leaky ReLU relative to the layer's higher rate; 1 for ToRGB (default 2). */
  lrelu_upsampling?: number;
  /** Radially symmetric down filters, except in critically sampled layers (default false; config R: true). */
  use_radial_filters?: boolean;
  /** Clamp layer outputs to [-X, X]; null: no clamping (default 256). */
  conv_clamp?: number | null;
  /** Decay of the moving average of input magnitudes (default 0.999). */
  magnitude_ema_beta?: number;
}

/** Attributes of SynthesisInput (size is [width, height]). */
export interface SynthesisInputAttrs {
  /** Dimensionality of w (the affine layer's input that sets the input transform). */
  w_dim: number;
  /** Fourier features (output channels). */
  channels: number;
  /** Output [width, height] in pixels. */
  size: [number, number];
  /** Samples per unit length (the image spans one unit). */
  sampling_rate: number;
  /** Highest frequency of the features, in cycles per unit: the first layer's cutoff. */
  bandwidth: number;
}

/** Attributes of one SynthesisLayer (sizes are [width, height]; padding is [x0, x1, y0, y1]). */
export interface SynthesisLayerAttrs {
  /** Dimensionality of w (the affine layer's input that makes the styles). */
  w_dim: number;
  /** Whether this is the final ToRGB layer (1x1 convolution, no resampling, linear). */
  is_torgb: boolean;
  /** Whether the layer is critically sampled (cutoff at half the sampling rate). */
  is_critically_sampled: boolean;
  /** Whether the official code runs the layer in float16 on CUDA. */
  use_fp16: boolean;
  /** Input channels. */
  in_channels: number;
  /** Output channels. */
  out_channels: number;
  /** Input [width, height] in pixels. */
  in_size: [number, number];
  /** Output [width, height] in pixels. */
  out_size: [number, number];
  /** Input samples per unit length (the image spans one unit). */
  in_sampling_rate: number;
  /** Output samples per unit length. */
  out_sampling_rate: number;
  /** Sampling rate of the leaky ReLU: max(in, out) * lrelu_upsampling (x1 for ToRGB). */
  tmp_sampling_rate: number;
  /** Input cutoff frequency f_c, cycles per unit. */
  in_cutoff: number;
  /** Output cutoff frequency f_c, cycles per unit. */
  out_cutoff: number;
  /** Input transition band half-width f_h, cycles per unit. */
  in_half_width: number;
  /** Output transition band half-width f_h, cycles per unit. */
  out_half_width: number;
  /** Convolution kernel size (1 for ToRGB). */
  conv_kernel: number;
  /** Clamp bound of the output; null: none. */
  conv_clamp: number | null;
  /** Decay of the moving average of input magnitudes (training only). */
  magnitude_ema_beta: number;
  /** Upsampling factor tmp / in. */
  up_factor: number;
  /** Taps of the up filter: filter_size * up_factor, or 1 without upsampling. */
  up_taps: number;
  /** Downsampling factor tmp / out. */
  down_factor: number;
  /** Taps of the down filter: filter_size * down_factor, or 1 without downsampling. */
  down_taps: number;
  /** Whether the down filter is radially symmetric (2-D) rather than separable. */
  down_radial: boolean;
  /** Padding [x0, x1, y0, y1] of the upsampled input, in upsampled pixels, so that the output is out_size. */
  padding: [number, number, number, number];
}

/** The synthesis network's layout: its own attributes, the input layer and the named layers in order. */
export interface SynthesisLayout {
  /** SynthesisNetwork's own attributes; num_ws = num_layers + 2. */
  attrs: {
    w_dim: number;
    num_ws: number;
    img_resolution: number;
    img_channels: number;
    num_layers: number;
    num_critical: number;
    margin_size: number;
    output_scale: number;
    num_fp16_res: number;
    layer_names: string[];
  };
  /** The Fourier-feature input layer. */
  input: SynthesisInputAttrs;
  /** The layers L0 ... ToRGB in order, named `L<i>_<size>_<channels>` as the official modules. */
  layers: { name: string; attrs: SynthesisLayerAttrs }[];
}

/**
 * The layer table of SynthesisNetwork(**kwargs). Cutoffs and minimum stopbands follow geometric
 * progressions f_c[i] = f_c0 (f_cN / f_c0)^e_i, e_i = min(i / (N - critical), 1); sampling rates are the
 * smallest powers of two >= 2 f_t (at most the resolution); channels = rint(min(base / 2 / f_c, max)).
 */
export function synthesisLayout(kw: SynthesisKwargs): SynthesisLayout {
  const res = kw.img_resolution;
  const channelBase = kw.channel_base ?? 32768;
  const channelMax = kw.channel_max ?? 512;
  const numLayers = kw.num_layers ?? 14;
  const numCritical = kw.num_critical ?? 2;
  const firstCutoff = kw.first_cutoff ?? 2;
  const firstStopband = kw.first_stopband ?? 2 ** 2.1;
  const lastStopbandRel = kw.last_stopband_rel ?? 2 ** 0.3;
  const marginSize = kw.margin_size ?? 10;
  const numFp16Res = kw.num_fp16_res ?? 4;

  const lastCutoff = res / 2;
  const lastStopband = lastCutoff * lastStopbandRel;
  const idx = Array.from({ length: numLayers + 1 }, (_, i) => i);
  const exponents = idx.map((i) => Math.min(i / (numLayers - numCritical), 1));
  const cutoffs = exponents.map((e) => firstCutoff * (lastCutoff / firstCutoff) ** e);
  const stopbands = exponents.map((e) => firstStopband * (lastStopband / firstStopband) ** e);
  const rates = stopbands.map((s) => 2 ** Math.ceil(Math.log2(Math.min(s * 2, res))));
  const halfWidths = idx.map((i) => Math.max(stopbands[i], rates[i] / 2) - cutoffs[i]);
  const sizes = idx.map((i) => (i >= numLayers - 1 ? res : rates[i] + marginSize * 2));
  const channels = idx.map((i) =>
    i === numLayers ? kw.img_channels : roundHalfEven(Math.min(channelBase / 2 / cutoffs[i], channelMax))
  );

  const input: SynthesisInputAttrs = {
    w_dim: kw.w_dim,
    channels: channels[0],
    size: [sizes[0], sizes[0]],
    sampling_rate: rates[0],
    bandwidth: cutoffs[0],
  };
  const layers = idx.map((i) => {
    const prev = Math.max(i - 1, 0);
    const attrs = synthesisLayerAttrs(kw, {
      is_torgb: i === numLayers,
      is_critically_sampled: i >= numLayers - numCritical,
      use_fp16: rates[i] * 2 ** numFp16Res > res,
      in_channels: channels[prev],
      out_channels: channels[i],
      in_size: sizes[prev],
      out_size: sizes[i],
      in_sampling_rate: rates[prev],
      out_sampling_rate: rates[i],
      in_cutoff: cutoffs[prev],
      out_cutoff: cutoffs[i],
      in_half_width: halfWidths[prev],
      out_half_width: halfWidths[i],
    });
    return { name: `L${i}_${attrs.out_size[0]}_${attrs.out_channels}`, attrs };
  });
  return {
    attrs: {
      w_dim: kw.w_dim,
      num_ws: numLayers + 2,
      img_resolution: res,
      img_channels: kw.img_channels,
      num_layers: numLayers,
      num_critical: numCritical,
      margin_size: marginSize,
      output_scale: kw.output_scale ?? 0.25,
      num_fp16_res: numFp16Res,
      layer_names: layers.map((l) => l.name),
    },
    input,
    layers,
  };
}

/** The per-layer inputs SynthesisNetwork passes to SynthesisLayer (sizes square). */
interface LayerSpec {
  is_torgb: boolean;
  is_critically_sampled: boolean;
  use_fp16: boolean;
  in_channels: number;
  out_channels: number;
  in_size: number;
  out_size: number;
  in_sampling_rate: number;
  out_sampling_rate: number;
  in_cutoff: number;
  out_cutoff: number;
  in_half_width: number;
  out_half_width: number;
}

/**
 * SynthesisLayer's derived attributes: the leaky ReLU runs at tmp = max(in, out) * lrelu_upsampling (x1 for
 * ToRGB); up/down factors tmp/in and tmp/out; filter_size taps per factor; padding so that the up-filtered,
 * convolved input covers (out_size - 1) * down + 1 samples, split with the extra sample at the low end
 * shifted by up/2 (the symmetric interpretation of the paper's appendix C.3).
 */
function synthesisLayerAttrs(kw: SynthesisKwargs, s: LayerSpec): SynthesisLayerAttrs {
  const filterSize = kw.filter_size ?? 6;
  const tmp = Math.max(s.in_sampling_rate, s.out_sampling_rate) * (s.is_torgb ? 1 : kw.lrelu_upsampling ?? 2);
  const convKernel = s.is_torgb ? 1 : kw.conv_kernel ?? 3;
  const up = roundHalfEven(tmp / s.in_sampling_rate);
  const down = roundHalfEven(tmp / s.out_sampling_rate);
  if (s.in_sampling_rate * up !== tmp || s.out_sampling_rate * down !== tmp) {
    throw new Error(
      `layer sampling rates ${s.in_sampling_rate} -> ${s.out_sampling_rate} are not integer ratios`,
    );
  }
  const upTaps = up > 1 && !s.is_torgb ? filterSize * up : 1;
  const downTaps = down > 1 && !s.is_torgb ? filterSize * down : 1;
  const padTotal = (s.out_size - 1) * down + 1 - (s.in_size + convKernel - 1) * up + upTaps + downTaps - 2;
  const padLo = Math.floor((padTotal + up) / 2);
  const padHi = padTotal - padLo;
  return {
    w_dim: kw.w_dim,
    is_torgb: s.is_torgb,
    is_critically_sampled: s.is_critically_sampled,
    use_fp16: s.use_fp16,
    in_channels: s.in_channels,
    out_channels: s.out_channels,
    in_size: [s.in_size, s.in_size],
    out_size: [s.out_size, s.out_size],
    in_sampling_rate: s.in_sampling_rate,
    out_sampling_rate: s.out_sampling_rate,
    tmp_sampling_rate: tmp,
    in_cutoff: s.in_cutoff,
    out_cutoff: s.out_cutoff,
    in_half_width: s.in_half_width,
    out_half_width: s.out_half_width,
    conv_kernel: convKernel,
    conv_clamp: kw.conv_clamp === undefined ? 256 : kw.conv_clamp,
    magnitude_ema_beta: kw.magnitude_ema_beta ?? 0.999,
    up_factor: up,
    up_taps: upTaps,
    down_factor: down,
    down_taps: downTaps,
    down_radial: (kw.use_radial_filters ?? false) && !s.is_critically_sampled,
    padding: [padLo, padHi, padLo, padHi],
  };
}

/** Options of train.py that shape a StyleGAN3 generator (`--cbase`/`--cmax` are doubled for config R). */
export interface TrainOptions {
  /** The configuration: translation (T) or rotation (R) equivariant. */
  cfg: Sg3Config;
  /** Image resolution in pixels. */
  res: number;
  /** Capacity multiplier channel_base (default 32768). */
  cbase?: number;
  /** Most channels of any layer, channel_max (default 512). */
  cmax?: number;
  /** Dimensionality of z (default 512). */
  zDim?: number;
  /** Dimensionality of w (default 512). */
  wDim?: number;
  /** Label dimensionality; 0 (default) for an unconditional network. */
  cDim?: number;
  /** Layers of the mapping network (default 2). */
  mappingLayers?: number;
  /** Colour channels of the images (default 3). */
  imgChannels?: number;
}

/** Generator kwargs (Generator.__init__'s keyword arguments) of the network train.py builds. */
export interface GeneratorKwargs extends Omit<SynthesisKwargs, "w_dim" | "img_resolution" | "img_channels"> {
  /** Dimensionality of z. */
  z_dim: number;
  /** Label dimensionality (0: unconditional). */
  c_dim: number;
  /** Dimensionality of w. */
  w_dim: number;
  /** Output image resolution in pixels. */
  img_resolution: number;
  /** Colour channels of the output image. */
  img_channels: number;
  /** MappingNetwork's keyword arguments: its number of layers. */
  mapping_kwargs: { num_layers: number };
}

/**
 * The generator train.py configures: z_dim = w_dim = 512, 2 mapping layers, channel_base = --cbase (32768),
 * channel_max = --cmax (512); config R additionally doubles both, uses 1x1 convolutions and radial filters.
 */
export function generatorKwargs(o: TrainOptions): GeneratorKwargs {
  const r = o.cfg === "stylegan3-r";
  const kw: GeneratorKwargs = {
    z_dim: o.zDim ?? 512,
    c_dim: o.cDim ?? 0,
    w_dim: o.wDim ?? 512,
    img_resolution: o.res,
    img_channels: o.imgChannels ?? 3,
    mapping_kwargs: { num_layers: o.mappingLayers ?? 2 },
    channel_base: (o.cbase ?? 32768) * (r ? 2 : 1),
    channel_max: (o.cmax ?? 512) * (r ? 2 : 1),
  };
  if (r) Object.assign(kw, { conv_kernel: 1, use_radial_filters: true });
  return kw;
}
