/**
 * Expansion budgets of input files: how much memory a file may make sg3 allocate beyond its own bytes.
 * A small hostile file (a zip bomb, a broadcast view of a tiny storage, a numpy array with a huge declared
 * shape) must fail at once with one line naming the file and the budget, instead of taking the process
 * down. Each budget is `base + perByte x file size`, capped absolutely: work a file honestly describes
 * grows with its size, and the bases leave room for small legitimate files.
 */
import { UserError } from "../errors.ts";

/** One kind of expansion and its allowance. */
export interface Limit {
  /** What is counted, for messages ("decompressed bytes"). */
  what: string;
  /** Allowance for any file, whatever its size. */
  base: number;
  /** Further allowance per byte of the file. */
  perByte: number;
  /** Absolute maximum. */
  cap: number;
}

const MiB = 2 ** 20, GiB = 2 ** 30;

/** Bytes inflated from deflated zip members (torch archives, .npz files, one dataset member). */
export const INFLATE: Limit = { what: "decompressed bytes", base: 64 * MiB, perByte: 32, cap: 4 * GiB };

/** Bytes of dense tensors materialised from a torch file's views (broadcast views included). */
export const TENSORS: Limit = { what: "tensor bytes", base: 256 * MiB, perByte: 4, cap: 16 * GiB };

/** Containers (lists, tuples, dicts, sets, objects) a pickle creates or a conversion visits. */
export const CONTAINERS: Limit = { what: "pickle containers", base: 2 ** 20, perByte: 1 / 8, cap: 2 ** 26 };

/** Values visited when unpickled data is converted to plain JS (attributes, dataset options). */
export const CONVERTED: Limit = { what: "converted values", base: 2 ** 20, perByte: 0, cap: 2 ** 20 };

/** Payload bytes of one pickled long integer (LONG1, LONG4, protocol-0 LONG). */
export const LONG_BYTES: Limit = { what: "long-integer bytes", base: 64 * 1024, perByte: 0, cap: 64 * 1024 };

/**
 * Bytes of decoded pixels from one compressed image (PNG, JPEG, TIFF, WebP): deflate expands at most
 * ~1032:1 and JPEG far less, so an honest image stays within 1032 x its file size (plus room for small files).
 */
export const PIXELS: Limit = { what: "decoded pixel bytes", base: 64 * MiB, perByte: 1032, cap: 8 * GiB };

/** Throws when an image file of `fileBytes` declaring `width` x `height` x `bytesPerPixel` exceeds {@link PIXELS}. */
export function checkPixels(
  name: string,
  width: number,
  height: number,
  bytesPerPixel: number,
  fileBytes: number,
) {
  const needed = width * height * bytesPerPixel;
  if (needed > allowance(PIXELS, fileBytes)) throw overBudget(name, PIXELS, needed, fileBytes);
}

/** Nesting depth of containers (pickles, converted values, module trees). */
export const MAX_DEPTH = 1000;

/** The allowance of `limit` for a file of `fileBytes` bytes. */
export function allowance(limit: Limit, fileBytes: number): number {
  return Math.min(limit.cap, Math.floor(limit.base + limit.perByte * fileBytes));
}

/** Human-readable byte or item counts: 64 MiB, 1.5 GiB, 1048576. */
function amount(n: number, bytes: boolean): string {
  if (!bytes) return String(n);
  if (n >= GiB) return `${+(n / GiB).toFixed(2)} GiB`;
  if (n >= MiB) return `${+(n / MiB).toFixed(2)} MiB`;
  return `${n} bytes`;
}

/** The one-line error for a budget exceeded by file `name` (`needed` of the limit's unit). */
export function overBudget(name: string, limit: Limit, needed: number, fileBytes: number): UserError {
  const bytes = limit.what.endsWith("bytes");
  const allowed = limit.perByte
    ? `${amount(allowance(limit, fileBytes), bytes)} for a file of ${fileBytes} bytes: ` +
      `${amount(limit.base, bytes)} + ${limit.perByte} x file size, at most ${amount(limit.cap, bytes)}`
    : amount(limit.cap, bytes);
  return new UserError(
    `${name}: exceeds the budget of ${limit.what} (needs ${amount(needed, bytes)}, allowed ${allowed})`,
  );
}

/** Running totals of one file's expansions, each checked against its limit. */
export class FileBudget {
  readonly #used = new Map<Limit, number>();

  constructor(readonly name: string, readonly fileBytes: number) {}

  /** Adds `n` to the total of `limit`; throws the one-line budget error when it would exceed it. */
  charge(limit: Limit, n: number): void {
    const total = (this.#used.get(limit) ?? 0) + n;
    if (total > allowance(limit, this.fileBytes)) throw overBudget(this.name, limit, total, this.fileBytes);
    this.#used.set(limit, total);
  }
}
