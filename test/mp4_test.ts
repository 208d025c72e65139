/**
 * MP4 output: synthetic frames through both encoders (ffmpeg only when one is on PATH), checked by the box
 * parser (and by ffprobe / an ffmpeg decode when present): codec, size, frame count, constant frame rate,
 * and that early finishing gives a valid shorter file while discarding leaves nothing behind.
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { findFfmpeg, Mp4Writer, rgbToI420 } from "../formats/mp4.ts";
import { probeMp4 } from "../formats/mp4_probe.ts";
import { UserError } from "../errors.ts";

const FFMPEG = findFfmpeg();
const FFPROBE = FFMPEG ? join(dirname(FFMPEG), "ffprobe") : null;
const hasFfprobe = FFPROBE !== null && (() => {
  try {
    return Deno.statSync(FFPROBE).isFile;
  } catch {
    return false;
  }
})();
const ENCODERS: ("wasm" | "ffmpeg")[] = FFMPEG ? ["wasm", "ffmpeg"] : ["wasm"];

/** A smooth moving colour pattern, easy to compress and to compare after decoding. */
function frame(f: number, w: number, h: number): Uint8Array {
  const rgb = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = (y * w + x) * 3;
      rgb[p] = 128 + 100 * Math.sin((x + 2 * f) / 7);
      rgb[p + 1] = 128 + 100 * Math.cos((y - f) / 5);
      rgb[p + 2] = 128 + 100 * Math.sin((x + y + f) / 9);
    }
  }
  return rgb;
}

async function writeVideo(path: string, encoder: "wasm" | "ffmpeg", n: number, w = 48, h = 32, fps = 24) {
  const mp4 = await Mp4Writer.open(path, { width: w, height: h, fps, crf: 12, encoder });
  assert.equal(mp4.encoder, encoder);
  for (let f = 0; f < n; f++) await mp4.addFrame(frame(f, w, h));
  return mp4;
}

async function run(cmd: string, args: string[]): Promise<Uint8Array> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) throw new Error(`${cmd} failed: ${new TextDecoder().decode(out.stderr)}`);
  return out.stdout;
}

function psnr(a: Uint8Array, b: Uint8Array): number {
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i] - b[i]) ** 2;
  return 10 * Math.log10(255 ** 2 / (se / a.length));
}

