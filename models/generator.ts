/**
 * The StyleGAN3 generator (training/networks_stylegan3.py) on the GPU: weights are uploaded once, then
 * `mapping` turns z (and labels) into ws and `synthesis` turns ws into images, batched.
 *
 * Mapping: x = normalize_2nd_moment(z) (concatenated with normalize_2nd_moment(embed(c)) for conditional
 * nets), FC layers with lrelu, broadcast to num_ws, truncation towards w_avg for the first `cutoff` ws.
 * Synthesis: Fourier-feature input from ws[0], then per layer styles = affine(ws[i + 1]) (ToRGB: times
 * 1/sqrt(in_channels k^2)), modulated conv (demodulated except ToRGB, input_gain = magnitude_ema^-1/2,
 * padding k - 1), filtered leaky ReLU (gain sqrt 2 and slope 0.2; ToRGB gain 1, slope 1), clamp
 * conv_clamp, and output_scale on the last layer. With fp16, the layers the network marks use_fp16 keep
 * their activations in float16 (computing in float32), as the official code does on CUDA.
 */
import type { Gpu } from "../gpu/device.ts";
import type { DType, Tensor } from "../gpu/tensor.ts";
import { UserError } from "../errors.ts";
import type { NamedTensor, NetworkDescription } from "./network.ts";
import { fullyConnected, normalize2ndMoment } from "../kernels/fc.ts";
import { broadcastTruncate } from "../kernels/truncation.ts";
import { type ModConvWeight, modulatedConv2d, prepareModConvWeight } from "../kernels/modconv.ts";
import { filteredLrelu, type FirFilter, prepareFilter } from "../kernels/filtered_lrelu.ts";
import { type FourierInput, prepareFourierInput, synthesisInput } from "../kernels/fourier.ts";

/** Options of {@link Generator.create}. */
export interface GeneratorOptions {
  /** Run the layers marked use_fp16 (the num_fp16_res highest resolutions) in float16; needs gpu.f16. */
  fp16?: boolean;
}

/** Options of {@link Generator.mapping}. */
export interface MappingOptions {
  /** Labels [N, c_dim] (one-hot); required when c_dim > 0. */
  c?: Float32Array;
  psi?: number;
  /** How many ws are truncated; null/undefined = all. */
  cutoff?: number | null;
}

/** Options of {@link Generator.synthesis}. */
export interface SynthesisOptions {
  /** Per-sample 3x3 row-major input transforms (N * 9), instead of the network's `transform` buffer. */
  transforms?: Float32Array;
  /**
   * When given, every layer's output ("input", "L0_36_512", ...) is kept here instead of being freed (the
   * caller destroys them); the last layer's entry is the image, output_scale included.
   */
  capture?: Map<string, Tensor>;
}

interface Fc {
  weight: Tensor;
  bias: Tensor | null;
  weightGain: number;
  biasGain: number;
  activation: "linear" | "lrelu";
}

interface Layer {
  name: string;
  affine: Fc;
  styleScale: number;
  conv: ModConvWeight;
  padding: number;
  inputGain: number;
  bias: Tensor;
  fu: FirFilter;
  fd: FirFilter;
  up: number;
  down: number;
  filterPadding: [number, number, number, number];
  gain: number;
  slope: number;
  clamp: number | null;
  dtype: DType;
  /** Bytes per image of the layer's larger output (convolution or filtered lrelu). */
  sampleBytes: number;
}

/** A StyleGAN3 generator with its weights on the GPU. */
export class Generator {
  readonly zDim: number;
  readonly wDim: number;
  readonly cDim: number;
  readonly numWs: number;
  readonly resolution: number;
  readonly imgChannels: number;
  /** Bytes per image of the largest activation tensor synthesis allocates. */
  readonly activationBytes: number;
  readonly #owned: Tensor[] = [];
  readonly #embed: Fc | null;
  readonly #fcs: Fc[];
  readonly #wAvg: Tensor;
  readonly #inputAffine: Fc;
  readonly #input: FourierInput;
  readonly #transform: Float32Array;
  readonly #layers: Layer[];
  readonly #outputScale: number;

