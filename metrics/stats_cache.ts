/**
 * A cache of dataset feature statistics, like the official metric cache: keyed by the dataset's
 * identity (absolute path, and the size and modification time of the zip or of every image file),
 * the item selection (mirror, max items), the detector's content (a SHA-256 of its weight file, so a
 * rewritten file never returns stale statistics) and the preset. Entries are .npz files (mu, sigma,
 * num_images) in <sg3 cache>/fid-stats/, written with `writeStats`.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { writeFileAtomic } from "../formats/atomic.ts";
import { cacheDir, cachePathFor, officialUrl } from "../formats/download.ts";
import type { Dataset } from "../formats/dataset.ts";
import type { Stats } from "./feature_stats.ts";
import { readStats } from "./fid.ts";

function fileSignature(path: string): string {
  const s = Deno.statSync(path);
  return `${s.size}:${s.mtime?.getTime() ?? 0}`;
}

async function sha256Hex(data: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The local weight file of a detector argument (a path, or a URL / official name once downloaded). */
async function detectorFile(detector: string): Promise<string | null> {
  if (/^https?:\/\//i.test(detector)) return await cachePathFor(detector);
  if (existsSync(detector)) return detector;
  const url = officialUrl(detector);
  return url ? await cachePathFor(url) : null;
}

/**
 * The content hash of a file, computed once per file state: <cache>/fid-stats/hashes.json remembers
 * absolute path -> size, modification time and SHA-256, and the file is hashed again when they change.
 */
async function contentHash(path: string): Promise<string> {
  const abs = resolve(path);
  const signature = fileSignature(abs);
  const memoPath = join(cacheDir(), "fid-stats", "hashes.json");
  let memo: Record<string, { signature: string; sha256: string }> = {};
  try {
    memo = JSON.parse(Deno.readTextFileSync(memoPath));
  } catch { /* no memo yet, or an unreadable one: start afresh */ }
  const known = memo[abs];
  if (known?.signature === signature && typeof known.sha256 === "string") return known.sha256;
  const sha256 = await sha256Hex(Deno.readFileSync(abs));
  memo[abs] = { signature, sha256 };
  try {
    writeFileAtomic(memoPath, JSON.stringify(memo));
  } catch { /* a read-only cache only costs hashing again next time */ }
  return sha256;
}

/**
 * What identifies a detector in cache keys: the content hash of its weight file; built-in detectors
 * without a file are identified by their name.
 */
async function detectorIdentity(detector: string): Promise<string> {
  const file = await detectorFile(detector);
  return file && existsSync(file) ? `sha256:${await contentHash(file)}` : `name:${detector}`;
}

/** The cache file of a dataset's statistics under a detector and preset. */
export async function statsCachePath(data: Dataset, detector: string, preset: string): Promise<string> {
  const root = resolve(data.path);
  const stat = Deno.statSync(root);
  const contents = stat.isDirectory
    ? data.files.map((f) => `${f}=${fileSignature(join(root, f))}`).join("\n")
    : fileSignature(root);
  const key = JSON.stringify({
    root,
    contents,
    mirror: data.mirror,
    count: data.count,
    detector: await detectorIdentity(detector),
    preset,
  });
  const hex = await sha256Hex(new TextEncoder().encode(key));
  return join(cacheDir(), "fid-stats", `${hex.slice(0, 32)}.npz`);
}

/** Reads cached statistics, or null when absent or unreadable. */
export function readCachedStats(path: string): Stats | null {
  try {
    return readStats(path);
  } catch {
    return null;
  }
}
