/**
 * The command-line layer without a GPU: every command's help is generated from its option declarations
 * (each declared option appears, nothing undeclared does), and the plan steps enforce the validation rules
 * before any network is loaded or device opened.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { UserError } from "../errors.ts";
import { runMain } from "./cli.ts";
import * as generate from "../cli/generate.ts";
import * as video from "../cli/video.ts";
import * as eq from "../cli/eq_metrics.ts";
import * as fid from "../cli/fid.ts";
import * as tune from "../cli/tune.ts";
import * as info from "../cli/info.ts";
import * as inspect from "../cli/inspect.ts";
import * as merge from "../cli/merge.ts";
import * as view from "../cli/view.ts";
import { parseOptions } from "../cli/options.ts";

const COMMANDS = { generate, video, "eq-metrics": eq, fid, tune, info, inspect, merge, view };

Deno.test("each command's --help is generated from its declared options", async () => {
  for (const [name, mod] of Object.entries(COMMANDS)) {
    const r = await runMain([name, "--help"]);
    assert.equal(r.code, 0);
    assert.equal(r.out, mod.USAGE);
    const declared = new Set(Object.keys(mod.OPTIONS));
    const lines = mod.USAGE.split("\n").filter((l) => /^ {2}--/.test(l));
    const listed = lines.map((l) => l.trim().split(/\s/)[0].slice(2));
    assert.deepEqual(new Set(listed), declared, `${name}: help lines are the declared options`);
    for (const l of lines) assert.ok(!/ {3,}$/.test(l), `${name}: no trailing padding in "${l}"`);
  }
});

Deno.test("option parsing: types, ranges, defaults, repeats and one-line errors naming the option", () => {
  const { values, given } = parseOptions(
    ["--batch", "8", "--seeds", "0-2,5", "--outdir", "x"],
    generate.OPTIONS,
  );
  assert.equal(values.batch, 8);
  assert.deepEqual(values.seeds, [0, 1, 2, 5]);
  assert.equal(values.trunc, 1);
  assert.equal(values.fp16, false);
  assert.deepEqual([...given].sort(), ["batch", "outdir", "seeds"]);
  const fails = (args: string[], pattern: RegExp, table: Record<string, any> = generate.OPTIONS) =>
    assert.throws(
      () => parseOptions(args, table),
      (e: Error) => e instanceof UserError && pattern.test(e.message),
    );
  fails(["--batch", "0"], /^--batch: expected an integer in 1\.\.65536, got "0"$/);
  fails(["--trunc", "x"], /^--trunc: expected a number/);
  fails(["--noise-mode", "loud"], /^--noise-mode: expected const, random, none/);
  fails(["--seeds", "99999999999999999999"], /^--seeds: .* not below 2\^32/);
  fails(["--bogus"], /bogus/);
  const repeated = parseOptions(["--data", "a", "--data", "b"], fid.OPTIONS);
  assert.deepEqual(repeated.values.data, ["a", "b"]);
  assert.deepEqual(parseOptions([], fid.OPTIONS).values.stats, []);
});

/** Asserts that planning `args` with `plan` fails with a UserError matching `pattern`. */
function refused(plan: (args: string[]) => unknown, args: string[], pattern: RegExp): void {
  assert.throws(
    () => plan(args),
    (e: Error) => e instanceof UserError && pattern.test(e.message),
    args.join(" "),
  );
}

