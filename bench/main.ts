/**
 * `deno task bench [--quick] [--cfg stylegan3-t,stylegan3-r] [--res 1024] [--batch 8] [--reps 5] [--fp16]`: generator
 * timings on the current adapter (ms per image, median over reps after a warm-up that compiles the
 * pipelines). Speed is shown here, never by a timed test. The official bar on one H100 (PyTorch + custom
 * CUDA kernels, batches of 8): stylegan3-t-1024 7.63 ms/image, stylegan3-r-1024 15.9 ms/image.
 * On a software adapter the defaults shrink to the embedded default network (128x128, cbase 4096, cmax 128,
 * batch 1) so that the run ends in minutes.
 */
import { parseArgs } from "node:util";
import { Gpu } from "../gpu/device.ts";
import { readBytes } from "../gpu/readback.ts";
import { randomNetwork } from "../models/random_init.ts";
import { Generator } from "../models/generator.ts";
import { RandomState } from "../models/latents.ts";
import { timeIt } from "./time.ts";

const { values } = parseArgs({
  options: {
    cfg: { type: "string", default: "stylegan3-t,stylegan3-r" },
    res: { type: "string" },
    batch: { type: "string" },
    reps: { type: "string", default: "5" },
    cbase: { type: "string" },
    cmax: { type: "string" },
    fp16: { type: "boolean", default: false },
    quick: { type: "boolean", default: false },
    adapter: { type: "string" },
  },
});
const gpu = await Gpu.open({ adapter: values.adapter });
// --quick (and any software adapter) benchmarks small networks so that the run ends in minutes.
const small = values.quick || gpu.summary.isFallback;
const res = Number(values.res ?? (values.quick ? 64 : small ? 128 : 1024));
const batch = Number(values.batch ?? (small ? 1 : 8));
const reps = values.quick ? 1 : Number(values.reps);
const cbase = values.cbase ? Number(values.cbase) : values.quick ? 2048 : small ? 4096 : undefined;
const cmax = values.cmax ? Number(values.cmax) : values.quick ? 64 : small ? 128 : undefined;
const size = cbase || cmax ? ` (cbase ${cbase ?? "default"}, cmax ${cmax ?? "default"})` : "";
console.log(
  `adapter: ${gpu.summary.description}  date: ${
    new Date().toISOString().slice(0, 10)
  }  deno ${Deno.version.deno}`,
);
console.log(`| network | batch | precision | ms/batch | ms/image |`);
console.log(`| --- | --- | --- | --- | --- |`);
for (const cfg of values.cfg.split(",")) {
  if (cfg !== "stylegan3-t" && cfg !== "stylegan3-r") throw new Error(`--cfg: unknown ${cfg}`);
  const gen = Generator.create(gpu, randomNetwork({ cfg, res, cbase, cmax }), { fp16: values.fp16 });
  const z = new RandomState(0).randn(batch * gen.zDim);
  const ms = await timeIt(async () => {
    const ws = gen.mapping(z, batch);
    const img = gen.synthesis(ws);
    await readBytes(gpu, img.buffer, 0, 4);
    ws.destroy();
    img.destroy();
  }, reps);
  console.log(
    `| ${cfg}-${res}${size} | ${batch} | ${values.fp16 ? "fp16" : "fp32"} | ${ms.toFixed(1)} | ${
      (ms / batch).toFixed(2)
    } |`,
  );
  gen.destroy();
}
gpu.destroy();
