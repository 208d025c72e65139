/**
 * Magnitude calibration of a random-initialised network, so that it draws images rather than a flat grey.
 *
 * In a trained StyleGAN3, each layer's `magnitude_ema` tracks the mean square of its input, and its input
 * gain magnitude_ema^-1/2 keeps activations near unit scale. A freshly constructed network holds 1 there,
 * and its activations shrink about 1000x through the layers. Calibration sets each layer's magnitude_ema to
 * the geometric mean over a batch of the per-sample mean square of its input, then scales the ToRGB layer's
 * so that images have standard deviation `targetStd` (as the fixture networks were calibrated).
 *
 * One forward pass suffices: with zero conv biases (as constructed), every layer is positively homogeneous
 * in its input gain (modulated conv, FIR filters and leaky ReLU all commute with a positive scale), so
 * changing layer j's gain by r scales every later layer's input by r. The new mean squares follow from the
 * measured ones by those running products.
 */
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { readTensor } from "../gpu/readback.ts";
import type { NetworkDescription } from "../formats/network.ts";
import { Generator } from "./generator.ts";
import { RandomState } from "./latents.ts";

/** Options of {@link calibrateMagnitudes}. */
export interface CalibrationOptions {
  samples?: number;
  seed?: number;
  targetStd?: number;
}

/**
 * Sets every synthesis layer's `magnitude_ema` in `net` (in place) as described above. StyleGAN2 networks
 * have no magnitude_ema (demodulation keeps their activations at unit scale); there the ToRGB weights are
 * scaled so that images have standard deviation `targetStd` (the image is linear in them, biases being 0).
 */
export async function calibrateMagnitudes(gpu: Gpu, net: NetworkDescription, opts: CalibrationOptions = {}) {
  const samples = opts.samples ?? 4;
  if (net.arch === "stylegan2") return await calibrateToRGB(gpu, net, samples, opts);
  const gen = Generator.create(gpu, net);
  const capture = new Map<string, Tensor>();
  const ws = gen.mapping(new RandomState(opts.seed ?? 99).randn(samples * gen.zDim), samples);
  gen.synthesis(ws, { capture });
  const outputs = [...capture.entries()];
  // outputs[k] is the input of layer k + 1's entry; the last output is the image.
  const layerNames = outputs.slice(1).map(([name]) => name);
  let scale2 = 1; // product of squared gain ratios of the layers recalibrated so far
  for (let k = 0; k < layerNames.length; k++) {
    const ema = net.tensors.get(`synthesis.${layerNames[k]}.magnitude_ema`)!;
    const measured = geometricMeanSquare(await readTensor(gpu, outputs[k][1]), samples) * scale2;
    scale2 *= ema.data[0] / measured;
    ema.data[0] = measured;
  }
  const image = await readTensor(gpu, outputs[outputs.length - 1][1]);
  const std = geometricMeanStd(image, samples) * Math.sqrt(scale2);
  const torgb = net.tensors.get(`synthesis.${layerNames[layerNames.length - 1]}.magnitude_ema`)!;
  torgb.data[0] *= (std / (opts.targetStd ?? 0.5)) ** 2;
  capture.forEach((t) => t.destroy());
  ws.destroy();
  gen.destroy();
}

async function calibrateToRGB(gpu: Gpu, net: NetworkDescription, samples: number, opts: CalibrationOptions) {
  const gen = Generator.create(gpu, net);
  const ws = gen.mapping(new RandomState(opts.seed ?? 99).randn(samples * gen.zDim), samples);
  const img = gen.synthesis(ws);
  const k = (opts.targetStd ?? 0.5) / geometricMeanStd(await readTensor(gpu, img), samples);
  for (const [name, t] of net.tensors) {
    if (/\.torgb\.(weight|bias)$/.test(name)) t.data.forEach((v, i) => t.data[i] = v * k);
  }
  img.destroy();
  ws.destroy();
  gen.destroy();
}

function geometricMeanSquare(x: Float32Array, samples: number): number {
  const per = x.length / samples;
  let logSum = 0;
  for (let s = 0; s < samples; s++) {
    let sum = 0;
    for (let i = s * per; i < (s + 1) * per; i++) sum += x[i] * x[i];
    logSum += Math.log(Math.max(sum / per, 1e-30));
  }
  return Math.exp(logSum / samples);
}

function geometricMeanStd(x: Float32Array, samples: number): number {
  const per = x.length / samples;
  let logSum = 0;
  for (let s = 0; s < samples; s++) {
    let sum = 0, sum2 = 0;
    for (let i = s * per; i < (s + 1) * per; i++) {
      sum += x[i];
      sum2 += x[i] * x[i];
    }
    const mean = sum / per;
    logSum += 0.5 * Math.log(Math.max(sum2 / per - mean * mean, 1e-30));
  }
  return Math.exp(logSum / samples);
}
