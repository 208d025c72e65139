/**
 * PyTorch files without PyTorch: the zip format of torch.save (>= 1.6: `<prefix>/data.pkl` whose
 * persistent ids ("storage", torch.FloatStorage, key, location, numel) name `<prefix>/data/<key>`), the
 * legacy format (magic, protocol, sys_info and main pickles, the storage-key list, then per storage an
 * int64 element count and the raw bytes), TorchScript archives (torch.jit.save: the same zip layout, with
 * modules as `__torch__.*` objects) and plain pickles whose storages are `torch.storage._load_from_bytes`
 * blobs (a complete legacy torch.save of one storage, as NVIDIA's persistence pickles hold them).
 *
 * Tensors stay views (storage, offset, shape, stride) into the file's bytes until they are materialised,
 * which copies each one exactly once into a dense C-order typed array.
 */
import { requireRegularFile } from "./regular_file.ts";
import { UserError } from "../errors.ts";
import { FileBudget, TENSORS } from "./budget.ts";
import { printable } from "./printable.ts";
import { listZip, type ZipEntry, zipMember } from "./zip.ts";
import {
  BASE_GLOBALS,
  dataClass,
  type GlobalHandler,
  PyDict,
  PyGlobal,
  PyObject,
  unpickle,
} from "./pickle.ts";

/** Element types sg3 reads from torch storages. */
export type TorchDType =
  | "float32"
  | "float16"
  | "bfloat16"
  | "float64"
  | "int64"
  | "int32"
  | "int16"
  | "int8"
  | "uint8"
  | "bool";

const ITEM_BYTES: Record<TorchDType, number> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

/**
 * torch.<Name>Storage -> element type (the legacy storage classes name the dtype in all formats). An
 * untyped storage (torch >= 2.0) counts bytes: `numel` is its byte size, and the tensor built on it
 * names its dtype (`_rebuild_tensor_v3`), as torch.serialization's persistent_load reads it.
 */
const STORAGE_TYPES: Record<string, TorchDType> = {
  "torch.UntypedStorage": "uint8",
  "torch.FloatStorage": "float32",
  "torch.HalfStorage": "float16",
  "torch.BFloat16Storage": "bfloat16",
  "torch.DoubleStorage": "float64",
  "torch.LongStorage": "int64",
  "torch.IntStorage": "int32",
  "torch.ShortStorage": "int16",
  "torch.CharStorage": "int8",
  "torch.ByteStorage": "uint8",
  "torch.BoolStorage": "bool",
};

/**
 * A typed storage: `numel` elements of `dtype`; its bytes are attached when the file has been read.
 * Tensors materialised from it are charged to its file's `budget` ({@link TENSORS}).
 */
export class TorchStorage {
  /** The raw little-endian bytes; null until the file's data has been read. */
  bytes: Uint8Array | null = null;
  /** Declares a storage as a persistent id names it. */
  constructor(
    /** The element type. */
    readonly dtype: TorchDType,
    /** Number of elements. */
    readonly numel: number,
    /** The storage's key in the file (its data member's name in a zip archive). */
    readonly key: string,
    /**
     * The file's budget that materialised tensors are charged to.
     * @internal
     */
    readonly budget?: FileBudget,
  ) {}
}

/** torch.<dtype> globals (pickled torch.dtype values) -> element type. */
const DTYPES: Record<string, TorchDType> = Object.fromEntries(
  (Object.keys(ITEM_BYTES) as TorchDType[]).map((d) => [`torch.${d}`, d]),
);

/**
 * A tensor as saved: a strided view into a storage (shared storages are the same object). Offset and
 * strides count elements of the tensor's dtype, which is the storage's unless the storage is untyped.
 */
export class TorchTensor {
  /** A view as `torch._utils._rebuild_tensor_v2` rebuilds it. */
  constructor(
    /** The storage viewed (shared with other tensors saved from the same storage). */
    readonly storage: TorchStorage,
    /** The first element, counted in elements of `dtype`. */
    readonly offset: number,
    /** The dimensions, outermost first. */
    readonly shape: number[],
    /** Element step per dimension, in elements of `dtype`. */
    readonly stride: number[],
    /** The element type (the storage's unless the storage is untyped). */
    readonly dtype: TorchDType = storage.dtype,
  ) {}
  /** Number of elements: the product of `shape`. */
  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
}

