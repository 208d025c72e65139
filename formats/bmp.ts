/**
 * Windows bitmaps decoded as Pillow's BmpImagePlugin opens them, for what convert('RGB') keeps:
 * uncompressed (BI_RGB) 1, 4 and 8 bits per pixel through the colour table, 24 bits (BGR) and 32 bits
 * (BGRX, the fourth byte dropped); BI_BITFIELDS 32-bit with the masks 0xff0000, 0xff00, 0xff (any alpha
 * mask, dropped). Rows are bottom-up unless the height is negative. RLE compression and 16-bit pixels
 * are refused with one line.
 */
import { UserError } from "../errors.ts";
import type { Image8 } from "./png.ts";

/** Decodes BMP bytes to 8-bit RGB. */
export function decodeBmp(bytes: Uint8Array, name: string): Image8 {
  const fail = (why: string): never => {
    throw new UserError(`${name}: ${why}`);
  };
  if (bytes.length < 26 || bytes[0] !== 0x42 || bytes[1] !== 0x4d) fail("not a valid BMP file");
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dataOffset = dv.getUint32(10, true), headerSize = dv.getUint32(14, true);
  if (headerSize < 40 || 14 + headerSize > bytes.length) {
    fail("BMP header too short (OS/2 bitmaps are not read)");
  }
  const width = dv.getInt32(18, true), rawHeight = dv.getInt32(22, true);
  const bits = dv.getUint16(28, true), compression = dv.getUint32(30, true);
  const height = Math.abs(rawHeight), topDown = rawHeight < 0;
  if (width < 1 || height < 1) fail(`BMP size ${width}x${rawHeight}`);
  if (compression === 3 && bits === 32) {
    // The masks follow the 40-byte header (or lie inside a V4/V5 header at the same place).
    const masks = [0, 1, 2].map((i) => dv.getUint32(54 + 4 * i, true));
    if (masks[0] !== 0xff0000 || masks[1] !== 0xff00 || masks[2] !== 0xff) {
      fail(`BMP colour masks ${masks.map((m) => m.toString(16)).join(",")} are not supported`);
    }
  } else if (compression !== 0) {
    fail(`BMP compression ${compression} (RLE or other) is not supported`);
  }
  if (![1, 4, 8, 24, 32].includes(bits)) fail(`${bits}-bit BMP is not supported`);
  let palette: Uint8Array | null = null;
  if (bits <= 8) {
    const colours = dv.getUint32(46, true) || 2 ** bits;
    const start = 14 + headerSize;
    if (colours > 2 ** bits || start + 4 * colours > bytes.length) fail("corrupt BMP colour table");
    palette = bytes.slice(start, start + 4 * colours);
  }
  const rowBytes = Math.ceil((width * bits) / 32) * 4;
  if (dataOffset + rowBytes * height > bytes.length) fail("truncated BMP pixel data");
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (topDown ? y : height - 1 - y) * rowBytes;
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      let b: number, g: number, r: number;
      if (palette) {
        const perByte = 8 / bits;
        const byte = bytes[row + Math.floor(x / perByte)];
        const index = (byte >> (8 - bits * (x % perByte + 1))) & ((1 << bits) - 1);
        if (4 * index >= palette.length) fail(`BMP colour index ${index} beyond the colour table`);
        [b, g, r] = [palette[4 * index], palette[4 * index + 1], palette[4 * index + 2]];
      } else {
        const p = row + x * (bits / 8);
        [b, g, r] = [bytes[p], bytes[p + 1], bytes[p + 2]];
      }
      data[o] = r, data[o + 1] = g, data[o + 2] = b;
    }
  }
  return { width, height, channels: 3, data };
}
