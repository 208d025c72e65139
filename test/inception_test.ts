/**
 * The Inception network against the reference implementations' features, with the fixture's PRNG
 * weights: all 8 fixture images (299 px, and 64 and 256 px where the presets resize) under every preset,
 * and the NVIDIA-layout network with and without its output bias (the Inception Score's logits).
 */
import { GPU_TEST, testGpu } from "./gpu.ts";
import { assertClose, compare } from "./reference.ts";
import { fixture, fixtureTest } from "./fixtures.ts";
import { Inception, preprocess, type Preset } from "../models/inception.ts";
import { fixtureStateDict, fromNvidia, fromPytorchFid, nvidiaKey } from "../models/inception_weights.ts";
import { readTensor } from "../gpu/readback.ts";
import { readNpy, toFloat64 } from "../formats/npy.ts";
import type { Gpu } from "../gpu/device.ts";

const TOL = { abs: 1e-4 };

let net: Inception | null = null;
function network(gpu: Gpu): Inception {
  const sd = fixtureStateDict();
  net ??= Inception.create(gpu, fromPytorchFid((k) => sd.get(k)));
  return net;
}

/** Fixture image `index` (0-3: 299, 4-5: 64, 6-7: 256) as HWC bytes and size. */
function image(index: number): { bytes: Uint8Array; size: number } {
  const [file, first, size] = index < 4
    ? ["images_299", 0, 299]
    : index < 6
    ? ["images_64", 4, 64]
    : ["images_256", 6, 256];
  const data = readNpy(fixture(`inception/images/${file}.npy`)).data as Uint8Array;
  const n = size * size * 3;
  return { bytes: data.slice((index - first) * n, (index - first + 1) * n), size };
}

function row(path: string, i: number): Float64Array {
  const a = readNpy(fixture(path));
  const d = a.shape[a.shape.length - 1];
  return toFloat64(a).subarray(i * d, (i + 1) * d);
}

fixtureTest("pytorch-fid: block maps, pool3 and logits of a 299x299 image", "inception", async () => {
  const gpu = await testGpu();
  const { bytes } = image(0);
  const out = network(gpu).forward(preprocess(gpu, bytes, 1, 299, 299, 3, "pytorch-fid"), {
    logits: true,
    keep: [1, 3, 11],
  });
  for (const [bi, name] of [[1, "block0_64"], [3, "block1_192"], [11, "block2_768"]] as const) {
    const got = await readTensor(gpu, out.blocks.get(bi)!);
    assertClose(
      got,
      toFloat64(readNpy(fixture(`inception/debug/pytorchfid_${name}_map_img0.npy`))),
      TOL,
      name,
    );
  }
  const pool3 = await readTensor(gpu, out.pool3);
  const logits = await readTensor(gpu, out.logits!);
  assertClose(pool3, row("inception/features/pytorchfid_pool3_299.npy", 0), TOL, "pool3");
  assertClose(logits, row("inception/features/pytorchfid_logits_299.npy", 0), TOL, "logits");
  console.log(
    `max abs error: pool3 ${compare(pool3, row("inception/features/pytorchfid_pool3_299.npy", 0)).maxAbs}`,
  );
}, GPU_TEST);

const PIPELINES: Record<Preset, string[]> = {
  "stylegan3": ["pipeline_nvidia_preproc", "pipeline_tf1_legacy_preproc"],
  "pytorch-fid": ["pipeline_pytorchfid"],
  "clean-fid": ["pipeline_cleanfid_clean_preproc"],
};

/** (image index, preset) pairs: every image under every preset. */
const CASES: [number, Preset][] = [0, 1, 2, 3, 4, 5, 6, 7].flatMap((i) =>
  (Object.keys(PIPELINES) as Preset[]).map((p) => [i, p] as [number, Preset])
);

fixtureTest(
  `preset pipelines match the references' pool3 features (${CASES.length} cases)`,
  "inception",
  async () => {
    const gpu = await testGpu();
    for (const [i, preset] of CASES) {
      const { bytes, size } = image(i);
      const out = network(gpu).forward(preprocess(gpu, bytes, 1, size, size, 3, preset), { logits: true });
      const pool3 = await readTensor(gpu, out.pool3);
      for (const name of PIPELINES[preset]) {
        const expected = row(`inception/features/${name}_pool3_all8.npy`, i);
        assertClose(pool3, expected, TOL, `${name} image ${i}`);
        console.log(`${name} image ${i}: max abs error ${compare(pool3, expected).maxAbs.toExponential(2)}`);
      }
      if (preset === "pytorch-fid") {
        // pytorch-fid's own files per input size: features and logits (with bias).
        const [tag, first] = i < 4 ? ["299", 0] : i < 6 ? ["64", 4] : ["256", 6];
        const logits = await readTensor(gpu, out.logits!);
        const expected = row(`inception/features/pytorchfid_logits_${tag}.npy`, i - first);
        assertClose(logits, expected, TOL, `pytorch-fid logits image ${i}`);
        assertClose(pool3, row(`inception/features/pytorchfid_pool3_${tag}.npy`, i - first), TOL);
        console.log(
          `pytorch-fid logits image ${i}: max abs error ${compare(logits, expected).maxAbs.toExponential(2)}`,
        );
      }
    }
  },
  GPU_TEST,
);

fixtureTest(
  "NVIDIA layout (gamma 1): pool3, logits and logits without bias of all images",
  "inception",
  async () => {
    const gpu = await testGpu();
    const nv = new Map<string, Float32Array>();
    for (const [k, v] of fixtureStateDict({ gammaOne: true })) {
      const name = nvidiaKey(k);
      if (name) nv.set(name, v);
    }
    const net = Inception.create(gpu, fromNvidia((k) => nv.get(k)));
    for (let i = 0; i < 8; i++) {
      const { bytes, size } = image(i);
      const x = preprocess(gpu, bytes, 1, size, size, 3, "stylegan3");
      // With the output bias for every image; without it (the Inception Score's logits) for the first.
      for (const bias of i === 0 ? [true, false] : [true]) {
        const out = net.forward(x, { logits: true, outputBias: bias });
        const tag = bias ? "logits" : "logits_nobias";
        const logits = await readTensor(gpu, out.logits!);
        assertClose(logits, row(`inception/features/gamma1_nvidia_preproc_${tag}_all8.npy`, i), TOL, tag);
        const pool3 = await readTensor(gpu, out.pool3);
        const expected = row("inception/features/gamma1_nvidia_preproc_pool3_all8.npy", i);
        assertClose(pool3, expected, TOL);
        console.log(
          `NVIDIA layout image ${i} ${tag}: pool3 max abs error ${
            compare(pool3, expected).maxAbs.toExponential(2)
          }`,
        );
      }
    }
    net.destroy();
  },
  GPU_TEST,
);
