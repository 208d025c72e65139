/**
 * `deno task bench:side [--rounds N] [--lines t1,t4,r1,r4,i1,i4] [--reps N] [--tuned] [--anchors FILE]
 * [--python EXE]`:
 * sg3 against the official code on this machine, interleaved. For each round and each line, `deno task bench`
 * times that one line and, right after it, `../shared/anchors/torch_cpu.py` times the official code for the
 * same line, so that both sides of a ratio are measured within seconds of each other (2-core shared machines
 * swing by up to 2x within minutes). Prints the README's tables: ms per image, sg3 / official = ratio per round,
 * and the median ratio, with sg3 timed one batch at a time and with batches back to back, one in flight (as its
 * commands run them; bench/time.ts), both from the same run. sg3 runs its untuned defaults (an empty tuning
 * cache) unless `--tuned`.
 *
 * Lines: t1, t4, r1, r4 are stylegan3-t and stylegan3-r at 128x128 (cbase 4096, cmax 128) at batch 1 and 4; i1
 * and i4 the Inception pass at 299x299 at batch 1 and 4. The official side needs Debian's python3-torch,
 * python3-scipy and python3-torchvision and the anchors folder beside the project (not in a user's clone).
 */
import { parseArgs } from "node:util";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { median } from "./time.ts";

/** One line of the comparison: what sg3's bench and torch_cpu.py are asked to time. */
export interface Line {
  /** Row label of the table. */
  label: string;
  batch: number;
  /** Arguments of `deno task bench` (without --json, --batch and --reps). */
  sg3: string[];
  /** Arguments of torch_cpu.py (without the batch). */
  official: string[];
}

const GEN = ["--res", "128", "--cbase", "4096", "--cmax", "128", "--no-inception"];

/** The lines by key (see the module documentation). */
export const LINES: Record<string, Line> = Object.fromEntries(
  [1, 4].flatMap((batch) => [
    [`t${batch}`, {
      label: "stylegan3-t-128 (cbase 4096, cmax 128)",
      batch,
      sg3: ["--cfg", "stylegan3-t", ...GEN],
      official: ["generator", "stylegan3-t", "128", "4096", "128"],
    }],
    [`r${batch}`, {
      label: "stylegan3-r-128 (cbase 4096, cmax 128)",
      batch,
      sg3: ["--cfg", "stylegan3-r", ...GEN],
      official: ["generator", "stylegan3-r", "128", "4096", "128"],
    }],
    [`i${batch}`, {
      label: "Inception-v3 299x299 to pool3 (FID)",
      batch,
      sg3: ["--cfg", ""],
      official: ["inception"],
    }],
  ]),
);

/**
 * The ms per image of a whole-network measurement in JSON-lines `output`: the first line with `ms_per_image`
 * (sg3's bench) or `ms_per_img` (torch_cpu.py), or with `field` when given (sg3's `stream_ms_per_image`), whose
 * `what` names no kernel family (no " / ") and is not the FMA peak.
 */
export function msPerImage(output: string, field?: string): number {
  for (const text of output.split("\n")) {
    if (!text.startsWith("{")) continue;
    const line = JSON.parse(text);
    const ms = field ? line[field] : line.ms_per_image ?? line.ms_per_img;
    if (typeof ms === "number" && line.what !== "fma-peak" && !String(line.what).includes(" / ")) return ms;
  }
  throw new Error(`no whole-network timing in:\n${output.slice(0, 500)}`);
}

/** One round's pair of timings for a line, in ms per image. */
export interface Pair {
  /** sg3, one batch at a time (recorded, run, read back). */
  sg3: number;
  /** sg3, batches back to back with one in flight, as sg3 generate and fid run them (bench/time.ts). */
  stream: number;
  official: number;
  /** UTC time of day the pair was measured, HH:MM. */
  at: string;
}

/**
 * The markdown table of `pairs[line][round]`, sg3's side taken as `side` (one batch at a time, or streamed): a
 * column per round, then the median ratio.
 */
export function table(lines: Line[], pairs: Pair[][], side: "sg3" | "stream" = "sg3"): string {
  const rounds = Math.max(...pairs.map((p) => p.length));
  const head = ["network", "batch", ...Array.from({ length: rounds }, (_, r) => `round ${r + 1}`), "median"];
  const ratio = (p: Pair) => p[side] / p.official;
  const rows = lines.map((l, i) => [
    l.label,
    String(l.batch),
    ...pairs[i].map((p) =>
      `${p[side].toFixed(0)} / ${p.official.toFixed(0)} = ${ratio(p).toFixed(2)}x (${p.at})`
    ),
    `${median(pairs[i].map(ratio)).toFixed(2)}x`,
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const fmt = (cells: string[]) => `| ${cells.map((s, c) => s.padEnd(widths[c])).join(" | ")} |`;
  return [fmt(head), fmt(widths.map((w) => "-".repeat(w))), ...rows.map(fmt)].join("\n");
}

/** Runs a command; its stdout, or an error naming it and the end of its stderr. */
async function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder();
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed: ${text.decode(out.stderr).trim().split("\n").slice(-3)}`,
    );
  }
  return text.decode(out.stdout);
}

if (import.meta.main) {
  const root = dirname(dirname(fileURLToPath(import.meta.url)));
  try {
    const { values } = parseArgs({
      options: {
        rounds: { type: "string", default: "3" },
        lines: { type: "string", default: "t1,t4,r1,r4,i1,i4" },
        reps: { type: "string", default: "5" },
        anchors: { type: "string", default: join(root, "..", "shared", "anchors", "torch_cpu.py") },
        python: { type: "string", default: "/usr/bin/python3" },
        tuned: { type: "boolean", default: false },
      },
    });
    const keys = values.lines.split(",");
    const unknown = keys.filter((k) => !LINES[k]);
    if (unknown.length) throw new Error(`unknown line ${unknown.join(", ")} (lines: ${Object.keys(LINES)})`);
    if (!existsSync(values.anchors)) {
      throw new Error(`the official code's timer ${values.anchors} is missing`);
    }
    const lines = keys.map((k) => LINES[k]);
    const env: Record<string, string> = values.tuned ? {} : { SG3_CACHE: await Deno.makeTempDir() };
    const pairs: Pair[][] = lines.map(() => []);
    for (let r = 0; r < Number(values.rounds); r++) {
      for (const [i, l] of lines.entries()) {
        const at = new Date().toISOString().slice(11, 16);
        const output = await run(Deno.execPath(), [
          "task",
          "--cwd",
          root,
          "bench",
          "--json",
          ...l.sg3,
          "--batch",
          String(l.batch),
          "--reps",
          values.reps,
        ], env);
        const sg3 = msPerImage(output), stream = msPerImage(output, "stream_ms_per_image");
        const official = msPerImage(
          await run(values.python, [values.anchors, ...l.official, String(l.batch)]),
        );
        pairs[i].push({ sg3, stream, official, at });
        console.error(
          `round ${r + 1} ${l.label} batch ${l.batch}: ${sg3.toFixed(0)} (streamed ${stream.toFixed(0)}) / ${
            official.toFixed(0)
          }`,
        );
      }
    }
    console.log(`sg3 one batch at a time (recorded, run, read back):\n${table(lines, pairs)}\n`);
    console.log(
      `sg3 batches back to back, one in flight (as sg3 generate and fid run them):\n${
        table(lines, pairs, "stream")
      }`,
    );
  } catch (e) {
    console.error(`bench:side: ${e instanceof Error ? e.message : e}`);
    Deno.exit(2);
  }
}
