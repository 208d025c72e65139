/**
 * Random-initialised StyleGAN2 generators (training/networks_stylegan2.py Generator as train.py --cfg
 * stylegan2 builds it: z_dim = w_dim = 512, 8 mapping layers, channel_base --cbase (32768), channel_max
 * --cmax (512), conv_clamp 256, num_fp16_res 4, the 'skip' architecture), with the same module paths,
 * attributes, parameter and buffer names and shapes as a loaded snapshot. Weights follow the constructors:
 * FC weights N(0, 1) / lr_multiplier with biases bias_init, conv weights and noise_const N(0, 1),
 * noise_strength 0, biases 0, the constant input N(0, 1), resample filters setup_filter([1, 3, 3, 1]). As for
 * StyleGAN3, the draws come from NumPy's RandomState (PyTorch's generator cannot be reproduced).
 */
import type { ModuleInfo, NamedTensor, NetworkDescription } from "../formats/network.ts";
import { RandomState } from "./latents.ts";
import type { TrainOptions } from "./config.ts";

/**
 * Options of {@link randomStyleGAN2}: train.py's flags as for StyleGAN3 (config.ts TrainOptions without the
 * configuration; here `cbase`/`cmax` are used as given and the mapping network has 8 layers by default), the
 * blocks' architecture and the weights' seed.
 */
export interface StyleGAN2Options extends Omit<TrainOptions, "cfg"> {
  /** The synthesis blocks' output architecture (default "skip"). */
  architecture?: "skip" | "resnet" | "orig";
  /** Seed of the weights' NumPy RandomState (default 0). */
  seed?: number;
}

/** setup_filter([1, 3, 3, 1]): the outer product of the normalised taps, [4, 4]. */
function resampleFilter(): NamedTensor {
  const f = [1, 3, 3, 1].map((v) => v / 8);
  return { shape: [4, 4], data: Float32Array.from({ length: 16 }, (_, i) => f[i >> 2] * f[i & 3]) };
}