/** A dense tensor in C order. float16 data is a Float16Array; bfloat16 is widened (exactly) to float32. */
export interface TypedTensor {
  /** The element type as saved. */
  dtype: TorchDType;
  /** The dimensions, outermost first. */
  shape: number[];
  /** The elements in C order (a typed array matching `dtype`). */
  data:
    | Float32Array
    | Float64Array
    | Float16Array
    | BigInt64Array
    | Int32Array
    | Int16Array
    | Int8Array
    | Uint8Array;
}

/** Per-file context used by the torch globals: where storages come from and the name for errors. */
interface LoadContext {
  name: string;
  /** The expansion budget of the whole file (embedded storages included). */
  budget: FileBudget;
  /** Resolves the bytes of a zip-format storage key; null when the archive lacks it. */
  storageBytes?: (key: string) => Uint8Array | null;
}

function isInt(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v);
}

function intList(v: unknown, what: string, name: string): number[] {
  if (!Array.isArray(v) || !v.every(isInt)) throw new UserError(`${name}: corrupt tensor ${what}`);
  return v as number[];
}

/**
 * _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks, [metadata]);
 * with `dtype` it is _rebuild_tensor_v3, whose storage is untyped (its bytes are read as `dtype`).
 */
function rebuildTensor(args: unknown[], name: string, dtype?: TorchDType): TorchTensor {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof TorchStorage)) throw new UserError(`${name}: corrupt tensor (no storage)`);
  if (!isInt(offset) || offset < 0) throw new UserError(`${name}: corrupt tensor offset`);
  const shape = intList(size, "shape", name), strides = intList(stride, "stride", name);
  if (shape.length !== strides.length || shape.some((s) => s < 0) || strides.some((s) => s < 0)) {
    throw new UserError(`${name}: corrupt tensor shape/stride`);
  }
  return new TorchTensor(storage, offset, shape, strides, dtype);
}

/** The globals torch files use, bound to one file's context. */
function torchGlobals(ctx: LoadContext): Record<string, GlobalHandler> {
  const storageClass = (cls: string): GlobalHandler => ({
    call: () => {
      throw new UserError(`${ctx.name}: unsupported use of ${cls}`);
    },
  });
  const tensor: GlobalHandler = { call: (a) => rebuildTensor(a, ctx.name) };
  return {
    ...BASE_GLOBALS,
    ...Object.fromEntries(Object.keys(STORAGE_TYPES).map((k) => [k, storageClass(k)])),
    "torch._utils._rebuild_tensor_v2": tensor,
    "torch._utils._rebuild_tensor": tensor,
    ...Object.fromEntries(Object.keys(DTYPES).map((k) => [k, {}])),
    "torch._utils._rebuild_tensor_v3": {
      call: (a) => {
        const d = a[6];
        const dtype = d instanceof PyGlobal ? DTYPES[d.name] : undefined;
        if (!dtype) {
          throw new UserError(
            `${ctx.name}: unsupported tensor dtype ${d instanceof PyGlobal ? d.name : String(d)}`,
          );
        }
        return rebuildTensor(a, ctx.name, dtype);
      },
    },
    "torch._utils._rebuild_parameter": { call: ([data]) => data },
    "torch._utils._rebuild_parameter_with_state": { call: ([data]) => data },
    "torch._tensor._rebuild_from_type_v2": {
      call: ([func, , args]) => {
        if (!(func instanceof PyGlobal) || !func.handler.call || !Array.isArray(args)) {
          throw new UserError(`${ctx.name}: corrupt tensor subclass record`);
        }
        return func.handler.call(args);
      },
    },
    "torch.storage._load_from_bytes": {
      call: ([blob]) => {
        if (!(blob instanceof Uint8Array)) throw new UserError(`${ctx.name}: corrupt embedded storage`);
        const value = readLegacy(blob, `${ctx.name} (embedded storage)`, ctx.budget);
        if (!(value instanceof TorchStorage)) {
          throw new UserError(`${ctx.name}: embedded blob is not a storage`);
        }
        return value;
      },
    },
    "torch.Size": { call: ([dims]) => intList(dims, "size", ctx.name) },
    "torch.device": { call: ([d]) => String(d) },
    "torch.jit._pickle.build_intlist": { call: ([l]) => l },
    "torch.jit._pickle.build_tensorlist": { call: ([l]) => l },
    "torch.jit._pickle.build_doublelist": { call: ([l]) => l },
    "torch.jit._pickle.build_boollist": { call: ([l]) => l },
    "torch.jit._pickle.restore_type_tag": { call: ([v]) => v },
    "torch_utils.persistence._reconstruct_persistent_obj": {
      call: ([meta]) => persistentObject(meta, ctx.name),
    },
  };
}

