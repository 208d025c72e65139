/**
 * `sg3 video`: latent interpolation videos with gen_video.py's semantics (a grid of looping keyframe paths),
 * stylegan3-fun's circular loop, and equivariance motion videos (the input translated or rotated over
 * time, optionally beside the frame-0 image moved by resampling). Output: MP4 (H.264) and/or PNG frames.
 */
import { openGeneratorRun } from "./autotune.ts";
import { ownInterrupt } from "./interrupt.ts";
import { join } from "node:path";
import type { Gpu } from "../gpu/device.ts";
import { UserError } from "../errors.ts";
import { Mp4Writer } from "../formats/mp4.ts";
import { openVideo, type VideoWriter } from "../formats/video_file.ts";
import { writePng } from "../formats/png.ts";
import type { Generator } from "../models/generator.ts";
import { circularZ, type InterpKind, type KeyframeSeeds, keyframeSeeds } from "../models/interpolation.ts";
import { readLatents, zFromSeeds } from "../models/latents.ts";
import { DEFAULT_SPEED, type Motion, type MotionKind } from "../models/motion.ts";
import {
  durationFrames,
  fixedSource,
  keyframeVideo,
  mapToHost,
  renderFrames,
  tableSource,
  type VideoSpec,
} from "../models/video.ts";
import { parseRangeList } from "./args.ts";
import { EMBEDDED, NETWORK_OPTS, type NetworkPlan, planNetwork } from "./network.ts";
import { batchOption, FP16_OPT, GPU_OPTS, QUIET_OPT, SHARD_OPT } from "./common_options.ts";
import { formatShard, type Shard, shardRange } from "../metrics/shard.ts";
import { custom, flag, int, num, oneOf, parseOptions, refuse, text, usage, type Values } from "./options.ts";
import { Progress } from "./progress.ts";

/** Parses gen_video.py's --grid "WxH" (or "W,H"); at most 256 cells. */
export function parseGrid(value: string): [number, number] {
  const m = /^(\d+)[x,](\d+)$/.exec(value.trim());
  if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) {
    throw new UserError(`expected WxH such as 4x2, got "${value}"`);
  }
  if (Number(m[1]) * Number(m[2]) > 256) throw new UserError(`${value} has more than 256 cells`);
  return [Number(m[1]), Number(m[2])];
}

/** Parses a bitrate such as 12M, 800k or 2500000 (bits per second). */
export function parseBitrate(value: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(value.trim());
  if (!m || Number(m[1]) <= 0) throw new UserError(`expected e.g. 12M or 800k, got "${value}"`);
  return Number(m[1]) * ({ k: 1e3, m: 1e6 }[m[2].toLowerCase()] ?? 1);
}

const INTERPOLATION = {
  seeds: custom(
    "LIST",
    "keyframe seeds; K = #seeds / (W*H) unless --num-keyframes (seeds then cycle)",
    parseRangeList,
  ),
  grid: { ...custom("WxH", "grid width x height", parseGrid, [1, 1] as [number, number]), shown: "1x1" },
  "num-keyframes": int("K", "keyframes per cell", undefined, 1),
  "w-frames": int("N", "frames per keyframe transition (video = K*N frames)", 120, 1, 100_000),
  "duration-sec": num("S", "video length instead of --w-frames (frames = round(S * fps))", undefined, 0),
  "shuffle-seed": int(
    "N",
    "shuffle the keyframe seeds with numpy RandomState(N).shuffle",
    undefined,
    0,
    0xffffffff,
  ),
  interp: oneOf(
    "path between keyframes (cubic: scipy interp1d, wrap-around)",
    ["cubic", "linear", "slerp"] as const,
    "cubic",
  ),
  space: oneOf("interpolate ws (as gen_video.py) or zs (mapped every frame)", ["w", "z"] as const, "w"),
  trunc: num("PSI", "truncation psi", 1),
  "trunc-cutoff": int("N", "truncate only the first N ws (default: all)", undefined, 0),
  class: int("N", "class of a conditional network", undefined, 0),
  "projected-w": text("FILE", "keyframe ws from .npy/.npz ([N, num_ws, w_dim]) instead of seeds"),
  circular: flag(
    "stylegan3-fun's circular loop in two random z axes per cell (first seed picks the axes;\ndefault --duration-sec 10)",
  ),
};

