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
import { GPU_TEST, testGpu } from "./gpu.ts";
import { fixture } from "./fixtures.ts";
import { readNpy } from "../formats/npy.ts";
import { assertClose, assertU8Close } from "./reference.ts";
import { loadNetwork } from "../formats/snapshot.ts";
import type { NetworkDescription } from "../formats/network.ts";
import { decodePng, encodePng, toImage8 } from "../formats/png.ts";
import { Gpu } from "../gpu/device.ts";
import { startViewer, type Viewer } from "../viewer/server.ts";
import { Generator } from "../models/generator.ts";
import { generateImages, type GenerateRequest } from "../models/generate.ts";
import { zFromSeed } from "../models/latents.ts";
import { readTensor } from "../gpu/readback.ts";
import { EMBEDDED, NETWORK_OPTS, openGenerator, openNetwork, planNetwork } from "../cli/network.ts";
import { parseOptions } from "../cli/options.ts";

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
function golden(name: string, net = "tiny-t"): Uint8Array {
  return readNpy(fixture("sg3", net, name)).data as Uint8Array;
}

/** A float image (NCHW [1, C, H, W]) to compare the page's image with. */
type FloatImage = { data: Float32Array; shape: readonly number[] };

/** The official float image `name` of a fixture network. */
function official(name: string, net = "tiny-t"): FloatImage {
  const f = readNpy(fixture("sg3", net, name));
  return { data: f.data as Float32Array, shape: f.shape };
}

/** The fixtures' image tolerance (manifest "img": abs 1e-4), the generator's float tolerance. */
const IMG_TOL = 1e-4;

/**
 * The page's uint8 image against a float reference image, within the generator's float tolerance: every
 * value within 1 level, and a value may differ by 1 only where the reference float image lies within IMG_TOL
 * of a uint8 boundary (x * 127.5 + 128 within IMG_TOL * 127.5 of an integer). SwiftShader's float32 results
 * are within IMG_TOL but noisier than llvmpipe's, so they flip more than assertU8Close's 0.1% of values.
 */
function assertU8WithinTolerance(actual: number[], ref: FloatImage, what: string): void {
  const [, c, h, w] = ref.shape;
  const expected = toImage8(ref.data, ref.shape).data;
  assert.equal(actual.length, expected.length, `${what}: size`);
  let flips = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (d === 0) continue;
    const ch = i % c, px = (i - ch) / c, y = Math.floor(px / w), x = px % w;
    const v = ref.data[ch * h * w + y * w + x] * 127.5 + 128;
    const edge = Math.min(v - Math.floor(v), Math.ceil(v) - v);
    assert.ok(
      d === 1 && (v <= 0.5 || v >= 254.5 || edge <= IMG_TOL * 127.5),
      `${what}: value ${i} differs by ${d}`,
    );
    flips++;
  }
  console.log(`${what}: ${flips} of ${actual.length} uint8 values differ by 1`);
}

/** The page's float and uint8 images against a reference float image (floats within IMG_TOL). */
async function assertPageImage(page: Page, ref: FloatImage, what: string): Promise<void> {
  assertClose(await floats(page), ref.data, { abs: IMG_TOL }, `${what}: float image`);
  assertU8WithinTolerance((await pixels(page)).data, ref, what);
}

function floats(page: Page): Promise<number[]> {
  return page.evaluate(() => (globalThis as any).sg3view.floats());
}

/** Waits until the page has drawn its latest change. */
function settled(page: Page): Promise<void> {
  return page.evaluate(() => (globalThis as any).sg3view.settled());
}

/** Types `value` into a control (as a user would: the element's value, then its event), waits for the frame. */
async function control(page: Page, selector: string, value: string, event = "change"): Promise<void> {
  await page.$eval(
    selector,
    (e, v, ev) => {
      (e as HTMLInputElement).value = v;
      e.dispatchEvent(new Event(ev, { bubbles: true }));
    },
    value,
    event,
  );
  await settled(page);
}

