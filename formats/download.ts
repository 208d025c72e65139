/**
 * Networks given as http(s) URLs or official short names are downloaded once into a cache folder
 * ($SG3_CACHE, else $XDG_CACHE_HOME/sg3, else ~/.cache/sg3). Data goes to `<file>.partial` first and is
 * renamed into place only when complete, so the cache never holds a half-written network; an interrupted
 * download resumes from the partial file when the server honours Range requests.
 */
import { dirname, join } from "node:path";
import { existsSync } from "node:fs";
import { UserError } from "../errors.ts";
import { Progress } from "../cli/progress.ts";

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

/** Options of `download`. */
export interface DownloadOptions {
  /** No progress bar. */
  quiet?: boolean;
}

/**
 * Downloads `url` to `dest` unless it is already there; resumes a previous partial download when the
 * server answers a Range request with 206. Returns `dest`.
 */
export async function download(url: string, dest: string, opts: DownloadOptions = {}): Promise<string> {
  if (existsSync(dest)) return dest;
  const partial = `${dest}.partial`;
  try {
    Deno.mkdirSync(dirname(dest), { recursive: true });
  } catch (e) {
    throw new UserError(`${dest}: cannot create the cache folder: ${(e as Error).message.split("\n")[0]}`);
  }
  let have = 0;
  try {
    have = Deno.statSync(partial).size;
  } catch { /* no partial download yet */ }
  let res: Response;
  try {
    res = await fetch(url, { headers: have > 0 ? { Range: `bytes=${have}-` } : {} });
  } catch (e) {
    throw new UserError(`${url}: download failed: ${(e as Error).message.split("\n")[0]}`);
  }
  if (res.status === 416 && have > 0) {
    // The partial file is already complete (or longer than the resource): start over.
    await res.body?.cancel();
    Deno.removeSync(partial);
    return download(url, dest, opts);
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
  const progress = new Progress(
    `downloading ${url.split("/").pop()}`,
    Math.max(1, mib(total)),
    "MiB",
    opts.quiet,
  );
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
  return dest;
}

/**
 * Turns a network argument into a local path: http(s) URLs and official short names are downloaded into
 * the cache (once); anything else must be an existing file.
 */
export async function resolveNetworkPath(pathOrUrl: string, opts: DownloadOptions = {}): Promise<string> {
  if (/^https?:\/\//i.test(pathOrUrl)) return download(pathOrUrl, await cachePathFor(pathOrUrl), opts);
  if (existsSync(pathOrUrl)) return pathOrUrl;
  const url = officialUrl(pathOrUrl);
  if (url) return download(url, await cachePathFor(url), opts);
  throw new UserError(
    `${pathOrUrl}: no such file, and not an http(s) URL or an official network name (${
      OFFICIAL_NETWORKS[0]
    }, ...)`,
  );
}
