/**
 * Content identities of a run's inputs, for cache keys and for telling whether partial results belong
 * together: a file's SHA-256 (computed once per file state: <cache>/fid-stats/hashes.json remembers
 * absolute path -> size, modification time and hash), a network or detector named by path, URL or official
 * name through its local file, and a dataset's item list.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { writeFileAtomic } from "../formats/atomic.ts";
import { cacheDir, cachePathFor, officialUrl } from "../formats/download.ts";
import type { Dataset } from "../formats/dataset.ts";

/** "size:mtime" of a file: what the hash memo and the statistics cache key on. */
export function fileSignature(path: string): string {
  const s = Deno.statSync(path);
  return `${s.size}:${s.mtime?.getTime() ?? 0}`;
}

/** The SHA-256 of `data` in hex. */
export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The SHA-256 of a file's content, computed once per file state (path, size, modification time). */
export async function contentHash(path: string): Promise<string> {
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

/** The local file of a path, URL or official name (a URL's once downloaded), or null. */
async function localFile(source: string): Promise<string | null> {
  if (/^https?:\/\//i.test(source)) return await cachePathFor(source);
  if (existsSync(source)) return source;
  const url = officialUrl(source);
  return url ? await cachePathFor(url) : null;
}

/**
 * What identifies a file named by path, URL or official name: "sha256:<hex>" of its content, or
 * "name:<source>" for built-in names without a file (such as the test detector).
 */
export async function sourceIdentity(source: string): Promise<string> {
  const file = await localFile(source);
  return file && existsSync(file) ? `sha256:${await contentHash(file)}` : `name:${source}`;
}

/**
 * What identifies a dataset's items: a zip or image array by its content hash; a folder by the SHA-256 of
 * its sorted relative names and file sizes (hashing every image would read the whole dataset once more on
 * every shard); then the mirroring and the item count.
 */
export async function datasetIdentity(data: Dataset): Promise<string> {
  const root = resolve(data.path);
  const files = Deno.statSync(root).isDirectory
    ? `files:${await sha256Hex(
      data.files.map((f) => `${f}\t${Deno.statSync(join(root, f)).size}`).join("\n"),
    )}`
    : `sha256:${await contentHash(root)}`;
  return `${files} mirror:${data.mirror} items:${data.count}`;
}
