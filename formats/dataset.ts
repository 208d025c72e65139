/**
 * Image datasets as StyleGAN3's training/dataset.py reads them: a folder of images (recursive, ordered by
 * relative path) or a zip archive as dataset_tool.py writes it (optionally with `dataset.json` labels).
 * PNG and JPEG files are read (JPEG through jpeg-js, whose decoder may differ from libjpeg's by a
 * level on some pixels); zips are read member by member from the file, so large archives are never
 * loaded whole (zip64 included). As in the official loader, every image must have the size and channel
 * count of the first; grey images (1 channel) are later repeated to RGB, and images with an alpha
 * channel are rejected. `mirror` appends the x-flipped copy of every image after the originals, like
 * `--mirror=1` (xflip); `maxItems` keeps the first items of that order.
 */
import { decode as decodeJpeg } from "jpeg-js";
import { join, relative } from "node:path";
import { UserError } from "../errors.ts";
import { allowance, INFLATE, overBudget } from "./budget.ts";
import { decodePng, type Image8 } from "./png.ts";
import { printable } from "./printable.ts";
import { inflateBounded } from "./zip.ts";

const IMAGE_EXT = /\.(png|jpe?g)$/i;
/** Other formats PIL (and so the official loader) would read; refused rather than silently skipped. */
const OTHER_IMAGE_EXT = /\.(bmp|gif|tiff?|webp|ppm|pgm|pbm|tga|jp2)$/i;

/** Options of {@link openDataset}. */
export interface DatasetOptions {
  mirror?: boolean;
  maxItems?: number;
}

/** One zip member's location. */
interface ZipMember {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  headerOffset: number;
}

/** A dataset opened for reading. */
export class Dataset {
  readonly #read: (name: string) => Uint8Array;
  readonly #files: string[];
  /** Releases the open zip file, if any. */
  readonly close: () => void;
  /** Height, width and channels of every image (those of the first). */
  readonly height: number;
  readonly width: number;
  readonly channels: number;

  private constructor(
    readonly path: string,
    files: string[],
    read: (name: string) => Uint8Array,
    readonly labels: Map<string, number> | null,
    readonly mirror: boolean,
    readonly count: number,
    close: () => void,
  ) {
    this.close = close;
    this.#files = files;
    this.#read = read;
    const first = this.#image(0);
    this.height = first.height;
    this.width = first.width;
    this.channels = first.channels;
  }

  /** Opens a folder or dataset zip. */
  static open(path: string, opts: DatasetOptions = {}): Dataset {
    let stat: Deno.FileInfo;
    try {
      stat = Deno.statSync(path);
    } catch (e) {
      throw new UserError(`${path}: cannot open the dataset: ${(e as Error).message.split("\n")[0]}`);
    }
    let files: string[];
    let read: (name: string) => Uint8Array;
    let labelsJson: string | null = null;
    let close = () => {};
    if (stat.isDirectory) {
      files = walk(path).map((f) => relative(path, f).split("\\").join("/"));
      read = (name) => {
        try {
          return Deno.readFileSync(join(path, name));
        } catch (e) {
          throw new UserError(
            printable(`${path}: ${name}: cannot read: ${(e as Error).message.split("\n")[0]}`),
          );
        }
      };
      try {
        labelsJson = Deno.readTextFileSync(join(path, "dataset.json"));
      } catch { /* labels are optional */ }
    } else {
      const zip = new ZipFile(path);
      files = [...zip.members.keys()];
      read = (name) => zip.read(name);
      close = () => zip.close();
      if (zip.members.has("dataset.json")) labelsJson = new TextDecoder().decode(zip.read("dataset.json"));
    }
    const other = files.find((f) => OTHER_IMAGE_EXT.test(f));
    if (other) {
      throw new UserError(`${path}: ${other}: only PNG and JPEG images are supported; convert the dataset`);
    }
    files = files.filter((f) => IMAGE_EXT.test(f)).sort();
    if (files.length === 0) throw new UserError(`${path}: no PNG or JPEG images in the dataset`);
    const total = files.length * (opts.mirror ? 2 : 1);
    const count = Math.min(total, opts.maxItems ?? total);
    return new Dataset(path, files, read, parseLabels(labelsJson, path), opts.mirror ?? false, count, close);
  }

  /** The relative names of the images (without mirrored copies). */
  get files(): readonly string[] {
    return this.#files;
  }

  /** Item `i` in 0..count: image i, or the x-flip of image i - N when mirrored. */
  item(i: number): Image8 {
    const n = this.#files.length;
    const img = this.#image(i % n);
    if (img.height !== this.height || img.width !== this.width || img.channels !== this.channels) {
      throw new UserError(
        `${this.path}: ${
          this.#files[i % n]
        } is ${img.width}x${img.height}x${img.channels}, but the dataset's ` +
          `first image is ${this.width}x${this.height}x${this.channels} (all images must match)`,
      );
    }
    return i >= n ? flipX(img) : img;
  }

