/// <reference lib="dom" />
/**
 * `sg3 view` end to end in a real headless Chromium (the system's chromium-headless-shell, driven with
 * puppeteer-core; its WebGPU adapter is SwiftShader, without shader-f16, so the float32 kernels run):
 * the page renders tiny-t.pkl's seed 0 at psi 1 with sg3's bundled kernels and matches the golden uint8
 * image, psi and translate/rotate change it as `sg3 generate` predicts, "save PNG" writes the bytes that
 * `sg3 generate`'s encoder writes for those pixels, a layer view shows feature maps, requests without the
 * token are refused, and with WebGPU disabled the page falls back to rendering on the server.
 * A screenshot of the page is kept at test/artifacts/viewer.png (the README shows a copy).
 *
 * Needs chromium-headless-shell (`apt-get install -y chromium-headless-shell`; .ci/run installs it) or
 * SG3_CHROMIUM naming a Chromium binary; the tests report themselves ignored when there is none.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { existsSync } from "node:fs";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { GPU_TEST } from "./gpu.ts";
import { fixture } from "./fixtures.ts";
import { readNpy } from "../formats/npy.ts";
import { assertClose, assertU8Close } from "./reference.ts";
import { loadNetwork } from "../formats/snapshot.ts";
import { encodePng, toImage8 } from "../formats/png.ts";
import { Gpu } from "../gpu/device.ts";
import { startViewer, type Viewer } from "../viewer/server.ts";

/** The Chromium binary: $SG3_CHROMIUM, else the chromium-headless-shell package's. */
function findChromium(): string | null {
  const env = Deno.env.get("SG3_CHROMIUM");
  if (env) return existsSync(env) ? env : null;
  try {
    const out = new Deno.Command("dpkg", {
      args: ["-L", "chromium-headless-shell"],
      stdout: "piped",
      stderr: "null",
    })
      .outputSync();
    const files = new TextDecoder().decode(out.stdout).split("\n").filter((f) =>
      /\/chromium-headless-shell$/.test(f)
    );
    const binary = files.find((f) => f.startsWith("/usr/lib/")) ?? files.find((f) => existsSync(f));
    if (binary && existsSync(binary)) return binary;
  } catch {
    // no dpkg
  }
  return ["/usr/bin/chromium-headless-shell", "/usr/bin/chromium"].find((f) => existsSync(f)) ?? null;
}

const CHROMIUM = findChromium();
const FIXTURE = fixture("sg3", "tiny-t.pkl");
const MISSING = !CHROMIUM
  ? "no Chromium: apt-get install -y chromium-headless-shell, or set SG3_CHROMIUM"
  : !existsSync(FIXTURE)
  ? `fixture ${FIXTURE} not found`
  : null;
const BROWSER_TEST = { ...GPU_TEST, ignore: MISSING !== null };
/** The test's name, with the reason when it is ignored. */
const named = (name: string) => MISSING ? `${name} (ignored: ${MISSING})` : name;
const ARTIFACTS = join(import.meta.dirname!, "artifacts");

const FLAGS = [
  "--no-sandbox",
  "--enable-unsafe-webgpu",
  "--enable-features=Vulkan",
  "--use-angle=vulkan",
  "--use-vulkan=swiftshader",
];

async function launch(webgpu: boolean): Promise<Browser> {
  return await puppeteer.launch({
    executablePath: CHROMIUM!,
    headless: "shell",
    args: webgpu ? FLAGS : [...FLAGS.filter((f) => f !== "--enable-unsafe-webgpu"), "--disable-webgpu"],
    protocolTimeout: 600_000,
  });
}

async function openViewer(viewer: Viewer, browser: Browser, hash = ""): Promise<Page> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.setViewport({ width: 1100, height: 760 });
  await page.goto(viewer.url + hash);
  await page.waitForFunction(() => document.body.dataset.state !== "loading", { timeout: 600_000 });
  const state = await page.evaluate(() => document.body.dataset.state);
  const notice = await page.$eval("#notice", (e) => (e as HTMLElement).hidden ? "" : e.textContent);
  assert.equal(state, "ready", `the page did not get ready: ${notice} ${errors.join("; ")}`);
  return page;
}

