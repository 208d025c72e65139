/**
 * NumPy .npy files (format versions 1.0-3.0): a magic string, a header dict
 * {'descr': '<f4', 'fortran_order': False, 'shape': (...)}, then the raw little-endian array in C order.
 * .npz archives are zips of .npy members (stored or deflated), read and written with fflate.
 */
import { zipSync } from "fflate";
import { UserError } from "../errors.ts";
import { requireRegularFile } from "./regular_file.ts";
import { FileBudget } from "./budget.ts";
import { printable } from "./printable.ts";
import { listZip, zipMember } from "./zip.ts";

/** A host array with its shape and NumPy dtype string (e.g. "<f4", "<f8", "|u1"). */
export interface NdArray {
  /** The dimensions, outermost first ([] for a scalar). */
  shape: number[];
  /** The NumPy dtype string: byte order, kind and item size, e.g. "<f4". */
  dtype: string;
  /** The elements in C order, in the typed array matching `dtype`. */
  data:
    | Float32Array
    | Float64Array
    | Float16Array
    | Uint8Array
    | Int8Array
    | Int32Array
    | Uint32Array
    | Int16Array
    | Uint16Array
    | BigInt64Array
    | BigUint64Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

const CTORS: Record<string, new (b: ArrayBuffer, o: number, n: number) => NdArray["data"]> = {
  f2: Float16Array,
  f4: Float32Array,
  f8: Float64Array,
  u1: Uint8Array,
  i1: Int8Array,
  b1: Uint8Array,
  i2: Int16Array,
  u2: Uint16Array,
  i4: Int32Array,
  u4: Uint32Array,
  i8: BigInt64Array,
  u8: BigUint64Array,
};

/** A parsed .npy header: shape, dtype (without byte order) and where the data starts. */
export interface NpyHeader {
  shape: number[];
  /** The type code without byte order, e.g. "f4", "u1". */
  type: string;
  dataStart: number;
}

/** The byte length of a .npy file's preamble and header (magic, version, length, dict) from its first 12 bytes. */
export function npyHeaderSize(first: Uint8Array, name: string): number {
  if (first.length < 10 || MAGIC.some((m, i) => first[i] !== m)) {
    throw new UserError(`${name}: not a .npy file`);
  }
  const view = new DataView(first.buffer, first.byteOffset, first.byteLength);
  return first[6] === 1 ? 10 + view.getUint16(8, true) : 12 + view.getUint32(8, true);
}

/** Parses the header of a .npy file from its first bytes (at least {@link npyHeaderSize} of them). */
export function parseNpyHeader(bytes: Uint8Array, name: string): NpyHeader {
  const dataStart = npyHeaderSize(bytes, name);
  if (dataStart > bytes.length) throw new UserError(`${name}: truncated .npy header`);
  const header = new TextDecoder().decode(bytes.subarray(bytes[6] === 1 ? 10 : 12, dataStart));
  const descr = /'descr':\s*'([<>|=])([a-z]\d+)'/.exec(header);
  const fortran = /'fortran_order':\s*(True|False)/.exec(header);
  const shapeMatch = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shapeMatch) {
    throw new UserError(`${name}: unsupported .npy header ${printable(header.trim())}`);
  }
  if (descr[1] === ">") throw new UserError(`${name}: big-endian .npy arrays are not supported`);
  if (fortran[1] === "True") throw new UserError(`${name}: Fortran-order .npy arrays are not supported`);
  const shape = shapeMatch[1].split(",").map((s) => s.trim()).filter((s) => s).map(Number);
  if (!shape.every((s) => Number.isSafeInteger(s) && s >= 0)) {
    throw new UserError(`${name}: corrupt .npy shape (${printable(shapeMatch[1])})`);
  }
  return { shape, type: descr[2], dataStart };
}

/** Parses a .npy file held in memory. `name` is used in error messages. */
export function parseNpy(bytes: Uint8Array, name = "array"): NdArray {
  if (bytes.length < 12) throw new UserError(`${name}: not a .npy file`);
  const { shape, type, dataStart } = parseNpyHeader(bytes, name);
  const ctor = CTORS[type];
  if (!ctor) throw new UserError(`${name}: unsupported .npy dtype ${type}`);
  const n = shape.reduce((a, b) => a * b, 1);
  const itemBytes = Number(type.slice(1));
  if (dataStart + n * itemBytes > bytes.length) throw new UserError(`${name}: .npy data is truncated`);
  // Copy into an aligned buffer: typed arrays need offsets that are multiples of the item size.
  const aligned = bytes.slice(dataStart, dataStart + n * itemBytes).buffer;
  return {
    shape,
    dtype: (type === "u1" || type === "b1" || type === "i1" ? "|" : "<") + type,
    data: new ctor(aligned, 0, n),
  };
}

/** Serialises an array as a version 1.0 .npy file. */
export function formatNpy(a: NdArray): Uint8Array {
  const shape = a.shape.length === 1 ? `(${a.shape[0]},)` : `(${a.shape.join(", ")})`;
  let header = `{'descr': '${a.dtype}', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += " ".repeat((64 - (total % 64)) % 64) + "\n";
  const headerBytes = new TextEncoder().encode(header);
  const body = new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength);
  const out = new Uint8Array(10 + headerBytes.length + body.length);
  out.set(MAGIC);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, headerBytes.length, true);
  out.set(headerBytes, 10);
  out.set(body, 10 + headerBytes.length);
  return out;
}

/**
 * Parses an .npz archive into its arrays, keyed by member name without ".npy". Compressed members
 * (numpy.savez_compressed) inflate within the file's decompression budget.
 */
export function parseNpz(bytes: Uint8Array, name = "archive"): Map<string, NdArray> {
  const entries = listZip(bytes, name);
  const budget = new FileBudget(name, bytes.length);
  const out = new Map<string, NdArray>();
  for (const [member, entry] of entries) {
    if (!member.endsWith(".npy")) continue;
    const data = zipMember(bytes, entry, member, name, budget);
    out.set(member.slice(0, -4), parseNpy(data, `${name}:${printable(member)}`));
  }
  return out;
}

/**
 * Serialises arrays as an uncompressed .npz archive (as numpy.savez does). Members carry a fixed time stamp
 * (1980-01-01, the zip epoch), so the same arrays always give the same bytes.
 */
export function formatNpz(arrays: Record<string, NdArray>): Uint8Array {
  const files: Record<string, [Uint8Array, { level: 0; mtime: Date }]> = {};
  const mtime = new Date(1980, 0, 1);
  for (const [key, a] of Object.entries(arrays)) files[`${key}.npy`] = [formatNpy(a), { level: 0, mtime }];
  return zipSync(files);
}

/** Reads a .npy file from disk. */
export function readNpy(path: string): NdArray {
  return parseNpy(readFileOrFail(path), path);
}

/** Reads a .npz file from disk. */
export function readNpz(path: string): Map<string, NdArray> {
  return parseNpz(readFileOrFail(path), path);
}

/** Reads a whole file, turning "not found" and the like into a one-line UserError. */
export function readFileOrFail(path: string): Uint8Array {
  requireRegularFile(path);
  try {
    return Deno.readFileSync(path);
  } catch (e) {
    throw new UserError(`${path}: cannot read: ${(e as Error).message.split("\n")[0]}`);
  }
}

/** Converts any numeric array to float64 (for references and statistics). */
export function toFloat64(a: NdArray): Float64Array {
  const d = a.data;
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) return Float64Array.from(d, Number);
  return Float64Array.from(d as ArrayLike<number>);
}
