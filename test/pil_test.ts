/**
 * Image decoding against Pillow itself: files written and decoded by Pillow 9.4 (libjpeg-turbo 2.1.5,
 * libwebp; the pixels of `Image.open(f).convert('RGB')` are in test/data/pil/expected.json). JPEG
 * (subsampled, progressive, grey, 4:4:4), PNG (RGBA, LA, palette with transparency, 1-bit, 16-bit grey),
 * BMP, PGM/PPM, LZW TIFF and WebP decode to exactly PIL's pixels; CMYK JPEG within one level.
 */
import assert from "node:assert/strict";
import { readImageRgb } from "../formats/image_file.ts";
import { jpegFrame } from "../formats/jpeg.ts";

const DIR = new URL("./data/pil/", import.meta.url);

Deno.test("image files decode to Pillow's pixels (exactly; CMYK JPEG within one level)", () => {
  const { pixels } = JSON.parse(Deno.readTextFileSync(new URL("expected.json", DIR)));
  assert.ok(Object.keys(pixels).length >= 19);
  for (const [name, want] of Object.entries(pixels) as [string, number[]][]) {
    const bytes = Deno.readFileSync(new URL(name, DIR));
    const img = readImageRgb(bytes, name);
    assert.equal(img.data.length, want.length, name);
    let worst = 0;
    want.forEach((v, i) => worst = Math.max(worst, Math.abs(v - img.data[i])));
    assert.ok(worst <= (name === "cmyk.jpg" ? 1 : 0), `${name}: differs from Pillow by ${worst}`);
    if (name.endsWith(".jpg")) {
      assert.equal(jpegFrame(bytes)?.components, name === "grey.jpg" ? 1 : name === "cmyk.jpg" ? 4 : 3);
    }
  }
});