type Pixels = { width: number; height: number; name: string; data: number[] };

function set(page: Page, change: Record<string, unknown>): Promise<void> {
  return page.evaluate((c) => (globalThis as any).sg3view.set(c), change);
}

function pixels(page: Page): Promise<Pixels> {
  return page.evaluate(() => (globalThis as any).sg3view.pixels());
}

/** The golden uint8 image (NHWC) of `name` in the tiny-t fixtures. */
function golden(name: string): Uint8Array {
  return readNpy(fixture("sg3", "tiny-t", name)).data as Uint8Array;
}

/** The fixtures' image tolerance (manifest "img": abs 1e-4), the generator's float tolerance. */
const IMG_TOL = 1e-4;

/**
 * The page's uint8 image against the official one, within the generator's float tolerance: every value
 * within 1 level, and a value may differ by 1 only where the official float image lies within IMG_TOL of a
 * uint8 boundary (x * 127.5 + 128 within IMG_TOL * 127.5 of an integer). SwiftShader's float32 results are
 * within IMG_TOL but noisier than llvmpipe's, so they flip more than assertU8Close's 0.1% of values.
 */
function assertU8WithinTolerance(actual: number[], name: string, what: string): void {
  const f = readNpy(fixture("sg3", "tiny-t", name));
  const [, c, h, w] = f.shape;
  const expected = toImage8(f.data as Float32Array, f.shape).data;
  let flips = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (d === 0) continue;
    const ch = i % c, px = (i - ch) / c, y = Math.floor(px / w), x = px % w;
    const v = (f.data as Float32Array)[ch * h * w + y * w + x] * 127.5 + 128;
    const edge = Math.min(v - Math.floor(v), Math.ceil(v) - v);
    assert.ok(
      d === 1 && (v <= 0.5 || v >= 254.5 || edge <= IMG_TOL * 127.5),
      `${what}: value ${i} differs by ${d}`,
    );
    flips++;
  }
  console.log(`${what}: ${flips} of ${actual.length} uint8 values differ by 1`);
}