const MOTION = {
  motion: oneOf(
    "the input moves over time; one seed per cell (default --duration-sec 4)",
    ["translate", "rotate", "circle"] as const,
  ),
  speed: num(
    "V",
    `translate: image widths/s (default ${DEFAULT_SPEED.translate}); rotate: degrees/s (${DEFAULT_SPEED.rotate});\ncircle: revolutions/s (${DEFAULT_SPEED.circle})`,
  ),
  direction: num("DEG", "translate direction (0 = right; 90 = down)", 0),
  radius: num("R", "circle radius in image widths", 0.125),
  compare: flag("each cell beside its first frame moved by resampling (texture sticking)"),
};

const OUTPUT = {
  output: text(
    "FILE",
    ".mp4: H.264 yuv420p (ffmpeg from PATH, else the built-in WASM encoder);\n.png or .apng: a looping animated PNG (lossless; for short loops)",
  ),
  "frames-dir": text("DIR", "also (or only) write DIR/frame000000.png ..."),
  fps: num("N", "frame rate (as gen_video.py)", 60, 0.001, 1000),
  crf: int("N", "quality, lower is better", 18, 0, 51),
  bitrate: custom("RATE", "a bitrate such as 12M instead of --crf", parseBitrate),
  encoder: oneOf("MP4 encoder", ["auto", "ffmpeg", "wasm"] as const, "auto"),
  ...SHARD_OPT,
};

const DEVICE = { ...NETWORK_OPTS, ...batchOption("images", 8), ...FP16_OPT, ...GPU_OPTS, ...QUIET_OPT };

/** The options of `sg3 video`, declared once. */
export const OPTIONS = { ...INTERPOLATION, ...MOTION, ...OUTPUT, ...DEVICE };

/** Usage text of `sg3 video`. */
export const USAGE = usage(
  "sg3 video (--output FILE.mp4|FILE.png | --frames-dir DIR) [options]",
  `  Interpolation (default; gen_video.py): a WxH grid of cells, each looping through K keyframes. Without
  --network or --cfg: a random-initialised ${EMBEDDED.cfg} at ${EMBEDDED.res}x${EMBEDDED.res}.`,
  [
    ["Interpolation:", INTERPOLATION],
    ["Motion (StyleGAN3 equivariance):", MOTION],
    ["Output:", OUTPUT],
    ["Network and device:", DEVICE],
  ],
  "  Ctrl-C stops early and finishes a valid, shorter video.",
);

type VideoValues = Values<typeof OPTIONS>;

/** Everything `sg3 video` was asked, checked; nothing loaded or opened. */
export interface VideoPlan {
  network: NetworkPlan;
  layout: Layout;
  /** --shard: only this block of the frames, written to --frames-dir with their global numbers. */
  shard: Shard | null;
  values: VideoValues;
}

/** Parses and checks the arguments of `sg3 video` (no GPU, no network loaded). */
export function plan(args: string[]): VideoPlan {
  const { values: v, given } = parseOptions(args, OPTIONS);
  if (!v.output && !v["frames-dir"]) throw new UserError("give --output FILE.mp4 and/or --frames-dir DIR");
  if (v.output !== undefined && !/\.(mp4|png|apng)$/i.test(v.output)) {
    throw new UserError(`--output ${v.output}: expected a .mp4, .png or .apng file name`);
  }
  if (!v.motion) refuse(given, ["speed", "direction", "radius", "compare"], "is only for --motion videos");
  if (v.motion || v.circular) {
    refuse(
      given,
      ["interp", "space", "num-keyframes", "w-frames", "shuffle-seed", "projected-w"],
      "is only for interpolation videos",
    );
  }
  if (v.motion && (v.circular || given.has("projected-w"))) {
    throw new UserError("--motion cannot be combined with --circular or --projected-w");
  }
  if (given.has("w-frames") && given.has("duration-sec")) {
    throw new UserError("give --w-frames or --duration-sec, not both");
  }
  if (given.has("duration-sec") && !(v["duration-sec"]! > 0)) {
    throw new UserError("--duration-sec: expected a positive number of seconds");
  }
  if (given.has("duration-sec") && v["duration-sec"]! * v.fps > 10_000_000) {
    throw new UserError(`--duration-sec ${v["duration-sec"]} at ${v.fps} fps is more than 10 million frames`);
  }
  if (given.has("seeds") && given.has("projected-w")) {
    throw new UserError("give --seeds or --projected-w, not both");
  }
  if (given.has("projected-w") && v.space === "z") {
    throw new UserError("--projected-w gives ws: use --space w");
  }
  if (v.shard && (v.output !== undefined || v["frames-dir"] === undefined)) {
    throw new UserError(
      "--shard writes PNG frames: give --frames-dir DIR without --output (encode them after)",
    );
  }
  if (v.shard && v.compare) throw new UserError("--compare needs frame 0 in every shard: not with --shard");
  const [gridW, gridH] = v.grid;
  return {
    network: planNetwork(v, given, EMBEDDED),
    layout: { fps: v.fps, gridW, gridH, batch: v.batch, motionKind: v.motion },
    shard: v.shard ?? null,
    values: v,
  };
}

