/**
 * The StyleGAN3 synthesis network (training/networks_stylegan3.py SynthesisNetwork) on the GPU: a
 * Fourier-feature input from ws[0] (through the input transform), then per layer styles = affine(ws[i + 1])
 * (ToRGB: times 1/sqrt(in_channels k^2)), modulated conv (demodulated except ToRGB, input_gain =
 * magnitude_ema^-1/2, padding k - 1), filtered leaky ReLU (gain sqrt 2 and slope 0.2; ToRGB gain 1, slope
 * 1), clamp conv_clamp, and output_scale on the last layer. With fp16, the layers the network marks use_fp16
 * keep their activations in float16 (computing in float32), as the official code does on CUDA.
 */
import type { Gpu } from "../gpu/device.ts";
import type { DType, Tensor } from "../gpu/tensor.ts";
import { type Fc, type NetworkWeights, runFc } from "./weights.ts";
import { parseStyleGAN3 } from "./spec_sg3.ts";
import type { NamedTensor } from "../formats/network.ts";
import type { Synthesis, SynthesisOptions } from "./synthesis.ts";
import { type ModConvWeight, modulatedConv2d, prepareModConvWeight } from "../kernels/modconv.ts";
import { convWeightTensors } from "../kernels/conv_gemm.ts";
import { filteredLrelu, type FirFilter, prepareFilter } from "../kernels/filtered_lrelu.ts";
import { type FourierInput, prepareFourierInput, synthesisInput } from "../kernels/fourier.ts";

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

/** A StyleGAN3 synthesis network with its weights on the GPU. */
export class StyleGAN3Synthesis implements Synthesis {
  readonly numWs: number;
  readonly activationBytes: number;
  readonly transform: Float32Array;
  readonly #inputAffine: Fc;
  readonly #input: FourierInput;
  readonly #layers: Layer[];
  readonly #outputScale: number;

  /**
   * Checks the network's synthesis specification (models/spec_sg3.ts), then uploads its weights; with
   * fp16, the layers marked use_fp16 keep float16 activations.
   */
  constructor(readonly gpu: Gpu, w: NetworkWeights, opts: { fp16?: boolean }) {
    const spec = parseStyleGAN3(w.net);
    this.numWs = spec.numWs;
    this.#outputScale = spec.outputScale;
    const inp = spec.input;
    this.#inputAffine = w.fc("synthesis.input.affine");
    const input = prepareFourierInput(
      gpu,
      inp.freqs.data,
      inp.phases.data,
      inp.weight.data,
      inp.size,
      inp.samplingRate,
      inp.bandwidth,
    );
    w.own(input.freqs, input.phases, ...convWeightTensors(input.weight), input.grid);
    this.#input = input;
    this.transform = inp.transform.data;
    this.#layers = spec.layers.map((l) => {
      const path = `synthesis.${l.name}`;
      const conv = prepareModConvWeight(gpu, l.weight.data, l.weight.shape, !l.isToRGB);
      w.own(...convWeightTensors(conv.weight), ...(conv.wsq ? [conv.wsq] : []));
      const filter = (f: NamedTensor | null, gain: number) => {
        const prepared = prepareFilter(gpu, f?.data ?? null, f?.shape ?? null, gain);
        w.own(prepared.tensor);
        return prepared;
      };
      const dtype: DType = opts.fp16 && l.useFp16 ? "f16" : "f32";
      const k = l.kernel, [iw, ih] = l.inSize, [ow, oh] = l.outSize, eb = dtype === "f16" ? 2 : 4;
      return {
        name: l.name,
        affine: w.fc(`${path}.affine`),
        styleScale: l.isToRGB ? 1 / Math.sqrt(l.inChannels * k * k) : 1,
        conv,
        padding: k - 1,
        inputGain: l.inputGain,
        bias: w.upload(`${path}.bias`),
        fu: filter(l.upFilter, l.up * l.up),
        fd: filter(l.downFilter, 1),
        up: l.up,
        down: l.down,
        filterPadding: l.padding,
        gain: l.isToRGB ? 1 : Math.SQRT2,
        slope: l.isToRGB ? 1 : 0.2,
        clamp: l.clamp,
        dtype,
        sampleBytes: Math.max(l.outChannels * (iw + k - 1) * (ih + k - 1) * eb, l.outChannels * ow * oh * 4),
      };
    });
    this.activationBytes = Math.max(
      inp.channels * inp.size[0] * inp.size[1] * 4,
      ...this.#layers.map((l) => l.sampleBytes),
    );
  }

  /** Images [N, img_channels, res, res] float32 (unclamped) from ws [N, num_ws, w_dim]. */
  run(ws: Tensor, opts: SynthesisOptions): Tensor {
    const gpu = this.gpu;
    const n = ws.shape[0];
    const user = opts.transforms ?? new Float32Array(n * 9).map((_, i) => this.transform[i % 9]);
    if (user.length !== n * 9) throw new Error(`synthesis: ${user.length} transform values for ${n} samples`);
    const wDim = ws.shape[2];
    const rowOf = (i: number) => ({ n, xStride: this.numWs * wDim, xOffset: i * wDim });
    const transforms = gpu.upload(user, [n, 9]);
    const t = runFc(gpu, ws, this.#inputAffine, rowOf(0));
    let x = synthesisInput(gpu, this.#input, t, transforms);
    const done = (name: string, prev: Tensor | null, ...temps: Tensor[]) => {
      gpu.release(...temps);
      if (opts.capture) opts.capture.set(name, x);
      else gpu.release(prev);
    };
    done("input", null, t, transforms);
    this.#layers.forEach((l, i) => {
      const last = i === this.#layers.length - 1;
      const styles = runFc(gpu, ws, l.affine, rowOf(i + 1), l.styleScale);
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
}
