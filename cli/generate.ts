/** `sg3 generate`: images from a network for seeds (gen_images.py semantics) or from given w/z vectors. */
import { join } from "node:path";
import { GPU_HELP, GPU_OPTIONS, openGpu } from "./gpu_options.ts";
import { UserError } from "../errors.ts";
import { generateImages, type GenerateRequest } from "../models/generate.ts";
import { readLatents } from "../models/latents.ts";
import { writePng } from "../formats/png.ts";
import { intOption, numberOption, parse, parsePair, parseRangeList } from "./args.ts";
import { chooseNetwork, EMBEDDED_DEFAULT, NETWORK_OPTIONS, openGenerator } from "./network.ts";
import { Progress } from "./progress.ts";

/** The network used when neither --network nor --cfg is given: a small random-initialised StyleGAN3-T. */

/** Usage text of `sg3 generate`. */
export const USAGE = `sg3 generate --outdir DIR (--seeds LIST | --projected-w FILE | --z FILE) [options]
  Writes DIR/seedNNNN.png per seed (or DIR/projNN.png per given vector), as gen_images.py.
  --network FILE|URL|NAME  official .pkl snapshot, URL or short name (stylegan3-t-ffhq-1024x1024, ...)
  --which G|G_ema          which generator of the snapshot (default G_ema)
  --cfg stylegan3-t|stylegan3-r|stylegan2 --res N [--cbase N --cmax N --init-seed N]
                           a random-initialised network instead (default without --network:
                           ${EMBEDDED_DEFAULT.cfg} ${EMBEDDED_DEFAULT.res}x${EMBEDDED_DEFAULT.res}, cbase ${EMBEDDED_DEFAULT.cbase}, cmax ${EMBEDDED_DEFAULT.cmax})
  --seeds 0-3,7            seeds; z = numpy RandomState(seed).randn(1, z_dim)
  --projected-w FILE       w vectors (.npy or .npz with key 'w', shape [N, num_ws, w_dim]); skips mapping
  --z FILE                 z vectors (.npy/.npz, shape [N, z_dim])
  --trunc PSI              truncation psi (default 1)
  --trunc-cutoff N         truncate only the first N ws (default: all)
  --class N                class index of a conditional network (required there)
  --translate X,Y          input translation (fractions of the image), StyleGAN3 only (default 0,0)
  --rotate DEG             input rotation in degrees, StyleGAN3 only (default 0)
  --noise-mode const|random|none  StyleGAN2 noise inputs (default const, as gen_images.py; random: drawn
                           from each image's seed, not torch's stream); StyleGAN3 has none
  --batch N                images per GPU batch (default 4)
  --fp16                   run the highest-resolution layers in float16 (needs shader-f16)
${GPU_HELP}
  --quiet                  no progress bar`;

/** Runs `sg3 generate`; returns the exit code. */
export async function run(args: string[]): Promise<number> {
  const { values: v } = parse("generate", args, {
    ...NETWORK_OPTIONS,
    outdir: { type: "string" },
    seeds: { type: "string" },
    "projected-w": { type: "string" },
    z: { type: "string" },
    trunc: { type: "string" },
    "trunc-cutoff": { type: "string" },
    class: { type: "string" },
    translate: { type: "string" },
    rotate: { type: "string" },
    "noise-mode": { type: "string" },
    batch: { type: "string" },
    fp16: { type: "boolean" },
    ...GPU_OPTIONS,
    quiet: { type: "boolean" },
  });
  if (!v.outdir) throw new UserError("--outdir is required");
  const sources = [v.seeds, v["projected-w"], v.z].filter((s) => s !== undefined).length;
  if (sources !== 1) throw new UserError("give exactly one of --seeds, --projected-w, --z");
  if (v["noise-mode"] !== undefined && !["const", "random", "none"].includes(v["noise-mode"])) {
    throw new UserError(`--noise-mode: expected const, random or none, got "${v["noise-mode"]}"`);
  }
  const req: GenerateRequest = {
    psi: numberOption("trunc", v.trunc, 1),
    cutoff: v["trunc-cutoff"] === undefined ? null : intOption("trunc-cutoff", v["trunc-cutoff"], 0, 0),
    classIdx: v.class === undefined ? undefined : intOption("class", v.class, 0, 0),
    translate: parsePair("translate", v.translate, [0, 0]),
    rotate: numberOption("rotate", v.rotate, 0),
    batch: intOption("batch", v.batch, 4, 1),
    noiseMode: v["noise-mode"] as GenerateRequest["noiseMode"],
  };
  if (v.seeds !== undefined) req.seeds = parseRangeList("seeds", v.seeds);

  const chosen = await chooseNetwork(v, EMBEDDED_DEFAULT);
  if (chosen.net.arch === "stylegan2" && (v.translate !== undefined || v.rotate !== undefined)) {
    throw new UserError(
      "--translate/--rotate move StyleGAN3's input transform; StyleGAN2 networks have none",
    );
  }
  const gpu = await openGpu(v);
  const gen = await openGenerator(gpu, chosen, { fp16: v.fp16 ?? false });
  if (req.classIdx !== undefined && gen.cDim === 0) {
    console.warn("warning: --class is ignored on an unconditional network");
  }
  const latentFile = v["projected-w"] ?? v.z;
  if (latentFile !== undefined) {
    const lat = readLatents(latentFile, gen);
    const wanted = v.z !== undefined ? "z" : "w";
    if (lat.kind !== wanted) {
      throw new UserError(`${latentFile}: holds ${lat.kind} vectors, expected ${wanted}`);
    }
    if (lat.kind === "w") req.ws = { data: Float32Array.from(lat.values), count: lat.n };
    else req.zs = { data: lat.values, count: lat.n };
  }
  const total = req.ws?.count ?? req.zs?.count ?? req.seeds!.length;
  if (!v.quiet) console.error(`network: ${chosen.label}; ${gpu.summary.description}`);
  const progress = new Progress("generate", total, "img", v.quiet ?? false);
  for await (const { name, image } of generateImages(gpu, gen, req)) {
    writePng(join(v.outdir, `${name}.png`), image);
    progress.tick();
  }
  progress.finish();
  if (!v.quiet) console.error(`wrote ${total} image${total === 1 ? "" : "s"} to ${v.outdir}`);
  gen.destroy();
  gpu.destroy();
  return 0;
}
