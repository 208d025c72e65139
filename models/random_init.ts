/**
 * Random-initialised StyleGAN3 generators for demos and benchmarks without a snapshot file: the network that
 * train.py's Generator constructor builds (same module paths, attributes, parameter/buffer names, shapes and
 * designed filters as a loaded official snapshot), with weights drawn as the constructors draw them.
 * PyTorch's generator cannot be reproduced, so the normal and uniform draws come from NumPy's legacy
 * RandomState (models/latents.ts), in the constructors' order.
 */
import type { ModuleInfo, NamedTensor, NetworkDescription } from "../formats/network.ts";
import { generatorKwargs, type SynthesisLayerAttrs, synthesisLayout, type TrainOptions } from "./config.ts";
import { layerFilters } from "./filters.ts";
import { RandomState } from "./latents.ts";
import { randomStyleGAN2, type StyleGAN2Options } from "./random_init_sg2.ts";

/**
 * Options of `randomNetwork`: train.py's (see TrainOptions) plus the seed of the weights (default 0); for
 * `cfg: "stylegan2"` those of models/random_init_sg2.ts.
 */
export type RandomNetworkOptions =
  | (TrainOptions & { seed?: number })
  | (StyleGAN2Options & { cfg: "stylegan2" });

/**
 * Builds a random-initialised StyleGAN3-T or -R generator (StyleGAN2: models/random_init_sg2.ts) as train.py
 * configures it (z_dim = w_dim = 512,
 * 2 mapping layers, channel_base 32768 / channel_max 512, doubled for R; `cbase`/`cmax` are train.py's
 * --cbase/--cmax). Weights follow the constructors: FC weights N(0, 1) * weight_init / lr_multiplier, biases
 * bias_init / lr_multiplier, conv weights N(0, 1), conv biases 0, magnitude_ema 1, w_avg 0, transform I,
 * Fourier frequencies uniform in the disc of radius bandwidth (randn / (r exp(r^2)^(1/4))), phases U(-1/2, 1/2).
 * magnitude_ema = 1 is what an untrained network holds: its activations shrink through the layers, so the
 * images are nearly constant until magnitude_ema is calibrated.
 */
export function randomNetwork(opts: RandomNetworkOptions): NetworkDescription {
  if (opts.cfg === "stylegan2") return randomStyleGAN2(opts);
  const kw = generatorKwargs(opts);
  const { z_dim, c_dim, w_dim, img_resolution, img_channels, mapping_kwargs, ...synthesisKwargs } = kw;
  const layout = synthesisLayout({ w_dim, img_resolution, img_channels, ...synthesisKwargs });
  const numWs = layout.attrs.num_ws;
  const rs = new RandomState(opts.seed ?? 0);
  const modules = new Map<string, ModuleInfo>();
  const tensors = new Map<string, NamedTensor>();
  const randn = (shape: number[], scale = 1): NamedTensor => ({
    shape,
    data: Float32Array.from(rs.randn(shape.reduce((a, b) => a * b, 1)), (v) => v * scale),
  });
  const filled = (shape: number[], value: number): NamedTensor => ({
    shape,
    data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(value),
  });
  const add = (
    path: string,
    className: string,
    attrs: Record<string, unknown>,
    init: unknown[],
    kwargs = {},
  ) => modules.set(path, { className, attrs: { ...attrs, _init_args: init, _init_kwargs: kwargs } });

  /** Registers FullyConnectedLayer(in, out, **o) and its weight and bias. */
  const fullyConnected = (
    path: string,
    inF: number,
    outF: number,
    o: { activation?: string; lr_multiplier?: number; weight_init?: number; bias_init?: number | number[] },
  ) => {
    const lr = o.lr_multiplier ?? 1;
    const weightInit = o.weight_init ?? 1;
    const biasInit = o.bias_init ?? 0;
    add(
      path,
      "FullyConnectedLayer",
      {
        in_features: inF,
        out_features: outF,
        activation: o.activation ?? "linear",
        weight_gain: lr / Math.sqrt(inF),
        bias_gain: lr,
      },
      [inF, outF],
      o,
    );
    tensors.set(
      `${path}.weight`,
      weightInit === 0 ? filled([outF, inF], 0) : randn([outF, inF], weightInit / lr),
    );
    const bias = Array.isArray(biasInit) ? biasInit : new Array(outF).fill(biasInit);
    tensors.set(`${path}.bias`, { shape: [outF], data: Float32Array.from(bias, (b) => b / lr) });
  };

  add("", "Generator", { z_dim, c_dim, w_dim, img_resolution, img_channels, num_ws: numWs }, [], kw);
  const synthesisInit = { w_dim, img_resolution, img_channels, ...synthesisKwargs };
  add("synthesis", "SynthesisNetwork", layout.attrs, [], synthesisInit);

  const inp = layout.input;
  add("synthesis.input", "SynthesisInput", { ...inp }, [], { ...inp, size: inp.size[0] });
  const freqs = randn([inp.channels, 2]);
  for (let c = 0; c < inp.channels; c++) {
    const [fx, fy] = [freqs.data[2 * c], freqs.data[2 * c + 1]];
    const radius = Math.hypot(fx, fy);
    const scale = inp.bandwidth / (radius * Math.exp(radius * radius) ** 0.25);
    freqs.data[2 * c] = fx * scale;
    freqs.data[2 * c + 1] = fy * scale;
  }
  const phases: NamedTensor = {
    shape: [inp.channels],
    data: Float32Array.from(rs.rand(inp.channels), (u) => u - 0.5),
  };
  tensors.set("synthesis.input.weight", randn([inp.channels, inp.channels]));
  tensors.set("synthesis.input.transform", {
    shape: [3, 3],
    data: new Float32Array([1, 0, 0, 0, 1, 0, 0, 0, 1]),
  });
  tensors.set("synthesis.input.freqs", freqs);
  tensors.set("synthesis.input.phases", phases);
  fullyConnected("synthesis.input.affine", w_dim, 4, { weight_init: 0, bias_init: [1, 0, 0, 0] });

  const layerKwargs = Object.fromEntries(
    Object.entries(synthesisKwargs).filter(([k]) => !SYNTHESIS_ONLY_KWARGS.has(k)),
  );
  for (const { name, attrs: a } of layout.layers) {
    const path = `synthesis.${name}`;
    add(path, "SynthesisLayer", { ...a }, [], { ...layerInitKwargs(a), ...layerKwargs });
    fullyConnected(`${path}.affine`, w_dim, a.in_channels, { bias_init: 1 }); // constructed before the weight
    tensors.set(`${path}.weight`, randn([a.out_channels, a.in_channels, a.conv_kernel, a.conv_kernel]));
    tensors.set(`${path}.bias`, filled([a.out_channels], 0));
    tensors.set(`${path}.magnitude_ema`, filled([], 1));
    const { up, down } = layerFilters(a);
    if (up) tensors.set(`${path}.up_filter`, up);
    if (down) tensors.set(`${path}.down_filter`, down);
  }

  const numLayers = mapping_kwargs.num_layers;
  const mappingAttrs = { z_dim, c_dim, w_dim, num_ws: numWs, num_layers: numLayers, w_avg_beta: 0.998 };
  add("mapping", "MappingNetwork", c_dim > 0 ? mappingAttrs : { ...mappingAttrs, embed: null }, [], {
    z_dim,
    c_dim,
    w_dim,
    num_ws: numWs,
    ...mapping_kwargs,
  });
  tensors.set("mapping.w_avg", filled([w_dim], 0));
  if (c_dim > 0) fullyConnected("mapping.embed", c_dim, w_dim, {});
  for (let i = 0; i < numLayers; i++) {
    const inF = i === 0 ? z_dim + (c_dim > 0 ? w_dim : 0) : w_dim;
    fullyConnected(`mapping.fc${i}`, inF, w_dim, { activation: "lrelu", lr_multiplier: 0.01 });
  }

  const buffers = new Set([...tensors.keys()].filter((k) => BUFFER_NAMES.test(k)));
  return {
    arch: opts.cfg,
    hparams: { ...kw, num_ws: numWs },
    modules,
    tensors: stateDictOrder(tensors, modules),
    buffers,
  };
}

