/**
 * `deno task bench [--json] [--quick] [--cfg stylegan3-t,stylegan3-r,stylegan2] [--res N] [--cbase N] [--cmax N]
 * [--batch 1,4] [--reps N] [--fp16] [--no-inception] [--eq] [--adapter NAME]`: timings on the current
 * adapter. Speed is shown here, never by a timed test.
 *
 * - the adapter's FMA peak, from a built-in micro-benchmark (independent vec4 multiply-adds in registers);
 * - the generator (random-initialised networks of the official layer tables, calibrated), per batch: ms per
 *   image (median over reps after a warm-up that compiles the pipelines), and where the time goes: GPU time
 *   per kernel family (timestamp queries), with GFLOP/s and the share of the FMA peak where the kernel
 *   declares its arithmetic;
 * - the Inception pass of `sg3 fid` at 299x299 from uint8 images (line `inception-299`);
 * - with --eq, the three EQ metrics per sample on the generator;
 * - per call, `record_ms`: the host time spent recording its launches (median; time blocked in `queue.submit`
 *   left out), which the GPU waits for unless the next batch is recorded while this one runs (gpu/ahead.ts) or
 *   the first milliseconds' work has gone ahead (gpu/submit.ts).
 * With --json every measurement is one JSON line with at least {what, batch, ms_per_image} (the median over
 * the reps, each a batch timed from recording to readback; the timed lines also give min_ms_per_image and
 * max_ms_per_image, and the generators and Inception stream_ms_per_image: batches back to back with one in
 * flight, as sg3 generate, fid and eq-metrics run them, which hides the host's recording and the readback's
 * wait).
 * The official bar on one H100 (PyTorch + custom CUDA kernels, batches of 8): stylegan3-t-1024 7.63 ms/image,
 * stylegan3-r-1024 15.9 ms/image. On a software adapter the defaults shrink to the embedded default network
 * (128x128, cbase 4096, cmax 128, batch 1) so that the run ends in minutes.
 */
import { parseArgs } from "node:util";
import { Gpu } from "../gpu/device.ts";
import { readBytes } from "../gpu/readback.ts";
import { OpProfiler } from "../gpu/profile.ts";
import { randomNetwork } from "../models/random_init.ts";
import { calibrateMagnitudes } from "../models/calibrate.ts";
import { Generator } from "../models/generator.ts";
import { RandomState } from "../models/latents.ts";
import { Inception, preprocess } from "../models/inception.ts";
import { fixtureStateDict, fromPytorchFid } from "../models/inception_weights.ts";
import { computeEquivariance, EQ_METRICS, RandomSamples } from "../metrics/equivariance.ts";
import { fmaPeak } from "./peak.ts";
import { median, timeIt, timeStream } from "./time.ts";

const USAGE =
  "deno task bench [--json] [--quick] [--cfg stylegan3-t,stylegan3-r,stylegan2] [--res N] [--cbase N] " +
  "[--cmax N] [--batch 1,4] [--reps N] [--fp16] [--no-inception] [--eq] [--adapter NAME]";

/** The command line's options; a bad one ends the run with one line and exit code 2. */
function options() {
  try {
    return parseArgs({
      options: {
        cfg: { type: "string", default: "stylegan3-t,stylegan3-r" },
        res: { type: "string" },
        batch: { type: "string" },
        reps: { type: "string", default: "5" },
        cbase: { type: "string" },
        cmax: { type: "string" },
        fp16: { type: "boolean", default: false },
        quick: { type: "boolean", default: false },
        "no-inception": { type: "boolean", default: false },
        eq: { type: "boolean", default: false },
        json: { type: "boolean", default: false },
        adapter: { type: "string" },
        help: { type: "boolean", default: false },
      },
    }).values;
  } catch (e) {
    console.error(`bench: ${e instanceof Error ? e.message : e}\nusage: ${USAGE}`);
    Deno.exit(2);
  }
}
const values = options();
if (values.help) {
  console.log(`usage: ${USAGE}`);
  Deno.exit(0);
}
const gpu = await Gpu.open({ adapter: values.adapter });
// --quick (and any software adapter) benchmarks small networks so that the run ends in minutes.
const small = values.quick || gpu.summary.isFallback;
const res = Number(values.res ?? (values.quick ? 64 : small ? 128 : 1024));
const batches = (values.batch ?? (small ? "1" : "1,8")).split(",").map(Number);
const reps = values.quick ? 1 : Number(values.reps);
const cbase = Number(values.cbase ?? (values.quick ? 2048 : small ? 4096 : 32768));
const cmax = Number(values.cmax ?? (values.quick ? 64 : small ? 128 : 512));
const date = new Date().toISOString().slice(0, 10);
const adapter = gpu.summary.description;
const peak = await fmaPeak(gpu);

/** Prints one measurement: a JSON line, or a table row. */
function emit(line: Record<string, unknown>): void {
  const rounded = Object.fromEntries(
    Object.entries(line).map(([k, v]) => [k, typeof v === "number" ? Math.round(v * 100) / 100 : v]),
  );
  if (values.json) return console.log(JSON.stringify({ ...rounded, adapter, date }));
  const fields = Object.entries(line).map(([k, v]) => `${k}=${typeof v === "number" ? +v.toFixed(3) : v}`);
  console.log(fields.join("  "));
}

