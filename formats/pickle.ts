/**
 * A safe pickle reader (protocols 0-5): the opcode stream is evaluated into plain values, and every
 * GLOBAL / STACK_GLOBAL must name an entry of an explicit allow-list that maps it to a data-only
 * reconstruction. Nothing a file names is ever imported or executed; any other global is refused with a
 * UserError naming it.
 *
 * Value mapping: None -> null, bool -> boolean, int -> number (bigint beyond 2^53), float -> number,
 * str -> string, bytes -> Uint8Array (a view into the input, not a copy), list and tuple -> Array,
 * dict -> PyDict (a Map, insertion-ordered), set/frozenset -> Set, instances of allowed classes ->
 * whatever the allow-list entry builds (PyObject for plain data classes).
 */
import { UserError } from "../errors.ts";
import { printable } from "./printable.ts";
import { CONTAINERS, CONVERTED, FileBudget, LONG_BYTES, MAX_DEPTH, overBudget } from "./budget.ts";

/**
 * A Python dict (or dict subclass such as OrderedDict, EasyDict): keys keep their insertion order.
 * `attrs` holds instance attributes a subclass pickles beside its items (state_dict's `_metadata`).
 */
export class PyDict extends Map<unknown, unknown> {
  /** The BUILD state applied to the dict (instance attributes); undefined when none. */
  attrs: unknown = undefined;
}

/** An instance of an allowed data-only class: its qualified class name, constructor args and BUILD state. */
export class PyObject {
  /** The BUILD state (usually a PyDict of attributes, merged over repeated BUILDs); undefined when none. */
  state: unknown = undefined;
  /** Creates an instance as NEWOBJ or REDUCE does. */
  constructor(
    /** The qualified class name, "module.name". */
    readonly className: string,
    /** The positional arguments it was created with. */
    readonly args: unknown[] = [],
  ) {}
}

/** How one allowed global reconstructs values. Every member is optional; missing ones refuse the use. */
export interface GlobalHandler {
  /** REDUCE: `global(*args)`. */
  call?(args: unknown[]): unknown;
  /** NEWOBJ / NEWOBJ_EX: `cls.__new__(cls, *args)`. */
  create?(args: unknown[], kwargs?: PyDict): unknown;
}

/** An allowed global as it sits on the pickle stack. */
export class PyGlobal {
  constructor(readonly name: string, readonly handler: GlobalHandler) {}
}

/** BUILD on a value that defines how it takes its state (e.g. numpy arrays). */
export interface Buildable {
  setState(state: unknown): void;
}

/** Options of `unpickle`. */
export interface UnpickleOptions {
  /** Allowed globals keyed by "module.name", or a lookup returning undefined for refused names. */
  globals: Record<string, GlobalHandler> | ((qualifiedName: string) => GlobalHandler | undefined);
  /** Resolves BINPERSID / PERSID ids (torch storages); without it persistent ids are refused. */
  persistentLoad?: (pid: unknown) => unknown;
  /** Name used in error messages (usually the file path). */
  name?: string;
  /** Byte offset to start at (legacy torch files hold several pickles back to back). */
  offset?: number;
  /**
   * The file's expansion budget (containers); default: one for these bytes alone.
   * @internal
   */
  budget?: FileBudget;
}

/** Result of `unpickle`: the value and the offset just past the STOP opcode. */
export interface Unpickled {
  /** The pickled value, mapped as the module comment describes. */
  value: unknown;
  /** The byte offset just past the STOP opcode. */
  end: number;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const utf8 = new TextDecoder("utf-8");

/**
 * Bytes as the string of the same code points (ISO-8859-1). TextDecoder's "latin1" is windows-1252,
 * which would turn byte 0x80 into U+20AC and corrupt binary data pickled as text.
 */
function latin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
  return s;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/**
 * Decodes a little-endian two's-complement integer (LONG1 / LONG4 payloads) in linear time: the bytes
 * are written as one hexadecimal string, which BigInt parses in one pass.
 */
function decodeLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  const digits = new Array<string>(b.length);
  for (let i = 0; i < b.length; i++) digits[i] = HEX[b[b.length - 1 - i]];
  let v = BigInt(`0x${digits.join("")}`);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return v <= MAX_SAFE && v >= -MAX_SAFE ? Number(v) : v;
}

