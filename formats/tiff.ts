/**
 * TIFF images (the first page) decoded with the `tiff` package and reduced to 8 bits as Pillow's
 * TiffImagePlugin and convert('RGB') do: grey (BlackIsZero) 8-bit as is and 16-bit clamped to 255 (mode
 * "I;16", Convert.c I16_RGB); WhiteIsZero 8-bit inverted (raw mode "L;I"); RGB and RGBA 8-bit as is and
 * 16-bit to the high byte ("RGB;16L"); palette images through the colour map's high bytes (Pillow's
 * `b // 256`). Extra samples (alpha) are kept as channels and dropped by the RGB conversion. Other
 * photometric interpretations, bit depths, planar layouts and associated (premultiplied) alpha are refused
 * with one line.
 */
import { decode } from "tiff";
import { UserError } from "../errors.ts";
import { printable } from "./printable.ts";
import type { Image8 } from "./png.ts";

/** Decodes the first page of a TIFF file to 8-bit grey, grey+alpha, RGB or RGBA. */
export function decodeTiff(bytes: Uint8Array, name: string): Image8 {
  let ifd;
  try {
    ifd = decode(bytes, { pages: [0] })[0];
  } catch (e) {
    throw new UserError(printable(`${name}: not a readable TIFF: ${(e as Error).message}`));
  }
  const { width, height, samplesPerPixel: channels, bitsPerSample: bits } = ifd;
  const photometric = ifd.type;
  const refuse = (): never => {
    throw new UserError(
      `${name}: TIFF with photometric ${photometric}, ${channels} samples of ${bits} bits is not supported`,
    );
  };
  if (ifd.planarConfiguration === 2 || ifd.associatedAlpha || ![8, 16].includes(bits)) refuse();
  const src = ifd.data as Uint8Array | Uint16Array;
  if (photometric === 3 && channels === 1 && bits === 8) {
    const map = ifd.palette;
    if (!map) refuse();
    const data = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) {
      const c = map![src[i]];
      if (!c) throw new UserError(`${name}: TIFF colour index ${src[i]} beyond the colour map`);
      data[i * 3] = c[0] >> 8, data[i * 3 + 1] = c[1] >> 8, data[i * 3 + 2] = c[2] >> 8;
    }
    return { width, height, channels: 3, data };
  }
  const grey = photometric === 0 || photometric === 1;
  if (!(grey && channels <= 2) && !(photometric === 2 && (channels === 3 || channels === 4))) refuse();
  if (photometric === 0 && bits !== 8) refuse();
  let data: Uint8Array;
  // The decoder has already inverted WhiteIsZero samples.
  if (bits === 8) data = src as Uint8Array;
  else data = Uint8Array.from(src, (v) => grey && channels === 1 ? Math.min(v, 255) : v >> 8);
  return { width, height, channels, data };
}
