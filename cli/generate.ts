/** `sg3 generate`: images from a network for seeds (gen_images.py semantics) or from given w/z vectors. */
import { openGeneratorRun } from "./autotune.ts";
import { join } from "node:path";
import { statSync } from "node:fs";
import { UserError } from "../errors.ts";
import { generateImages, type GenerateRequest } from "../models/generate.ts";
import { readLatents } from "../models/latents.ts";
import { PngWriter } from "../formats/png_pool.ts";
import { helperThreads } from "../formats/threads.ts";
import { parsePair, parseRangeList } from "./args.ts";
import { EMBEDDED, NETWORK_OPTS, type NetworkPlan, planNetwork } from "./network.ts";
import { batchOption, FP16_OPT, GPU_OPTS, QUIET_OPT, SHARD_OPT } from "./common_options.ts";
import { formatShard, type Shard, shardRange } from "../metrics/shard.ts";
import { custom, int, num, oneOf, parseOptions, text, usage, type Values } from "./options.ts";
import { Progress } from "./progress.ts";

/** The options of `sg3 generate`, declared once. */
export const OPTIONS = {
  outdir: text("DIR", "where the PNGs go (required)"),
  seeds: custom("LIST", "seeds like 0-3,7; z = numpy RandomState(seed).randn(1, z_dim)", parseRangeList),
  "projected-w": text(
    "FILE",
    "w vectors (.npy or .npz with key 'w', shape [N, num_ws, w_dim]); skips mapping",
  ),
  z: text("FILE", "z vectors (.npy/.npz, shape [N, z_dim])"),
  trunc: num("PSI", "truncation psi", 1),
  "trunc-cutoff": int("N", "truncate only the first N ws (default: all)", undefined, 0),
  class: int("N", "class index of a conditional network (required there)", undefined, 0),
  translate: custom(
    "X,Y",
    "input translation (fractions of the image), StyleGAN3 only",
    parsePair,
    [0, 0] as [
      number,
      number,
    ],
  ),
  rotate: num("DEG", "input rotation in degrees, StyleGAN3 only", 0),
  "noise-mode": oneOf(
    "StyleGAN2 noise inputs: const (as gen_images.py), random (drawn from\neach image's seed, not torch's stream) or none; StyleGAN3 has none",
    ["const", "random", "none"] as const,
    "const",
  ),
  ...NETWORK_OPTS,
  ...batchOption("images", 4),
  ...SHARD_OPT,
  ...FP16_OPT,
  ...GPU_OPTS,
  ...QUIET_OPT,
};

/** Usage text of `sg3 generate`. */
export const USAGE = usage(
  "sg3 generate --outdir DIR (--seeds LIST | --projected-w FILE | --z FILE) [options]",
  `  Writes DIR/seedNNNN.png per seed (or DIR/projNN.png per given vector), as gen_images.py. Without
  --network or --cfg: a random-initialised ${EMBEDDED.cfg} at ${EMBEDDED.res}x${EMBEDDED.res} (cbase ${EMBEDDED.cbase}, cmax ${EMBEDDED.cmax}).`,
  OPTIONS,
);

/** Everything `sg3 generate` was asked, checked; nothing loaded or opened. */
export interface GeneratePlan {
  network: NetworkPlan;
  outdir: string;
  /** The latents file and what it must hold, when not seeds. */
  latents: { file: string; kind: "w" | "z" } | null;
  request: GenerateRequest;
  /** --translate or --rotate was given (StyleGAN3 only). */
  moves: boolean;
  /** --shard: this process writes only its block of the images (same names and images as the whole run). */
  shard: Shard | null;
  values: Values<typeof OPTIONS>;
}

/** Parses and checks the arguments of `sg3 generate` (no GPU, no network loaded). */
export function plan(args: string[]): GeneratePlan {
  const { values: v, given } = parseOptions(args, OPTIONS);
  if (v.outdir === undefined) throw new UserError("--outdir is required");
  if (statSync(v.outdir, { throwIfNoEntry: false })?.isDirectory() === false) {
    throw new UserError(`--outdir ${v.outdir}: exists and is not a folder`);
  }
  const sources = (["seeds", "projected-w", "z"] as const).filter((s) => given.has(s));
  if (sources.length !== 1) throw new UserError("give exactly one of --seeds, --projected-w, --z");
  const latentsFile = v["projected-w"] ?? v.z;
  return {
    network: planNetwork(v, given, EMBEDDED),
    outdir: v.outdir,
    latents: latentsFile === undefined ? null : { file: latentsFile, kind: v.z !== undefined ? "z" : "w" },
    request: {
      seeds: v.seeds,
      psi: v.trunc,
      cutoff: v["trunc-cutoff"] ?? null,
      classIdx: v.class,
      translate: v.translate,
      rotate: v.rotate,
      batch: v.batch,
      noiseMode: v["noise-mode"],
    },
    moves: given.has("translate") || given.has("rotate"),
    shard: v.shard ?? null,
    values: v,
  };
}

/** Runs `sg3 generate`; returns the exit code. */
export async function run(args: string[]): Promise<number> {
  const p = plan(args);
  const v = p.values;
  const { chosen, gpu, gen } = await openGeneratorRun(p.network, v, {
    fp16: v.fp16,
    moves: p.moves ? () => "--translate/--rotate" : null,
  });
  const req = { ...p.request };
  if (req.classIdx !== undefined && gen.cDim === 0) {
    console.warn("warning: --class is ignored on an unconditional network");
  }
  if (p.latents) {
    const lat = readLatents(p.latents.file, gen);
    if (lat.kind !== p.latents.kind) {
      throw new UserError(`${p.latents.file}: holds ${lat.kind} vectors, expected ${p.latents.kind}`);
    }
    if (lat.kind === "w") req.ws = { data: Float32Array.from(lat.values), count: lat.n };
    else req.zs = { data: lat.values, count: lat.n };
  }
  const all = req.ws?.count ?? req.zs?.count ?? req.seeds!.length;
  if (p.shard) req.range = shardRange(all, p.shard);
  const total = req.range ? req.range[1] - req.range[0] : all;
  if (!v.quiet) {
    const part = p.shard
      ? ` (shard ${formatShard(p.shard)}: images ${req.range![0]}..${req.range![1] - 1} of ${all})`
      : "";
    console.error(`network: ${chosen.label}; ${gpu.summary.description}${part}`);
  }
  const progress = new Progress("generate", total, "img", v.quiet);
  // PNGs are encoded on worker threads where the machine has cores to spare (formats/png_pool.ts).
  const writer = new PngWriter(helperThreads(), () => progress.tick());
  try {
    for await (const { name, image } of generateImages(gpu, gen, req)) {
      await writer.write(join(p.outdir, `${name}.png`), image);
    }
  } catch (e) {
    await writer.close().catch(() => {});
    throw e;
  }
  await writer.close();
  progress.finish();
  if (!v.quiet) console.error(`wrote ${total} image${total === 1 ? "" : "s"} to ${p.outdir}`);
  gen.destroy();
  gpu.destroy();
  return 0;
}
