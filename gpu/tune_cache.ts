/**
 * Where the tuner's results persist in Deno: `tune.json` in sg3's cache folder (see gpu/tuner.ts for the
 * format). This is the only module of gpu/ that touches the file system; the browser build of the viewer
 * replaces it with viewer/browser/tune_cache.ts (an in-memory cache) through viewer/browser.imports.json.
 */
import { join } from "node:path";
import { existsSync } from "node:fs";
import { writeFileAtomic } from "../formats/atomic.ts";
import { cacheDir } from "../formats/download.ts";

/** One tuned shape in the cache. */
export interface TuneEntry {
  variant: unknown;
  /** GPU time of the winner and of the default candidate, ms per run of the tuning workload. */
  ms: number;
  default_ms: number;
}

/** The cache file's content. */
export interface TuneFile {
  version: 1;
  adapters: Record<string, Record<string, TuneEntry>>;
}

/** The cache file's path. */
export function tuneCachePath(): string {
  return join(cacheDir(), "tune.json");
}

/** Reads the cache file; a missing or damaged one reads as empty (tuning results are only a speed hint). */
export function readTuneFile(path: string): TuneFile {
  if (!existsSync(path)) return { version: 1, adapters: {} };
  try {
    const data = JSON.parse(Deno.readTextFileSync(path));
    if (data?.version === 1 && typeof data.adapters === "object") return data;
  } catch {
    // A damaged cache is rebuilt.
  }
  return { version: 1, adapters: {} };
}

/** Writes the cache file atomically. */
export function writeTuneFile(path: string, file: TuneFile): void {
  writeFileAtomic(path, JSON.stringify(file, null, 1) + "\n");
}

/** The WebGPU implementation's name in adapter keys: Deno's version fixes it. */
export function runtimeName(): string {
  return `deno ${Deno.version.deno}`;
}
