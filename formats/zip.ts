/**
 * Zip archives held in memory (torch.save / torch.jit.save archives, NumPy .npz files): the member list
 * from the central directory (zip64 included), stored members as views into the archive's bytes, and
 * deflated members inflated within the file's decompression budget ({@link INFLATE}): the declared size
 * is checked before anything is allocated, and inflation stops as soon as a member produces more than it
 * declared, so a zip bomb costs neither memory nor much time.
 */
import { Inflate } from "fflate";
import { UserError } from "../errors.ts";
import { FileBudget, INFLATE } from "./budget.ts";
import { printable } from "./printable.ts";

/** One member of a zip archive: where its data starts and how it is stored. */
export interface ZipEntry {
  method: number;
  localOffset: number;
  compressedSize: number;
  size: number;
}

/**
 * Lists a zip archive's members from its central directory (zip64 included). Stored members are later
 * returned as views into `bytes`, so tensor data is never copied out of the archive.
 */
export function listZip(bytes: Uint8Array, name: string): Map<string, ZipEntry> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65535); i--) {
    if (dv.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) {
    throw new UserError(`${name}: truncated or corrupt zip archive (no end of central directory)`);
  }
  let count = dv.getUint16(eocd + 10, true);
  let cdOffset = dv.getUint32(eocd + 16, true);
  if (
    (count === 0xffff || cdOffset === 0xffffffff) && eocd >= 20 &&
    dv.getUint32(eocd - 20, true) === 0x07064b50
  ) {
    const z64 = Number(dv.getBigUint64(eocd - 12, true));
    if (z64 + 56 > bytes.length || dv.getUint32(z64, true) !== 0x06064b50) {
      throw new UserError(`${name}: corrupt zip64 directory`);
    }
    count = Number(dv.getBigUint64(z64 + 32, true));
    cdOffset = Number(dv.getBigUint64(z64 + 48, true));
  }
  const entries = new Map<string, ZipEntry>();
  let p = cdOffset;
  const dec = new TextDecoder();
  for (let i = 0; i < count; i++) {
    if (p + 46 > bytes.length || dv.getUint32(p, true) !== 0x02014b50) {
      throw new UserError(`${name}: corrupt zip central directory`);
    }
    const method = dv.getUint16(p + 10, true);
    let compressedSize = dv.getUint32(p + 20, true);
    let size = dv.getUint32(p + 24, true);
    const nameLen = dv.getUint16(p + 28, true), extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    let localOffset = dv.getUint32(p + 42, true);
    if (p + 46 + nameLen + extraLen > bytes.length) {
      throw new UserError(`${name}: corrupt zip central directory`);
    }
    const member = dec.decode(bytes.subarray(p + 46, p + 46 + nameLen));
    // zip64 extra field: the 64-bit values present are those whose 32-bit fields are 0xffffffff.
    for (let e = p + 46 + nameLen; e + 4 <= p + 46 + nameLen + extraLen;) {
      const id = dv.getUint16(e, true), len = dv.getUint16(e + 2, true);
      if (id === 1) {
        let q = e + 4;
        const read = () => {
          if (q + 8 > e + 4 + len) throw new UserError(`${name}: corrupt zip64 field`);
          q += 8;
          return Number(dv.getBigUint64(q - 8, true));
        };
        if (size === 0xffffffff) size = read();
        if (compressedSize === 0xffffffff) compressedSize = read();
        if (localOffset === 0xffffffff) localOffset = read();
      }
      e += 4 + len;
    }
    entries.set(member, { method, localOffset, compressedSize, size });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/**
 * The data of one zip member: a view for stored members, inflated for deflated ones. Inflated bytes are
 * charged to `budget` (default: a budget of this archive alone).
 */
export function zipMember(
  bytes: Uint8Array,
  entry: ZipEntry,
  member: string,
  name: string,
  budget: FileBudget = new FileBudget(name, bytes.length),
): Uint8Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const p = entry.localOffset;
  const shown = printable(member);
  if (p + 30 > bytes.length || dv.getUint32(p, true) !== 0x04034b50) {
    throw new UserError(`${name}: corrupt zip member ${shown}`);
  }
  const start = p + 30 + dv.getUint16(p + 26, true) + dv.getUint16(p + 28, true);
  const end = start + entry.compressedSize;
  if (end > bytes.length) throw new UserError(`${name}: truncated zip archive (member ${shown})`);
  const raw = bytes.subarray(start, end);
  if (entry.method === 0) return raw;
  if (entry.method !== 8) throw new UserError(`${name}: zip member ${shown} uses unsupported compression`);
  budget.charge(INFLATE, entry.size);
  return inflateBounded(raw, entry.size, `${name}: zip member ${shown}`);
}

/** Input bytes fed to the inflater per step: one step produces at most ~1032 times as much. */
const STEP = 16 * 1024;

/**
 * Inflates a raw deflate stream that declares `size` bytes of output (the caller has budgeted them).
 * Stops with a one-line UserError (prefixed by `what`) as soon as the stream produces more, and when it
 * is corrupt or ends short.
 */
export function inflateBounded(raw: Uint8Array, size: number, what: string): Uint8Array {
  const out = new Uint8Array(size);
  let got = 0;
  const inflater = new Inflate((chunk: Uint8Array) => {
    if (got + chunk.length > size) {
      throw new UserError(
        `${what}: inflates to more than its declared ${size} bytes (corrupt or a zip bomb)`,
      );
    }
    out.set(chunk, got);
    got += chunk.length;
  });
  try {
    for (let i = 0; i < raw.length; i += STEP) {
      inflater.push(raw.subarray(i, i + STEP), i + STEP >= raw.length);
    }
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${what}: corrupt deflate stream (${printable((e as Error).message)})`);
  }
  if (got !== size) throw new UserError(`${what}: corrupt deflate stream (${got} of ${size} bytes)`);
  return out;
}

/**
 * A raw deflate stream of `size` declared bytes inflated piece by piece: compressed bytes are pulled
 * through `readRaw(offset, length)` STEP at a time, so only the requested output and one step's output are
 * held in memory. Output beyond the declared size, a corrupt stream or one that ends short is a one-line
 * UserError prefixed by `what`.
 */
export class InflateStream {
  readonly #pending: Uint8Array[] = [];
  #buffered = 0;
  #produced = 0;
  #rawOffset = 0;
  readonly #inflater: Inflate;

  constructor(
    readonly readRaw: (offset: number, length: number) => Uint8Array,
    readonly rawLength: number,
    readonly size: number,
    readonly what: string,
  ) {
    this.#inflater = new Inflate((chunk: Uint8Array) => {
      this.#produced += chunk.length;
      if (this.#produced > size) {
        throw new UserError(
          `${what}: inflates to more than its declared ${size} bytes (corrupt or a zip bomb)`,
        );
      }
      this.#pending.push(chunk);
      this.#buffered += chunk.length;
    });
  }

  /** The next `n` bytes of output. */
  read(n: number): Uint8Array {
    while (this.#buffered < n && this.#rawOffset < this.rawLength) {
      const len = Math.min(STEP, this.rawLength - this.#rawOffset);
      const raw = this.readRaw(this.#rawOffset, len);
      this.#rawOffset += len;
      try {
        this.#inflater.push(raw, this.#rawOffset >= this.rawLength);
      } catch (e) {
        if (e instanceof UserError) throw e;
        throw new UserError(`${this.what}: corrupt deflate stream (${printable((e as Error).message)})`);
      }
    }
    if (this.#buffered < n) {
      throw new UserError(`${this.what}: corrupt deflate stream (${this.#produced} of ${this.size} bytes)`);
    }
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const head = this.#pending[0], take = Math.min(head.length, n - got);
      out.set(head.subarray(0, take), got);
      got += take;
      if (take === head.length) this.#pending.shift();
      else this.#pending[0] = head.subarray(take);
    }
    this.#buffered -= n;
    return out;
  }
}