Deno.test(
  { name: named("sg3 view in Chromium: WebGPU render matches the golden images"), ...BROWSER_TEST },
  async () => {
    const net = await loadNetwork(FIXTURE, { which: "G_ema" });
    const viewer = await startViewer({ net, label: "tiny-t.pkl", random: false, openGpu: () => Gpu.open() });
    const browser = await launch(true);
    try {
      // A request without the token is refused, and so is one with a foreign Host header.
      const noToken = await fetch(viewer.url.replace(/\?token=.*/, ""));
      assert.equal(noToken.status, 403);
      await noToken.body?.cancel();
      const page = await openViewer(viewer, browser);
      const mode = await page.evaluate(() => (globalThis as any).sg3view.mode);
      const adapter = await page.evaluate(() => (globalThis as any).sg3view.adapter);
      const why = await page.$eval("#notice", (e) => e.textContent);
      assert.equal(mode, "webgpu", `the page renders in the browser's WebGPU (${why})`);
      console.log(`browser adapter: ${adapter}`);

      // Seed 0, psi 1: the golden image of the official code.
      // The float image is within the generator's tolerance of the official one.
      const floats = (): Promise<number[]> => page.evaluate(() => (globalThis as any).sg3view.floats());
      const official = (name: string) => readNpy(fixture("sg3", "tiny-t", name)).data as Float32Array;
      assertClose(
        await floats(),
        official("img-seed0-psi1.npy"),
        { abs: IMG_TOL },
        "seed 0 psi 1 float image",
      );
      let img = await pixels(page);
      assert.equal(img.name, "seed0000");
      assert.deepEqual([img.width, img.height], [32, 32]);
      assertU8WithinTolerance(img.data, "img-seed0-psi1.npy", "seed 0 psi 1 in the browser");
      // The golden uint8 image itself (the official PNG values) agrees the same way.
      const u8 = golden("u8-seed0-psi1.npy");
      assert.ok(img.data.every((v, i) => Math.abs(v - u8[i]) <= 1), "within 1 level of u8-seed0-psi1");
      // "save PNG" writes what sg3 generate's encoder writes for these pixels.
      const png = new Uint8Array(await page.evaluate(() => (globalThis as any).sg3view.png()));
      assert.deepEqual(
        png,
        encodePng({ width: 32, height: 32, channels: 3, data: Uint8Array.from(img.data) }),
      );

      // psi 0.7 and a translated, rotated input change the image as sg3 generate predicts (the fixtures).
      await set(page, { psi: 0.7 });
      assertClose(await floats(), official("img-seed0-psi0.7.npy"), { abs: IMG_TOL }, "psi 0.7 float image");
      assertU8WithinTolerance(
        (await pixels(page)).data,
        "img-seed0-psi0.7.npy",
        "seed 0 psi 0.7 in the browser",
      );
      await set(page, { psi: 1, tx: 0.3, ty: 0.1, rotate: 10 });
      const moved = "img-seed0-psi1-t0.3_0.1-r10.npy";
      assertClose(await floats(), official(moved), { abs: IMG_TOL }, "translated float image");
      assertU8WithinTolerance((await pixels(page)).data, moved, "translate 0.3,0.1 rotate 10 in the browser");
      // The permalink carries the settings.
      const hash = await page.evaluate(() => location.hash);
      assert.match(hash, /psi|tx=0\.3/);
      assert.match(hash, /tx=0\.3&ty=0\.1&rot=10/);

      // A layer view: the layer list comes from the network, the feature maps are drawn.
      const layers: { name: string; shape: number[] }[] = await page.evaluate(() =>
        (globalThis as any).sg3view.layers
      );
      assert.equal(layers[0].name, "input");
      assert.ok(layers.some((l) => l.name === "L5_52_32"));
      await page.select("#layer", "L5_52_32");
      await page.waitForFunction(() => (globalThis as any).sg3view.pixels().width === 52, {
        timeout: 600_000,
      });
      img = await pixels(page);
      assert.deepEqual([img.width, img.height], [52, 52]);
      assert.ok(new Set(img.data).size > 50, "the feature maps are not flat");
      const channelsOf = await page.$eval("#channel-of", (e) => e.textContent);
      assert.equal(channelsOf, "of 32");

      // Back to the image at a dragged (blended) seed, then the screenshot.
      await set(page, { layer: "", tx: 0, ty: 0, rotate: 0, seed: 0 });
      await Deno.mkdir(ARTIFACTS, { recursive: true });
      await set(page, { zoom: 8 });
      await page.screenshot({ path: join(ARTIFACTS, "viewer.png") as `${string}.png` });
      assert.ok(Deno.statSync(join(ARTIFACTS, "viewer.png")).size > 10_000);
    } finally {
      await browser.close();
      await viewer.close();
    }
  },
);

Deno.test(
  { name: named("sg3 view in Chromium without WebGPU: the server renders"), ...BROWSER_TEST },
  async () => {
    const net = await loadNetwork(FIXTURE, { which: "G_ema" });
    const viewer = await startViewer({ net, label: "tiny-t.pkl", random: false, openGpu: () => Gpu.open() });
    const browser = await launch(false);
    try {
      const page = await openViewer(viewer, browser, "#psi=0.7");
      assert.equal(await page.evaluate(() => (globalThis as any).sg3view.mode), "server");
      const notice = await page.$eval("#notice", (e) => e.textContent ?? "");
      assert.match(notice, /WebGPU is not usable here .*the server renders/);
      assert.ok(!notice.includes("\n"), "one line");
      assertU8Close((await pixels(page)).data, golden("u8-seed0-psi0.7.npy"), "server-rendered psi 0.7");
      await set(page, { psi: 1 });
      assertU8Close((await pixels(page)).data, golden("u8-seed0-psi1.npy"), "server-rendered psi 1");
      await set(page, { layer: "L0_36_32", channels: 1 });
      const img = await pixels(page);
      assert.deepEqual([img.width, img.height], [36, 36]);
    } finally {
      await browser.close();
      await viewer.close();
    }
  },
);