/** The allow-list lookup: fixed entries, then data classes (TorchScript and torch.nn modules). */
function withDataClasses(
  globals: Record<string, GlobalHandler>,
): (name: string) => GlobalHandler | undefined {
  return (key) =>
    Object.hasOwn(globals, key) ? globals[key] : isDataClassName(key) ? dataClass(key) : undefined;
}

/** Classes that are pure containers of state: loading one creates a PyObject and runs nothing. */
function isDataClassName(key: string): boolean {
  return /^__torch__\.[\w.]+$/.test(key) || /^torch\.nn\.modules\.[\w]+\.[A-Z]\w*$/.test(key);
}

/**
 * A torch_utils.persistence object: meta = {type, version, module_src, class_name, state}. The source is
 * ignored; the state (the module's __dict__) is kept as the object's state.
 */
function persistentObject(meta: unknown, name: string): PyObject {
  if (!(meta instanceof PyDict)) throw new UserError(`${name}: corrupt persistent object`);
  const className = meta.get("class_name");
  if (typeof className !== "string") throw new UserError(`${name}: persistent object without class_name`);
  const obj = new PyObject(className);
  obj.state = meta.get("state") ?? new PyDict();
  return obj;
}

/** Parses a persistent id ("storage", StorageClass, key, location, numel[, view_metadata]). */
function parseStorageId(
  pid: unknown,
  name: string,
): { dtype: TorchDType; key: string; numel: number; view: unknown } {
  if (!Array.isArray(pid) || pid[0] !== "storage" || pid.length < 5) {
    throw new UserError(`${name}: unsupported persistent id`);
  }
  const [, cls, key, , numel, view] = pid;
  const dtype = cls instanceof PyGlobal ? STORAGE_TYPES[cls.name] : undefined;
  if (!dtype) {
    throw new UserError(
      `${name}: unsupported storage type ${cls instanceof PyGlobal ? cls.name : String(cls)}`,
    );
  }
  if (typeof key !== "string" && !isInt(key)) throw new UserError(`${name}: corrupt storage key`);
  if (!isInt(numel) || numel < 0) throw new UserError(`${name}: corrupt storage size`);
  return { dtype, key: String(key), numel, view };
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

/** True if `bytes` start like a legacy torch.save file (a pickled magic number). */
function isLegacy(bytes: Uint8Array): boolean {
  // PROTO 2, LONG1 10 bytes of the magic number.
  return bytes.length > 14 && bytes[0] === 0x80 && bytes[2] === 0x8a && bytes[3] === 10;
}

/** Reads a legacy (pre-1.6, non-zip) torch.save file; returns the saved object. */
function readLegacy(bytes: Uint8Array, name: string, budget: FileBudget): unknown {
  const storages = new Map<string, TorchStorage>();
  const ctx: LoadContext = { name, budget };
  const globals = withDataClasses(torchGlobals(ctx));
  let pos = 0;
  const next = (persistentLoad?: (pid: unknown) => unknown) => {
    const r = unpickle(bytes, { globals, name, offset: pos, persistentLoad, budget });
    pos = r.end;
    return r.value;
  };
  if (next() !== LEGACY_MAGIC) throw new UserError(`${name}: not a torch file (bad magic number)`);
  const protocol = next();
  if (protocol !== 1001) {
    throw new UserError(`${name}: unsupported legacy torch protocol ${String(protocol)}`);
  }
  next(); // sys_info: little-endian layouts are all sg3 supports
  const views: [TorchStorage, string, number][] = [];
  const value = next((pid) => {
    const id = parseStorageId(pid, name);
    let root = storages.get(id.key);
    if (!root) {
      root = new TorchStorage(id.dtype, id.numel, id.key, budget);
      storages.set(id.key, root);
    }
    if (Array.isArray(id.view)) {
      // (view_key, offset, view_size): a storage slice; resolved once the root's bytes are known.
      const [viewKey, off, size] = id.view;
      if (!isInt(off) || !isInt(size) || off < 0 || size < 0) {
        throw new UserError(`${name}: corrupt storage view`);
      }
      const v = new TorchStorage(id.dtype, size, String(viewKey), budget);
      views.push([v, id.key, off]);
      return v;
    }
    return root;
  });
  const keys = next();
  if (!Array.isArray(keys)) throw new UserError(`${name}: corrupt storage key list`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const key of keys) {
    const s = storages.get(String(key));
    if (!s) throw new UserError(`${name}: storage ${String(key)} is listed but never used`);
    if (pos + 8 > bytes.length) throw new UserError(`${name}: truncated file (storage ${s.key} is missing)`);
    const count = Number(dv.getBigInt64(pos, true));
    const len = count * ITEM_BYTES[s.dtype];
    if (count < 0 || pos + 8 + len > bytes.length) {
      throw new UserError(
        `${name}: truncated file (storage ${s.key} needs ${len} bytes at offset ${pos + 8})`,
      );
    }
    s.bytes = bytes.subarray(pos + 8, pos + 8 + len);
    pos += 8 + len;
  }
  for (const [v, rootKey, off] of views) {
    const root = storages.get(rootKey)!;
    const b = ITEM_BYTES[v.dtype];
    if (root.bytes && (off + v.numel) * b <= root.bytes.length) {
      v.bytes = root.bytes.subarray(off * b, (off + v.numel) * b);
    }
  }
  return value;
}

/** A zip archive's `<prefix>data.pkl` member (torch.save, torch.jit.save); throws if there is none. */
function dataPklMember(entries: Map<string, ZipEntry>, name: string): { pkl: string; prefix: string } {
  const pkl = [...entries.keys()].find((k) => /^[^/]*\/?data\.pkl$/.test(k) && !k.includes("/code/"));
  if (!pkl) throw new UserError(`${name}: not a PyTorch archive (no data.pkl)`);
  return { pkl, prefix: pkl.slice(0, pkl.length - "data.pkl".length) };
}

/**
 * Unpickles the archive member `<prefix><archive>.pkl`; its persistent ids name storages stored as
 * `<prefix><archive>/<key>` (torch's writeArchive puts each pickle's tensors in a folder of its name).
 */
function readZipPickle(
  bytes: Uint8Array,
  entries: Map<string, ZipEntry>,
  prefix: string,
  archive: string,
  name: string,
  budget: FileBudget,
): unknown {
  const pkl = `${prefix}${archive}.pkl`;
  const storages = new Map<string, TorchStorage>();
  const ctx: LoadContext = { name, budget };
  const globals = withDataClasses(torchGlobals(ctx));
  const { value } = unpickle(zipMember(bytes, entries.get(pkl)!, pkl, name, budget), {
    globals,
    name,
    budget,
    persistentLoad: (pid) => {
      const id = parseStorageId(pid, name);
      let s = storages.get(id.key);
      if (!s) {
        s = new TorchStorage(id.dtype, id.numel, id.key, budget);
        const member = `${prefix}${archive}/${id.key}`;
        const entry = entries.get(member);
        if (!entry) throw new UserError(`${name}: archive is missing storage ${member}`);
        s.bytes = zipMember(bytes, entry, member, name, budget);
        storages.set(id.key, s);
      }
      return s;
    },
  });
  return value;
}

/** Reads a torch.save / torch.jit.save zip archive; returns the object in `<prefix>/data.pkl`. */
function readTorchZip(bytes: Uint8Array, name: string, budget: FileBudget): unknown {
  const entries = listZip(bytes, name);
  return readZipPickle(bytes, entries, dataPklMember(entries, name).prefix, "data", name, budget);
}

/**
 * The tensor constants of a TorchScript archive (torch.jit.save): `<prefix>constants.pkl` pickles the
 * code's constant table as a tuple, which the code refers to as CONSTANTS.c<i>; its tensors are named
 * `constants.c<i>` here. Empty for other files.
 */
export function readTorchScriptConstants(bytes: Uint8Array, name: string): Map<string, TorchTensor> {
  const out = new Map<string, TorchTensor>();
  if (!isZip(bytes)) return out;
  return guard(name, () => {
    const entries = listZip(bytes, name);
    const { prefix } = dataPklMember(entries, name);
    if (!entries.has(`${prefix}constants.pkl`)) return out;
    const table = readZipPickle(
      bytes,
      entries,
      prefix,
      "constants",
      name,
      new FileBudget(name, bytes.length),
    );
    if (!Array.isArray(table)) throw new UserError(`${name}: corrupt TorchScript constant table`);
    table.forEach((v, i) => {
      if (v instanceof TorchTensor) out.set(`constants.c${i}`, v);
    });
    return out;
  });
}

/** True if `bytes` start with a zip local file header. */
function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 3 && bytes[3] === 4;
}

