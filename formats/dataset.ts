/**
 * Image datasets for FID: a folder of images (recursive, ordered by relative path), a zip archive as
 * StyleGAN3's dataset_tool.py writes it (optionally with `dataset.json` labels), or an [N, H, W, 3] uint8
 * NumPy array (.npy, or .npz with `arr_0`; see image_array.ts). Every image is read as pytorch-fid's loader
 * reads it, `Image.open(path).convert('RGB')` (see image_file.ts for the formats and PIL's conversion
 * rules). Images of a folder may have any sizes: each is resized to the detector's input on its own, as
 * pytorch-fid and clean-fid do. The official dataset rule, every image has the size of the first, is kept
 * for dataset zips, where a mismatch is one line naming the file. Zips and arrays are read piece by piece
 * from the file, so large ones are never loaded whole (zip64 included). `mirror` appends the x-flipped copy
 * of every image after the originals, like `--mirror=1` (xflip); `maxItems` keeps the first items of that
 * order.
 */
import { join, relative } from "node:path";
import { UserError } from "../errors.ts";
import { ARRAY_EXT, ImageArray } from "./image_array.ts";
import { IMAGE_EXT, readImageRgb } from "./image_file.ts";
import type { Image8 } from "./png.ts";
import { printable } from "./printable.ts";
import { ZipFile } from "./zip_file.ts";

/** Image formats PIL reads that sg3 does not; refused rather than silently skipped. */
const OTHER_IMAGE_EXT = /\.(gif|pbm|pnm|tga|jp2|ico|dds|psd)$/i;

/** Options of {@link Dataset.open}. */
export interface DatasetOptions {
  /** Append the x-flipped copy of every image after the originals (item count doubles); default false. */
  mirror?: boolean;
  /** Keep only the first this many items (after mirroring); default all. */
  maxItems?: number;
}

/** A dataset opened for reading. */
export class Dataset {
  readonly #image: (index: number) => Image8;
  readonly #files: string[];
  readonly #size: number;
  /** Releases the open zip or array file, if any. */
  readonly close: () => void;
  /** Height and width of the first image (of every image when `uniform`). */
  readonly height: number;
  /** Width of the first image (of every image when `uniform`). */
  readonly width: number;

  private constructor(
    /** The folder, zip or array file as given to {@link Dataset.open}. */
    readonly path: string,
    files: string[],
    size: number,
    image: (index: number) => Image8,
    /** Class labels from `dataset.json` (`{"labels": [[name, class], ...]}`) by relative name; null without. */
    readonly labels: Map<string, number> | null,
    /** Whether x-flipped copies follow the originals. */
    readonly mirror: boolean,
    /** Items to read: images (twice with `mirror`), at most `maxItems`. */
    readonly count: number,
    /** Whether every image must have the first's size (dataset zips and arrays). */
    readonly uniform: boolean,
    close: () => void,
  ) {
    this.close = close;
    this.#files = files;
    this.#size = size;
    this.#image = image;
    try {
      const first = image(0);
      this.height = first.height;
      this.width = first.width;
    } catch (e) {
      close();
      throw e;
    }
  }

  /** Opens a folder, dataset zip, or .npy/.npz image array. */
  static open(path: string, opts: DatasetOptions = {}): Dataset {
    let stat: Deno.FileInfo;
    try {
      stat = Deno.statSync(path);
    } catch (e) {
      throw new UserError(`${path}: cannot open the dataset: ${(e as Error).message.split("\n")[0]}`);
    }
    const mirror = opts.mirror ?? false;
    const counted = (n: number) => Math.min(n * (mirror ? 2 : 1), opts.maxItems ?? Infinity);
    if (!stat.isDirectory && ARRAY_EXT.test(path)) {
      const a = new ImageArray(path);
      return new Dataset(
        path,
        [],
        a.count,
        (i) => a.image(i),
        null,
        mirror,
        counted(a.count),
        true,
        () => a.close(),
      );
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
      close();
      throw new UserError(
        printable(
          `${path}: ${other}: this image format is not read (PNG, JPEG, BMP, PGM/PPM, TIFF, WebP are)`,
        ),
      );
    }
    files = files.filter((f) => IMAGE_EXT.test(f)).sort();
    if (files.length === 0) {
      close();
      throw new UserError(`${path}: no images in the dataset (PNG, JPEG, BMP, PGM/PPM, TIFF, WebP)`);
    }
    const image = (i: number) => readImageRgb(read(files[i]), printable(`${path}: ${files[i]}`));
    const labels = parseLabels(labelsJson, path);
    return new Dataset(
      path,
      files,
      files.length,
      image,
      labels,
      mirror,
      counted(files.length),
      !stat.isDirectory,
      close,
    );
  }

  /** The relative names of the images of a folder or zip (without mirrored copies; none for arrays). */
  get files(): readonly string[] {
    return this.#files;
  }

  /** Item `i` in 0..count as 8-bit RGB: image i, or the x-flip of image i - N when mirrored. */
  item(i: number): Image8 {
    const n = this.#size;
    const img = this.#image(i % n);
    if (this.uniform && (img.height !== this.height || img.width !== this.width)) {
      const name = this.#files[i % n] ?? `image ${i % n}`;
      throw new UserError(
        printable(
          `${this.path}: ${name} is ${img.width}x${img.height}, but the dataset's first image is ` +
            `${this.width}x${this.height} (all images of a dataset zip must match)`,
        ),
      );
    }
    return i >= n ? flipX(img) : img;
  }

  /** The label (class index) of item i, when the dataset has labels. */
  label(i: number): number | null {
    return this.labels?.get(this.#files[i % this.#size]) ?? null;
  }
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
