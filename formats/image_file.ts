/**
 * One image file read as pytorch-fid's loader reads it, `Image.open(path).convert('RGB')`: the format is
 * recognised by its content (as PIL does), decoded to the 8-bit mode PIL opens (see each decoder for its
 * bit-depth rule), then converted to RGB: grey repeated to the three channels, alpha dropped (not
 * composited over a background), palettes expanded by their decoders. Read: PNG, JPEG (libjpeg-turbo's
 * decoder: PIL's pixels exactly), BMP, PGM/PPM, TIFF and WebP.
 */
import { decodeJpeg } from "./jpeg.ts";
import { UserError } from "../errors.ts";
import { decodeBmp } from "./bmp.ts";
import { decodePng, type Image8 } from "./png.ts";
import { decodePnm } from "./pnm.ts";
import { decodeTiff } from "./tiff.ts";
import { decodeWebp } from "./webp.ts";

/** The file extensions of pytorch-fid's IMAGE_EXTENSIONS, all of which are read. */
export const IMAGE_EXT = /\.(bmp|jpe?g|pgm|png|ppm|tiff?|webp)$/i;

const startsWith = (b: Uint8Array, sig: number[], at = 0) => sig.every((v, i) => b[at + i] === v);

/** Decodes an image file's bytes (any supported format) and converts it to 8-bit RGB. */
export function readImageRgb(bytes: Uint8Array, name: string): Image8 {
  return toRgb(decodeImage(bytes, name));
}

/** Decodes an image to the 8-bit channels PIL opens it with (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA). */
function decodeImage(bytes: Uint8Array, name: string): Image8 {
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47])) return decodePng(bytes, name);
  if (startsWith(bytes, [0xff, 0xd8])) return decodeJpeg(bytes, name);
  if (startsWith(bytes, [0x42, 0x4d])) return decodeBmp(bytes, name);
  if (startsWith(bytes, [0x49, 0x49, 42, 0]) || startsWith(bytes, [0x4d, 0x4d, 0, 42])) {
    return decodeTiff(bytes, name);
  }
  if (startsWith(bytes, [0x52, 0x49, 0x46, 0x46]) && startsWith(bytes, [0x57, 0x45, 0x42, 0x50], 8)) {
    return decodeWebp(bytes, name);
  }
  if (bytes[0] === 0x50 && bytes[1] >= 0x31 && bytes[1] <= 0x36) return decodePnm(bytes, name);
  throw new UserError(`${name}: not an image sg3 reads (PNG, JPEG, BMP, PGM/PPM, TIFF, WebP)`);
}

/** PIL's convert('RGB') of an 8-bit L, LA, RGB or RGBA image: grey repeated, alpha dropped. */
export function toRgb(img: Image8): Image8 {
  const { width, height, channels: c } = img;
  if (c === 3) return img;
  const n = width * height, data = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    if (c <= 2) {
      data[i * 3] = data[i * 3 + 1] = data[i * 3 + 2] = img.data[i * c];
    } else {
      data[i * 3] = img.data[i * c],
        data[i * 3 + 1] = img.data[i * c + 1],
        data[i * 3 + 2] = img.data[i * c + 2];
    }
  }
  return { width, height, channels: 3, data };
}
