/**
 * `sg3 video`: latent interpolation videos with gen_video.py's semantics (a grid of looping keyframe paths),
 * stylegan3-fun's circular loop, and equivariance motion videos (the input translated or rotated over
 * time, optionally beside the frame-0 image moved by resampling). Output: MP4 (H.264) and/or PNG frames.
 */
import { join } from "node:path";
import { GPU_HELP, GPU_OPTIONS, openGpu } from "./gpu_options.ts";
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
import { intOption, numberOption, parse, parseRangeList } from "./args.ts";
import { chooseNetwork, EMBEDDED_DEFAULT, NETWORK_OPTIONS, openGenerator } from "./network.ts";
import { Progress } from "./progress.ts";

/** Usage text of `sg3 video`. */
export const USAGE = `sg3 video (--output FILE.mp4|FILE.png | --frames-dir DIR) [options]
  Interpolation (default; gen_video.py): a WxH grid of cells, each looping through K keyframes.
  --seeds 0-31             keyframe seeds; K = #seeds / (W*H) unless --num-keyframes (seeds then cycle)
  --grid 4x2               grid width x height (default 1x1)
  --num-keyframes K        keyframes per cell
  --w-frames N             frames per keyframe transition (default 120; video = K*N frames)
  --duration-sec S         video length instead of --w-frames (frames = round(S * fps))
  --shuffle-seed N         shuffle the keyframe seeds with numpy RandomState(N).shuffle
  --interp cubic|linear|slerp  path between keyframes (default cubic: scipy interp1d, wrap-around)
  --space w|z              interpolate ws (default, as gen_video.py) or zs (mapped every frame)
  --trunc PSI              truncation psi (default 1); --trunc-cutoff N: first N ws only
  --class N                class of a conditional network
  --projected-w FILE       keyframe ws from .npy/.npz ([N, num_ws, w_dim]) instead of seeds
  --circular               stylegan3-fun's circular loop in two random z axes per cell (first seed
                           picks the axes; default --duration-sec 10)
  Motion (StyleGAN3 equivariance): one seed per cell (--seeds, --grid), the input moving over time.
  --motion translate|rotate|circle
  --speed V                translate: image widths/s (default ${DEFAULT_SPEED.translate}); rotate: degrees/s (${DEFAULT_SPEED.rotate});
                           circle: revolutions/s (${DEFAULT_SPEED.circle})
  --direction DEG          translate direction (default 0 = right; 90 = down)
  --radius R               circle radius in image widths (default 0.125)
  --compare                each cell beside its first frame moved by resampling (texture sticking)
                           (motion videos default to --duration-sec 4)
  Output:
  --output FILE.mp4        H.264 yuv420p MP4 (ffmpeg from PATH, else the built-in WASM encoder)
  --output FILE.png|.apng  a looping animated PNG instead (lossless; for short loops)
  --frames-dir DIR         also (or only) write DIR/frame000000.png ...
  --fps N                  frame rate (default 60, as gen_video.py)
  --crf N                  quality, lower is better (default 18); --bitrate 12M: a bitrate instead
  --encoder auto|ffmpeg|wasm
  Network and device:
  --network FILE|URL|NAME, --which G|G_ema, or --cfg stylegan3-t|stylegan3-r --res N [--cbase --cmax
                           --init-seed] (default without --network: ${EMBEDDED_DEFAULT.cfg} ${EMBEDDED_DEFAULT.res}x${EMBEDDED_DEFAULT.res})
  --batch N                images per GPU batch (default 8)
  --fp16                   float16 for the highest-resolution layers (needs shader-f16)
${GPU_HELP}
  --quiet                  no progress bar
  Ctrl-C stops early and finishes a valid, shorter video.`;

