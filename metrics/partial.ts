/**
 * Partial results of a sharded run (metrics/shard.ts): an .npz holding a JSON header (`header.npy`, UTF-8
 * bytes) and float64 arrays. The header says what was computed (`kind`), which shard it is, everything the
 * parts of one run must share (`run`: network, data and detector identities, preset, seed, counts, ...),
 * and per index stream (generated images, dataset items, EQ samples) its total and the shard's range.
 * {@link checkParts} refuses parts that do not belong together, duplicates and missing shards; merging their
 * float64 sums gives the unsharded run's result.
 */
import { UserError } from "../errors.ts";
import { writeFileAtomic } from "../formats/atomic.ts";
import { formatNpz, type NdArray, readNpz } from "../formats/npy.ts";
import { FeatureStats, type FeatureSums } from "./feature_stats.ts";
import { formatShard, type IndexRange, type Shard, shardRange } from "./shard.ts";

const FORMAT = "sg3-partial/1";

/** One index stream of a run: its name, its total count and the range this shard computed. */
export interface PartialStream {
  name: string;
  total: number;
  range: IndexRange;
}

/** The header of a partial result. */
export interface PartialHeader {
  format: typeof FORMAT;
  /** What was computed: "fid" (feature sums per source) or "eq" (equivariance sums). */
  kind: "fid" | "eq";
  shard: Shard;
  /** What every part of the run must share, compared key by key. */
  run: Record<string, unknown>;
  streams: PartialStream[];
  /** Results small enough for JSON (float64 numbers round-trip exactly), e.g. EQ's sums. */
  values: Record<string, unknown>;
}

/** A partial result read from a file. */
export interface Part {
  path: string;
  header: PartialHeader;
  arrays: Map<string, NdArray>;
}

/** Writes a partial result atomically (an interrupted shard leaves no file). */
export function writePartial(
  path: string,
  header: Omit<PartialHeader, "format">,
  arrays: Record<string, NdArray>,
) {
  const json = new TextEncoder().encode(JSON.stringify({ format: FORMAT, ...header }));
  writeFileAtomic(path, formatNpz({ header: { shape: [json.length], dtype: "|u1", data: json }, ...arrays }));
}

/** Reads a partial result; anything else is a one-line UserError naming the file. */
export function readPartial(path: string): Part {
  const arrays = readNpz(path);
  const raw = arrays.get("header");
  let header: PartialHeader | null = null;
  try {
    header = raw?.dtype === "|u1" ? JSON.parse(new TextDecoder().decode(raw.data as Uint8Array)) : null;
  } catch { /* reported below */ }
  if (header?.format !== FORMAT) {
    throw new UserError(`${path}: not an sg3 partial result (written by a sharded run with a partial file)`);
  }
  const ok = (header.kind === "fid" || header.kind === "eq") && Number.isInteger(header.shard?.index) &&
    Number.isInteger(header.shard?.count) && header.shard.index >= 0 &&
    header.shard.index < header.shard.count &&
    typeof header.run === "object" && Array.isArray(header.streams) && typeof header.values === "object";
  if (!ok) throw new UserError(`${path}: corrupt partial result header`);
  arrays.delete("header");
  return { path, header, arrays };
}

/** The first key of `run` whose value differs between a and b, or null. */
function difference(a: Record<string, unknown>, b: Record<string, unknown>): string | null {
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) return key;
  }
  return null;
}

const shortValue = (v: unknown) => {
  const s = JSON.stringify(v) ?? "none";
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
};

/**
 * Checks that `parts` are the shards of one run: the same kind and run description, the same shard count,
 * each shard once, none missing, and each stream's range the one its shard takes (so the index sets are
 * disjoint and cover the run). Returns the parts in shard order.
 */