  /** The label (class index) of item i, when the dataset has labels. */
  label(i: number): number | null {
    return this.labels?.get(this.#files[i % this.#files.length]) ?? null;
  }

  /** Items [start, start + n) as one uint8 NHWC buffer. */
  batch(start: number, n: number): Uint8Array {
    const per = this.height * this.width * this.channels;
    const out = new Uint8Array(n * per);
    for (let i = 0; i < n; i++) out.set(this.item(start + i).data, i * per);
    return out;
  }

  #image(index: number): Image8 {
    const name = this.#files[index];
    const bytes = this.#read(name);
    const where = `${this.path}: ${name}`;
    const img = /\.png$/i.test(name) ? decodePng(bytes, where) : decodeJpegImage(bytes, where);
    if (img.channels !== 1 && img.channels !== 3) {
      throw new UserError(
        `${where}: ${img.channels} channels; FID needs RGB or grey images (remove the alpha channel)`,
      );
    }
    return img;
  }
}

function decodeJpegImage(bytes: Uint8Array, name: string): Image8 {
  try {
    const j = decodeJpeg(bytes, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 2048 });
    return { width: j.width, height: j.height, channels: 3, data: j.data as Uint8Array };
  } catch (e) {
    throw new UserError(`${name}: not a valid JPEG: ${(e as Error).message ?? e}`);
  }
}

function flipX(img: Image8): Image8 {
  const { width: w, height: h, channels: c } = img;
  const data = new Uint8Array(img.data.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = (y * w + x) * c, d = (y * w + (w - 1 - x)) * c;
      for (let k = 0; k < c; k++) data[d + k] = img.data[s + k];
    }
  }
  return { ...img, data };
}

/** Most entries (files and folders, through links too) a dataset folder walk visits. */
const MAX_WALK_ENTRIES = 10_000_000;

/**
 * The files under `root`, as os.walk(followlinks=True) finds them: symbolic links to files and folders
 * are followed; a link back to a folder already on the current path (a loop) is not entered again, and
 * at most {@link MAX_WALK_ENTRIES} entries are visited (links between folders can multiply the paths).
 * Broken links are listed, so that reading them fails with their name.
 */
function walk(root: string): string[] {
  const out: string[] = [];
  let visited = 0;
  const visit = (dir: string, ancestors: ReadonlySet<string>) => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(dir)];
    } catch (e) {
      throw new UserError(
        printable(`${dir}: cannot list the folder: ${(e as Error).message.split("\n")[0]}`),
      );
    }
    visited += entries.length;
    if (visited > MAX_WALK_ENTRIES) {
      throw new UserError(
        printable(
          `${root}: exceeds the budget of ${MAX_WALK_ENTRIES} folder entries (folder links multiply?)`,
        ),
      );
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      let isDir = e.isDirectory;
      if (e.isSymlink) {
        try {
          isDir = Deno.statSync(p).isDirectory;
        } catch {
          out.push(p);
          continue;
        }
      }
      if (!isDir) {
        out.push(p);
        continue;
      }
      const real = Deno.realPathSync(p);
      if (!ancestors.has(real)) visit(p, new Set([...ancestors, real]));
    }
  };
  visit(root, new Set([Deno.realPathSync(root)]));
  return out;
}

/** dataset.json: {"labels": [[relative name, class], ...]} or {"labels": null}. */
function parseLabels(json: string | null, path: string): Map<string, number> | null {
  if (json === null) return null;
  let parsed: any;
  try {
    parsed = JSON.parse(json);
  } catch (e) {
    throw new UserError(`${path}: dataset.json is not valid JSON: ${(e as Error).message}`);
  }
  const labels = parsed?.labels;
  if (!Array.isArray(labels)) return null;
  const out = new Map<string, number>();
  for (const entry of labels) {
    if (Array.isArray(entry) && typeof entry[0] === "string" && Number.isInteger(entry[1])) {
      out.set(entry[0].split("\\").join("/"), entry[1]);
    }
  }
  return out;
}

/** A zip archive read member by member from its file (stored or deflated members, zip64). */
class ZipFile {
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

  #bytes(offset: number, length: number): Uint8Array {
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
    const tail = this.#bytes(this.#size - tailLen, tailLen);
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
      const z = new DataView(this.#bytes(Number(tv.getBigUint64(loc + 8, true)), 56).buffer);
      if (z.getUint32(0, true) !== 0x06064b50) throw new UserError(`${this.path}: corrupt zip64 directory`);
      count = Number(z.getBigUint64(32, true));
      dirSize = Number(z.getBigUint64(40, true));
      dirOffset = Number(z.getBigUint64(48, true));
    }
    const dir = this.#bytes(dirOffset, dirSize);
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

  /** The uncompressed bytes of a member. */
  read(name: string): Uint8Array {
    const m = this.members.get(name)!;
    const header = new DataView(this.#bytes(m.headerOffset, 30).buffer);
    if (header.getUint32(0, true) !== 0x04034b50) {
      throw new UserError(`${this.path}: ${name}: corrupt zip entry`);
    }
    const start = m.headerOffset + 30 + header.getUint16(26, true) + header.getUint16(28, true);
    const data = this.#bytes(start, m.compressedSize);
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
