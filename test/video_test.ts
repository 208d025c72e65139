/**
 * `sg3 video` end to end with the tiny fixture T network: a translate video at one pixel per frame must show
 * shifted copies of the first frame inside the valid region (the equivariance the input transform provides),
 * written as a valid MP4 by the encoder the CLI picks and re-encoded from its PNG frames by the other one.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { findFfmpeg, Mp4Writer } from "../formats/mp4.ts";
import { probeMp4 } from "../formats/mp4_probe.ts";
import { decodeApng } from "fast-png";
import { decodePng } from "../formats/png.ts";
import { readNpy } from "../formats/npy.ts";
import { parseBitrate, parseGrid, run } from "../cli/video.ts";
import { fixture, fixtureTest } from "./fixtures.ts";
import { GPU_TEST } from "./gpu.ts";
import { sg3Command } from "./cli.ts";
import { assertU8Close } from "./reference.ts";

Deno.test("argument parsing: grid and bitrate", () => {
  assert.deepEqual(parseGrid("4x2"), [4, 2]);
  assert.deepEqual(parseGrid("3,1"), [3, 1]);
  assert.throws(() => parseGrid("4x"), /expected WxH/);
  assert.throws(() => parseGrid("100x100"), /more than 256 cells/);
  assert.equal(parseBitrate("12M"), 12e6);
  assert.equal(parseBitrate("800k"), 8e5);
  assert.throws(() => parseBitrate("fast"), /expected e.g. 12M/);
});

/** PSNR with images scaled to [-1, 1] (peak-to-peak 2, as the equivariance metrics), over a column range. */
function psnr(
  a: Uint8Array,
  ax: number,
  b: Uint8Array,
  bx: number,
  stride: number,
  w: number,
  h: number,
  x0: number,
) {
  let se = 0, n = 0;
  for (let y = 0; y < h; y++) {
    for (let x = x0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        se += ((a[(y * stride + ax + x) * 3 + c] - b[(y * stride + bx + x) * 3 + c]) / 127.5) ** 2;
        n++;
      }
    }
  }
  return 20 * Math.log10(2) - 10 * Math.log10(se / n);
}

fixtureTest(
  "translate video of tiny-t: shifted copies inside the valid region, valid MP4 from both encoders",
  "sg3",
  async () => {
    const dir = Deno.makeTempDirSync();
    const res = 32, frames = 3;
    const code = await run([
      ...["--network", fixture("sg3", "tiny-t.pkl"), "--seeds", "5", "--motion", "translate", "--compare"],
      ...["--speed", "1", "--fps", String(res), "--duration-sec", String(frames / res)],
      ...["--frames-dir", join(dir, "frames"), "--output", join(dir, "v.mp4"), "--quiet"],
    ]);
    assert.equal(code, 0);
    const info = probeMp4(Deno.readFileSync(join(dir, "v.mp4")));
    assert.deepEqual(
      [info.codec, info.width, info.height, info.frames, info.fps, info.constantRate, info.samplesInFile],
      ["avc1", 2 * res, res, frames, res, true, true],
    );
    const png = (f: number) =>
      decodePng(Deno.readFileSync(join(dir, "frames", `frame${String(f).padStart(6, "0")}.png`)));
    const first = png(0);
    assert.deepEqual([first.width, first.height, first.channels], [2 * res, res, 3]);
    const eqt =
      JSON.parse(Deno.readTextFileSync(fixture("sg3", "tiny-t", "eq", "expected.json"))).psnr_db.eqt50k_int;
    for (let f = 1; f < frames; f++) {
      const img = png(f);
      // Left: the network with the input moved f pixels right; right: frame 0 moved by resampling.
      const shifted = psnr(img.data, 0, img.data, res, 2 * res, res, res, f);
      const still = psnr(img.data, 0, first.data, 0, 2 * res, res, res, f);
      console.log(
        `frame ${f}: PSNR vs shifted frame 0 ${shifted.toFixed(2)} dB, vs unshifted ${
          still.toFixed(2)
        } dB (EQ-T ${eqt.toFixed(2)} dB)`,
      );
      assert.ok(shifted > eqt - 10, `frame ${f}: ${shifted} dB is far below EQ-T ${eqt} dB`);
      assert.ok(shifted > still + 15, `frame ${f}: the image did not move with the input`);
    }
    // The other encoder, from the same frames.
    const other = findFfmpeg() ? "wasm" : null;
    if (other) {
      const mp4 = await Mp4Writer.open(join(dir, "w.mp4"), {
        width: 2 * res,
        height: res,
        fps: res,
        encoder: other,
      });
      for (let f = 0; f < frames; f++) await mp4.addFrame(png(f).data);
      await mp4.finish();
      const w = probeMp4(Deno.readFileSync(join(dir, "w.mp4")));
      assert.deepEqual([w.codec, w.width, w.height, w.frames, w.fps], ["avc1", 2 * res, res, frames, res]);
    }
    Deno.removeSync(dir, { recursive: true });
  },
  GPU_TEST,
);