/**
 * Reads any supported PyTorch file held in memory: zip archive (torch.save >= 1.6, TorchScript), legacy
 * torch.save, or a plain pickle (e.g. a persistence pickle whose storages are embedded blobs).
 */
export function readTorchBytes(bytes: Uint8Array, name: string): unknown {
  return guard(name, () => {
    const budget = new FileBudget(name, bytes.length);
    if (isZip(bytes)) return readTorchZip(bytes, name, budget);
    if (isLegacy(bytes)) return readLegacy(bytes, name, budget);
    if (bytes.length < 2 || bytes[0] !== 0x80) {
      throw new UserError(`${name}: not a pickle, PyTorch or zip file`);
    }
    const ctx: LoadContext = { name, budget };
    return unpickle(bytes, { globals: withDataClasses(torchGlobals(ctx)), name, budget }).value;
  });
}

/**
 * Runs `fn`; errors other than UserError can only come from malformed data reaching an unchecked path
 * (e.g. a typed-array constructor), so they are reported as a corrupt file rather than as a crash.
 * Every message names the file (it is prepended where a nested reader did not) and stays one line:
 * control characters that file-derived names bring into it are escaped.
 */
export function guard<T>(name: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof UserError) {
      const named = printable(e.message.startsWith(name) ? e.message : `${name}: ${e.message}`);
      throw named === e.message ? e : new UserError(named);
    }
    if (e instanceof RangeError && /call stack/i.test(e.message)) {
      throw new UserError(printable(`${name}: corrupt or hostile file (containers nested too deeply)`));
    }
    throw new UserError(printable(`${name}: corrupt or unsupported file (${(e as Error)?.message ?? e})`));
  }
}