/** Builds the random-initialised StyleGAN2 generator described above. */
export function randomStyleGAN2(o: StyleGAN2Options): NetworkDescription {
  const zDim = o.zDim ?? 512, wDim = o.wDim ?? 512, cDim = o.cDim ?? 0, imgChannels = o.imgChannels ?? 3;
  const cbase = o.cbase ?? 32768, cmax = o.cmax ?? 512, numLayers = o.mappingLayers ?? 8;
  const architecture = o.architecture ?? "skip";
  const rs = new RandomState(o.seed ?? 0);
  const modules = new Map<string, ModuleInfo>();
  const tensors = new Map<string, NamedTensor>();
  const buffers = new Set<string>();
  const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
  const randn = (shape: number[], scale = 1): NamedTensor => ({
    shape,
    data: Float32Array.from(rs.randn(size(shape)), (v) => v * scale),
  });
  const filled = (shape: number[], value: number): NamedTensor => ({
    shape,
    data: new Float32Array(size(shape)).fill(value),
  });
  const add = (path: string, className: string, attrs: Record<string, unknown>) =>
    modules.set(path, { className, attrs });
  const buffer = (name: string, t: NamedTensor) => {
    tensors.set(name, t);
    buffers.add(name);
  };
  const fc = (path: string, inF: number, outF: number, activation = "linear", lr = 1, biasInit = 0) => {
    add(path, "FullyConnectedLayer", {
      in_features: inF,
      out_features: outF,
      activation,
      weight_gain: lr / Math.sqrt(inF),
      bias_gain: lr,
    });
    tensors.set(`${path}.weight`, randn([outF, inF], 1 / lr));
    tensors.set(`${path}.bias`, filled([outF], biasInit));
  };

  const log2 = Math.log2(o.res);
  const resolutions = Array.from({ length: log2 - 1 }, (_, i) => 2 ** (i + 2));
  const channels = (r: number) => Math.min(Math.floor(cbase / r), cmax);
  const fp16Res = Math.max(2 ** (log2 + 1 - 4), 8);
  let numWs = 0;
  const blocks: [number, number, number, boolean][] = resolutions.map((r) => {
    const isLast = r === o.res;
    const numConv = r === 4 ? 1 : 2;
    numWs += numConv + (isLast ? 1 : 0);
    return [r, r === 4 ? 0 : channels(r / 2), channels(r), isLast];
  });
  add("", "Generator", {
    z_dim: zDim,
    c_dim: cDim,
    w_dim: wDim,
    img_resolution: o.res,
    img_channels: imgChannels,
    num_ws: numWs,
  });
  add("synthesis", "SynthesisNetwork", {
    w_dim: wDim,
    img_resolution: o.res,
    img_resolution_log2: log2,
    img_channels: imgChannels,
    num_fp16_res: 4,
    block_resolutions: resolutions,
    num_ws: numWs,
  });
  const layer = (path: string, cin: number, cout: number, r: number, up: number) => {
    add(path, "SynthesisLayer", {
      in_channels: cin,
      out_channels: cout,
      w_dim: wDim,
      resolution: r,
      up,
      use_noise: true,
      activation: "lrelu",
      conv_clamp: 256,
      padding: 1,
      act_gain: Math.SQRT2,
    });
    buffer(`${path}.resample_filter`, resampleFilter());
    fc(`${path}.affine`, wDim, cin, "linear", 1, 1);
    tensors.set(`${path}.weight`, randn([cout, cin, 3, 3]));
    buffer(`${path}.noise_const`, randn([r, r]));
    tensors.set(`${path}.noise_strength`, filled([], 0));
    tensors.set(`${path}.bias`, filled([cout], 0));
  };
  for (const [r, cin, cout, isLast] of blocks) {
    const path = `synthesis.b${r}`;
    const torgb = isLast || architecture === "skip";
    add(path, "SynthesisBlock", {
      in_channels: cin,
      w_dim: wDim,
      resolution: r,
      img_channels: imgChannels,
      is_last: isLast,
      architecture,
      use_fp16: r >= fp16Res,
      channels_last: false,
      fused_modconv_default: "inference_only",
      num_conv: cin === 0 ? 1 : 2,
      num_torgb: torgb ? 1 : 0,
    });
    buffer(`${path}.resample_filter`, resampleFilter());
    if (cin === 0) tensors.set(`${path}.const`, randn([cout, r, r]));
    else layer(`${path}.conv0`, cin, cout, r, 2);
    layer(`${path}.conv1`, cout, cout, r, 1);
    if (torgb) {
      add(`${path}.torgb`, "ToRGBLayer", {
        in_channels: cout,
        out_channels: imgChannels,
        w_dim: wDim,
        conv_clamp: 256,
        weight_gain: 1 / Math.sqrt(cout),
      });
      fc(`${path}.torgb.affine`, wDim, cout, "linear", 1, 1);
      tensors.set(`${path}.torgb.weight`, randn([imgChannels, cout, 1, 1]));
      tensors.set(`${path}.torgb.bias`, filled([imgChannels], 0));
    }
    if (cin !== 0 && architecture === "resnet") {
      add(`${path}.skip`, "Conv2dLayer", {
        in_channels: cin,
        out_channels: cout,
        activation: "linear",
        up: 2,
        down: 1,
        conv_clamp: null,
        padding: 0,
        act_gain: 1,
        weight_gain: 1 / Math.sqrt(cin),
      });
      buffer(`${path}.skip.resample_filter`, resampleFilter());
      tensors.set(`${path}.skip.weight`, randn([cout, cin, 1, 1]));
    }
  }
  add("mapping", "MappingNetwork", {
    z_dim: zDim,
    c_dim: cDim,
    w_dim: wDim,
    num_ws: numWs,
    num_layers: numLayers,
    w_avg_beta: 0.998,
  });
  if (cDim > 0) fc("mapping.embed", cDim, wDim);
  for (let i = 0; i < numLayers; i++) {
    fc(`mapping.fc${i}`, i === 0 ? zDim + (cDim > 0 ? wDim : 0) : wDim, wDim, "lrelu", 0.01);
  }
  buffer("mapping.w_avg", filled([wDim], 0));
  return {
    arch: "stylegan2",
    hparams: {
      z_dim: zDim,
      c_dim: cDim,
      w_dim: wDim,
      img_resolution: o.res,
      img_channels: imgChannels,
      mapping_kwargs: { num_layers: numLayers },
      channel_base: cbase,
      channel_max: cmax,
      num_fp16_res: 4,
      conv_clamp: 256,
      architecture,
      num_ws: numWs,
    },
    modules,
    tensors,
    buffers,
  };
}