/** Python 2 module names that pickles of protocols 0-2 use, as CPython's fix_imports maps them. */
const PY2_MODULES: Record<string, string> = { __builtin__: "builtins", copy_reg: "copyreg" };

/** Parses the text form of an int (protocol 0 INT / LONG lines); null if it is not one. */
function parseIntText(s: string): number | bigint | boolean | null {
  if (s === "01") return true;
  if (s === "00") return false;
  const t = s.endsWith("L") ? s.slice(0, -1) : s;
  if (!/^[-+]?\d+$/.test(t)) return null;
  const v = BigInt(t);
  return v <= MAX_SAFE && v >= -MAX_SAFE ? Number(v) : v;
}

/**
 * Evaluates a pickle held in memory. Throws UserError for malformed streams, refused globals and
 * unsupported opcodes, always naming the pickle (`opts.name`); never executes anything.
 */
export function unpickle(bytes: Uint8Array, opts: UnpickleOptions): Unpickled {
  const name = opts.name ?? "pickle";
  try {
    return evaluate(bytes, opts, name);
  } catch (e) {
    // Reconstructions (numpy arrays, dtypes, ...) report problems without knowing the file.
    if (e instanceof UserError && !e.message.startsWith(name)) {
      throw new UserError(printable(`${name}: ${e.message}`));
    }
    throw e;
  }
}

