/**
 * Netpbm images (PGM and PPM: P2, P3 plain, P5, P6 raw) decoded as Pillow's PpmImagePlugin opens them.
 * Samples are scaled to the mode's range as Pillow does when maxval is not the range's own top:
 * `min(top, round(v / maxval * top))` with Python's round (half to even); grey with maxval above 255
 * opens as mode "I" (top 65535), which convert('RGB') clamps to 255. Bitmaps (P1, P4) are not read.
 */
import { UserError } from "../errors.ts";
import type { Image8 } from "./png.ts";

const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d]);

/** Python's round(): to the nearest integer, ties to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Decodes a P2, P3, P5 or P6 file to 8-bit grey (1 channel) or RGB (3 channels). */
export function decodePnm(bytes: Uint8Array, name: string): Image8 {
  let p = 2;
  const fail = (why: string): never => {
    throw new UserError(`${name}: not a valid PGM/PPM file (${why})`);
  };
  /** The next header or plain-data token (comments run from # to the end of the line). */
  const token = (): number => {
    for (;;) {
      while (p < bytes.length && WHITESPACE.has(bytes[p])) p++;
      if (bytes[p] !== 0x23) break;
      while (p < bytes.length && bytes[p] !== 0x0a && bytes[p] !== 0x0d) p++;
    }
    const start = p;
    while (p < bytes.length && bytes[p] >= 0x30 && bytes[p] <= 0x39 && p - start < 10) p++;
    if (p === start || (p < bytes.length && !WHITESPACE.has(bytes[p]) && bytes[p] !== 0x23)) {
      fail("expected a decimal number");
    }
    return Number(new TextDecoder().decode(bytes.subarray(start, p)));
  };
  const kind = bytes[0] === 0x50 ? String.fromCharCode(bytes[1]) : "";
  if (!"2356".includes(kind) || kind === "") fail("only P2, P3, P5 and P6 are read");
  const channels = kind === "3" || kind === "6" ? 3 : 1;
  const width = token(), height = token(), maxval = token();
  if (width < 1 || height < 1 || maxval < 1 || maxval > 65535) {
    fail(`size ${width}x${height}, maxval ${maxval}`);
  }
  const n = width * height * channels;
  const top = channels === 1 && maxval > 255 ? 65535 : 255;
  const scale = (v: number) => {
    const s = maxval === top ? v : Math.min(top, roundHalfEven((v / maxval) * top));
    return Math.min(s, 255);
  };
  const data = new Uint8Array(n);
  if (kind === "2" || kind === "3") {
    for (let i = 0; i < n; i++) {
      const v = token();
      if (v > maxval) fail(`sample ${v} above maxval ${maxval}`);
      data[i] = scale(v);
    }
  } else {
    const start = p + 1, wide = maxval > 255, end = start + n * (wide ? 2 : 1);
    if (end > bytes.length) fail("truncated pixel data");
    for (let i = 0; i < n; i++) {
      data[i] = scale(wide ? (bytes[start + 2 * i] << 8) | bytes[start + 2 * i + 1] : bytes[start + i]);
    }
  }
  return { width, height, channels, data };
}