  private constructor(readonly gpu: Gpu, net: NetworkDescription, opts: GeneratorOptions) {
    if (net.arch !== "stylegan3-t" && net.arch !== "stylegan3-r") {
      throw new UserError(`only StyleGAN3 (T and R) networks can be run; this one is ${net.arch}`);
    }
    if (opts.fp16 && !gpu.f16) {
      throw new UserError("this adapter has no shader-f16 support; run without --fp16");
    }
    const attrs = (path: string) => {
      const m = net.modules.get(path);
      if (!m) throw new UserError(`the network has no module ${path}`);
      return m.attrs;
    };
    const tensor = (name: string): NamedTensor => {
      const t = net.tensors.get(name);
      if (!t) throw new UserError(`the network has no tensor ${name}`);
      return t;
    };
    const upload = (name: string): Tensor => {
      const t = tensor(name);
      return this.#own(gpu.upload(t.data, t.shape.length ? t.shape : [1]));
    };
    const fc = (path: string): Fc => {
      const a = attrs(path);
      return {
        weight: upload(`${path}.weight`),
        bias: net.tensors.has(`${path}.bias`) ? upload(`${path}.bias`) : null,
        weightGain: num(a.weight_gain),
        biasGain: num(a.bias_gain ?? 1),
        activation: a.activation === "lrelu" ? "lrelu" : "linear",
      };
    };
    const g = attrs("");
    const mapping = attrs("mapping");
    const synthesis = attrs("synthesis");
    this.zDim = num(g.z_dim);
    this.wDim = num(g.w_dim);
    this.cDim = num(g.c_dim ?? 0);
    this.numWs = num(mapping.num_ws ?? synthesis.num_ws);
    this.resolution = num(g.img_resolution);
    this.imgChannels = num(g.img_channels);
    this.#outputScale = num(synthesis.output_scale ?? 1);

    this.#embed = this.cDim > 0 ? fc("mapping.embed") : null;
    this.#fcs = Array.from({ length: num(mapping.num_layers) }, (_, i) => fc(`mapping.fc${i}`));
    this.#wAvg = upload("mapping.w_avg");

    const inp = attrs("synthesis.input");
    const size = pair(inp.size);
    this.#inputAffine = fc("synthesis.input.affine");
    const input = prepareFourierInput(
      gpu,
      tensor("synthesis.input.freqs").data,
      tensor("synthesis.input.phases").data,
      tensor("synthesis.input.weight").data,
      size,
      num(inp.sampling_rate),
      num(inp.bandwidth),
    );
    this.#own(input.freqs, input.phases, input.weight.packed, input.grid);
    this.#input = input;
    this.#transform = tensor("synthesis.input.transform").data;

    const names = synthesis.layer_names as string[];
    this.#layers = names.map((name) => {
      const path = `synthesis.${name}`;
      const a = attrs(path);
      const torgb = a.is_torgb === true;
      const w = tensor(`${path}.weight`);
      const k = w.shape[3];
      const conv = prepareModConvWeight(gpu, w.data, w.shape, !torgb);
      this.#own(conv.weight.packed, ...(conv.wsq ? [conv.wsq] : []));
      const filter = (which: string, gain: number) => {
        const f = net.tensors.get(`${path}.${which}`);
        const prepared = prepareFilter(gpu, f?.data ?? null, f?.shape ?? null, gain);
        this.#own(prepared.tensor);
        return prepared;
      };
      const up = num(a.up_factor), down = num(a.down_factor);
      const pad = (a.padding as number[]).map(num) as [number, number, number, number];
      const clamp = a.conv_clamp === null || a.conv_clamp === undefined ? null : num(a.conv_clamp);
      const dtype: DType = opts.fp16 && a.use_fp16 === true ? "f16" : "f32";
      const [iw, ih] = pair(a.in_size), [ow, oh] = pair(a.out_size);
      const co = num(a.out_channels), eb = dtype === "f16" ? 2 : 4;
      return {
        name,
        affine: fc(`${path}.affine`),
        styleScale: torgb ? 1 / Math.sqrt(num(a.in_channels) * k * k) : 1,
        conv,
        padding: k - 1,
        inputGain: Math.fround(1 / Math.sqrt(tensor(`${path}.magnitude_ema`).data[0])),
        bias: upload(`${path}.bias`),
        fu: filter("up_filter", up * up),
        fd: filter("down_filter", 1),
        up,
        down,
        filterPadding: pad,
        gain: torgb ? 1 : Math.SQRT2,
        slope: torgb ? 1 : 0.2,
        clamp,
        dtype,
        sampleBytes: Math.max(co * (iw + k - 1) * (ih + k - 1) * eb, co * ow * oh * 4),
      };
    });
    this.activationBytes = Math.max(
      input.phases.size * size[0] * size[1] * 4,
      ...this.#layers.map((l) => l.sampleBytes),
    );
  }

  /** The largest batch whose biggest activation tensor fits one GPU buffer (maxBufferSize). */
  get maxBatch(): number {
    return Math.max(1, Math.floor(this.gpu.maxBuffer / this.activationBytes));
  }

  /** Uploads the network's weights (once) and prepares its layers. */
  static create(gpu: Gpu, net: NetworkDescription, opts: GeneratorOptions = {}): Generator {
    return new Generator(gpu, net, opts);
  }

  /** ws [N, num_ws, w_dim] on the GPU from z [N, z_dim] (converted to float32) and labels c [N, c_dim]. */
  mapping(z: Float32Array | Float64Array, n: number, opts: MappingOptions = {}): Tensor {
    const gpu = this.gpu;
    if (z.length !== n * this.zDim) throw new Error(`mapping: ${z.length} values for [${n}, ${this.zDim}]`);
    if (this.#embed && (!opts.c || opts.c.length !== n * this.cDim)) {
      throw new UserError(`this network is conditional: give a class label (c_dim ${this.cDim})`);
    }
    const width = this.zDim + (this.cDim > 0 ? this.wDim : 0);
    const temps: Tensor[] = [];
    const zt = gpu.upload(z, [n, this.zDim]);
    let x = gpu.tensor([n, width]);
    temps.push(zt, x);
    normalize2ndMoment(gpu, zt, { tensor: x, stride: width, offset: 0 });
    if (this.#embed && opts.c) {
      const ct = gpu.upload(opts.c, [n, this.cDim]);
      const y = this.#fc(ct, this.#embed);
      temps.push(ct, y);
      normalize2ndMoment(gpu, y, { tensor: x, stride: width, offset: this.zDim });
    }
    for (const layer of this.#fcs) {
      x = this.#fc(x, layer);
      temps.push(x);
    }
    const ws = broadcastTruncate(gpu, x, this.#wAvg, this.numWs, opts.psi ?? 1, opts.cutoff ?? this.numWs);
    gpu.flush();
    temps.forEach((t) => t.destroy());
    return ws;
  }

  /** Images [N, img_channels, res, res] float32 (unclamped) from ws [N, num_ws, w_dim]. */
  synthesis(ws: Tensor, opts: SynthesisOptions = {}): Tensor {
    const gpu = this.gpu;
    const n = ws.shape[0];
    if (ws.shape[1] !== this.numWs || ws.shape[2] !== this.wDim) {
      throw new Error(`synthesis: ws [${ws.shape}], expected [N, ${this.numWs}, ${this.wDim}]`);
    }
    const user = opts.transforms ?? new Float32Array(n * 9).map((_, i) => this.#transform[i % 9]);
    if (user.length !== n * 9) throw new Error(`synthesis: ${user.length} transform values for ${n} samples`);
    const rowOf = (i: number) => ({ n, xStride: this.numWs * this.wDim, xOffset: i * this.wDim });
    const transforms = gpu.upload(user, [n, 9]);
    const t = this.#fc(ws, this.#inputAffine, rowOf(0));
    let x = synthesisInput(gpu, this.#input, t, transforms);
    const done = (name: string, prev: Tensor | null, ...temps: Tensor[]) => {
      gpu.flush();
      temps.forEach((v) => v.destroy());
      if (opts.capture) opts.capture.set(name, x);
      else prev?.destroy();
    };
    done("input", null, t, transforms);
    this.#layers.forEach((l, i) => {
      const last = i === this.#layers.length - 1;
      const styles = this.#fc(ws, l.affine, rowOf(i + 1), l.styleScale);
      const y = modulatedConv2d(gpu, x, l.conv, styles, {
        inputGain: l.inputGain,
        padding: l.padding,
        outDtype: l.dtype,
      });
      const prev = x;
      x = filteredLrelu(gpu, y, l.bias, l.fu, l.fd, {
        up: l.up,
        down: l.down,
        padding: l.filterPadding,
        gain: l.gain,
        slope: l.slope,
        clamp: l.clamp,
        outScale: last ? this.#outputScale : 1,
        outDtype: last ? "f32" : l.dtype,
      });
      done(l.name, prev, styles, y);
    });
    return x;
  }

  /** Frees the weights. */
  destroy(): void {
    this.#owned.forEach((t) => t.destroy());
    this.#owned.length = 0;
  }

  #own(...tensors: Tensor[]): Tensor {
    this.#owned.push(...tensors);
    return tensors[0];
  }

  #fc(x: Tensor, f: Fc, rows?: { n: number; xStride: number; xOffset: number }, outScale = 1): Tensor {
    return fullyConnected(this.gpu, x, f.weight, {
      bias: f.bias,
      weightGain: f.weightGain,
      biasGain: f.biasGain,
      activation: f.activation,
      outScale,
      rows,
    });
  }
}

function num(v: unknown): number {
  const n = typeof v === "bigint" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isFinite(n)) {
    throw new UserError(`bad network attribute value ${String(v)}`);
  }
  return n;
}

function pair(v: unknown): [number, number] {
  if (Array.isArray(v)) return [num(v[0]), num(v[1])];
  return [num(v), num(v)];
}