/** The opcode loop of {@link unpickle}. */
function evaluate(bytes: Uint8Array, opts: UnpickleOptions, name: string): Unpickled {
  const budget = opts.budget ?? new FileBudget(name, bytes.length);
  /** Counts one new container against the budget and returns it. */
  const made = <T>(c: T): T => (budget.charge(CONTAINERS, 1), c);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length;
  let pos = opts.offset ?? 0;
  let stack: unknown[] = [];
  const metastack: unknown[][] = [];
  const memo = new Map<number, unknown>();

  const fail = (msg: string): never => {
    throw new UserError(`${name}: ${msg}`);
  };
  const need = (k: number) => {
    if (k < 0 || pos + k > n) fail(`truncated pickle (needed ${k} bytes at offset ${pos}, file has ${n})`);
  };
  const u8 = () => (need(1), bytes[pos++]);
  const u16 = () => (need(2), pos += 2, view.getUint16(pos - 2, true));
  const u32 = () => (need(4), pos += 4, view.getUint32(pos - 4, true));
  const i32 = () => (need(4), pos += 4, view.getInt32(pos - 4, true));
  const u64 = () => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > MAX_SAFE) fail(`length ${v} at offset ${pos - 8} is too large`);
    return Number(v);
  };
  const take = (k: number) => {
    need(k);
    pos += k;
    return bytes.subarray(pos - k, pos);
  };
  const longBytes = (k: number) => {
    if (k > LONG_BYTES.cap) throw overBudget(name, LONG_BYTES, k, n);
    return take(k);
  };
  const intLine = () => {
    const text = line();
    // Decimal digits hold log2(10) / 8 bytes each.
    if (text.length > 2.5 * LONG_BYTES.cap) {
      throw overBudget(name, LONG_BYTES, Math.ceil(text.length / 2.4), n);
    }
    const v = parseIntText(text);
    if (v === null) fail(`corrupt pickle (bad integer literal before offset ${pos})`);
    return v!;
  };
  const line = () => {
    const start = pos;
    while (pos < n && bytes[pos] !== 0x0a) pos++;
    if (pos >= n) fail(`truncated pickle (unterminated line at offset ${start})`);
    return latin1(bytes.subarray(start, pos++));
  };
  // MARK moves the current stack onto `metastack` and starts an empty one, as CPython's unpickler does.
  const pop = () => {
    if (stack.length === 0) fail(`corrupt pickle (stack underflow at offset ${pos - 1})`);
    return stack.pop();
  };
  const top = () => {
    if (stack.length === 0) fail(`corrupt pickle (empty stack at ${pos - 1})`);
    return stack[stack.length - 1];
  };
  const popMark = () => {
    const items = stack;
    const prev = metastack.pop();
    if (!prev) fail(`corrupt pickle (no MARK before offset ${pos - 1})`);
    stack = prev!;
    return items;
  };
  const findGlobal = (module: string, attr: string): PyGlobal => {
    const full = `${PY2_MODULES[module] ?? module}.${attr}`;
    const g = opts.globals;
    const handler = typeof g === "function" ? g(full) : Object.hasOwn(g, full) ? g[full] : undefined;
    if (!handler) {
      fail(
        `refusing to load: the pickle asks for the global ${
          printable(JSON.stringify(`${module}.${attr}`))
        }, which is not on sg3's allow-list ` +
          `(sg3 never runs code from a file; only network snapshots and PyTorch weights are supported)`,
      );
    }
    return new PyGlobal(full, handler!);
  };
  const asGlobal = (v: unknown, what: string): PyGlobal => {
    if (!(v instanceof PyGlobal)) fail(`corrupt pickle (${what} of a non-class value at offset ${pos - 1})`);
    return v as PyGlobal;
  };
  const asArray = (v: unknown, what: string): unknown[] => {
    if (!Array.isArray(v)) fail(`corrupt pickle (${what} expects a tuple at offset ${pos - 1})`);
    return v as unknown[];
  };
  const setItems = (d: unknown, items: unknown[]) => {
    if (!(d instanceof Map)) fail(`corrupt pickle (SETITEM on a non-dict at offset ${pos - 1})`);
    if (items.length % 2) fail(`corrupt pickle (odd SETITEMS count at offset ${pos - 1})`);
    for (let i = 0; i < items.length; i += 2) (d as Map<unknown, unknown>).set(items[i], items[i + 1]);
  };
  const appendItems = (l: unknown, items: unknown[]) => {
    if (l instanceof Set) { for (const x of items) l.add(x); }
    else if (Array.isArray(l)) { for (const x of items) l.push(x); }
    else fail(`corrupt pickle (APPEND to a non-list at offset ${pos - 1})`);
  };
  const memoGet = (i: number) => {
    if (!memo.has(i)) fail(`corrupt pickle (memo key ${i} missing at offset ${pos - 1})`);
    return memo.get(i);
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail(`unsupported pickle protocol ${bytes[pos - 1]}`);
        break;
      case 0x95: // FRAME: frames only batch reads
        u64();
        break;
      case 0x2e: // STOP
        return { value: pop(), end: pos };
      case 0x28: // MARK
        metastack.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        if (stack.length) stack.pop();
        else popMark();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(decodeLong(longBytes(u8())));
        break;
      case 0x8b: { // LONG4
        const k = i32();
        if (k < 0) fail(`corrupt pickle (negative LONG4 length)`);
        stack.push(decodeLong(longBytes(k)));
        break;
      }
      case 0x49: // INT
        stack.push(intLine());
        break;
      case 0x4c: // LONG
        stack.push(intLine());
        break;
      case 0x46: { // FLOAT
        const s = line();
        const v = Number(s);
        if (Number.isNaN(v) && !/nan/i.test(s)) fail(`corrupt pickle (bad float ${JSON.stringify(s)})`);
        stack.push(v);
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x58: // BINUNICODE
        stack.push(utf8.decode(take(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8.decode(take(u8())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(utf8.decode(take(u64())));
        break;
      case 0x56: // UNICODE (raw-unicode-escape)
        stack.push(
          line().replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_, h, H) => {
            const cp = parseInt(h ?? H, 16);
            return cp <= 0x10ffff ? String.fromCodePoint(cp) : "\ufffd";
          }),
        );
        break;
      case 0x53: { // STRING: a quoted Python 2 str literal
        const s = line();
        const q = s[0];
        if (s.length < 2 || (q !== "'" && q !== '"') || s[s.length - 1] !== q) {
          fail(`corrupt pickle (bad STRING)`);
        }
        stack.push(s.slice(1, -1));
        break;
      }
      case 0x54: { // BINSTRING
        const k = i32();
        if (k < 0) fail(`corrupt pickle (negative BINSTRING length)`);
        stack.push(latin1(take(k)));
        break;
      }
      case 0x55: // SHORT_BINSTRING
        stack.push(latin1(take(u8())));
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32()));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()));
        break;
      case 0x8e: // BINBYTES8
        stack.push(take(u64()));
        break;
      case 0x96: // BYTEARRAY8
        stack.push(take(u64()).slice());
        break;
      case 0x98: // READONLY_BUFFER: no-op on an in-band buffer
        top();
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(made([]));
        break;
      case 0x85: // TUPLE1
        stack.push(made([pop()]));
        break;
      case 0x86: { // TUPLE2
        const b = pop(), a = pop();
        stack.push(made([a, b]));
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop(), b = pop(), a = pop();
        stack.push(made([a, b, c]));
        break;
      }
      case 0x74: // TUPLE
      case 0x6c: { // LIST
        const items = popMark(); // before `stack` is read: popMark replaces it
        stack.push(made(items));
        break;
      }
      case 0x5d: // EMPTY_LIST
        stack.push(made([]));
        break;
      case 0x61: { // APPEND
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(made(new PyDict()));
        break;
      case 0x64: { // DICT
        const d = made(new PyDict());
        setItems(d, popMark());
        stack.push(d);
        break;
      }
      case 0x73: { // SETITEM
        const v = pop(), k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x8f: // EMPTY_SET
        stack.push(made(new Set()));
        break;
      case 0x90: { // ADDITEMS
        const items = popMark();
        const s = top();
        if (!(s instanceof Set)) fail(`corrupt pickle (ADDITEMS on a non-set)`);
        for (const x of items) (s as Set<unknown>).add(x);
        break;
      }
      case 0x91: { // FROZENSET
        const items = popMark();
        stack.push(made(new Set(items)));
        break;
      }
      case 0x67: // GET
        stack.push(memoGet(Number(intLine())));
        break;
      case 0x68: // BINGET
        stack.push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(u32()));
        break;
      case 0x70: // PUT
        memo.set(Number(intLine()), top());
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x63: { // GLOBAL "module\nname\n"
        const module = line();
        stack.push(findGlobal(module, line()));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const attr = pop(), module = pop();
        if (typeof attr !== "string" || typeof module !== "string") {
          fail(`corrupt pickle (STACK_GLOBAL of non-strings)`);
        }
        stack.push(findGlobal(module as string, attr as string));
        break;
      }
      case 0x52: { // REDUCE
        const args = asArray(pop(), "REDUCE");
        const g = asGlobal(pop(), "REDUCE");
        if (!g.handler.call) fail(`refusing to load: "${g.name}" cannot be called`);
        stack.push(made(g.handler.call!(args)));
        break;
      }
      case 0x81: { // NEWOBJ
        const args = asArray(pop(), "NEWOBJ");
        const g = asGlobal(pop(), "NEWOBJ");
        if (!g.handler.create) fail(`refusing to load: "${g.name}" cannot be instantiated`);
        stack.push(made(g.handler.create!(args)));
        break;
      }
      case 0x92: { // NEWOBJ_EX
        const kwargs = pop();
        const args = asArray(pop(), "NEWOBJ_EX");
        const g = asGlobal(pop(), "NEWOBJ_EX");
        if (!g.handler.create) fail(`refusing to load: "${g.name}" cannot be instantiated`);
        stack.push(made(g.handler.create!(args, kwargs instanceof PyDict ? kwargs : undefined)));
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        build(top(), state, fail);
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (!opts.persistentLoad) fail(`corrupt pickle (unexpected persistent id at offset ${pos - 1})`);
        stack.push(opts.persistentLoad!(pid));
        break;
      }
      case 0x50: { // PERSID
        const pid = line();
        if (!opts.persistentLoad) fail(`corrupt pickle (unexpected persistent id at offset ${pos - 1})`);
        stack.push(opts.persistentLoad!(pid));
        break;
      }
      case 0x69: { // INST "module\nname\n": instance of a class with the arguments since MARK
        const module = line();
        const g = findGlobal(module, line()), args = popMark();
        stack.push(made(instantiate(g, args, fail)));
        break;
      }
      case 0x6f: { // OBJ: class and arguments since MARK
        const [cls, ...args] = popMark();
        stack.push(made(instantiate(asGlobal(cls, "OBJ"), args, fail)));
        break;
      }
      case 0x82: // EXT1
      case 0x83: // EXT2
      case 0x84: // EXT4
      case 0x97: // NEXT_BUFFER
        fail(`unsupported pickle opcode 0x${op.toString(16)} at offset ${pos - 1}`);
        break;
      default:
        fail(`not a pickle or corrupt (unknown opcode 0x${op.toString(16)} at offset ${pos - 1})`);
    }
  }
}