fixtureTest(
  "interpolation grid 2x1 of tiny-t: keyframe frames equal gen_images.py's images in layout_grid order; APNG",
  "sg3",
  async () => {
    const dir = Deno.makeTempDirSync();
    const res = 32;
    const code = await run([
      ...[
        "--network",
        fixture("sg3", "tiny-t.pkl"),
        "--seeds",
        "0,1,42,1000",
        "--grid",
        "2x1",
        "--w-frames",
        "1",
      ],
      ...["--frames-dir", dir, "--output", join(dir, "loop.apng"), "--quiet"],
    ]);
    assert.equal(code, 0);
    const apng = decodeApng(Deno.readFileSync(join(dir, "loop.apng")));
    assert.equal(apng.numberOfFrames, 2);
    // Cell (0, x) loops through seeds [2x, 2x + 1]; t = frame / w_frames is an integer here, so the spline
    // returns keyframe `frame` exactly.
    const cells = [[0, 42], [1, 1000]];
    for (let f = 0; f < 2; f++) {
      const img = decodePng(Deno.readFileSync(join(dir, `frame00000${f}.png`)));
      assert.deepEqual([img.width, img.height], [2 * res, res]);
      assert.deepEqual(apng.frames[f].data, img.data, "the animated PNG holds the same frames");
      cells[f].forEach((seed, x) => {
        const want = readNpy(fixture("sg3", "tiny-t", `u8-seed${seed}-psi1.npy`)).data as Uint8Array;
        const cell = new Uint8Array(res * res * 3);
        for (let y = 0; y < res; y++) {
          const row = (y * 2 * res + x * res) * 3;
          cell.set(img.data.subarray(row, row + res * 3), y * res * 3);
        }
        assertU8Close(cell, want, `frame ${f} seed ${seed}`);
      });
    }
    Deno.removeSync(dir, { recursive: true });
  },
  GPU_TEST,
);

fixtureTest("Ctrl-C finishes a valid, shorter video and exits with 130", "sg3", async () => {
  const dir = Deno.makeTempDirSync();
  const out = join(dir, "v.mp4");
  const child = sg3Command(
    [
      ...[
        "video",
        "--network",
        fixture("sg3", "tiny-t.pkl"),
        "--seeds",
        "0,1",
        "--w-frames",
        "100",
        "--batch",
        "1",
      ],
      ...["--output", out],
    ],
    { stdout: "null" },
  ).spawn();
  let log = "";
  const decoder = new TextDecoder();
  const reader = child.stderr.getReader();
  // The "encoder:" line comes once the first frame has been rendered and the video opened.
  while (!log.includes("encoder:")) {
    const { value, done } = await reader.read();
    if (done) break;
    log += decoder.decode(value);
  }
  child.kill("SIGINT");
  for (let r = await reader.read(); !r.done; r = await reader.read()) log += decoder.decode(r.value);
  const status = await child.status;
  assert.equal(status.code, 130, log);
  assert.match(log, /interrupted: wrote the first \d+ of 200 frames/);
  assert.deepEqual(Deno.readDirSync(dir).map((e) => e.name).toArray(), ["v.mp4"], "no temporary file left");
  const info = probeMp4(Deno.readFileSync(out));
  assert.ok(info.frames >= 1 && info.frames < 200 && info.samplesInFile, `${info.frames} frames`);
  Deno.removeSync(dir, { recursive: true });
}, GPU_TEST);