const OPTIONS = {
  ...NETWORK_OPTIONS,
  output: { type: "string" },
  "frames-dir": { type: "string" },
  seeds: { type: "string" },
  grid: { type: "string" },
  "num-keyframes": { type: "string" },
  "w-frames": { type: "string" },
  "duration-sec": { type: "string" },
  "shuffle-seed": { type: "string" },
  interp: { type: "string" },
  space: { type: "string" },
  trunc: { type: "string" },
  "trunc-cutoff": { type: "string" },
  class: { type: "string" },
  "projected-w": { type: "string" },
  circular: { type: "boolean" },
  motion: { type: "string" },
  speed: { type: "string" },
  direction: { type: "string" },
  radius: { type: "string" },
  compare: { type: "boolean" },
  fps: { type: "string" },
  crf: { type: "string" },
  bitrate: { type: "string" },
  encoder: { type: "string" },
  batch: { type: "string" },
  fp16: { type: "boolean" },
  ...GPU_OPTIONS,
  quiet: { type: "boolean" },
} as const;

type Values = ReturnType<typeof parseVideoArgs>;

function parseVideoArgs(args: string[]) {
  return parse("video", args, OPTIONS).values;
}

function oneOf<T extends string>(
  name: string,
  value: string | undefined,
  allowed: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UserError(`--${name}: expected ${allowed.join(", ")}, got "${value}"`);
  }
  return value as T;
}

/** Parses gen_video.py's --grid "WxH" (or "W,H"). */
export function parseGrid(value: string | undefined): [number, number] {
  if (value === undefined) return [1, 1];
  const m = /^(\d+)[x,](\d+)$/.exec(value.trim());
  if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) {
    throw new UserError(`--grid: expected WxH such as 4x2, got "${value}"`);
  }
  return [Number(m[1]), Number(m[2])];
}

/** Parses a bitrate such as 12M, 800k or 2500000 (bits per second). */
export function parseBitrate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(value.trim());
  if (!m || Number(m[1]) <= 0) throw new UserError(`--bitrate: expected e.g. 12M or 800k, got "${value}"`);
  return Number(m[1]) * ({ k: 1e3, m: 1e6 }[m[2].toLowerCase()] ?? 1);
}

