/**
 * Animated PNG output for short loops: lossless 8-bit RGB frames that loop forever in browsers. Frames are
 * compressed one by one with fast-png and streamed to a temporary file: signature, IHDR, acTL (frame count,
 * patched in when the animation is finished, so an early finish is a valid, shorter animation), then per
 * frame an fcTL (size, delay 1/fps) and the image data (IDAT for the first frame, fdAT with a sequence
 * number for the others), and IEND. Chunks are [u32 length][type][data][u32 CRC-32 of type and data].
 */
import { encode } from "fast-png";
import { UserError } from "../errors.ts";
import { settleTemp, tempPathFor } from "./atomic.ts";

const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (ISO 3309, as PNG uses) of `bytes`. */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** One PNG chunk with its length and CRC. */
function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** The IHDR payload and the concatenated IDAT payloads of a PNG file. */
function pngParts(png: Uint8Array): { ihdr: Uint8Array; idat: Uint8Array[] } {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let ihdr: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  for (let p = 8; p + 12 <= png.length;) {
    const len = view.getUint32(p);
    const type = String.fromCharCode(...png.subarray(p + 4, p + 8));
    const data = png.subarray(p + 8, p + 8 + len);
    if (type === "IHDR") ihdr = data;
    if (type === "IDAT") idat.push(data);
    p += 12 + len;
  }
  if (!ihdr) throw new Error("pngParts: no IHDR");
  return { ihdr, idat };
}

/** An animated PNG written frame by frame; same life cycle as Mp4Writer (finish renames into place). */
export class ApngWriter {
  #file: Deno.FsFile | null = null;
  #frames = 0;
  #seq = 0;
  #actlAt = 0;
  #done = false;

  private constructor(
    readonly path: string,
    readonly width: number,
    readonly height: number,
    readonly fps: number,
    readonly tempPath: string,
  ) {}

  /** Starts an animation at `path` (its folder is created); it loops forever at `fps` frames per second. */
  static open(path: string, o: { width: number; height: number; fps: number }): ApngWriter {
    if (!(o.fps > 0 && o.fps <= 655)) throw new UserError(`APNG needs 0 < fps <= 655, got ${o.fps}`, "fps");
    return new ApngWriter(path, o.width, o.height, o.fps, tempPathFor(path));
  }

  /** Frames added so far. */
  get frames(): number {
    return this.#frames;
  }

  /** Adds one frame: width * height * 3 bytes of RGB, HWC. */
  async addFrame(rgb: Uint8Array): Promise<void> {
    if (this.#done) throw new Error("ApngWriter: addFrame after finish or discard");
    if (rgb.length !== this.width * this.height * 3) {
      throw new Error(`ApngWriter: frame of ${rgb.length} bytes, expected ${this.width * this.height * 3}`);
    }
    const { ihdr, idat } = pngParts(
      encode({ width: this.width, height: this.height, data: rgb, channels: 3, depth: 8 }),
    );
    const parts: Uint8Array[] = [];
    if (!this.#file) {
      this.#file = await Deno.open(this.tempPath, { write: true, create: true, truncate: true });
      parts.push(SIGNATURE, chunk("IHDR", ihdr));
      this.#actlAt = SIGNATURE.length + 12 + ihdr.length;
      parts.push(chunk("acTL", u32s(0, 0)));
    }
    // fcTL: sequence, width, height, x and y offsets, delay = 100 / round(100 * fps) s, dispose 0, blend 0.
    const fctl = new Uint8Array(26);
    const v = new DataView(fctl.buffer);
    v.setUint32(0, this.#seq++);
    v.setUint32(4, this.width);
    v.setUint32(8, this.height);
    v.setUint16(20, 100);
    v.setUint16(22, Math.round(100 * this.fps));
    parts.push(chunk("fcTL", fctl));
    for (const data of idat) {
      parts.push(this.#frames === 0 ? chunk("IDAT", data) : chunk("fdAT", concat(u32s(this.#seq++), data)));
    }
    await writeAll(this.#file, concat(...parts));
    this.#frames++;
  }

  /** Writes the frame count and IEND and renames the file into place; false (nothing written) with no frames. */
  async finish(): Promise<boolean> {
    if (this.#done) throw new Error("ApngWriter: finish after finish or discard");
    if (!this.#file) {
      this.#done = true;
      return false;
    }
    this.#done = true;
    const file = this.#file;
    try {
      await writeAll(file, chunk("IEND", new Uint8Array(0)));
      await file.seek(this.#actlAt, Deno.SeekMode.Start);
      await writeAll(file, chunk("acTL", u32s(this.#frames, 0)));
      file.close();
      Deno.renameSync(this.tempPath, this.path);
    } catch (e) {
      try {
        Deno.removeSync(this.tempPath);
      } catch { /* already gone */ }
      throw new UserError(`${this.path}: cannot write: ${(e as Error).message.split("\n")[0]}`);
    } finally {
      settleTemp(this.tempPath);
    }
    return true;
  }

  /** Stops and removes the temporary file. */
  discard(): Promise<void> {
    if (this.#done) return Promise.resolve();
    this.#done = true;
    if (this.#file) {
      this.#file.close();
      try {
        Deno.removeSync(this.tempPath);
      } catch { /* already gone */ }
    }
    settleTemp(this.tempPath);
    return Promise.resolve();
  }
}

function u32s(...values: number[]): Uint8Array {
  const out = new Uint8Array(4 * values.length);
  values.forEach((x, i) => new DataView(out.buffer).setUint32(4 * i, x));
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let o = 0; o < bytes.length;) o += await file.write(bytes.subarray(o));
}
