/**
 * Reading a network description's modules and tensors for the GPU graphs: typed attribute access (pickle
 * attributes arrive as numbers or BigInts), tensors by state_dict name, uploads that the owner frees
 * together, and the FullyConnectedLayer (networks_stylegan2/3.py: y = act(x (W * weight_gain)^T + b *
 * bias_gain)) shared by the mapping and the affine layers of both generator families.
 */
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { UserError } from "../errors.ts";
import { moduleAttrs, type NamedTensor, type NetworkDescription, networkTensor } from "../formats/network.ts";
import { fullyConnected } from "../kernels/fc.ts";

/** A FullyConnectedLayer on the GPU. */
export interface Fc {
  weight: Tensor;
  bias: Tensor | null;
  weightGain: number;
  biasGain: number;
  activation: "linear" | "lrelu";
}

/** Rows of an FC input: n rows of in_features values from xOffset with stride xStride (one w of ws). */
export interface FcRows {
  n: number;
  xStride: number;
  xOffset: number;
}

/** A network's modules and tensors, and the GPU tensors uploaded from them (freed by {@link destroy}). */
export class NetworkWeights {
  readonly #owned: { destroy(): void }[] = [];

  constructor(readonly gpu: Gpu, readonly net: NetworkDescription) {}

  /** The plain attributes of module `path` ("" is the Generator). */
  attrs(path: string): Record<string, unknown> {
    return moduleAttrs(this.net, path);
  }

  /** Whether the network has a module at `path`. */
  hasModule(path: string): boolean {
    return this.net.modules.has(path);
  }

  /** The tensor named `name` (state_dict naming). */
  tensor(name: string): NamedTensor {
    return networkTensor(this.net, name);
  }

  /** Whether the network has a tensor named `name`. */
  has(name: string): boolean {
    return this.net.tensors.has(name);
  }

  /** Uploads tensor `name` (scalars as [1]); freed with the weights. */
  upload(name: string): Tensor {
    const t = this.tensor(name);
    return this.own(this.gpu.upload(t.data, t.shape.length ? t.shape : [1]));
  }

  /** Keeps tensors (or other holders of GPU memory) to free with the weights; returns the first. */
  own<T extends { destroy(): void }>(...tensors: T[]): T {
    this.#owned.push(...tensors);
    return tensors[0];
  }

  /** The FullyConnectedLayer at `path`. */
  fc(path: string): Fc {
    const a = this.attrs(path);
    return {
      weight: this.upload(`${path}.weight`),
      bias: this.has(`${path}.bias`) ? this.upload(`${path}.bias`) : null,
      weightGain: num(a.weight_gain),
      biasGain: num(a.bias_gain ?? 1),
      activation: a.activation === "lrelu" ? "lrelu" : "linear",
    };
  }

  /** Frees every uploaded tensor (after submitting work recorded with them). */
  destroy(): void {
    this.gpu.flush();
    this.#owned.forEach((t) => t.destroy());
    this.#owned.length = 0;
  }
}

/** Applies FC layer `f` to x (or to `rows` of it), times `outScale` at the end. */
export function runFc(gpu: Gpu, x: Tensor, f: Fc, rows?: FcRows, outScale = 1): Tensor {
  return fullyConnected(gpu, x, f.weight, {
    bias: f.bias,
    weightGain: f.weightGain,
    biasGain: f.biasGain,
    activation: f.activation,
    outScale,
    rows,
  });
}

/** A finite number attribute (numbers and BigInts). */
export function num(v: unknown): number {
  const n = typeof v === "bigint" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isFinite(n)) {
    throw new UserError(`bad network attribute value ${String(v)}`);
  }
  return n;
}

/** A [width, height] pair attribute (a number means a square). */
export function pair(v: unknown): [number, number] {
  if (Array.isArray(v)) return [num(v[0]), num(v[1])];
  return [num(v), num(v)];
}