/** Runs `sg3 video`; returns the exit code. */
export async function run(args: string[]): Promise<number> {
  const v = parseVideoArgs(args);
  if (!v.output && !v["frames-dir"]) throw new UserError("give --output FILE.mp4 and/or --frames-dir DIR");
  const fps = numberOption("fps", v.fps, 60);
  if (!(fps > 0)) throw new UserError(`--fps: expected a positive number, got ${v.fps}`);
  const [gridW, gridH] = parseGrid(v.grid);
  const batch = intOption("batch", v.batch, 8, 1);
  const crf = intOption("crf", v.crf, 18, 0);
  const encoder = oneOf("encoder", v.encoder, ["auto", "ffmpeg", "wasm"] as const, "auto");
  const bitrate = parseBitrate(v.bitrate);
  const motionKind = v.motion === undefined
    ? undefined
    : oneOf<MotionKind>("motion", v.motion, ["translate", "rotate", "circle"], "translate");
  const misplaced = (names: (keyof Values)[], mode: string) => {
    const given = names.filter((n) => v[n] !== undefined);
    if (given.length) throw new UserError(`${given.map((n) => `--${n}`).join(", ")}: only for ${mode}`);
  };
  if (!motionKind) misplaced(["speed", "direction", "radius", "compare"], "--motion videos");
  if (motionKind || v.circular) {
    misplaced(
      ["interp", "space", "num-keyframes", "w-frames", "shuffle-seed", "projected-w"],
      "interpolation videos",
    );
  }
  if (v["w-frames"] !== undefined && v["duration-sec"] !== undefined) {
    throw new UserError("give --w-frames or --duration-sec, not both");
  }

  const chosen = await chooseNetwork(v, EMBEDDED_DEFAULT);
  if (motionKind && chosen.net.arch === "stylegan2") {
    throw new UserError("--motion moves StyleGAN3's input transform; StyleGAN2 networks have none");
  }
  const gpu = await openGpu(v);
  const gen = await openGenerator(gpu, chosen, { fp16: v.fp16 ?? false });
  try {
    const spec = await buildSpec(v, gpu, gen, { fps, gridW, gridH, batch, motionKind });
    if (!v.quiet) {
      console.error(`network: ${chosen.label}; ${gpu.summary.description}`);
      console.error(
        `${spec.frames} frames at ${fps} fps (${(spec.frames / fps).toFixed(2)} s), grid ${gridW}x${gridH}`,
      );
    }
    return await writeVideo(gpu, gen, spec, {
      output: v.output,
      framesDir: v["frames-dir"],
      fps,
      crf,
      bitrate,
      encoder,
      quiet: v.quiet ?? false,
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
async function buildSpec(v: Values, gpu: Gpu, gen: Generator, l: Layout): Promise<VideoSpec> {
  const cells = l.gridW * l.gridH;
  const mapping = {
    psi: numberOption("trunc", v.trunc, 1),
    cutoff: v["trunc-cutoff"] === undefined ? null : intOption("trunc-cutoff", v["trunc-cutoff"], 0, 0),
    classIdx: v.class === undefined ? undefined : intOption("class", v.class, 0, 0),
  };
  const frameCount = (fallbackSec?: number) => {
    const sec = numberOption("duration-sec", v["duration-sec"], fallbackSec ?? NaN);
    if (!(sec > 0)) throw new UserError(`--duration-sec: expected a positive number of seconds`);
    const frames = durationFrames(sec, l.fps);
    if (frames < 1) throw new UserError(`--duration-sec ${sec} at ${l.fps} fps is less than one frame`);
    return frames;
  };
  const seeds = v.seeds === undefined ? undefined : parseRangeList("seeds", v.seeds);
  const base = { gridW: l.gridW, gridH: l.gridH, batch: l.batch, ...mapping };

  if (l.motionKind) {
    if (v.circular || v["projected-w"]) {
      throw new UserError("--motion cannot be combined with --circular or --projected-w");
    }
    const list = seeds ?? Array.from({ length: cells }, (_, i) => i);
    if (list.length !== cells) {
      throw new UserError(
        `--motion renders one seed per grid cell: give ${cells} seed(s) for --grid ${l.gridW}x${l.gridH}`,
      );
    }
    const ws = await mapToHost(gpu, gen, zFromSeeds(list, gen.zDim), cells, mapping, l.batch);
    const motion: Motion = {
      kind: l.motionKind,
      speed: numberOption("speed", v.speed, DEFAULT_SPEED[l.motionKind]),
      fps: l.fps,
      direction: numberOption("direction", v.direction, 0),
      radius: numberOption("radius", v.radius, 0.125),
    };
    const frames = frameCount(4);
    return {
      ...base,
      frames,
      source: fixedSource("w", ws, gen.numWs * gen.wDim),
      motion,
      compare: v.compare ?? false,
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

  const kind = oneOf<InterpKind>("interp", v.interp, ["cubic", "linear", "slerp"], "cubic");
  const space = oneOf("space", v.space, ["w", "z"] as const, "w");
  const numKeyframes = v["num-keyframes"] === undefined
    ? undefined
    : intOption("num-keyframes", v["num-keyframes"], 0, 1);
  const shuffleSeed = v["shuffle-seed"] === undefined
    ? undefined
    : intOption("shuffle-seed", v["shuffle-seed"], 0, 0);
  const perW = gen.numWs * gen.wDim;
  let order: KeyframeSeeds, rows: Float64Array;
  if (v["projected-w"] !== undefined) {
    if (seeds) throw new UserError("give --seeds or --projected-w, not both");
    if (space === "z") throw new UserError("--projected-w gives ws: use --space w");
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
  const timing = v["duration-sec"] !== undefined
    ? { frames: frameCount() }
    : { wFrames: intOption("w-frames", v["w-frames"], 120, 1) };
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
  Deno.addSignalListener("SIGINT", onSigint);
  const progress = new Progress("video", spec.frames, "frames", o.quiet);
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
    Deno.removeSignalListener("SIGINT", onSigint);
  }
  if (stop) {
    console.error(`interrupted: wrote the first ${written} of ${spec.frames} frames`);
    return 130;
  }
  if (!o.quiet) {
    console.error(`wrote ${[o.output, o.framesDir].filter(Boolean).join(" and ")} (${written} frames)`);
  }
  return 0;
}
