/**
 * The synthesis network interface: ws [N, num_ws, w_dim] to images [N, img_channels, res, res] (float32,
 * unclamped). StyleGAN3 (models/synthesis_sg3.ts) and StyleGAN2 (models/synthesis_sg2.ts) implement it;
 * models/generator.ts puts the shared mapping network in front.
 */
import type { Tensor } from "../gpu/tensor.ts";

/** StyleGAN2's noise inputs: the network's noise_const buffers, fresh Gaussian noise, or none. */
export type NoiseMode = "const" | "random" | "none";

/** Options of a synthesis pass. */
export interface SynthesisOptions {
  /**
   * Per-sample 3x3 row-major input transforms (N * 9), instead of the network's `transform` buffer
   * (StyleGAN3 only: StyleGAN2 has no input transform).
   */
  transforms?: Float32Array;
  /** StyleGAN2 noise inputs (default "const"; StyleGAN3 has none). */
  noiseMode?: NoiseMode;
  /**
   * Seeds of the "random" noise, one per sample (default 0, 1, ...): sample i's noise planes are drawn in
   * layer order from numpy's RandomState(seed).randn, so they do not depend on the batch (they are not
   * torch's random stream, which the official code uses).
   */
  noiseSeeds?: number[];
  /**
   * When given, every layer's output is kept here under its name instead of being freed (the caller
   * destroys them); StyleGAN3's last layer's entry is the image, output_scale included.
   */
  capture?: Map<string, Tensor>;
}

/** A synthesis network with its weights on the GPU. */
export interface Synthesis {
  readonly numWs: number;
  /** Bytes per image of the largest activation tensor a pass allocates. */
  readonly activationBytes: number;
  /** The network's input transform (3x3 row-major) for StyleGAN3; null when it has none. */
  readonly transform: Float32Array | null;
  /** Images from ws. */
  run(ws: Tensor, opts: SynthesisOptions): Tensor;
}