/** INST / OBJ (protocols 0 and 1): `cls(*args)`, or `cls.__new__(cls)` without arguments. */
function instantiate(g: PyGlobal, args: unknown[], fail: (msg: string) => never): unknown {
  const make = args.length || !g.handler.create ? g.handler.call : g.handler.create;
  if (!make) fail(`refusing to load: "${g.name}" cannot be instantiated`);
  return make!(args);
}

/** BUILD: applies a state to an object, as object.__setstate__ or __dict__.update would. */
function build(obj: unknown, state: unknown, fail: (msg: string) => never): void {
  if (obj instanceof PyObject) {
    if (obj.state instanceof PyDict && state instanceof PyDict) {
      for (const [k, v] of state) obj.state.set(k, v);
    } else obj.state = state;
  } else if (obj instanceof PyDict) {
    obj.attrs = state;
  } else if (obj !== null && typeof obj === "object" && typeof (obj as Buildable).setState === "function") {
    (obj as Buildable).setState(state);
  } else {
    fail(`corrupt pickle (BUILD on a value that takes no state)`);
  }
}

/** A data-only class: NEWOBJ and REDUCE create a PyObject, BUILD stores the state. Runs nothing. */
export function dataClass(className: string): GlobalHandler {
  return {
    call: (args) => new PyObject(className, args),
    create: (args) => new PyObject(className, args),
  };
}

