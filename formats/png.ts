/**
 * PNG images: encoding with fast-png (8-bit RGB/RGBA/grey), decoding to 8-bit channels as PIL opens them, and the
 * conversion from generator output (NCHW float in [-1, 1]) to uint8 exactly as gen_images.py does:
 * (img * 127.5 + 128).clamp(0, 255).to(torch.uint8), i.e. truncation toward zero after clamping.
 */
import { decode, encode } from "fast-png";
import { UserError } from "../errors.ts";
import { writeFileAtomic } from "./atomic.ts";
import { checkPixels } from "./budget.ts";

/** An 8-bit image in HWC order. */
export interface Image8 {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Values per pixel, e.g. 3 for RGB, 1 for grey. */
  channels: number;
  /** height * width * channels bytes, row by row, channels interleaved. */
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

/**
 * Decodes PNG bytes to the 8-bit image PIL's `Image.open` gives, with PIL's rules for reducing other bit
 * depths: grey at 1, 2 or 4 bits is scaled to 0..255 (v * 255 / (2^bits - 1), PIL's "1", "L;2", "L;4");
 * palette images are expanded to the palette's RGB (transparency ignored, as convert('RGB') does);
 * 16-bit RGB, RGBA and grey+alpha keep the high byte of each sample (PIL's "RGB;16B", "RGBA;16B",
 * "LA;16B" raw modes); 16-bit grey opens in PIL as mode "I;16", which convert() clamps to 255
 * (Convert.c I16_RGB: values above 255 become 255), so it is clamped here too. Channels: 1 grey,
 * 2 grey+alpha, 3 RGB, 4 RGBA.
 */
export function decodePng(bytes: Uint8Array, name = "image"): Image8 {
  // IHDR first: width, height (big endian), bit depth, colour type; checked before anything is inflated.
  if (bytes.length >= 26) {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const channels = [1, 0, 3, 1, 2, 0, 4][bytes[25]] ?? 4;
    checkPixels(
      name,
      dv.getUint32(16),
      dv.getUint32(20),
      channels * Math.max(1, bytes[24] / 8),
      bytes.length,
    );
  }
  let png;
  try {
    png = decode(bytes);
  } catch (e) {
    throw new UserError(`${name}: not a valid PNG: ${(e as Error).message}`);
  }
  const { width, height, depth } = png;
  const n = width * height;
  if (png.palette) {
    const pal = png.palette, idx = unpackSamples(png.data as Uint8Array, width, height, depth);
    const data = new Uint8Array(n * 3);
    for (let i = 0; i < n; i++) {
      const c = pal[idx[i]];
      if (!c) throw new UserError(`${name}: PNG palette index ${idx[i]} beyond the ${pal.length} colours`);
      data[i * 3] = c[0], data[i * 3 + 1] = c[1], data[i * 3 + 2] = c[2];
    }
    return { width, height, channels: 3, data };
  }
  const channels = png.channels;
  if (depth === 16) {
    const grey = channels === 1;
    const data = Uint8Array.from(png.data as Uint16Array, (v) => grey ? Math.min(v, 255) : v >> 8);
    return { width, height, channels, data };
  }
  if (depth === 8) return { width, height, channels, data: png.data as Uint8Array };
  const scale = 255 / (2 ** depth - 1);
  const data = unpackSamples(png.data as Uint8Array, width, height, depth).map((v) => v * scale);
  return { width, height, channels, data };
}

/** Unpacks 1-channel samples of 1, 2, 4 or 8 bits (rows padded to whole bytes) to one byte each. */
function unpackSamples(packed: Uint8Array, width: number, height: number, depth: number): Uint8Array {
  if (depth === 8) return packed;
  const out = new Uint8Array(width * height), rowBytes = Math.ceil((width * depth) / 8);
  const mask = (1 << depth) - 1, perByte = 8 / depth;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const byte = packed[y * rowBytes + Math.floor(x / perByte)];
      out[y * width + x] = (byte >> (8 - depth * (x % perByte + 1))) & mask;
    }
  }
  return out;
}
