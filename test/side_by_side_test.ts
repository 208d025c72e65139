/** The side-by-side driver's parsing and table (bench/side_by_side.ts); it times nothing here. */
import assert from "node:assert/strict";
import { LINES, msPerImage, table } from "../bench/side_by_side.ts";

Deno.test("side by side: the whole-network timing is picked from either side's JSON lines", () => {
  const sg3 = [
    `{"what":"fma-peak","gflops":79.8,"batch":1,"ms_per_image":0}`,
    `{"what":"inception-299","batch":4,"ms_per_image":402.44,"min_ms_per_image":378.94,"stream_ms_per_image":371.5}`,
    `{"what":"inception-299 / conv_gemm","batch":4,"ms_per_image":318.86}`,
  ].join("\n");
  assert.equal(msPerImage(sg3), 402.44);
  assert.equal(msPerImage(sg3, "stream_ms_per_image"), 371.5);
  const official =
    `No CUDA runtime is found\n{"what": "torchvision inception-v3", "batch": 4, "ms_per_img": 128.9}`;
  assert.equal(msPerImage(official), 128.9);
  assert.throws(() => msPerImage(`{"what":"fma-peak","ms_per_image":0}`), /no whole-network timing/);
});

Deno.test("side by side: the table has a column per round and the median ratio, for either sg3 timing", () => {
  const lines = [LINES.i1, LINES.t4];
  const pair = (sg3: number, stream: number, official: number, at: string) => ({ sg3, stream, official, at });
  const pairs = [
    [pair(400, 360, 100, "18:00"), pair(300, 270, 150, "18:03"), pair(330, 300, 100, "18:06")],
    [pair(50, 40, 200, "18:01"), pair(60, 50, 200, "18:04"), pair(70, 60, 200, "18:07")],
  ];
  const rows = table(lines, pairs).split("\n");
  assert.equal(rows.length, 4);
  assert.match(rows[0], /\| network +\| batch \| round 1 +\| round 2 +\| round 3 +\| median \|/);
  assert.match(
    rows[2],
    /Inception.*\| 1 +\| 400 \/ 100 = 4\.00x \(18:00\) \| 300 \/ 150 = 2\.00x \(18:03\) .*\| 3\.30x +\|/,
  );
  assert.match(rows[3], /stylegan3-t-128.*\| 4 +\|.*\| 0\.30x +\|/);
  const streamed = table(lines, pairs, "stream").split("\n");
  assert.match(
    streamed[2],
    /\| 360 \/ 100 = 3\.60x \(18:00\) \| 270 \/ 150 = 1\.80x \(18:03\) .*\| 3\.00x +\|/,
  );
  assert.match(streamed[3], /\| 0\.25x +\|/);
  assert.deepEqual(LINES.r4.official, ["generator", "stylegan3-r", "128", "4096", "128"]);
});
