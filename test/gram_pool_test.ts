import assert from "node:assert/strict";
import { FeatureStats } from "../metrics/feature_stats.ts";
import { GramPool, triangleBands } from "../metrics/gram_pool.ts";
import { ROW_BLOCK } from "../metrics/linalg.ts";
import { join } from "node:path";
import { datasetFeatures } from "../metrics/inception_features.ts";
import { Dataset } from "../formats/dataset.ts";
import { encodePng } from "../formats/png.ts";
import { Inception } from "../models/inception.ts";
import { fixtureStateDict, fromPytorchFid } from "../models/inception_weights.ts";
import { randomF32 } from "./reference.ts";
import { GPU_TEST, testGpu } from "./gpu.ts";

Deno.test("triangleBands: row bands from 0 to d, starting on row blocks, of about equal area", () => {
  for (const [d, parts] of [[2048, 7], [200, 3], [31, 4], [64, 1], [2048, 8]]) {
    const bands = triangleBands(d, parts);
    assert.ok(bands.length >= 1 && bands.length <= parts, `${d} ${parts}: ${bands.length} bands`);
    assert.equal(bands[0][0], 0);
    assert.equal(bands.at(-1)![1], d);
    for (let i = 0; i < bands.length; i++) {
      assert.equal(bands[i][0] % ROW_BLOCK, 0);
      if (i > 0) assert.equal(bands[i][0], bands[i - 1][1]);
    }
    if (d === 2048) {
      const area = bands.map(([a0, a1]) => (a1 - a0) * (2 * d - a0 - a1 + 1) / 2);
      const total = (d * (d + 1)) / 2;
      for (const a of area) assert.ok(Math.abs(a - total / parts) < 0.05 * total, `${parts}: band area ${a}`);
    }
  }
});

Deno.test("FeatureStats.addOn: the workers' sums equal the main thread's bit for bit", async () => {
  for (const [d, workers, batches] of [[200, 3, [37, 1, 64]], [2048, 2, [9, 22]], [33, 4, [5]]] as const) {
    const serial = new FeatureStats(d, true), parallel = new FeatureStats(d, true);
    const pool = new GramPool(workers);
    try {
      let seed = d;
      for (const n of batches) {
        const x = randomF32(n * d, seed++);
        serial.add(x, n);
        await parallel.addOn(pool, x, n);
      }
    } finally {
      pool.close();
    }
    const a = serial.sums(), b = parallel.sums();
    assert.equal(b.count, a.count);
    assert.deepEqual(b.shift, a.shift);
    assert.deepEqual(b.sum, a.sum);
    // The upper triangle (below it the entries are unspecified).
    for (let i = 0; i < d; i++) {
      for (let j = i; j < d; j++) {
        if (a.gram[i * d + j] !== b.gram[i * d + j]) assert.fail(`d ${d}: gram[${i}, ${j}] differs`);
      }
    }
    assert.deepEqual(parallel.all(), serial.all());
    assert.deepEqual(parallel.stats("biased").sigma, serial.stats("biased").sigma);
  }
});

Deno.test({
  name: "datasetFeatures: worker threads (decoding, statistics) give the same statistics",
  ...GPU_TEST,
}, async () => {
  const dir = Deno.makeTempDirSync();
  // A folder of PNGs of three sizes (each resized alone), so that the workers decode real files.
  const sizes = [[21, 19], [21, 19], [8, 13], [21, 19], [30, 7]];
  sizes.forEach(([h, w], k) => {
    const data = Uint8Array.from({ length: h * w * 3 }, (_, i) => (i * 37 + k * 11 + (i >> 7)) % 256);
    Deno.writeFileSync(join(dir, `${k}.png`), encodePng({ width: w, height: h, channels: 3, data }));
  });
  const gpu = await testGpu();
  const sd = fixtureStateDict();
  const inception = Inception.create(gpu, fromPytorchFid((k) => sd.get(k)));
  const data = Dataset.open(dir, { mirror: true });
  try {
    const pass = (threads: number) =>
      datasetFeatures(inception, data, { preset: "stylegan3", batch: 3, threads });
    const [main, pooled] = [await pass(0), await pass(2)];
    assert.equal(pooled.stats.count, 2 * sizes.length);
    assert.deepEqual(pooled.stats.stats("biased"), main.stats.stats("biased"));
  } finally {
    data.close();
    inception.destroy();
    Deno.removeSync(dir, { recursive: true });
  }
});
