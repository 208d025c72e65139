/**
 * `sg3 inspect`: what a network file holds (G, D, G_ema, augment_pipe, training_set_kwargs) and, for the
 * chosen generator, its architecture, resolution, z/w/c dims, parameter count and layer table (size,
 * channels, sampling rate, cutoff, up/down factors), as text or JSON. Loading never executes the file.
 */
import { flag, oneOf, parseOptions, usage } from "./options.ts";
import { UserError } from "../errors.ts";
import { transferReporter } from "./progress.ts";
import { readSnapshot } from "../formats/snapshot.ts";
import { guard } from "../formats/torch.ts";
import { inspectReport, type LayerRow } from "../models/inspect.ts";

/** The options of `sg3 inspect`, declared once. */
export const OPTIONS = {
  which: oneOf("which generator of a training snapshot", ["G_ema", "G"] as const, "G_ema"),
  json: flag("print the whole report as JSON (every layer attribute, hyper-parameters, training set)"),
};

/** Usage text of `sg3 inspect`. */
export const USAGE = usage(
  "sg3 inspect <network.pkl | URL | official name> [--which G_ema|G] [--json]",
  `  Prints the architecture, resolution, z/w/c dims, parameter count, layer table and the parts the file
  holds. Nothing in the file is run.`,
  OPTIONS,
);

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
function formatReport(r: Record<string, unknown>): string {
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
  const { values, positionals } = parseOptions(args, OPTIONS, true);
  if (positionals.length !== 1) throw new UserError("expected one network file (see 'sg3 inspect --help')");
  const which = values.which;
  const snap = await readSnapshot(positionals[0], { report: transferReporter() });
  const report = guard(snap.name, () => inspectReport(snap, which));
  console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
  return 0;
}