/** Runs `sg3 video`; returns the exit code. */
export async function run(args: string[]): Promise<number> {
  const p = plan(args);
  const v = p.values;
  const { chosen, gpu, gen } = await openGeneratorRun(p.network, v, {
    fp16: v.fp16,
    moves: v.motion ? () => "--motion" : null,
  });
  try {
    const spec = await buildSpec(v, gpu, gen, p.layout);
    if (p.shard) spec.range = shardRange(spec.frames, p.shard);
    if (!v.quiet) {
      console.error(`network: ${chosen.label}; ${gpu.summary.description}`);
      console.error(
        `${spec.frames} frames at ${v.fps} fps (${
          (spec.frames / v.fps).toFixed(2)
        } s), grid ${p.layout.gridW}x${p.layout.gridH}` +
          (spec.range
            ? `; shard ${formatShard(p.shard!)}: frames ${spec.range[0]}..${spec.range[1] - 1}`
            : ""),
      );
    }
    return await writeVideo(gpu, gen, spec, {
      output: v.output,
      framesDir: v["frames-dir"],
      fps: v.fps,
      crf: v.crf,
      bitrate: v.bitrate,
      encoder: v.encoder,
      quiet: v.quiet,
    });
  } finally {
    gen.destroy();
    gpu.destroy();
  }
}

interface Layout {
  fps: number;
  gridW: number;
  gridH: number;
  batch: number;
  motionKind?: MotionKind;
}

