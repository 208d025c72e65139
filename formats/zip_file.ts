/**
 * A zip archive read member by member from its file (stored or deflated members, zip64), so that large
 * archives (dataset zips, .npz sample batches) are never loaded whole.
 */
import { UserError } from "../errors.ts";
import { allowance, INFLATE, overBudget } from "./budget.ts";
import { printable } from "./printable.ts";
import { inflateBounded } from "./zip.ts";

/** One zip member's location. */
export interface ZipMember {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  headerOffset: number;
}

/** A zip archive read member by member from its file (stored or deflated members, zip64). */
export class ZipFile {
  readonly members = new Map<string, ZipMember>();
  readonly #file: Deno.FsFile;
  readonly #size: number;

  constructor(readonly path: string) {
    try {
      this.#file = Deno.openSync(path);
      this.#size = this.#file.statSync().size;
    } catch (e) {
      throw new UserError(`${path}: cannot open: ${(e as Error).message.split("\n")[0]}`);
    }
    this.#readDirectory();
  }

  /** `length` bytes of the file from `offset`. */
  readAt(offset: number, length: number): Uint8Array {
    if (!(offset >= 0 && length >= 0 && offset + length <= this.#size)) {
      throw new UserError(`${this.path}: corrupt zip file (a record lies outside the file)`);
    }
    const buf = new Uint8Array(length);
    this.#file.seekSync(offset, Deno.SeekMode.Start);
    let done = 0;
    while (done < length) {
      const n = this.#file.readSync(buf.subarray(done));
      if (n === null || n === 0) throw new UserError(`${this.path}: truncated zip file`);
      done += n;
    }
    return buf;
  }

  #readDirectory(): void {
    const tailLen = Math.min(this.#size, 65557);
    const tail = this.readAt(this.#size - tailLen, tailLen);
    const tv = new DataView(tail.buffer);
    let eocd = -1;
    for (let i = tailLen - 22; i >= 0; i--) {
      if (tv.getUint32(i, true) === 0x06054b50) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw new UserError(`${this.path}: not a folder or a zip dataset`);
    let count = tv.getUint16(eocd + 10, true);
    let dirSize = tv.getUint32(eocd + 12, true);
    let dirOffset = tv.getUint32(eocd + 16, true);
    const loc = eocd - 20;
    if (loc >= 0 && tv.getUint32(loc, true) === 0x07064b50) {
      const z = new DataView(this.readAt(Number(tv.getBigUint64(loc + 8, true)), 56).buffer);
      if (z.getUint32(0, true) !== 0x06064b50) throw new UserError(`${this.path}: corrupt zip64 directory`);
      count = Number(z.getBigUint64(32, true));
      dirSize = Number(z.getBigUint64(40, true));
      dirOffset = Number(z.getBigUint64(48, true));
    }
    const dir = this.readAt(dirOffset, dirSize);
    const dv = new DataView(dir.buffer);
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > dir.length || dv.getUint32(p, true) !== 0x02014b50) {
        throw new UserError(`${this.path}: corrupt zip directory`);
      }
      const method = dv.getUint16(p + 10, true);
      let compressedSize = dv.getUint32(p + 20, true);
      let size = dv.getUint32(p + 24, true);
      const nameLen = dv.getUint16(p + 28, true), extraLen = dv.getUint16(p + 30, true);
      const commentLen = dv.getUint16(p + 32, true);
      let headerOffset = dv.getUint32(p + 42, true);
      const name = new TextDecoder().decode(dir.subarray(p + 46, p + 46 + nameLen));
      // zip64 extra field: the 0xFFFFFFFF fields, in order size, compressed size, header offset.
      for (let e = p + 46 + nameLen; e + 4 <= p + 46 + nameLen + extraLen;) {
        const id = dv.getUint16(e, true), len = dv.getUint16(e + 2, true);
        if (id === 1) {
          let q = e + 4;
          const next = () => {
            const v = Number(dv.getBigUint64(q, true));
            q += 8;
            return v;
          };
          if (size === 0xffffffff) size = next();
          if (compressedSize === 0xffffffff) compressedSize = next();
          if (headerOffset === 0xffffffff) headerOffset = next();
        }
        e += 4 + len;
      }
      if (!name.endsWith("/")) this.members.set(name, { name, method, compressedSize, size, headerOffset });
      p += 46 + nameLen + extraLen + commentLen;
    }
  }

  /** Closes the file. */
  close(): void {
    this.#file.close();
  }

  /** The file offset of a member's (compressed) data. */
  dataStart(name: string): number {
    const m = this.members.get(name)!;
    const header = new DataView(this.readAt(m.headerOffset, 30).buffer);
    if (header.getUint32(0, true) !== 0x04034b50) {
      throw new UserError(printable(`${this.path}: ${name}: corrupt zip entry`));
    }
    return m.headerOffset + 30 + header.getUint16(26, true) + header.getUint16(28, true);
  }

  /** The uncompressed bytes of a member. */
  read(name: string): Uint8Array {
    const m = this.members.get(name)!;
    const start = this.dataStart(name);
    const data = this.readAt(start, m.compressedSize);
    if (m.method === 0) return data;
    const where = printable(`${this.path}: ${name}`);
    if (m.method !== 8) throw new UserError(`${where}: unsupported zip compression method ${m.method}`);
    // One member is inflated at a time: its budget is relative to its own compressed size.
    if (m.size > allowance(INFLATE, m.compressedSize)) {
      throw overBudget(where, INFLATE, m.size, m.compressedSize);
    }
    return inflateBounded(data, m.size, where);
  }
}
