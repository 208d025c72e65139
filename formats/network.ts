/**
 * The typed description of a generator network as read from a snapshot: architecture, hyper-parameters,
 * per-module attributes and every parameter/buffer as a float32 array, named as in PyTorch's state_dict.
 * It is what the loaders (formats/) produce, so it lives with them, and what the generator graphs (models/) consume.
 */
import { UserError } from "../errors.ts";

/** Architectures sg3 tells apart. */
export type Architecture = "stylegan3-t" | "stylegan3-r" | "stylegan2";

/** A parameter or buffer: dense C-order float32 values (other dtypes are converted on load). */
export interface NamedTensor {
  /** The dimensions, outermost first (PyTorch's order, e.g. [out, in, kh, kw] for a conv weight). */
  shape: number[];
  /** The values in C order; `data.length` is the product of `shape`. */
  data: Float32Array;
}

/** One nn.Module of the network: its class and plain (non-tensor) attributes, e.g. `in_size`. */
export interface ModuleInfo {
  /** The class name without its module, e.g. "SynthesisLayer" ("dict" for a plain dict). */
  className: string;
  /** The module's plain attributes by name (torch internals left out; `_init_args`/`_init_kwargs` kept). */
  attrs: Record<string, unknown>;
}

/** A generator network (G or G_ema) of a snapshot. */
export interface NetworkDescription {
  /** The architecture, told apart by the modules the network holds. */
  arch: Architecture;
  /** Top-level hyper-parameters: z_dim, w_dim, c_dim, img_resolution, img_channels, plus `_init_kwargs`. */
  hparams: Record<string, unknown>;
  /** Modules keyed by dotted path: "" (the Generator), "mapping", "mapping.fc0", "synthesis.L0_36_512", ... */
  modules: Map<string, ModuleInfo>;
  /** Parameters and buffers keyed by state_dict name: "mapping.fc0.weight", "synthesis.input.freqs", ... */
  tensors: Map<string, NamedTensor>;
  /** Names of the tensors that are buffers (registered with register_buffer), not trainable parameters. */
  buffers?: Set<string>;
}

/** The plain attributes of module `path` of `net` ("" is the Generator); a missing module is one line. */
export function moduleAttrs(net: NetworkDescription, path: string): Record<string, unknown> {
  const m = net.modules.get(path);
  if (!m) throw new UserError(`the network has no module ${path}`);
  return m.attrs;
}

/**
 * Tensor `name` of `net`, asserted to have `shape` when given (as misc.assert_shape does); a missing
 * tensor or another shape is one line naming it.
 */
export function networkTensor(net: NetworkDescription, name: string, shape?: readonly number[]): NamedTensor {
  const t = net.tensors.get(name);
  if (!t) throw new UserError(`the network has no tensor ${name}`);
  if (shape && !(t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i]))) {
    throw new UserError(`${name} has shape [${t.shape}], expected [${shape}]`);
  }
  return t;
}
