/**
 * WebP images (lossy and lossless, the first frame) decoded with libwebp compiled to WebAssembly (the
 * `@jsquash/webp` package), as Pillow's WebPImagePlugin decodes them through libwebp: RGBA, whose alpha
 * convert('RGB') drops. The decoder is instantiated once when this module loads.
 */
import webpDecoder from "@jsquash/webp/codec/dec/webp_dec.js";
import { UserError } from "../errors.ts";
import type { Image8 } from "./png.ts";

const codec = await webpDecoder({ noInitialRun: true });

/** Decodes WebP bytes to 8-bit RGBA. */
export function decodeWebp(bytes: Uint8Array, name: string): Image8 {
  const img = codec.decode(bytes);
  if (!img) throw new UserError(`${name}: not a valid WebP image`);
  const data = new Uint8Array(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  return { width: img.width, height: img.height, channels: 4, data };
}
