/**
 * Images given as one NumPy array: a .npy file or an .npz archive (key `arr_0`, or its only array) holding
 * an [N, H, W, 3] uint8 array, the layout of OpenAI guided-diffusion's evaluation batches. The array is
 * streamed: the header is read first, then one image at a time, by file offset for a .npy file or a stored
 * .npz member, and through a bounded streaming inflate for a deflated member (restarted when an earlier
 * image is asked for), so a 50000x256x256x3 file is never held in memory.
 */
import { UserError } from "../errors.ts";
import { allowance, INFLATE, overBudget } from "./budget.ts";
import { npyHeaderSize, parseNpyHeader } from "./npy.ts";
import type { Image8 } from "./png.ts";
import { printable } from "./printable.ts";
import { InflateStream } from "./zip.ts";
import { ZipFile } from "./zip_file.ts";

/** Whether a path names a NumPy array file (.npy or .npz). */
export const ARRAY_EXT = /\.(npy|npz)$/i;

/** An [N, H, W, 3] uint8 array read image by image. */
export class ImageArray {
  readonly count: number;
  readonly height: number;
  readonly width: number;
  /** `length` bytes of the array's data from `offset`. */
  readonly #data: (offset: number, length: number) => Uint8Array;
  readonly #close: () => void;

  constructor(readonly path: string) {
    let file: Deno.FsFile | null = null, zip: ZipFile | null = null;
    /** `length` bytes of the .npy file (on its own or the .npz member) from `offset`, within `size`. */
    let bytesAt: (offset: number, length: number) => Uint8Array;
    let size: number;
    let where = path;
    if (/\.npz$/i.test(path)) {
      zip = new ZipFile(path);
      const names = [...zip.members.keys()].filter((m) => m.endsWith(".npy"));
      const member = names.includes("arr_0.npy") ? "arr_0.npy" : names.length === 1 ? names[0] : null;
      if (!member) {
        throw new UserError(
          printable(`${path}: no arr_0 array (nor a single array) in the .npz: ${names.join(", ")}`),
        );
      }
      where = printable(`${path}: ${member}`);
      const m = zip.members.get(member)!, start = zip.dataStart(member), z = zip;
      size = m.size;
      if (m.method === 0) {
        bytesAt = (offset, length) => z.readAt(start + offset, length);
      } else if (m.method === 8) {
        if (m.size > allowance(INFLATE, m.compressedSize)) {
          throw overBudget(where, INFLATE, m.size, m.compressedSize);
        }
        bytesAt = sequentialReader(() =>
          new InflateStream((o, l) => z.readAt(start + o, l), m.compressedSize, m.size, where)
        );
      } else {
        throw new UserError(`${where}: unsupported zip compression method ${m.method}`);
      }
    } else {
      try {
        file = Deno.openSync(path);
        size = file.statSync().size;
      } catch (e) {
        throw new UserError(`${path}: cannot open: ${(e as Error).message.split("\n")[0]}`);
      }
      const f = file;
      bytesAt = (offset, length) => readFully(f, offset, length, path);
    }
    this.#close = () => (file ?? zip)?.close();
    try {
      const head = (length: number) => bytesAt(0, Math.min(length, size));
      const { shape, type, dataStart } = parseNpyHeader(head(npyHeaderSize(head(12), where)), where);
      if (type !== "u1" || shape.length !== 4 || shape[3] !== 3) {
        throw new UserError(
          `${where}: expected an [N, H, W, 3] uint8 image array, got ${type} of shape [${shape.join(", ")}]`,
        );
      }
      [this.count, this.height, this.width] = shape;
      if (this.count * this.height * this.width === 0) throw new UserError(`${where}: no images`);
      if (dataStart + this.count * this.height * this.width * 3 > size) {
        throw new UserError(`${where}: .npy data is truncated`);
      }
      this.#data = (offset, length) => bytesAt(dataStart + offset, length);
    } catch (e) {
      this.#close();
      throw e;
    }
  }

  /** Image i as 8-bit RGB. */
  image(i: number): Image8 {
    const per = this.height * this.width * 3;
    return { width: this.width, height: this.height, channels: 3, data: this.#data(i * per, per) };
  }

  /** Closes the file. */
  close(): void {
    this.#close();
  }
}

/**
 * Reads by offset from a stream that can only go forward: later offsets skip ahead, an earlier one starts
 * a new stream.
 */
function sequentialReader(open: () => InflateStream): (offset: number, length: number) => Uint8Array {
  let stream = open(), at = 0;
  return (offset, length) => {
    if (offset < at) [stream, at] = [open(), 0];
    for (const step = 1 << 24; at < offset; at += Math.min(step, offset - at)) {
      stream.read(Math.min(step, offset - at));
    }
    at += length;
    return stream.read(length);
  };
}

function readFully(file: Deno.FsFile, offset: number, length: number, path: string): Uint8Array {
  const buf = new Uint8Array(length);
  file.seekSync(offset, Deno.SeekMode.Start);
  for (let done = 0; done < length;) {
    const n = file.readSync(buf.subarray(done));
    if (!n) throw new UserError(`${path}: .npy data is truncated`);
    done += n;
  }
  return buf;
}