emit({ what: "fma-peak", gflops: +peak.toFixed(1), batch: 1, ms_per_image: 0 });

/**
 * Times `run` (ms per call, median), then, for a `stream` measurement, calls of `run` back to back with one in
 * flight ({@link timeStream}: `run` must then return as soon as its readback is started), then profiles one more
 * call per kernel family.
 */
async function measure(
  what: string,
  batch: number,
  run: () => Promise<unknown>,
  { unit = "ms_per_image", stream = false } = {},
) {
  let submissions = 0; // command buffers submitted by the last call
  let created = 0; // buffers created by the last call
  // Host ms per call until its first await, less the time blocked in queue.submit: recording the launches.
  const recording: number[] = [];
  const counted = async () => {
    const before = gpu.submission.submitted, made = gpu.submission.created, blocked = gpu.submission.submitMs;
    const start = performance.now();
    const done = run();
    recording.push(performance.now() - start - (gpu.submission.submitMs - blocked));
    await done;
    submissions = gpu.submission.submitted - before;
    created = gpu.submission.created - made;
  };
  const t = await timeIt(counted, reps), ms = t.median;
  const record = median(recording.slice(-reps));
  const streamed = stream ? await timeStream(run, reps) : null;
  // Every line has ms_per_image (per sample for the EQ metrics, which also name it ms_per_sample): the median
  // over the reps, with the fastest and slowest beside it (this machine's spread).
  emit({
    what,
    batch,
    ms_per_image: ms / batch,
    [unit]: ms / batch,
    min_ms_per_image: t.min / batch,
    max_ms_per_image: t.max / batch,
    // Batches back to back with one in flight, as sg3 generate, fid and eq-metrics run them.
    ...streamed === null ? {} : { stream_ms_per_image: streamed / batch },
    submissions,
    new_buffers: created,
    record_ms: record,
    precision: values.fp16 ? "fp16" : "fp32",
  });
  if (!gpu.profilable) return;
  const profiler = new OpProfiler(gpu.device);
  gpu.submission.profiler = profiler;
  await run();
  await profiler.drain();
  gpu.submission.profiler = null;
  const families = new Map<string, { ms: number; count: number; flops: number }>();
  for (const [label, t] of profiler.totals) {
    const family = label.replace(/_(\d+x\d+|v\d|rn\d|wg\d|s\d|up\d|down\d|radial|\d+).*$/, "");
    const f = families.get(family) ?? { ms: 0, count: 0, flops: 0 };
    f.ms += t.ms;
    f.count += t.count;
    f.flops += t.flops;
    families.set(family, f);
  }
  const total = [...families.values()].reduce((s, f) => s + f.ms, 0);
  for (const [family, f] of [...families].sort((a, b) => b[1].ms - a[1].ms)) {
    const gflops = f.flops ? f.flops / (f.ms * 1e6) : undefined;
    emit({
      what: `${what} / ${family}`,
      batch,
      ms_per_image: f.ms / batch,
      share: +(f.ms / total).toFixed(3),
      dispatches: f.count,
      ...(gflops ? { gflops: +gflops.toFixed(1), of_peak: +(gflops / peak).toFixed(3) } : {}),
    });
  }
}

for (const cfg of values.cfg.split(",").filter(Boolean)) { // --cfg "": Inception only
  if (cfg !== "stylegan3-t" && cfg !== "stylegan3-r" && cfg !== "stylegan2") {
    throw new Error(`--cfg: unknown ${cfg}`);
  }
  const net = randomNetwork({ cfg, res, cbase, cmax });
  await calibrateMagnitudes(gpu, net);
  const gen = Generator.create(gpu, net, { fp16: values.fp16 });
  const what = `${cfg}-${res} cbase ${cbase} cmax ${cmax}`;
  for (const batch of batches) {
    const z = new RandomState(0).randn(batch * gen.zDim);
    await measure(what, batch, () => {
      const ws = gen.mapping(z, batch);
      const img = gen.synthesis(ws);
      const read = readBytes(gpu, img.buffer, 0, 4); // records the copy: the buffers can go back to the pool
      gpu.release(ws, img);
      return read;
    }, { stream: true });
  }
  if (values.eq && gen.hasInputTransform) {
    const batch = batches[batches.length - 1];
    const samples = new RandomSamples({
      seed: 0,
      metrics: EQ_METRICS,
      zDim: gen.zDim,
      cDim: 0,
      resolution: res,
    });
    await measure(`eq-metrics ${what}`, batch, async () => {
      await computeEquivariance(gpu, gen, () => samples.next(), batch, { metrics: EQ_METRICS, batch });
    }, { unit: "ms_per_sample" });
  }
  gen.destroy();
}

if (!values["no-inception"]) {
  // The weights do not change the timings; the fixture state dict has the real shapes.
  const sd = fixtureStateDict();
  const net = Inception.create(gpu, fromPytorchFid((k) => sd.get(k)));
  for (const batch of batches) {
    const bytes = Uint8Array.from({ length: batch * 299 * 299 * 3 }, (_, i) => (i * 31) % 256);
    await measure("inception-299", batch, () => {
      const x = preprocess(gpu, bytes, batch, 299, 299, 3, "stylegan3");
      const out = net.forward(x);
      gpu.release(x);
      return readBytes(gpu, out.pool3.buffer, 0, 4);
    }, { stream: true });
  }
  net.destroy();
}
gpu.destroy();