/** A dict subclass (OrderedDict, EasyDict): calling it with a list of pairs or a dict fills it. */
function dictClass(): GlobalHandler {
  const make = (args: unknown[]) => {
    const d = new PyDict();
    const src = args[0];
    if (src instanceof Map) { for (const [k, v] of src) d.set(k, v); }
    else if (Array.isArray(src)) {
      for (const kv of src) if (Array.isArray(kv) && kv.length === 2) d.set(kv[0], kv[1]);
    }
    return d;
  };
  return { call: make, create: make };
}

/** A numpy dtype as pickled: numpy.dtype("f4", False, True) then BUILD (3, "<", ...). */
export class NumpyDType implements Buildable {
  byteorder = "<";
  constructor(readonly code: string) {}
  setState(state: unknown): void {
    if (Array.isArray(state) && typeof state[1] === "string") this.byteorder = state[1];
  }
  /** Bytes per item, from the code's digits ("f4" -> 4, "b1" -> 1). */
  get itemSize(): number {
    const m = /^[a-zA-Z](\d+)$/.exec(this.code);
    return m ? Number(m[1]) : (this.code === "?" ? 1 : 0);
  }
}

/** Reads `count` items of a numpy dtype from raw bytes as JS numbers (bools as booleans). */
function decodeNumpy(dtype: NumpyDType, raw: Uint8Array, count: number): (number | boolean)[] {
  const size = dtype.itemSize;
  if (dtype.byteorder === ">") throw new UserError(`big-endian numpy data is not supported`);
  if (!size || raw.length < size * count) {
    throw new UserError(`numpy data of dtype ${dtype.code} is too short`);
  }
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out: (number | boolean)[] = new Array(count);
  const kind = dtype.code[0];
  for (let i = 0; i < count; i++) {
    const o = i * size;
    let v: number | boolean;
    if (kind === "f") {
      v = size === 8 ? dv.getFloat64(o, true) : size === 4 ? dv.getFloat32(o, true) : dv.getFloat16(o, true);
    } else if (kind === "i") {
      v = size === 8
        ? Number(dv.getBigInt64(o, true))
        : size === 4
        ? dv.getInt32(o, true)
        : size === 2
        ? dv.getInt16(o, true)
        : dv.getInt8(o);
    } else if (kind === "u") {
      v = size === 8
        ? Number(dv.getBigUint64(o, true))
        : size === 4
        ? dv.getUint32(o, true)
        : size === 2
        ? dv.getUint16(o, true)
        : dv.getUint8(o);
    } else if (kind === "b" || kind === "?") v = dv.getUint8(o) !== 0;
    else throw new UserError(`numpy dtype ${dtype.code} is not supported`);
    out[i] = v;
  }
  return out;
}