/** The largest absolute difference of two arrays. */
function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** The float image `sg3 generate` makes for a request (models/generate.ts), on this process's GPU. */
async function generated(gen: Generator, req: GenerateRequest): Promise<FloatImage> {
  for await (const r of generateImages(await testGpu(), gen, { batch: 1, ...req })) {
    return { data: r.float.slice(), shape: [1, gen.imgChannels, gen.resolution, gen.resolution] };
  }
  throw new Error("no image");
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
      await assertPageImage(page, official("img-seed0-psi1.npy"), "seed 0 psi 1 in the browser");
      let img = await pixels(page);
      assert.equal(img.name, "seed0000");
      assert.deepEqual([img.width, img.height], [32, 32]);
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
      await assertPageImage(page, official("img-seed0-psi0.7.npy"), "seed 0 psi 0.7 in the browser");
      await set(page, { psi: 1, tx: 0.3, ty: 0.1, rotate: 10 });
      const moved = official("img-seed0-psi1-t0.3_0.1-r10.npy");
      await assertPageImage(page, moved, "translate 0.3,0.1 rotate 10 in the browser");
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

/** A fixture network's path. */
const net = (file: string) => fixture("sg3", file);

/** Runs `body` with a viewer of `chosen` open in a WebGPU page; closes both afterwards. */
async function withPage(
  chosen: { net: NetworkDescription; label: string; random: boolean },
  body: (page: Page) => Promise<void>,
  hash = "",
): Promise<void> {
  const viewer = await startViewer({ ...chosen, openGpu: () => Gpu.open() });
  const browser = await launch(true);
  try {
    const page = await openViewer(viewer, browser, hash);
    const why = await page.$eval("#notice", (e) => e.textContent);
    assert.equal(await page.evaluate(() => (globalThis as any).sg3view.mode), "webgpu", `WebGPU (${why})`);
    await body(page);
  } finally {
    await browser.close();
    await viewer.close();
  }
}

Deno.test(
  {
    name: named("sg3 view in Chromium: the default network is calibrated in the page as sg3 generate does"),
    ...BROWSER_TEST,
  },
  async () => {
    // What `sg3 view` and `sg3 generate` open without --network: the embedded random-initialised network,
    // which the page calibrates itself (the server sends the weights uncalibrated).
    const { values, given } = parseOptions([], NETWORK_OPTS);
    const plan = planNetwork(values, given, EMBEDDED);
    const chosen = await openNetwork(plan);
    assert.ok(chosen.random);
    const gen = await openGenerator(await testGpu(), await openNetwork(plan));
    try {
      await withPage(chosen, async (page) => {
        const label = await page.$eval("#network", (e) => e.textContent ?? "");
        assert.match(label, /random-init stylegan3-t 128x128/);
        await assertPageImage(page, await generated(gen, { seeds: [0], psi: 1 }), "default network seed 0");
      });
    } finally {
      gen.destroy();
    }
  },
);

Deno.test(
  { name: named("sg3 view in Chromium: a StyleGAN2 network and its noise modes"), ...BROWSER_TEST },
  async () => {
    const snapshot = await loadNetwork(net("tiny-sg2.pkl"), { which: "G_ema" });
    const gen = Generator.create(await testGpu(), await loadNetwork(net("tiny-sg2.pkl"), { which: "G_ema" }));
    try {
      await withPage({ net: snapshot, label: "tiny-sg2.pkl", random: false }, async (page) => {
        // The noise control is shown, the input transform's is not (StyleGAN2 has none).
        assert.equal(await page.$eval("#noise-row", (e) => (e as HTMLElement).hidden), false);
        assert.equal(await page.$eval("#transform-box", (e) => (e as HTMLElement).hidden), true);
        const sg2 = (name: string) => official(name, "tiny-sg2");
        await assertPageImage(page, sg2("img-seed0-psi1.npy"), "tiny-sg2 seed 0 psi 1");
        const u8 = golden("u8-seed0-psi1.npy", "tiny-sg2");
        assert.ok((await pixels(page)).data.every((v, i) => Math.abs(v - u8[i]) <= 1), "u8-seed0-psi1");
        await control(page, "#psi", "0.7", "input");
        await assertPageImage(page, sg2("img-seed0-psi0.7.npy"), "tiny-sg2 seed 0 psi 0.7");
        const constant = await floats(page);

        // The noise-mode control: each mode's image is `sg3 generate --noise-mode`'s.
        for (const mode of ["none", "random"] as const) {
          await page.select("#noise", mode);
          await settled(page);
          assert.equal(await page.evaluate(() => (globalThis as any).sg3view.drawn.noiseMode), mode);
          const expected = await generated(gen, { seeds: [0], psi: 0.7, noiseMode: mode });
          assert.ok(maxDiff(expected.data, constant) > 1e-2, `noise ${mode} changes the image`);
          await assertPageImage(page, expected, `tiny-sg2 seed 0 psi 0.7 noise ${mode}`);
          assert.match(await page.evaluate(() => location.hash), new RegExp(`noise=${mode}`));
        }

        // Between seeds (dragging), random noise is the lower seed's, as in its layer view.
        await set(page, { seed: 3.25 });
        const gpu = await testGpu();
        const opts = { psi: 0.7, cutoff: null };
        const [a, b] = [
          gen.mapping(zFromSeed(3, gen.zDim), 1, opts),
          gen.mapping(zFromSeed(4, gen.zDim), 1, opts),
        ];
        const [wa, wb] = [await readTensor(gpu, a), await readTensor(gpu, b)];
        a.destroy();
        b.destroy();
        const ws = gpu.upload(wa.map((v, i) => v + (wb[i] - v) * 0.25), [1, gen.numWs, gen.wDim]);
        const img = gen.synthesis(ws, { noiseMode: "random", noiseSeeds: [3] });
        const between = { data: await readTensor(gpu, img), shape: img.shape };
        img.destroy();
        ws.destroy();
        await assertPageImage(page, between, "tiny-sg2 seed 3.25 noise random");
      });
    } finally {
      gen.destroy();
    }
  },
);

/**
 * A conditional network: SwiftShader's WGSL sin() is less accurate than float32 (WGSL promises 2^-11
 * absolute), which put tiny-t-cond's input layer 3.7e-4 off the official one; sg3 probes each adapter's
 * sin() when the device opens (gpu/sin_probe.ts) and uses its polynomial sine there.
 */
Deno.test(
  {
    name: named("sg3 view in Chromium: the class control of a conditional network"),
    ...BROWSER_TEST,
  },
  async () => {
    const snapshot = await loadNetwork(net("tiny-t-cond.pkl"), { which: "G_ema" });
    await withPage({ net: snapshot, label: "tiny-t-cond.pkl", random: false }, async (page) => {
      assert.equal(await page.$eval("#class-row", (e) => (e as HTMLElement).hidden), false);
      assert.equal(await page.$eval("#class-of", (e) => e.textContent), "of 5");
      const cond = (name: string) => official(name, "tiny-t-cond");
      // The fixtures label seed s with class s % 5.
      await assertPageImage(page, cond("img-seed0-psi1.npy"), "tiny-t-cond seed 0 class 0");
      await control(page, "#seed", "42");
      const wrongClass = await floats(page);
      await control(page, "#class", "2");
      assert.equal(await page.evaluate(() => location.hash), "#seed=42&class=2");
      await assertPageImage(page, cond("img-seed42-psi1.npy"), "tiny-t-cond seed 42 class 2");
      assert.ok(maxDiff(wrongClass, await floats(page)) > 1e-2, "the class changes the image");
      const u8 = golden("u8-seed42-psi1.npy", "tiny-t-cond");
      assert.ok((await pixels(page)).data.every((v, i) => Math.abs(v - u8[i]) <= 1), "u8-seed42-psi1");
      await control(page, "#seed", "1");
      await control(page, "#class", "1");
      await control(page, "#psi", "0.7", "input");
      await assertPageImage(page, cond("img-seed1-psi0.7.npy"), "tiny-t-cond seed 1 class 1 psi 0.7");
    });
  },
);

Deno.test(
  { name: named("sg3 view in Chromium: animate, zoom and drag between seeds"), ...BROWSER_TEST },
  async () => {
    const snapshot = await loadNetwork(FIXTURE, { which: "G_ema" });
    const gen = Generator.create(await testGpu(), await loadNetwork(FIXTURE, { which: "G_ema" }));
    try {
      await withPage({ net: snapshot, label: "tiny-t.pkl", random: false }, async (page) => {
        // Zoom: the canvas is shown magnified with whole screen pixels per image pixel (nearest neighbour);
        // the image itself does not change.
        const before = await pixels(page);
        for (const zoom of [4, 8]) {
          await page.select("#zoom", String(zoom));
          assert.equal(await page.$eval("#canvas", (e) => (e as HTMLElement).style.width), `${32 * zoom}px`);
          const box = (await (await page.$("#canvas"))!.boundingBox())!;
          assert.deepEqual([box.width, box.height], [32 * zoom, 32 * zoom]);
          assert.match(await page.evaluate(() => location.hash), new RegExp(`zoom=${zoom}`));
          const shot = decodePng(
            await page.screenshot({ clip: { x: box.x, y: box.y, width: box.width, height: box.height } }),
          );
          assert.deepEqual([shot.width, shot.height], [32 * zoom, 32 * zoom]);
          let off = 0;
          for (let y = 0; y < shot.height; y++) {
            for (let x = 0; x < shot.width; x++) {
              const src = (Math.floor(y / zoom) * 32 + Math.floor(x / zoom)) * 3;
              for (let c = 0; c < 3; c++) {
                if (shot.data[(y * shot.width + x) * shot.channels + c] !== before.data[src + c]) off++;
              }
            }
          }
          assert.equal(off, 0, `zoom ${zoom}: screen pixels that are not the image's`);
        }
        assert.deepEqual((await pixels(page)).data, before.data);

        // Drag: 100 px sideways per seed; half-way between seeds 0 and 1 the page blends their ws linearly
        // (view.ts), which differs from both seeds' images; releasing snaps to the nearest seed.
        const box = (await (await page.$("#canvas"))!.boundingBox())!;
        const [x0, y0] = [box.x + box.width / 2, box.y + box.height / 2];
        await page.mouse.move(x0, y0);
        await page.mouse.down();
        await page.mouse.move(x0 + 50, y0);
        await page.waitForFunction(() => (globalThis as any).sg3view.settings.seed === 0.5);
        await settled(page);
        assert.equal((await pixels(page)).name, "seed0000.50");
        const ws0 = readNpy(fixture("sg3", "tiny-t", "ws-seed0-psi1.npy")).data as Float32Array;
        const ws1 = readNpy(fixture("sg3", "tiny-t", "ws-seed1-psi1.npy")).data as Float32Array;
        const mid = await generated(gen, {
          ws: { data: ws0.map((v, i) => v + (ws1[i] - v) * 0.5), count: 1 },
        });
        await assertPageImage(page, mid, "half-way between seeds 0 and 1");
        const blended = await floats(page);
        for (const seed of [0, 1]) {
          const d = maxDiff(blended, official(`img-seed${seed}-psi1.npy`).data);
          assert.ok(d > 0.05, `the blend differs from seed ${seed} (max ${d})`);
        }
        await page.mouse.up();
        await page.waitForFunction(() => (globalThis as any).sg3view.settings.seed === 1);
        await settled(page);
        assert.equal((await pixels(page)).name, "seed0001");
        await assertPageImage(page, official("img-seed1-psi1.npy"), "seed 1 after the drag");

        // Animate: translate and rotate move over time, and each frame is `sg3 generate`'s image with the
        // translate and rotate it was drawn at.
        await page.click("#animate");
        await page.waitForFunction(() => (globalThis as any).sg3view.drawn.animate);
        assert.match(await page.evaluate(() => location.hash), /anim=1/);
        const frame = () =>
          page.evaluate(() => {
            const v = (globalThis as any).sg3view;
            return { s: v.drawn, f: v.floats() as number[] };
          });
        const first = await frame();
        await page.waitForFunction(
          (t) => (globalThis as any).sg3view.drawn.rotate > t + 1,
          {},
          first.s.rotate,
        );
        const second = await frame();
        for (const { s } of [first, second]) {
          assert.ok(s.animate && s.rotate > 0 && s.tx !== 0, JSON.stringify(s));
        }
        assert.notEqual(second.s.tx, first.s.tx);
        assert.notEqual(second.s.ty, first.s.ty);
        assert.ok(maxDiff(first.f, second.f) > 1e-2, "the image moves");
        const expected = await generated(gen, {
          seeds: [1],
          psi: 1,
          translate: [second.s.tx, second.s.ty],
          rotate: second.s.rotate,
        });
        assertClose(second.f, expected.data, { abs: IMG_TOL }, "an animated frame");
        // Stopping returns to the set translate and rotate (0), i.e. seed 1's image.
        await page.click("#animate");
        await settled(page);
        assert.equal(await page.evaluate(() => (globalThis as any).sg3view.drawn.animate), false);
        await assertPageImage(page, official("img-seed1-psi1.npy"), "seed 1 after the animation");
      });
    } finally {
      gen.destroy();
    }
  },
);
