/**
 * The page's script: viewer/browser.ts and the library it imports (gpu/, kernels/, models/, the PNG and
 * network-data code), bundled for the browser with `deno bundle` (esbuild) at server start.
 *
 * The browser boundary: the library code the page runs must not touch Deno APIs. Two library modules that
 * the page's imports reach do, and the bundle swaps them for browser stand-ins (BROWSER_SWAPS, through an
 * import map built from deno.json's imports): the tuner's cache file (gpu/tune_cache.ts) and the atomic
 * file writer that formats/png.ts imports for writePng (formats/atomic.ts). {@link denoReferences} finds
 * any use of Deno APIs or Node built-ins left in a bundle; the server refuses to serve such a bundle, and
 * test/viewer_test.ts checks it.
 *
 * A `deno compile`d sg3 cannot run `deno bundle` (its executable is sg3, not deno), so `deno task compile`
 * first writes the bundle to {@link PREBUILT_BUNDLE} (`deno task bundle:viewer`, this module's main) and
 * embeds it with `--include`; {@link viewerBundle} serves that file when not running under deno.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Library modules that use Deno APIs, and the browser modules the page's bundle takes instead. */
export const BROWSER_SWAPS: Record<string, string> = {
  "gpu/tune_cache.ts": "viewer/browser/tune_cache.ts",
  "formats/atomic.ts": "viewer/browser/no_files.ts",
};

/** The page's entry point. */
export const BROWSER_ENTRY = join(ROOT, "viewer", "browser.ts");

/**
 * Places in bundled code that need Deno or Node: `Deno.` member accesses (not the guarded
 * `globalThis.Deno?.` form), and imports of `node:` modules. One line each, with a few characters around.
 */
export function denoReferences(js: string): string[] {
  const found: string[] = [];
  for (
    const m of js.matchAll(/(?<![\w$?.])Deno\s*\.|\bfrom\s*["']node:[^"']*["']|\bimport\s*\(\s*["']node:/g)
  ) {
    const at = m.index ?? 0;
    found.push(js.slice(Math.max(0, at - 40), at + 40).replace(/\s+/g, " "));
  }
  return found;
}

/** Bundles the page's script for the browser; throws with deno's message when bundling fails. */
export async function bundleBrowser(opts: { minify?: boolean } = {}): Promise<string> {
  const config = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
  const imports: Record<string, string> = { ...(config.imports ?? {}) };
  for (const [from, to] of Object.entries(BROWSER_SWAPS)) imports[join(ROOT, from)] = join(ROOT, to);
  const dir = await Deno.makeTempDir({ prefix: "sg3-view-" });
  try {
    const map = join(dir, "imports.json");
    await Deno.writeTextFile(map, JSON.stringify({ imports }));
    const out = join(dir, "app.js");
    const args = ["bundle", "--quiet", "--platform", "browser", "--import-map", map, "-o", out];
    if (opts.minify) args.push("--minify");
    const result = await new Deno.Command(Deno.execPath(), {
      args: [...args, BROWSER_ENTRY],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    if (!result.success) {
      const msg = new TextDecoder().decode(result.stderr).trim().split("\n").slice(0, 5).join("; ");
      throw new Error(`could not bundle the viewer page (deno bundle): ${msg}`);
    }
    return await Deno.readTextFile(out);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** The page's bundle made ahead of time for compiled binaries (git-ignored; `deno task bundle:viewer`). */
export const PREBUILT_BUNDLE = join(ROOT, "viewer", "dist", "app.js");

/** Whether this process is the deno executable (not a `deno compile`d binary), so it can run `deno bundle`. */
export function canBundle(execPath = Deno.execPath()): boolean {
  return /^deno(\.exe)?$/i.test(execPath.split(/[\\/]/).pop() ?? "");
}

/**
 * The page's script: bundled now under deno, else (a compiled binary) the prebuilt bundle embedded at
 * build time; a missing prebuilt bundle is an error naming the task that makes it.
 */
export async function viewerBundle(opts: { prebuilt?: boolean } = {}): Promise<string> {
  if (!(opts.prebuilt ?? !canBundle())) return await bundleBrowser();
  try {
    return await Deno.readTextFile(PREBUILT_BUNDLE);
  } catch {
    throw new Error(
      "this sg3 binary has no viewer page: build it with `deno task compile`, which bundles the page first " +
        "(deno task bundle:viewer) and embeds it",
    );
  }
}

if (import.meta.main) {
  const js = await bundleBrowser({ minify: true });
  const leaks = denoReferences(js);
  if (leaks.length) throw new Error(`the viewer page's bundle uses Deno APIs: ${leaks[0]}`);
  await Deno.mkdir(dirname(PREBUILT_BUNDLE), { recursive: true });
  await Deno.writeTextFile(PREBUILT_BUNDLE, js);
  console.error(`wrote ${PREBUILT_BUNDLE} (${js.length} bytes)`);
}