/** Largest tensor sg3 will materialise, in elements (a guard against corrupt shapes). */
const MAX_ELEMENTS = 2 ** 31;

/**
 * Checks that every element the view addresses lies inside its storage and that materialising it stays
 * within its file's tensor budget (which it is charged); returns the element count.
 */
function checkView(t: TorchTensor, name: string): number {
  const s = t.storage;
  if (!s.bytes) throw new UserError(`${name}: tensor storage ${s.key} has no data`);
  const size = ITEM_BYTES[t.dtype];
  const avail = Math.min(
    Math.floor(s.bytes.length / size),
    Math.floor((s.numel * ITEM_BYTES[s.dtype]) / size),
  );
  const numel = t.numel;
  if (numel > MAX_ELEMENTS) throw new UserError(`${name}: tensor of ${numel} elements is too large`);
  if (numel === 0) return 0;
  let last = t.offset;
  for (let d = 0; d < t.shape.length; d++) last += (t.shape[d] - 1) * t.stride[d];
  if (last >= avail) {
    throw new UserError(
      `${name}: tensor storage ${s.key} is too short (a view of shape [${t.shape}] reaches element ${last}, ` +
        `the storage holds ${avail})`,
    );
  }
  if (numel > 16 * avail + 1024) {
    throw new UserError(
      `${name}: a view of ${numel} elements over a storage of ${avail} exceeds the budget of views ` +
        `(at most 16 x the storage + 1024 elements)`,
    );
  }
  s.budget?.charge(TENSORS, numel * size);
  return numel;
}

