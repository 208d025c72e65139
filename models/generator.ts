/**
 * A generator on the GPU (training/networks_stylegan3.py and networks_stylegan2.py Generator): weights are
 * uploaded once, then `mapping` turns z (and labels) into ws and `synthesis` turns ws into images, batched.
 *
 * Mapping (the same in both families): x = normalize_2nd_moment(z) (concatenated with
 * normalize_2nd_moment(embed(c)) for conditional nets), FC layers with lrelu, broadcast to num_ws, truncation
 * towards w_avg for the first `cutoff` ws. Synthesis: StyleGAN3 (models/synthesis_sg3.ts) or StyleGAN2
 * (models/synthesis_sg2.ts), told apart by the network's contents.
 */
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { UserError } from "../errors.ts";
import type { Architecture, NetworkDescription } from "../formats/network.ts";
import { normalize2ndMoment } from "../kernels/fc.ts";
import { broadcastTruncate } from "../kernels/truncation.ts";
import { type Fc, type FcRows, NetworkWeights, num, runFc } from "./weights.ts";
import type { Synthesis, SynthesisOptions } from "./synthesis.ts";
import { StyleGAN3Synthesis } from "./synthesis_sg3.ts";
import { StyleGAN2Synthesis } from "./synthesis_sg2.ts";

export type { NoiseMode, SynthesisOptions } from "./synthesis.ts";

/** Options of {@link Generator.create}. */
export interface GeneratorOptions {
  /** Run the layers marked use_fp16 (the num_fp16_res highest resolutions) in float16; needs gpu.f16. */
  fp16?: boolean;
}

/** Options of {@link Generator.mapping}. */
export interface MappingOptions {
  /** Labels [N, c_dim] (one-hot); required when c_dim > 0. */
  c?: Float32Array;
  /** Truncation: w = w_avg + psi (w - w_avg) (default 1, none). */
  psi?: number;
  /** How many ws are truncated; null/undefined = all. */
  cutoff?: number | null;
}

/** A generator (StyleGAN3 T/R or StyleGAN2) with its weights on the GPU. */
export class Generator {
  /** The architecture (StyleGAN3-T, StyleGAN3-R or StyleGAN2). */
  readonly arch: Architecture;
  /** Dimensionality of z. */
  readonly zDim: number;
  /** Dimensionality of w. */
  readonly wDim: number;
  /** Label dimensionality (0: unconditional). */
  readonly cDim: number;
  /** ws per image: one per synthesis layer input (StyleGAN3: num_layers + 2). */
  readonly numWs: number;
  /** Image width and height in pixels. */
  readonly resolution: number;
  /** Colour channels of the images. */
  readonly imgChannels: number;
  /** Bytes per image of the largest activation tensor synthesis allocates. */
  readonly activationBytes: number;
  readonly #weights: NetworkWeights;
  readonly #embed: Fc | null;
  readonly #fcs: Fc[];
  readonly #wAvg: Tensor;
  readonly #synthesis: Synthesis;

  private constructor(
    /** The device holding the weights; mapping and synthesis run on it. */
    readonly gpu: Gpu,
    net: NetworkDescription,
    opts: GeneratorOptions,
  ) {
    if (opts.fp16 && !gpu.f16) {
      throw new UserError("this adapter has no shader-f16 support for float16 layers", "fp16");
    }
    const w = new NetworkWeights(gpu, net);
    this.#weights = w;
    const g = w.attrs("");
    const mapping = w.attrs("mapping");
    this.arch = net.arch;
    this.zDim = num(g.z_dim);
    this.wDim = num(g.w_dim);
    this.cDim = num(g.c_dim ?? 0);
    this.resolution = num(g.img_resolution);
    this.imgChannels = num(g.img_channels);
    this.#embed = this.cDim > 0 ? w.fc("mapping.embed") : null;
    this.#fcs = Array.from({ length: num(mapping.num_layers) }, (_, i) => w.fc(`mapping.fc${i}`));
    this.#wAvg = w.upload("mapping.w_avg");
    this.#synthesis = net.arch === "stylegan2"
      ? new StyleGAN2Synthesis(gpu, w, opts)
      : new StyleGAN3Synthesis(gpu, w, opts);
    this.numWs = this.#synthesis.numWs;
    this.activationBytes = this.#synthesis.activationBytes;
  }

