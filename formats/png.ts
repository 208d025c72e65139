/**
 * PNG images: encoding with fast-png (8-bit RGB/RGBA/grey), decoding to 8-bit channels, and the
 * conversion from generator output (NCHW float in [-1, 1]) to uint8 exactly as gen_images.py does:
 * (img * 127.5 + 128).clamp(0, 255).to(torch.uint8), i.e. truncation toward zero after clamping.
 */
import { decode, encode } from "fast-png";
import { UserError } from "../errors.ts";
import { writeFileAtomic } from "./atomic.ts";

/** An 8-bit image in HWC order. */
export interface Image8 {
  width: number;
  height: number;
  channels: number;
  data: Uint8Array;
}

/** gen_images.py's float-to-uint8 conversion of one NCHW image (sample `index`) to HWC bytes. */
export function toImage8(nchw: Float32Array, shape: readonly number[], index = 0): Image8 {
  const [, c, h, w] = shape;
  const data = new Uint8Array(h * w * c);
  const base = index * c * h * w;
  for (let ch = 0; ch < c; ch++) {
    for (let p = 0; p < h * w; p++) {
      const v = Math.fround(Math.fround(nchw[base + ch * h * w + p] * 127.5) + 128);
      data[p * c + ch] = v <= 0 ? 0 : v >= 255 ? 255 : Math.trunc(v);
    }
  }
  return { width: w, height: h, channels: c, data };
}

/** Encodes an image as PNG bytes. */
export function encodePng(img: Image8): Uint8Array {
  return encode({ width: img.width, height: img.height, data: img.data, channels: img.channels, depth: 8 });
}

/** Writes an image as a PNG file (atomically). */
export function writePng(path: string, img: Image8): void {
  writeFileAtomic(path, encodePng(img));
}

/** Decodes PNG bytes to 8-bit channels (16-bit images are reduced to their high bytes, palettes expanded). */
export function decodePng(bytes: Uint8Array, name = "image"): Image8 {
  let png;
  try {
    png = decode(bytes);
  } catch (e) {
    throw new UserError(`${name}: not a valid PNG: ${(e as Error).message}`);
  }
  let data: Uint8Array;
  let channels = png.channels;
  if (png.palette) {
    const pal = png.palette;
    channels = pal[0].length;
    data = new Uint8Array(png.width * png.height * channels);
    for (let i = 0; i < png.width * png.height; i++) data.set(pal[png.data[i]], i * channels);
  } else if (png.depth === 16) {
    data = Uint8Array.from(png.data as Uint16Array, (v) => v >> 8);
  } else if (png.depth === 8) {
    data = png.data as Uint8Array;
  } else {
    throw new UserError(`${name}: PNG bit depth ${png.depth} is not supported`);
  }
  return { width: png.width, height: png.height, channels, data };
}