/** A numpy array as pickled: _reconstruct(ndarray, (0,), b"b") then BUILD (1, shape, dtype, fortran, raw). */
export class NumpyArray implements Buildable {
  shape: number[] = [];
  dtype: NumpyDType | null = null;
  raw: Uint8Array = new Uint8Array(0);
  fortran = false;
  objects: unknown[] | null = null;
  setState(state: unknown): void {
    if (!Array.isArray(state) || state.length < 5) throw new UserError(`corrupt numpy array state`);
    const [, shape, dtype, fortran, raw] = state;
    if (!Array.isArray(shape) || !shape.every((s) => Number.isInteger(s) && s >= 0)) {
      throw new UserError(`corrupt numpy array shape`);
    }
    if (!(dtype instanceof NumpyDType)) throw new UserError(`corrupt numpy array dtype`);
    this.shape = shape as number[];
    this.dtype = dtype;
    this.fortran = fortran === true;
    if (raw instanceof Uint8Array) this.raw = raw;
    else if (Array.isArray(raw)) {
      // numpy fills an object array from a list of exactly its size; nothing is expanded here.
      const count = shape.reduce((a: number, b: number) => a * b, 1);
      if (raw.length !== count) {
        throw new UserError(`corrupt numpy object array (shape [${shape}] but ${raw.length} items)`);
      }
      this.objects = raw;
    } else if (typeof raw === "string") this.raw = Uint8Array.from(raw, (c) => c.charCodeAt(0));
    else throw new UserError(`corrupt numpy array data`);
  }
  /** How many values and nested arrays {@link toNested} makes (huge for a huge declared shape). */
  get nestedSize(): number {
    let nodes = 0, level = 1;
    for (const s of this.shape) nodes += level *= s;
    return nodes + 1;
  }
  /** The values as nested JS arrays in C order (numbers; booleans for bool arrays). */
  toNested(): unknown {
    const count = this.shape.reduce((a, b) => a * b, 1);
    const flat = this.objects ?? decodeNumpy(this.dtype!, this.raw, count);
    if (this.fortran && this.shape.length > 1) {
      throw new UserError(`Fortran-order numpy arrays are not supported`);
    }
    const nest = (dim: number, offset: number): unknown => {
      if (dim === this.shape.length) return flat[offset];
      const inner = this.shape.slice(dim + 1).reduce((a, b) => a * b, 1);
      return Array.from({ length: this.shape[dim] }, (_, i) => nest(dim + 1, offset + i * inner));
    };
    return nest(0, 0);
  }
}

/** numpy.core.multiarray.scalar(dtype, raw bytes) -> a JS number or boolean. */
function numpyScalar(args: unknown[]): unknown {
  const [dtype, raw] = args;
  if (!(dtype instanceof NumpyDType)) throw new UserError(`corrupt numpy scalar`);
  if (!(raw instanceof Uint8Array)) {
    if (typeof raw === "string") {
      return decodeNumpy(
        dtype,
        Uint8Array.from(raw, (c) => c.charCodeAt(0)),
        1,
      )[0];
    }
    throw new UserError(`corrupt numpy scalar`);
  }
  return decodeNumpy(dtype, raw, 1)[0];
}

/**
 * copyreg._reconstructor(cls, base, state), how protocols 0 and 1 pickle instances: `base.__new__(cls,
 * state)`, so a dict subclass (EasyDict) is filled from `state`, a plain object is created empty.
 */