  /** Whether the network has StyleGAN3's input transform (translate/rotate of the input grid). */
  get hasInputTransform(): boolean {
    return this.#synthesis.transform !== null;
  }

  /** The largest batch whose biggest activation tensor fits one GPU buffer (maxBufferSize). */
  get maxBatch(): number {
    return Math.max(1, Math.floor(this.gpu.maxBuffer / this.activationBytes));
  }

  /**
   * Uploads the network's weights (once) and prepares its layers.
   *
   * @example Seeds to images, as gen_images.py
   * ```ts
   * import { Generator, Gpu, loadNetwork, readTensor, zFromSeeds } from "@sg3/sg3";
   *
   * const gpu = await Gpu.open();
   * const gen = Generator.create(gpu, await loadNetwork("stylegan3-r-afhqv2-512x512"));
   * const z = zFromSeeds([0, 1], gen.zDim); // np.random.RandomState(seed).randn(z_dim) per seed: [2, z_dim]
   * const ws = gen.mapping(z, 2, { psi: 0.7 }); // [2, num_ws, w_dim] on the GPU
   * const img = gen.synthesis(ws); // [2, 3, 512, 512] float32, about [-1, 1]
   * const pixels = await readTensor(gpu, img); // NCHW on the host
   * ws.destroy();
   * img.destroy();
   * gen.destroy();
   * ```
   */
  static create(gpu: Gpu, net: NetworkDescription, opts: GeneratorOptions = {}): Generator {
    return new Generator(gpu, net, opts);
  }

  /**
   * ws [N, num_ws, w_dim] on the GPU from z [N, z_dim] (converted to float32) and labels c [N, c_dim].
   *
   * @example A conditional network: one-hot labels, truncation of the first 8 ws only
   * ```ts
   * import { Generator, Gpu, loadNetwork, zFromSeeds } from "@sg3/sg3";
   *
   * const gen = Generator.create(await Gpu.open(), await loadNetwork("conditional-network.pkl"));
   * const n = 4, classIdx = 3;
   * const c = new Float32Array(n * gen.cDim);
   * for (let i = 0; i < n; i++) c[i * gen.cDim + classIdx] = 1;
   * const ws = gen.mapping(zFromSeeds([0, 1, 2, 3], gen.zDim), n, { c, psi: 0.5, cutoff: 8 });
   * ```
   */
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
    gpu.release(...temps);
    return ws;
  }

  /**
   * Images [N, img_channels, res, res] float32 (unclamped) from ws [N, num_ws, w_dim].
   *
   * @example Move the image content: StyleGAN3's input transform, per sample
   * ```ts
   * import { Generator, Gpu, invert3x3, makeTransform, randomNetwork, zFromSeeds } from "@sg3/sg3";
   *
   * const gpu = await Gpu.open();
   * const gen = Generator.create(gpu, randomNetwork({ cfg: "stylegan3-t", res: 256, cbase: 4096, cmax: 128 }));
   * const ws = gen.mapping(zFromSeeds([7], gen.zDim), 1);
   * // gen_images.py --translate 0.1,0 --rotate 10: the transform buffer holds the inverse transform.
   * const transforms = Float32Array.from(invert3x3(makeTransform([0.1, 0], 10)));
   * const img = gen.synthesis(ws, { transforms });
   * ```
   */
  synthesis(ws: Tensor, opts: SynthesisOptions = {}): Tensor {
    if (ws.shape[1] !== this.numWs || ws.shape[2] !== this.wDim) {
      throw new Error(`synthesis: ws [${ws.shape}], expected [N, ${this.numWs}, ${this.wDim}]`);
    }
    return this.#synthesis.run(ws, opts);
  }

  /** Frees the weights. */
  destroy(): void {
    this.#weights.destroy();
  }

  #fc(x: Tensor, f: Fc, rows?: FcRows): Tensor {
    return runFc(this.gpu, x, f, rows);
  }
}