for (const encoder of ENCODERS) {
  Deno.test(`${encoder} encoder: H.264 MP4 with the frame count, size and constant rate asked for`, async () => {
    const dir = Deno.makeTempDirSync();
    const path = join(dir, "sub", "v.mp4");
    const mp4 = await writeVideo(path, encoder, 7);
    assert.equal(await mp4.finish(), true);
    assert.deepEqual(Deno.readDirSync(dirname(path)).map((e) => e.name).toArray(), ["v.mp4"], "no temp left");
    const info = probeMp4(Deno.readFileSync(path));
    assert.deepEqual(
      { ...info, durationSec: Math.round(info.durationSec * 1e6) / 1e6 },
      {
        codec: "avc1",
        width: 48,
        height: 32,
        frames: 7,
        fps: 24,
        constantRate: true,
        durationSec: 0.291667,
        samplesInFile: true,
      },
    );
    if (hasFfprobe) {
      const json = JSON.parse(new TextDecoder().decode(
        await run(FFPROBE!, [
          ...["-v", "error", "-select_streams", "v:0", "-count_frames", "-of", "json"],
          ...["-show_entries", "stream=codec_name,width,height,r_frame_rate,nb_read_frames,pix_fmt", path],
        ]),
      )).streams[0];
      assert.deepEqual(json, {
        codec_name: "h264",
        width: 48,
        height: 32,
        pix_fmt: "yuv420p",
        r_frame_rate: "24/1",
        nb_read_frames: "7",
      });
    }
    if (FFMPEG) {
      const decoded = await run(FFMPEG, [
        ...["-v", "error", "-i", path, "-sws_flags", "bicubic+accurate_rnd+full_chroma_int"],
        ...["-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"],
      ]);
      assert.equal(decoded.length, 7 * 48 * 32 * 3);
      for (let f = 0; f < 7; f++) {
        const db = psnr(decoded.subarray(f * 48 * 32 * 3, (f + 1) * 48 * 32 * 3), frame(f, 48, 32));
        assert.ok(db > 36, `${encoder} frame ${f}: PSNR ${db.toFixed(1)} dB after decoding`);
      }
    }
    Deno.removeSync(dir, { recursive: true });
  });

  Deno.test(`${encoder} encoder: finishing early gives a valid shorter video; discarding leaves nothing`, async () => {
    const dir = Deno.makeTempDirSync();
    // 32 fps has no integer frame duration in minimp4's 90 kHz timescale: the file is retimed.
    const short = await writeVideo(join(dir, "short.mp4"), encoder, 3, 64, 16, 32);
    await short.finish();
    const info = probeMp4(Deno.readFileSync(join(dir, "short.mp4")));
    assert.deepEqual([info.frames, info.width, info.height, info.fps, info.samplesInFile], [
      3,
      64,
      16,
      32,
      true,
    ]);
    const gone = await writeVideo(join(dir, "gone.mp4"), encoder, 2);
    await gone.discard();
    const empty = await writeVideo(join(dir, "empty.mp4"), encoder, 0);
    assert.equal(await empty.finish(), false);
    assert.deepEqual(Deno.readDirSync(dir).map((e) => e.name).toArray(), ["short.mp4"]);
    Deno.removeSync(dir, { recursive: true });
  });
}

Deno.test("odd sizes and a failing ffmpeg are user errors", async () => {
  const dir = Deno.makeTempDirSync();
  await assert.rejects(Mp4Writer.open(join(dir, "a.mp4"), { width: 33, height: 32, fps: 30 }), UserError);
  const old = Deno.env.get("SG3_FFMPEG");
  Deno.env.set("SG3_FFMPEG", "/bin/false");
  try {
    const mp4 = await Mp4Writer.open(join(dir, "b.mp4"), {
      width: 32,
      height: 32,
      fps: 30,
      encoder: "ffmpeg",
    });
    await assert.rejects(async () => {
      for (let f = 0; f < 50; f++) await mp4.addFrame(frame(f, 32, 32));
      await mp4.finish();
    }, /ffmpeg failed/);
  } finally {
    if (old === undefined) Deno.env.delete("SG3_FFMPEG");
    else Deno.env.set("SG3_FFMPEG", old);
  }
  assert.deepEqual(Deno.readDirSync(dir).toArray(), []);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("the box parser rejects files that are not MP4", () => {
  assert.throws(() => probeMp4(new TextEncoder().encode("not a video at all")), UserError);
});

Deno.test("RGB to I420 uses BT.601 limited range with 2x2 chroma means", () => {
  const rgb = Uint8Array.of(0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 0, 255);
  const yuv = rgbToI420(rgb, 2, 2);
  assert.deepEqual(Array.from(yuv.subarray(0, 4)), [16, 235, 81, 41]);
  // Means of the four: R = G-free mixes; U = 128 + (-37.797*510 - 74.203*255 + 112*510) / 1020, V likewise.
  assert.deepEqual(Array.from(yuv.subarray(4)), [
    Math.round(128 + (-37.797 * 510 - 74.203 * 255 + 112 * 510) / 1020),
    Math.round(128 + (112 * 510 - 93.786 * 255 - 18.214 * 510) / 1020),
  ]);
  const grey = rgbToI420(new Uint8Array(4 * 2 * 3).fill(128), 4, 2);
  assert.deepEqual(Array.from(grey), [126, 126, 126, 126, 126, 126, 126, 126, 128, 128, 128, 128]);
});