function reconstructor([cls, base, state]: unknown[]): unknown {
  if (!(cls instanceof PyGlobal) || !cls.handler.create) {
    throw new UserError(`corrupt pickle (copyreg._reconstructor of a non-class)`);
  }
  const fromState = base instanceof PyGlobal && base.name !== "builtins.object" && state != null;
  return cls.handler.create(fromState ? [state] : []);
}

/**
 * Globals every sg3 pickle may use besides torch's: containers, numpy scalars/arrays/dtypes (numpy 1 and
 * numpy 2 module spellings), dnnlib.util.EasyDict, and protocol-2 bytes (`_codecs.encode`).
 */
export const BASE_GLOBALS: Record<string, GlobalHandler> = {
  "collections.OrderedDict": dictClass(),
  "dnnlib.util.EasyDict": dictClass(),
  "builtins.dict": dictClass(),
  "builtins.set": { call: (a: unknown[]) => new Set(Array.isArray(a[0]) ? a[0] : []) },
  "builtins.frozenset": { call: (a: unknown[]) => new Set(Array.isArray(a[0]) ? a[0] : []) },
  // Only named, as the base class argument of copyreg._reconstructor.
  "builtins.object": {},
  "copyreg._reconstructor": { call: reconstructor },
  "builtins.bytearray": {
    call: (a) => a[0] instanceof Uint8Array ? a[0].slice() : new Uint8Array(0),
  },
  "_codecs.encode": {
    call: ([s, enc]) => {
      if (typeof s !== "string" || (enc !== "latin1" && enc !== "latin-1")) {
        throw new UserError(`unsupported _codecs.encode call`);
      }
      return Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);
    },
  },
  ...Object.fromEntries(["numpy.core.multiarray", "numpy._core.multiarray"].flatMap((m) => [
    [`${m}.scalar`, { call: numpyScalar }],
    [`${m}._reconstruct`, { call: () => new NumpyArray() }],
  ])),
  "numpy.ndarray": { create: () => new NumpyArray() },
  "numpy.dtype": {
    call: ([code]) => {
      if (typeof code !== "string") throw new UserError(`corrupt numpy dtype`);
      return new NumpyDType(code);
    },
  },
};

/**
 * Converts an unpickled value to plain JSON-like JS: dicts to objects (keys stringified), tuples/lists/sets
 * to arrays, numpy scalars/arrays to numbers/nested arrays, dtypes to their code, safe bigints to
 * numbers, allowed globals to their qualified name. Values of other kinds (tensors, objects) become
 * undefined and are dropped from objects. Cycles are cut; every value made is charged to `budget`
 * ({@link CONVERTED}: pass one budget to several calls to bound them together), so shared references
 * and numpy arrays with huge declared shapes fail before they are expanded, and nesting deeper than
 * {@link MAX_DEPTH} is refused.
 */
export function toPlain(v: unknown, budget: FileBudget = new FileBudget("value", 0)): unknown {
  const active = new Set<unknown>();
  const conv = (v: unknown): unknown => {
    budget.charge(CONVERTED, 1);
    if (active.size > MAX_DEPTH) {
      throw new UserError(`${budget.name}: containers nested deeper than ${MAX_DEPTH} levels`);
    }
    if (v === null || typeof v === "boolean" || typeof v === "number" || typeof v === "string") return v;
    if (typeof v === "bigint") return v <= MAX_SAFE && v >= -MAX_SAFE ? Number(v) : v.toString();
    if (v instanceof Uint8Array) return Array.from(v);
    if (v instanceof NumpyArray) {
      if (!v.dtype) return undefined;
      budget.charge(CONVERTED, v.nestedSize);
      return v.toNested();
    }
    if (v instanceof NumpyDType) return v.code;
    if (v instanceof PyGlobal) return v.name;
    if (!(Array.isArray(v) || v instanceof Set || v instanceof Map) || active.has(v)) return undefined;
    active.add(v);
    let out: unknown;
    if (v instanceof Map) {
      const o: Record<string, unknown> = {};
      for (const [k, x] of v) {
        const p = conv(x);
        if (p !== undefined) o[String(k)] = p;
      }
      out = o;
    } else out = [...v].map((x) => conv(x) ?? null);
    active.delete(v);
    return out;
  };
  return conv(v);
}
