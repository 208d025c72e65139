/**
 * What a network file holds, as a JSON-ready report: its top-level parts and, for the chosen generator, the
 * architecture, dims, trainable parameter counts and the synthesis layer table (what `sg3 inspect` prints).
 */
import { UserError } from "../errors.ts";
import { describeNetwork, type Snapshot, snapshotGenerator } from "../formats/snapshot.ts";
import { PyDict, PyObject, toPlain } from "../formats/pickle.ts";
import type { NetworkDescription } from "../formats/network.ts";

/** One row of the layer table: the layer's own attributes plus filter shapes and parameter count. */
export type LayerRow = Record<string, unknown> & { name: string; num_params: number };

/** Number of trainable parameters of the tensors under `prefix` (all when empty). */
export function countParameters(net: NetworkDescription, prefix = ""): number {
  let n = 0;
  for (const [k, t] of net.tensors) {
    if ((!prefix || k.startsWith(`${prefix}.`)) && !net.buffers?.has(k)) n += t.data.length;
  }
  return n;
}

/**
 * The synthesis layers in forward order. StyleGAN3: `input` then `layer_names` (attributes as the module
 * holds them, plus up/down filter shapes, null for ToRGB's 1-tap filters); StyleGAN2: the b4.. blocks.
 */
export function layerTable(net: NetworkDescription): LayerRow[] {
  const synthesis = net.modules.get("synthesis")!.attrs;
  const names = net.arch === "stylegan2"
    ? [...net.modules.keys()].filter((k) => /^synthesis\.b\d+$/.test(k)).map((k) => k.slice(10))
    : ["input", ...(Array.isArray(synthesis.layer_names) ? synthesis.layer_names as string[] : [])];
  return names.map((name) => {
    const path = `synthesis.${name}`;
    const mod = net.modules.get(path);
    if (!mod) throw new UserError(`layer ${path} listed in layer_names is missing`);
    const row: LayerRow = { name, num_params: countParameters(net, path) };
    for (const [k, v] of Object.entries(mod.attrs)) if (!k.startsWith("_")) row[k] = v;
    if (net.arch !== "stylegan2" && name !== "input") {
      for (const f of ["up_filter", "down_filter"]) {
        row[`${f}_shape`] = net.tensors.get(`${path}.${f}`)?.shape ?? null;
      }
    }
    if (net.arch === "stylegan2") {
      row.out_channels = net.modules.get(`${path}.conv1`)?.attrs.out_channels ?? row.in_channels;
      row.size = [row.resolution, row.resolution];
    }
    return row;
  });
}

/** What each top-level part of a snapshot is: a module's class name, "dict", "None" or a value type. */
export function describeParts(snap: Snapshot): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of snap.parts) {
    out[k] = v === null
      ? "None"
      : v instanceof PyObject
      ? v.className
      : v instanceof PyDict
      ? "dict"
      : typeof v;
  }
  return out;
}

/** The inspect report as a JSON-ready object. */
export function inspectReport(snap: Snapshot, which: "G_ema" | "G"): Record<string, unknown> {
  const net = describeNetwork(snapshotGenerator(snap, which), snap.name);
  const h = net.hparams;
  const training = snap.parts.get("training_set_kwargs");
  return {
    file: snap.name,
    parts: describeParts(snap),
    which,
    arch: net.arch,
    img_resolution: h.img_resolution,
    img_channels: h.img_channels,
    z_dim: h.z_dim,
    w_dim: h.w_dim,
    c_dim: h.c_dim,
    num_ws: h.num_ws,
    num_params: countParameters(net),
    num_params_mapping: countParameters(net, "mapping"),
    num_params_synthesis: countParameters(net, "synthesis"),
    hparams: h,
    layers: layerTable(net),
    ...(training instanceof PyDict ? { training_set_kwargs: toPlain(training) } : {}),
  };
}
