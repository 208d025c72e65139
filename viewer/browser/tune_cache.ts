/**
 * The browser's stand-in for gpu/tune_cache.ts (the viewer's bundle swaps it in; see viewer/bundle.ts):
 * tuning results live in memory for the page's lifetime, so the kernels take their defaults unless the page
 * tunes. The adapter key names the browser instead of Deno's version.
 */
import type { TuneFile } from "../../gpu/tune_cache.ts";

const files = new Map<string, TuneFile>();

/** A name for the in-memory cache. */
export function tuneCachePath(): string {
  return "memory:tune.json";
}

/** The in-memory cache (empty at first). */
export function readTuneFile(path: string): TuneFile {
  return structuredClone(files.get(path) ?? { version: 1, adapters: {} });
}

/** Keeps the cache in memory. */
export function writeTuneFile(path: string, file: TuneFile): void {
  files.set(path, structuredClone(file));
}

/** The WebGPU implementation's name in adapter keys: the browser's. */
export function runtimeName(): string {
  return `browser ${globalThis.navigator?.userAgent ?? "unknown"}`;
}
