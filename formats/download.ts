/**
 * Networks given as http(s) URLs or official short names are downloaded once into a cache folder
 * ($SG3_CACHE, else $XDG_CACHE_HOME/sg3, else ~/.cache/sg3). Data goes to `<file>.partial` first and is
 * renamed into place only when complete, so the cache never holds a half-written network; an interrupted
 * download resumes from the partial file when the server honours Range requests. A lock file
 * (`<file>.lock`) lets one process at a time write the partial file.
 */
import { dirname, join } from "node:path";
import { existsSync } from "node:fs";
import { UserError } from "../errors.ts";
import { requireRegularFile } from "./regular_file.ts";

/** Where NVIDIA publishes the StyleGAN3 networks. */
export const OFFICIAL_BASE_URL =
  "https://api.ngc.nvidia.com/v2/models/nvidia/research/stylegan3/versions/1/files/";

/** Short names of the published StyleGAN3 networks (README of NVlabs/stylegan3). */
export const OFFICIAL_NETWORKS: readonly string[] = ["t", "r"].flatMap((cfg) =>
  [
    "ffhq-1024x1024",
    "ffhqu-1024x1024",
    "ffhqu-256x256",
    "afhqv2-512x512",
    "metfaces-1024x1024",
    "metfacesu-1024x1024",
  ].map((d) => `stylegan3-${cfg}-${d}`)
);

/** The cache folder for downloaded networks. */
export function cacheDir(): string {
  const explicit = Deno.env.get("SG3_CACHE");
  if (explicit) return explicit;
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  if (xdg) return join(xdg, "sg3");
  const home = Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE");
  if (!home) throw new UserError(`no cache folder: set SG3_CACHE, XDG_CACHE_HOME or HOME`);
  return join(home, ".cache", "sg3");
}

/** The official URL for a short name ("stylegan3-t-ffhq-1024x1024" or with ".pkl"), else null. */
export function officialUrl(name: string): string | null {
  const base = name.endsWith(".pkl") ? name.slice(0, -4) : name;
  return OFFICIAL_NETWORKS.includes(base) ? `${OFFICIAL_BASE_URL}${base}.pkl` : null;
}

/** The cache file of a URL: its base name prefixed by a short hash of the whole URL (no collisions). */
export async function cachePathFor(url: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(url)));
  const hash = Array.from(digest.subarray(0, 6), (b) => b.toString(16).padStart(2, "0")).join("");
  const base = (new URL(url).pathname.split("/").pop() || "download").replace(/[^\w.-]/g, "_");
  return join(cacheDir(), `${hash}-${base}`);
}

/** Where a download reports: a progress bar per transfer and one-line notes (the CLI draws them). */
export interface TransferReporter {
  /** Starts a bar of `total` units labelled `label`. */
  bar(label: string, total: number, unit: string): { tick(n: number): void; finish(): void };
  /** A one-line note, e.g. that another process holds the download lock. */
  note(message: string): void;
}

/** Options of `download`. */
export interface DownloadOptions {
  /** Progress bar and notes; none when absent. */
  report?: TransferReporter;
  /**
   * A lock file not refreshed for this long (ms) belongs to a process that died (its holder refreshes
   * it several times per period while it lives) and is taken over. Default 30 s.
   */
  staleMs?: number;
}

/**
 * Downloads `url` to `dest` unless it is already there; resumes a previous partial download when the
 * server answers a Range request with 206. Returns `dest`. Processes that download the same URL at once
 * take turns through `<dest>.lock` (created exclusively): the others wait, then find `dest` complete.
 */
export async function download(url: string, dest: string, opts: DownloadOptions = {}): Promise<string> {
  if (existsSync(dest)) return dest;
  try {
    Deno.mkdirSync(dirname(dest), { recursive: true });
  } catch (e) {
    throw new UserError(`${dest}: cannot create the cache folder: ${(e as Error).message.split("\n")[0]}`);
  }
  const lock = await acquireLock(`${dest}.lock`, url, opts);
  try {
    if (!existsSync(dest)) await fetchInto(url, dest, opts);
  } finally {
    lock.release();
  }
  return dest;
}

/** A held lock file: refreshed while held; released (removed) only if it is still this holder's. */
interface HeldLock {
  release(): void;
}

/**
 * Takes `path` by creating it exclusively with a unique token. While another process holds it, polls;
 * a lock whose modification time is older than `staleMs` is removed as abandoned. The holder's token
 * keeps a process that lost its lock from removing its successor's. (Not closed: the instant between
 * judging a lock stale and removing it, which matters only for a dead holder and two waiters acting
 * within that instant.)
 */
