/**
 * A cache of dataset feature statistics, like the official metric cache: keyed by the dataset's
 * identity (absolute path, and the size and modification time of the zip or of every image file),
 * the item selection (mirror, max items), the detector's content (a SHA-256 of its weight file, so a
 * rewritten file never returns stale statistics) and the preset. Entries are .npz files (mu, sigma,
 * num_images) in <sg3 cache>/fid-stats/, written with `writeStats`.
 */
import { join, resolve } from "node:path";
import { cacheDir } from "../formats/download.ts";
import type { Dataset } from "../formats/dataset.ts";
import type { Stats } from "./feature_stats.ts";
import { readStats } from "./fid.ts";
import { fileSignature, sha256Hex, sourceIdentity } from "./identity.ts";

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
    detector: await sourceIdentity(detector),
    preset,
  });
  const hex = await sha256Hex(key);
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