/** Calls `visit(dst, src)` for every element of the view in C order (src = storage element index). */
function forEachElement(t: TorchTensor, visit: (dst: number, src: number) => void): void {
  const nd = t.shape.length, numel = t.numel;
  const idx = new Array(nd).fill(0);
  let src = t.offset;
  for (let i = 0; i < numel; i++) {
    visit(i, src);
    for (let d = nd - 1; d >= 0; d--) {
      idx[d]++;
      src += t.stride[d];
      if (idx[d] < t.shape[d]) break;
      src -= t.stride[d] * t.shape[d];
      idx[d] = 0;
    }
  }
}

/** True if the view is dense in C order (a plain slice of its storage). */
function isContiguous(t: TorchTensor): boolean {
  let expect = 1;
  for (let d = t.shape.length - 1; d >= 0; d--) {
    if (t.shape[d] !== 1 && t.stride[d] !== expect) return false;
    expect *= t.shape[d];
  }
  return true;
}

/** Reads element `i` of storage bytes `b` as a JS number (int64 above 2^53 loses precision). */
function elementReader(b: Uint8Array, dtype: TorchDType): (i: number) => number {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  switch (dtype) {
    case "float32":
      return (i) => dv.getFloat32(4 * i, true);
    case "float16":
      return (i) => dv.getFloat16(2 * i, true);
    case "bfloat16":
      return (i) => {
        const u = dv.getUint16(2 * i, true) << 16;
        dv2.setUint32(0, u, true);
        return dv2.getFloat32(0, true);
      };
    case "float64":
      return (i) => dv.getFloat64(8 * i, true);
    case "int64":
      return (i) => Number(dv.getBigInt64(8 * i, true));
    case "int32":
      return (i) => dv.getInt32(4 * i, true);
    case "int16":
      return (i) => dv.getInt16(2 * i, true);
    case "int8":
      return (i) => dv.getInt8(i);
    case "uint8":
    case "bool":
      return (i) => b[i];
  }
}
const dv2 = new DataView(new ArrayBuffer(4));

/**
 * Materialises a tensor as dense C-order float32 (other dtypes converted; int64 via Number). One copy:
 * contiguous float32 views are copied straight out of the file's bytes.
 */
export function tensorToFloat32(t: TorchTensor, name = "tensor"): Float32Array {
  return float32Of(t, checkView(t, name));
}

/** {@link tensorToFloat32} of a view already checked by {@link checkView} (which gave `numel`). */
function float32Of(t: TorchTensor, numel: number): Float32Array {
  const s = t.storage;
  if (t.dtype === "float32" && isContiguous(t)) {
    const start = t.offset * 4;
    return new Float32Array(s.bytes!.slice(start, start + numel * 4).buffer);
  }
  const out = new Float32Array(numel);
  if (numel === 0) return out;
  const read = elementReader(s.bytes!, t.dtype);
  forEachElement(t, (dst, src) => out[dst] = read(src));
  return out;
}

const TYPED: Record<Exclude<TorchDType, "bfloat16">, new (b: ArrayBuffer) => TypedTensor["data"]> = {
  float32: Float32Array,
  float16: Float16Array,
  float64: Float64Array,
  int64: BigInt64Array,
  int32: Int32Array,
  int16: Int16Array,
  int8: Int8Array,
  uint8: Uint8Array,
  bool: Uint8Array,
};

/** Materialises a tensor as a dense C-order array of its own dtype (bfloat16 widened to float32). */
export function tensorToTyped(t: TorchTensor, name = "tensor"): TypedTensor {
  return typedOf(t, checkView(t, name));
}

/** {@link tensorToTyped} of a view already checked by {@link checkView} (which gave `numel`). */
function typedOf(t: TorchTensor, numel: number): TypedTensor {
  const s = t.storage;
  const shape = [...t.shape];
  if (t.dtype === "bfloat16") return { dtype: t.dtype, shape, data: float32Of(t, numel) };
  const size = ITEM_BYTES[t.dtype];
  let bytes: Uint8Array;
  if (isContiguous(t)) bytes = s.bytes!.slice(t.offset * size, (t.offset + numel) * size);
  else {
    bytes = new Uint8Array(numel * size);
    const src = s.bytes!;
    forEachElement(t, (d, i) => bytes.set(src.subarray(i * size, (i + 1) * size), d * size));
  }
  return { dtype: t.dtype, shape, data: new TYPED[t.dtype](bytes.buffer as ArrayBuffer) };
}

