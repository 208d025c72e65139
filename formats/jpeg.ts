/**
 * JPEG images decoded as Pillow decodes them, through libjpeg(-turbo): mozjpeg's decoder (libjpeg-turbo's
 * decompression: the accurate integer IDCT, "fancy" triangular chroma upsampling, the fixed-point YCbCr
 * conversion) compiled to WebAssembly (the `@jsquash/jpeg` package), so grey, colour, subsampled and
 * progressive JPEGs give PIL's pixels exactly. 4-component (CMYK / YCCK, Adobe) JPEGs, which that decoder
 * cannot convert, go through jpeg-js and PIL's CMYK-to-RGB rule (within a level of Pillow's). The frame
 * header is read first: its size is checked against the pixel budget before anything is decoded.
 */
import jpegDecoder from "@jsquash/jpeg/codec/dec/mozjpeg_dec.js";
import { decode as decodeJpegJs } from "jpeg-js";
import { UserError } from "../errors.ts";
import { allowance, checkPixels, PIXELS } from "./budget.ts";
import type { Image8 } from "./png.ts";

const codec = await jpegDecoder({ noInitialRun: true });

/** Width, height and component count from a JPEG's first SOFn header; null when there is none. */
export function jpegFrame(bytes: Uint8Array): { width: number; height: number; components: number } | null {
  let i = 2;
  while (i + 9 < bytes.length) {
    if (bytes[i] !== 0xff) return null;
    const marker = bytes[i + 1];
    if (marker === 0xff) {
      i++;
      continue;
    }
    const length = (bytes[i + 2] << 8) | bytes[i + 3];
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return {
        height: (bytes[i + 5] << 8) | bytes[i + 6],
        width: (bytes[i + 7] << 8) | bytes[i + 8],
        components: bytes[i + 9],
      };
    }
    if (marker === 0xda || marker === 0xd9) return null;
    i += 2 + length;
  }
  return null;
}

/** Decodes JPEG bytes to 8-bit RGB (or grey for 1-component files), as PIL's convert('RGB') sees them. */
export function decodeJpeg(bytes: Uint8Array, name: string): Image8 {
  const frame = jpegFrame(bytes);
  if (!frame || !frame.width || !frame.height) {
    throw new UserError(`${name}: not a valid JPEG (no frame header)`);
  }
  checkPixels(name, frame.width, frame.height, 4, bytes.length);
  if (frame.components === 4) return decodeCmyk(bytes, name);
  if (frame.components !== 1 && frame.components !== 3) {
    throw new UserError(`${name}: a JPEG with ${frame.components} components is not read`);
  }
  let img: { width: number; height: number; data: Uint8ClampedArray } | null;
  try {
    img = codec.decode(bytes, true);
  } catch {
    img = null;
  }
  if (!img || img.width !== frame.width || img.height !== frame.height) {
    throw new UserError(`${name}: not a valid JPEG`);
  }
  const n = img.width * img.height, rgb = new Uint8Array(n * 3);
  for (let p = 0; p < n; p++) {
    rgb[p * 3] = img.data[p * 4];
    rgb[p * 3 + 1] = img.data[p * 4 + 1];
    rgb[p * 3 + 2] = img.data[p * 4 + 2];
  }
  return { width: img.width, height: img.height, channels: 3, data: rgb };
}

/** A CMYK/YCCK JPEG through jpeg-js (which applies the Adobe inversion), to RGB. */
function decodeCmyk(bytes: Uint8Array, name: string): Image8 {
  try {
    const budget = allowance(PIXELS, bytes.length);
    const j = decodeJpegJs(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      maxResolutionInMP: budget / 3 / 1e6,
      maxMemoryUsageInMB: Math.ceil(budget / 2 ** 20) + 64,
    });
    return { width: j.width, height: j.height, channels: 3, data: j.data as Uint8Array };
  } catch (e) {
    throw new UserError(`${name}: not a valid JPEG: ${(e as Error).message ?? e}`);
  }
}