Deno.test("generate plan: sources, output folder and network choice are checked up front", () => {
  const dir = Deno.makeTempDirSync();
  const file = join(dir, "file");
  Deno.writeTextFileSync(file, "");
  const p = generate.plan(["--outdir", dir, "--seeds", "3", "--trunc", "0.7"]);
  assert.deepEqual(p.network, {
    kind: "random",
    cfg: "stylegan3-t",
    res: 128,
    cbase: 4096,
    cmax: 128,
    seed: 0,
  });
  assert.deepEqual(p.request.seeds, [3]);
  assert.equal(p.request.psi, 0.7);
  refused(generate.plan, ["--seeds", "1"], /--outdir is required/);
  refused(generate.plan, ["--outdir", dir], /exactly one of --seeds, --projected-w, --z/);
  refused(generate.plan, ["--outdir", dir, "--seeds", "1", "--z", "z.npy"], /exactly one/);
  refused(generate.plan, ["--outdir", file, "--seeds", "1"], /not a folder/);
  refused(
    generate.plan,
    ["--outdir", dir, "--seeds", "1", "--network", "a.pkl", "--cfg", "stylegan2"],
    /either/,
  );
  refused(
    generate.plan,
    ["--outdir", dir, "--seeds", "1", "--network", "a.pkl", "--res", "64"],
    /--res applies/,
  );
  refused(generate.plan, ["--outdir", dir, "--seeds", "1", "--which", "G"], /--which needs --network/);
  refused(
    generate.plan,
    ["--outdir", dir, "--seeds", "1", "--cfg", "stylegan2", "--res", "100"],
    /power of two/,
  );
  refused(generate.plan, ["--outdir", dir, "--seeds", "1", "--network", ""], /empty/);
  refused(
    generate.plan,
    ["--outdir", dir, "--seeds", "1", "--cfg", "stylegan3-t", "--cbase", "100000000", "--cmax", "100000"],
    /1 GiB/,
  );
  refused(generate.plan, [
    "--outdir",
    dir,
    "--seeds",
    "1",
    "--cfg",
    "stylegan2",
    "--res",
    "4096",
    "--cbase",
    "1000000000",
    "--cmax",
    "100000",
  ], /1 GiB/);
  // The official 1024 configurations fit.
  for (const cfg of ["stylegan3-t", "stylegan3-r", "stylegan2"]) {
    assert.equal(
      generate.plan(["--outdir", dir, "--seeds", "1", "--cfg", cfg, "--res", "1024"]).network.kind,
      "random",
    );
  }
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("video plan: output kind, mode-specific options and sizes are checked up front", () => {
  const p = video.plan(["--output", "a.mp4", "--seeds", "0-3", "--grid", "2x2", "--fps", "30"]);
  assert.deepEqual(p.layout, { fps: 30, gridW: 2, gridH: 2, batch: 8, motionKind: undefined });
  refused(video.plan, ["--seeds", "0"], /--output FILE.mp4 and\/or --frames-dir/);
  refused(video.plan, ["--output", "a.gif", "--seeds", "0"], /expected a .mp4, .png or .apng/);
  refused(video.plan, ["--output", "a", "--seeds", "0"], /expected a .mp4/);
  refused(video.plan, ["--output", "a.mp4", "--seeds", "0", "--speed", "2"], /--speed is only for --motion/);
  refused(video.plan, ["--output", "a.mp4", "--motion", "rotate", "--circular"], /cannot be combined/);
  refused(
    video.plan,
    ["--output", "a.mp4", "--motion", "rotate", "--interp", "linear"],
    /only for interpolation/,
  );
  refused(
    video.plan,
    ["--output", "a.mp4", "--seeds", "0", "--w-frames", "3", "--duration-sec", "2"],
    /not both/,
  );
  refused(video.plan, ["--output", "a.mp4", "--seeds", "0", "--duration-sec", "0"], /positive/);
  refused(video.plan, ["--output", "a.mp4", "--seeds", "0", "--duration-sec", "1e9"], /10 million frames/);
  refused(video.plan, ["--output", "a.mp4", "--grid", "64x64"], /more than 256 cells/);
  refused(video.plan, ["--output", "a.mp4", "--projected-w", "w.npz", "--space", "z"], /use --space w/);
});

Deno.test("eq-metrics plan: modes, gates and ranges are checked up front", () => {
  const p = eq.plan(["--cfg", "stylegan3-t", "--res", "16", "--metrics", "eqt,eqr", "--min", "eqt=40"]);
  assert.deepEqual(p.metrics, ["eqt50k_int", "eqr50k"]);
  assert.deepEqual([...p.gates], [["eqt50k_int", 40]]);
  refused(eq.plan, ["--cfg", "stylegan3-t", "--metrics", "eqr", "--min", "eqt=40"], /not computed/);
  refused(eq.plan, ["--cfg", "stylegan3-t", "--translate-max", "0"], /--translate-max: expected a number in/);
  refused(eq.plan, ["--cfg", "stylegan3-t", "--translate-max", "5"], /--translate-max/);
  refused(eq.plan, ["--cfg", "stylegan3-t", "--metrics", "psnr"], /unknown metric/);
  refused(eq.plan, [], /no network/);
});

Deno.test("fid plan: sources, metric sets and outputs are checked up front", () => {
  const dir = Deno.makeTempDirSync();
  const p = fid.plan(["--data", "a", "--stats", "b.npz", "--metrics", "fid10k"]);
  assert.equal(p.num, 10000);
  assert.equal(p.maxItems, 10000);
  assert.deepEqual(p.sources.map((s) => s.kind), ["data", "stats"]);
  refused(fid.plan, ["--data", "a"], /exactly two sources/);
  refused(fid.plan, ["--data", "a", "--save-stats", "s.npz", "--stats", "b.npz"], /exactly one source/);
  refused(fid.plan, ["--data", "a", "--stats", "b.npz", "--kid"], /KID needs the images/);
  refused(fid.plan, ["--data", "a", "--data", "b", "--is"], /Inception Score is computed for a generator/);
  refused(fid.plan, ["--data", "a", "--save-stats", dir], /is a folder/);
  refused(
    fid.plan,
    ["--cfg", "stylegan3-t", "--data", "a", "--preset", "pytorch-fid", "--num", "1"],
    /at least two/,
  );
  refused(fid.plan, ["--data", "a", "--data", "b", "--metrics", "fid10k,kid50k"], /different image counts/);
  Deno.removeSync(dir, { recursive: true });
});