/** Unwraps a module-like value into its attribute dict (PyObject state, persistent state, plain dict). */
export function moduleState(v: unknown): PyDict | null {
  if (v instanceof PyObject) return v.state instanceof PyDict ? v.state : null;
  return v instanceof PyDict ? v : null;
}

/**
 * The state dict of a loaded object: every tensor reachable through dicts and modules, named as PyTorch
 * names them (nn.Module `_parameters` / `_buffers` / `_modules` add no path component; non-persistent
 * buffers are left out; TorchScript modules hold their tensors as plain attributes). The names of
 * registered buffers are added to `buffers` when given.
 */
export function collectTensors(root: unknown, prefix = "", buffers?: Set<string>): Map<string, TorchTensor> {
  const out = new Map<string, TorchTensor>();
  const seen = new Set<unknown>();
  const walk = (v: unknown, path: string) => {
    if (v instanceof TorchTensor) {
      if (!out.has(path)) out.set(path, v);
      return;
    }
    const d = moduleState(v);
    if (!d || seen.has(d)) return;
    seen.add(d);
    const skip = d.get("_non_persistent_buffers_set");
    const isModule = d.has("_parameters") || d.has("_modules");
    for (const [k, child] of d) {
      if (typeof k !== "string" && typeof k !== "number") continue;
      const key = String(k);
      if (key === "_parameters" || key === "_buffers" || key === "_modules") {
        const inner = moduleState(child);
        if (!inner) continue;
        for (const [ck, cv] of inner) {
          if (key === "_buffers" && skip instanceof Set && skip.has(ck)) continue;
          const name = path ? `${path}.${String(ck)}` : String(ck);
          if (key === "_buffers" && cv instanceof TorchTensor) buffers?.add(name);
          walk(cv, name);
        }
      } else if (!isModule || !key.startsWith("_")) walk(child, path ? `${path}.${key}` : key);
    }
  };
  walk(root, prefix);
  return out;
}

/**
 * Reads a file from disk into one buffer of its stat size (faster than Deno.readFile's growing buffer
 * for snapshots of hundreds of MB), turning I/O errors into a one-line UserError.
 */
export async function readFileBytes(path: string): Promise<Uint8Array> {
  requireRegularFile(path);
  try {
    using file = await Deno.open(path);
    const info = await file.stat();
    if (!info.isFile) throw new Error("not a regular file");
    const buf = new Uint8Array(info.size);
    let off = 0;
    while (off < buf.length) {
      const n = await file.read(buf.subarray(off));
      if (n === null) break;
      off += n;
    }
    return off === buf.length ? buf : buf.subarray(0, off);
  } catch (e) {
    throw new UserError(`${path}: cannot read: ${(e as Error).message.split("\n")[0]}`);
  }
}

/**
 * Reads a PyTorch weight file (.pth/.pt zip or legacy, TorchScript, or a pickle of modules such as
 * NVIDIA's inception .pkl) and returns its state dict: name -> dense typed tensor with dtype and shape.
 * A TorchScript archive's tensor constants follow its weights as `constants.c<i>`.
 */
export async function readTorchFile(path: string): Promise<Map<string, TypedTensor>> {
  const bytes = await readFileBytes(path);
  return guard(path, () => {
    const tensors = collectTensors(readTorchBytes(bytes, path));
    for (const [k, t] of readTorchScriptConstants(bytes, path)) tensors.set(k, t);
    if (tensors.size === 0) throw new UserError(`${path}: holds no tensors`);
    // Every view is checked and charged to the file's budget before any is materialised, so that views that
    // together exceed it are refused at once, not after expanding the first ones.
    const sizes = [...tensors].map(([k, t]) => checkView(t, `${path}: ${k}`));
    return new Map([...tensors].map(([k, t], i) => [k, typedOf(t, sizes[i])]));
  });
}