/** Turns the options into what to render: the frame count, each cell's latents, the motion. */
async function buildSpec(v: VideoValues, gpu: Gpu, gen: Generator, l: Layout): Promise<VideoSpec> {
  const cells = l.gridW * l.gridH;
  const mapping = { psi: v.trunc, cutoff: v["trunc-cutoff"] ?? null, classIdx: v.class };
  const frameCount = (fallbackSec?: number) => {
    const sec = v["duration-sec"] ?? fallbackSec!;
    const frames = durationFrames(sec, l.fps);
    if (frames < 1) throw new UserError(`--duration-sec ${sec} at ${l.fps} fps is less than one frame`);
    return frames;
  };
  const seeds = v.seeds;
  const base = { gridW: l.gridW, gridH: l.gridH, batch: l.batch, ...mapping };

  if (l.motionKind) {
    const list = seeds ?? Array.from({ length: cells }, (_, i) => i);
    if (list.length !== cells) {
      throw new UserError(
        `--motion renders one seed per grid cell: give ${cells} seed(s) for --grid ${l.gridW}x${l.gridH}`,
      );
    }
    const ws = await mapToHost(gpu, gen, zFromSeeds(list, gen.zDim), cells, mapping, l.batch);
    const motion: Motion = {
      kind: l.motionKind,
      speed: v.speed ?? DEFAULT_SPEED[l.motionKind],
      fps: l.fps,
      direction: v.direction,
      radius: v.radius,
    };
    const frames = frameCount(4);
    return {
      ...base,
      frames,
      source: fixedSource("w", ws, gen.numWs * gen.wDim),
      motion,
      compare: v.compare,
    };
  }

  if (v.circular) {
    const frames = frameCount(10);
    return {
      ...base,
      frames,
      source: tableSource("z", circularZ(seeds?.[0] ?? 0, gen.zDim, cells, frames), cells, gen.zDim),
    };
  }

  const kind: InterpKind = v.interp;
  const space = v.space;
  const numKeyframes = v["num-keyframes"];
  const shuffleSeed = v["shuffle-seed"];
  const perW = gen.numWs * gen.wDim;
  let order: KeyframeSeeds, rows: Float64Array;
  if (v["projected-w"] !== undefined) {
    const lat = readLatents(v["projected-w"], { zDim: gen.zDim, wDim: gen.wDim, numWs: gen.numWs });
    if (lat.kind !== "w") {
      throw new UserError(`${v["projected-w"]}: expected ws [N, ${gen.numWs}, ${gen.wDim}], found z vectors`);
    }
    const indices = Array.from({ length: lat.n }, (_, i) => i);
    order = keyframeSeeds(indices, l.gridW, l.gridH, numKeyframes, shuffleSeed);
    rows = new Float64Array(order.seeds.length * perW);
    order.seeds.forEach((i, j) => rows.set(lat.values.subarray(i * perW, (i + 1) * perW), j * perW));
  } else {
    if (!seeds) throw new UserError("give --seeds (keyframes), --projected-w, --circular or --motion");
    order = keyframeSeeds(seeds, l.gridW, l.gridH, numKeyframes, shuffleSeed);
    const z = zFromSeeds(order.seeds, gen.zDim);
    rows = space === "z" ? z : await mapToHost(gpu, gen, z, order.seeds.length, mapping, l.batch);
  }
  const timing = v["duration-sec"] !== undefined ? { frames: frameCount() } : { wFrames: v["w-frames"] };
  const dim = space === "w" ? perW : gen.zDim;
  const rowDim = space === "w" ? gen.wDim : gen.zDim;
  const { source, frames } = keyframeVideo(space, rows, order.numKeyframes, dim, kind, rowDim, timing);
  return { ...base, frames, source };
}

interface OutputOptions {
  output?: string;
  framesDir?: string;
  fps: number;
  crf: number;
  bitrate?: number;
  encoder: "auto" | "ffmpeg" | "wasm";
  quiet: boolean;
}

/**
 * Renders and writes the frames with a progress bar. The first Ctrl-C stops after the frame in hand and
 * finishes a valid, shorter video (exit code 130); a second one removes the unfinished file and exits.
 */
async function writeVideo(gpu: Gpu, gen: Generator, spec: VideoSpec, o: OutputOptions): Promise<number> {
  let sink: VideoWriter | null = null;
  let stop = false, written = 0;
  const onSigint = () => {
    if (stop) {
      console.error("\ninterrupted twice: removing the unfinished video");
      (sink ? (sink as VideoWriter).discard() : Promise.resolve()).finally(() => Deno.exit(130));
      return;
    }
    stop = true;
  };
  const releaseInterrupt = ownInterrupt(onSigint);
  const [first, end] = spec.range ?? [0, spec.frames];
  const progress = new Progress("video", end - first, "frames", o.quiet);
  try {
    for await (const { index, image } of renderFrames(gpu, gen, spec)) {
      if (o.output && !sink) {
        sink = await openVideo(o.output, {
          width: image.width,
          height: image.height,
          fps: o.fps,
          crf: o.crf,
          bitrate: o.bitrate,
          encoder: o.encoder,
        });
        if (!o.quiet) console.error(`encoder: ${sink instanceof Mp4Writer ? sink.encoder : "apng"}`);
      }
      if (o.framesDir) writePng(join(o.framesDir, `frame${String(index).padStart(6, "0")}.png`), image);
      if (sink) await sink.addFrame(image.data);
      written++;
      progress.tick();
      if (stop) break;
    }
    progress.finish();
    if (sink) await (sink as VideoWriter).finish();
  } catch (e) {
    progress.finish();
    if (sink) await (sink as VideoWriter).discard();
    throw e;
  } finally {
    releaseInterrupt();
  }
  if (stop) {
    console.error(`interrupted: wrote the first ${written} of ${end - first} frames`);
    return 130;
  }
  if (!o.quiet) {
    console.error(`wrote ${[o.output, o.framesDir].filter(Boolean).join(" and ")} (${written} frames)`);
  }
  return 0;
}
