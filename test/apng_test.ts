/** Animated PNG output, read back with fast-png's APNG decoder. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { decodeApng } from "fast-png";
import { ApngWriter, crc32 } from "../formats/apng.ts";

function frame(f: number, w: number, h: number): Uint8Array {
  return Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 7 + f * 40) & 255);
}

Deno.test("CRC-32 check value", () => {
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
});

Deno.test("APNG: frames, delays and loop count read back; early finish and discard", async () => {
  const dir = Deno.makeTempDirSync();
  const [w, h] = [5, 3];
  const apng = ApngWriter.open(join(dir, "a.png"), { width: w, height: h, fps: 25 });
  for (let f = 0; f < 3; f++) await apng.addFrame(frame(f, w, h));
  assert.equal(await apng.finish(), true);
  const dec = decodeApng(Deno.readFileSync(join(dir, "a.png")));
  assert.deepEqual([dec.width, dec.height, dec.channels, dec.numberOfFrames, dec.numberOfPlays], [
    w,
    h,
    3,
    3,
    0,
  ]);
  dec.frames.forEach((fr, f) => {
    assert.deepEqual(Array.from(fr.data), Array.from(frame(f, w, h)), `frame ${f}`);
    assert.equal(fr.delayNumber / fr.delayDenominator, 1 / 25);
  });
  const gone = ApngWriter.open(join(dir, "b.png"), { width: w, height: h, fps: 25 });
  await gone.addFrame(frame(0, w, h));
  await gone.discard();
  assert.equal(await ApngWriter.open(join(dir, "c.png"), { width: w, height: h, fps: 25 }).finish(), false);
  assert.deepEqual(Deno.readDirSync(dir).map((e) => e.name).toArray(), ["a.png"]);
  Deno.removeSync(dir, { recursive: true });
});