async function acquireLock(path: string, url: string, opts: DownloadOptions): Promise<HeldLock> {
  const staleMs = opts.staleMs ?? 30_000;
  const token = `${Deno.pid} ${crypto.randomUUID()}\n`;
  let told = false;
  for (;;) {
    try {
      Deno.writeTextFileSync(path, token, { createNew: true });
      break;
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) {
        throw new UserError(`${path}: cannot create the lock file: ${(e as Error).message.split("\n")[0]}`);
      }
    }
    let age: number;
    try {
      age = Date.now() - (Deno.statSync(path).mtime?.getTime() ?? 0);
    } catch {
      continue; // released between the two calls: try again at once
    }
    if (age > staleMs) {
      try {
        Deno.removeSync(path);
      } catch { /* another waiter removed it first */ }
      continue;
    }
    if (!told) {
      opts.report?.note(`waiting for another sg3 process downloading ${url} (lock ${path})`);
      told = true;
    }
    await new Promise((r) => setTimeout(r, Math.min(200, staleMs / 4)));
  }
  const refresh = setInterval(() => {
    try {
      const now = new Date();
      Deno.utimeSync(path, now, now);
    } catch { /* taken over: release checks the token */ }
  }, staleMs / 6);
  return {
    release() {
      clearInterval(refresh);
      try {
        if (Deno.readTextFileSync(path) === token) Deno.removeSync(path);
      } catch { /* already gone */ }
    },
  };
}

/** GET `url`, asking for the bytes from `from` on when resuming. */
async function get(url: string, from: number): Promise<Response> {
  try {
    return await fetch(url, { headers: from > 0 ? { Range: `bytes=${from}-` } : {} });
  } catch (e) {
    throw new UserError(`${url}: download failed: ${(e as Error).message.split("\n")[0]}`);
  }
}

/** Downloads `url` through `<dest>.partial` (resuming it when the server allows) and renames it to `dest`. */
async function fetchInto(url: string, dest: string, opts: DownloadOptions): Promise<void> {
  const partial = `${dest}.partial`;
  let have = 0;
  try {
    have = Deno.statSync(partial).size;
  } catch { /* no partial download yet */ }
  let res = await get(url, have);
  if (res.status === 416 && have > 0) {
    // The partial file is already complete (or longer than the resource): start over.
    await res.body?.cancel();
    Deno.removeSync(partial);
    have = 0;
    res = await get(url, 0);
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    throw new UserError(`${url}: download failed: HTTP ${res.status} ${res.statusText}`);
  }
  const resumed = res.status === 206;
  if (!resumed) have = 0;
  const length = Number(res.headers.get("content-length") ?? NaN);
  const total = have + (Number.isFinite(length) ? length : 0);
  const mib = (b: number) => Math.round(b / 2 ** 20);
  const progress = opts.report?.bar(`downloading ${url.split("/").pop()}`, Math.max(1, mib(total)), "MiB") ??
    { tick: () => {}, finish: () => {} };
  progress.tick(mib(have));
  const file = await Deno.open(partial, { write: true, create: true, append: resumed, truncate: !resumed });
  let got = have;
  try {
    for await (const chunk of res.body) {
      for (let off = 0; off < chunk.length;) off += await file.write(chunk.subarray(off));
      const before = mib(got);
      got += chunk.length;
      if (mib(got) > before) progress.tick(mib(got) - before);
    }
  } catch (e) {
    throw new UserError(
      `${url}: download interrupted after ${got} bytes (run again to resume): ${
        (e as Error).message.split("\n")[0]
      }`,
    );
  } finally {
    file.close();
    progress.finish();
  }
  if (Number.isFinite(length) && got !== total) {
    throw new UserError(`${url}: download incomplete (${got} of ${total} bytes; run again to resume)`);
  }
  Deno.renameSync(partial, dest);
}

/**
 * Turns a network argument into a local path: http(s) URLs and official short names are downloaded into
 * the cache (once); anything else must be an existing file.
 */
export async function resolveNetworkPath(pathOrUrl: string, opts: DownloadOptions = {}): Promise<string> {
  if (/^https?:\/\//i.test(pathOrUrl)) return download(pathOrUrl, await cachePathFor(pathOrUrl), opts);
  if (existsSync(pathOrUrl)) return requireRegularFile(pathOrUrl);
  const url = officialUrl(pathOrUrl);
  if (url) return download(url, await cachePathFor(url), opts);
  throw new UserError(
    `${pathOrUrl}: no such file, and not an http(s) URL or an official network name (${
      OFFICIAL_NETWORKS[0]
    }, ...)`,
  );
}
