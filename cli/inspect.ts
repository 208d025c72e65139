/**
 * `sg3 inspect`: what a network file holds (G, D, G_ema, augment_pipe, training_set_kwargs) and, for the
 * chosen generator, its architecture, resolution, z/w/c dims, parameter count and layer table (size,
 * channels, sampling rate, cutoff, up/down factors), as text or JSON. Loading never executes the file.
 */
import { parse } from "./args.ts";
import { UserError } from "../errors.ts";
import { describeNetwork, readSnapshot, type Snapshot, snapshotGenerator } from "../formats/snapshot.ts";
import { guard } from "../formats/torch.ts";
import { PyDict, PyObject, toPlain } from "../formats/pickle.ts";
import type { NetworkDescription } from "../models/network.ts";

/** Usage text of `sg3 inspect`. */
export const USAGE = `sg3 inspect <network.pkl | URL | official name> [--which G_ema|G] [--json]
  Prints the architecture, resolution, z/w/c dims, parameter count, layer table and the parts the file
  holds. --which picks the generator of a training snapshot (default G_ema). Nothing in the file is run.`;

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

const fmt = (v: unknown): string =>
  v === undefined || v === null
    ? "-"
    : Array.isArray(v)
    ? (v.length === 2 && v[0] === v[1] ? String(v[0]) : v.join("x"))
    : typeof v === "number"
    ? String(Math.round(v * 1e4) / 1e4)
    : String(v);
const pair = (a: unknown, b: unknown) => (a === undefined ? fmt(b) : `${fmt(a)}->${fmt(b)}`);

/** Formats the report as text: a summary and an aligned layer table. */
export function formatReport(r: Record<string, unknown>): string {
  const parts = Object.entries(r.parts as Record<string, string>).map(([k, v]) => `${k} (${v})`).join(", ");
  const lines = [
    `file          ${r.file}`,
    `holds         ${parts}`,
    `network       ${r.which}: ${r.arch}, ${r.img_resolution}x${r.img_resolution}, ${r.img_channels} channels`,
    `dims          z ${r.z_dim}, w ${r.w_dim}, c ${r.c_dim}, num_ws ${r.num_ws}`,
    `parameters    ${(r.num_params as number).toLocaleString("en-US")} (mapping ${
      (r.num_params_mapping as number).toLocaleString("en-US")
    }, synthesis ${(r.num_params_synthesis as number).toLocaleString("en-US")})`,
    "",
  ];
  const header = [
    "layer",
    "size",
    "channels",
    "sampling rate",
    "cutoff",
    "half width",
    "up",
    "down",
    "params",
  ];
  const rows = (r.layers as LayerRow[]).map((l) => [
    l.name,
    pair(l.in_size, l.out_size ?? l.size),
    pair(l.in_channels, l.out_channels ?? l.channels),
    pair(l.in_sampling_rate, l.out_sampling_rate ?? l.sampling_rate),
    pair(l.in_cutoff, l.out_cutoff ?? l.bandwidth),
    pair(l.in_half_width, l.out_half_width),
    fmt(l.up_factor),
    fmt(l.down_factor),
    l.num_params.toLocaleString("en-US"),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  for (const row of [header, ...rows]) {
    lines.push(
      row.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ").trimEnd(),
    );
  }
  return lines.join("\n");
}

/** Runs `sg3 inspect`; returns the exit code. */
export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parse("inspect", args, {
    json: { type: "boolean" },
    which: { type: "string" },
  }, true);
  if (positionals.length !== 1) throw new UserError(`expected one network file\n${USAGE}`.split("\n")[0]);
  const which = values.which ?? "G_ema";
  if (which !== "G_ema" && which !== "G") throw new UserError(`--which: expected G_ema or G, got "${which}"`);
  const snap = await readSnapshot(positionals[0]);
  const report = guard(snap.name, () => inspectReport(snap, which));
  console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
  return 0;
}
