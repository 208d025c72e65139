/**
 * The network as the viewer's server sends it to the page: a compact binary form of a
 * {@link NetworkDescription} (runs in Deno and in the browser; no Deno APIs).
 *
 * Layout: the 8 bytes `SG3NET1\n`, a little-endian uint32 header length, the header (UTF-8 JSON), zero
 * padding to a multiple of 4 bytes, then every tensor's float32 values (little-endian, C order) one after
 * the other in the header's order. The header holds the architecture, the hyper-parameters, every module's
 * class and attributes, the tensors' names and shapes, the buffer names, and the viewer's metadata (`label`,
 * and `random`: a random-initialised network the page calibrates before use, as `sg3 generate` does).
 * Attribute values JSON cannot hold are tagged: BigInts `{"$bigint": "123"}`, typed arrays
 * `{"$typed": "Float64Array", "values": [...]}`, Maps `{"$map": [[k, v], ...]}`.
 */
import type { Architecture, NetworkDescription } from "../formats/network.ts";

const MAGIC = "SG3NET1\n";

/** What the page learns about the network besides its weights. */
export interface WireMeta {
  /** A short name for the page's title line. */
  label: string;
  /** Random-initialised: the page calibrates its magnitudes first (models/calibrate.ts). */
  random: boolean;
}

interface Header {
  arch: Architecture;
  meta: WireMeta;
  hparams: unknown;
  modules: [string, string, unknown][];
  tensors: [string, number[]][];
  buffers: string[] | null;
}

const TYPED: Record<string, { from(values: ArrayLike<number | bigint>): unknown }> = {
  Float64Array,
  Float32Array,
  Int32Array,
  Int16Array,
  Int8Array,
  Uint32Array,
  Uint16Array,
  Uint8Array,
  BigInt64Array: { from: (v) => BigInt64Array.from(v as ArrayLike<bigint>) },
};

function tag(value: unknown): unknown {
  if (typeof value === "bigint") return { $bigint: value.toString() };
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const name = value.constructor.name;
    const values = Array.from(
      value as unknown as ArrayLike<number | bigint>,
      (v) => typeof v === "bigint" ? v.toString() : v,
    );
    return { $typed: name, values };
  }
  if (value instanceof Map) return { $map: [...value].map(([k, v]) => [tag(k), tag(v)]) };
  if (Array.isArray(value)) return value.map(tag);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, tag(v)]));
  }
  return value;
}

function untag(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(untag);
  if (value && typeof value === "object") {
    const o = value as Record<string, unknown>;
    if (typeof o.$bigint === "string") return BigInt(o.$bigint);
    if (typeof o.$typed === "string" && Array.isArray(o.values)) {
      const ctor = TYPED[o.$typed];
      if (!ctor) throw new Error(`network data: unknown array type ${o.$typed}`);
      return ctor.from(o.$typed === "BigInt64Array" ? o.values.map((v) => BigInt(v)) : o.values);
    }
    if (Array.isArray(o.$map)) {
      return new Map(o.$map.map(([k, v]: [unknown, unknown]) => [untag(k), untag(v)]));
    }
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, untag(v)]));
  }
  return value;
}

/** Encodes a network (its float32 tensors copied as they are now) and the page's metadata. */
export function encodeNetwork(net: NetworkDescription, meta: WireMeta): Uint8Array {
  const tensors = [...net.tensors];
  const header: Header = {
    arch: net.arch,
    meta,
    hparams: tag(net.hparams),
    modules: [...net.modules].map(([path, m]) => [path, m.className, tag(m.attrs)]),
    tensors: tensors.map(([name, t]) => [name, t.shape]),
    buffers: net.buffers ? [...net.buffers] : null,
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const start = Math.ceil((12 + json.length) / 4) * 4;
  const total = start + tensors.reduce((n, [, t]) => n + t.data.length * 4, 0);
  const out = new Uint8Array(total);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(8, json.length, true);
  out.set(json, 12);
  let offset = start;
  for (const [, t] of tensors) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), offset);
    offset += t.data.byteLength;
  }
  return out;
}

/** Decodes {@link encodeNetwork}'s bytes; the tensors are views into `bytes`' buffer (no copy). */
export function decodeNetwork(bytes: Uint8Array): { net: NetworkDescription; meta: WireMeta } {
  const bad = (why: string) => new Error(`network data: ${why}`);
  if (bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) {
    throw bad("not sg3 viewer network data");
  }
  const length = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
  if (12 + length > bytes.length) throw bad("truncated header");
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + length))) as Header;
  let offset = Math.ceil((12 + length) / 4) * 4;
  // Float32Array views need 4-byte alignment of the underlying buffer offset.
  const data = (bytes.byteOffset % 4) ? bytes.slice() : bytes;
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, shape] of header.tensors) {
    const n = shape.reduce((a, b) => a * b, 1);
    if (offset + n * 4 > data.length) throw bad(`truncated tensor ${name}`);
    tensors.set(name, { shape, data: new Float32Array(data.buffer, data.byteOffset + offset, n) });
    offset += n * 4;
  }
  if (offset !== data.length) throw bad(`${data.length - offset} bytes after the last tensor`);
  const net: NetworkDescription = {
    arch: header.arch,
    hparams: untag(header.hparams) as Record<string, unknown>,
    modules: new Map(header.modules.map(([path, className, attrs]) => [path, {
      className,
      attrs: untag(attrs) as Record<string, unknown>,
    }])),
    tensors,
  };
  if (header.buffers) net.buffers = new Set(header.buffers);
  return { net, meta: header.meta };
}