export function checkParts(parts: Part[]): Part[] {
  if (parts.length === 0) throw new UserError("no partial results given");
  const [first] = parts;
  const n = first.header.shard.count;
  const byIndex = new Map<number, Part>();
  for (const p of parts) {
    const h = p.header;
    if (h.kind !== first.header.kind) {
      throw new UserError(
        `${p.path}: holds ${h.kind} results, but ${first.path} holds ${first.header.kind} results`,
      );
    }
    const key = difference(first.header.run, h.run) ??
      (JSON.stringify(h.streams.map((s) => [s.name, s.total])) !==
          JSON.stringify(first.header.streams.map((s) => [s.name, s.total]))
        ? "streams"
        : null);
    if (key !== null) {
      const [a, b] = key === "streams"
        ? [first.header.streams, h.streams]
        : [first.header.run[key], h.run[key]];
      throw new UserError(
        `${p.path}: not from the same run as ${first.path}: ${key} differs (${shortValue(b)} vs ${
          shortValue(a)
        })`,
      );
    }
    if (h.shard.count !== n) {
      throw new UserError(
        `${p.path}: shard ${formatShard(h.shard)}, but ${first.path} is one of ${n} shards`,
      );
    }
    const twin = byIndex.get(h.shard.index);
    if (twin) throw new UserError(`shard ${formatShard(h.shard)} given twice: ${twin.path} and ${p.path}`);
    for (const s of h.streams) {
      const want = shardRange(s.total, h.shard);
      if (s.range?.[0] !== want[0] || s.range?.[1] !== want[1]) {
        throw new UserError(
          `${p.path}: shard ${
            formatShard(h.shard)
          } holds ${s.name} ${s.range} of ${s.total}, expected ${want}`,
        );
      }
    }
    byIndex.set(h.shard.index, p);
  }
  const missing = Array.from({ length: n }, (_, k) => k).filter((k) => !byIndex.has(k));
  if (missing.length) {
    const listed = missing.slice(0, 10).map((k) => `${k}/${n}`).join(", ");
    throw new UserError(
      `missing shard${missing.length > 1 ? "s" : ""} ${listed}${missing.length > 10 ? ", ..." : ""} ` +
        `(${missing.length} of ${n})`,
    );
  }
  return [...byIndex.keys()].sort((a, b) => a - b).map((k) => byIndex.get(k)!);
}

/** The arrays of a feature accumulation under `prefix` (count, shift, sum, gram; kept vectors when given). */
export function featureArrays(prefix: string, stats: FeatureStats, kept: boolean): Record<string, NdArray> {
  const s = stats.sums(), d = stats.dim;
  const out: Record<string, NdArray> = {
    [`${prefix}count`]: { shape: [], dtype: "<f8", data: Float64Array.of(s.count) },
    [`${prefix}shift`]: { shape: [d], dtype: "<f8", data: s.shift },
    [`${prefix}sum`]: { shape: [d], dtype: "<f8", data: s.sum },
    [`${prefix}gram`]: { shape: [d, d], dtype: "<f8", data: s.gram },
  };
  if (kept) out[`${prefix}features`] = { shape: [s.count, d], dtype: "<f4", data: stats.all() };
  return out;
}

/** A float array of a part, checked for dtype and length. */
export function partArray<T extends Float32Array | Float64Array>(
  part: Part,
  name: string,
  type: "<f4" | "<f8",
  length: number,
): T {
  const a = part.arrays.get(name);
  if (!a || a.dtype !== type || a.data.length !== length) {
    throw new UserError(`${part.path}: array ${name} is missing or has the wrong type or size`);
  }
  return a.data as T;
}

/** Merges the feature accumulations stored under `prefix` of `parts` (in shard order). */
export function mergeFeatures(parts: Part[], prefix: string, dim: number, keep: boolean): FeatureStats {
  const stats = new FeatureStats(dim, keep);
  for (const p of parts) {
    const count = partArray<Float64Array>(p, `${prefix}count`, "<f8", 1)[0];
    if (!Number.isSafeInteger(count) || count < 0) throw new UserError(`${p.path}: corrupt ${prefix}count`);
    const sums: FeatureSums = {
      count,
      shift: partArray(p, `${prefix}shift`, "<f8", dim),
      sum: partArray(p, `${prefix}sum`, "<f8", dim),
      gram: partArray(p, `${prefix}gram`, "<f8", dim * dim),
    };
    stats.merge(sums, keep ? partArray(p, `${prefix}features`, "<f4", count * dim) : undefined);
  }
  return stats;
}