/**
 * The number of convolution weights the random network `opts` describes (the bulk of its parameters),
 * computed from its layer table without building it: lets callers refuse absurd sizes before allocating.
 */
export function randomNetworkWeights(opts: RandomNetworkOptions): number {
  if (opts.cfg === "stylegan2") {
    const cbase = opts.cbase ?? 32768, cmax = opts.cmax ?? 512;
    const ch = (r: number) => Math.min(Math.floor(cbase / r), cmax);
    let total = 0;
    for (let r = 4; r <= opts.res; r *= 2) total += ch(r) * ch(r) * 9 * (r === 4 ? 1 : 2);
    return total;
  }
  const { z_dim: _z, c_dim: _c, mapping_kwargs: _m, ...kw } = generatorKwargs(opts);
  return synthesisLayout(kw).layers.reduce(
    (sum, l) => sum + l.attrs.in_channels * l.attrs.out_channels * l.attrs.conv_kernel ** 2,
    0,
  );
}

/** The tensors the constructors register as buffers rather than parameters. */
const BUFFER_NAMES = /\.(w_avg|transform|freqs|phases|magnitude_ema|up_filter|down_filter)$/;

/** SynthesisNetwork's own keyword arguments; the rest of its **layer_kwargs go on to every SynthesisLayer. */
const SYNTHESIS_ONLY_KWARGS = new Set([
  "channel_base",
  "channel_max",
  "num_layers",
  "num_critical",
  "first_cutoff",
  "first_stopband",
  "last_stopband_rel",
  "margin_size",
  "output_scale",
  "num_fp16_res",
]);

/** The keyword arguments SynthesisNetwork passes to each SynthesisLayer (sizes as ints). */
function layerInitKwargs(a: SynthesisLayerAttrs): Record<string, unknown> {
  return {
    w_dim: a.w_dim,
    is_torgb: a.is_torgb,
    is_critically_sampled: a.is_critically_sampled,
    use_fp16: a.use_fp16,
    in_channels: a.in_channels,
    out_channels: a.out_channels,
    in_size: a.in_size[0],
    out_size: a.out_size[0],
    in_sampling_rate: a.in_sampling_rate,
    out_sampling_rate: a.out_sampling_rate,
    in_cutoff: a.in_cutoff,
    out_cutoff: a.out_cutoff,
    in_half_width: a.in_half_width,
    out_half_width: a.out_half_width,
  };
}

/** Tensor names in state_dict order: a module's own parameters and buffers, then its children's. */
function stateDictOrder(
  tensors: Map<string, NamedTensor>,
  modules: Map<string, ModuleInfo>,
): Map<string, NamedTensor> {
  const out = new Map<string, NamedTensor>();
  for (const path of modules.keys()) {
    const prefix = path ? `${path}.` : "";
    for (const [k, t] of tensors) {
      if (k.startsWith(prefix) && !k.slice(prefix.length).includes(".")) out.set(k, t);
    }
  }
  return out;
}
