/**
 * FID on real-world collections: every format and mode is converted as PIL's Image.open(p).convert('RGB')
 * does (expected pixels computed here by the documented rule, independently of the decoders); folders of
 * mixed sizes give the statistics of per-image resizing; .npy/.npz arrays equal the same images as a
 * folder; every new failure is one line naming the file, exit code 2.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { encode as encodePngRaw } from "fast-png";
import { zipSync } from "fflate";
import encodeWebp from "@jsquash/webp/encode.js";
import { GPU_TEST, testGpu } from "./gpu.ts";
import { runMain } from "./cli.ts";
import { Dataset } from "../formats/dataset.ts";
import { readImageRgb } from "../formats/image_file.ts";
import { formatNpy, readNpz, toFloat64 } from "../formats/npy.ts";
import type { Image8 } from "../formats/png.ts";
import { readTensor } from "../gpu/readback.ts";
import { Inception, preprocess } from "../models/inception.ts";
import { loadInceptionWeights, TEST_DETECTOR } from "../models/inception_weights.ts";

/** Deterministic sample values. */
const ramp = (n: number, seed: number, mod = 256) =>
  Array.from({ length: n }, (_, i) => (i * 37 + seed * 11) % mod);

/** An RGB image from per-pixel values. */
function rgb(w: number, h: number, px: (i: number) => [number, number, number]): Image8 {
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) data.set(px(i), i * 3);
  return { width: w, height: h, channels: 3, data };
}

const png = (o: Record<string, unknown>) => encodePngRaw(o as any);

/** A BMP: 24 or 32 bits BGR(X), or 8 bits through a colour table; bottom-up rows padded to 4 bytes. */
function bmp(w: number, h: number, bits: 8 | 24 | 32, px: number[][], palette: number[][] = []): Uint8Array {
  const rowBytes = Math.ceil((w * bits) / 32) * 4, off = 54 + palette.length * 4;
  const out = new Uint8Array(off + rowBytes * h), dv = new DataView(out.buffer);
  out.set([0x42, 0x4d]);
  dv.setUint32(2, out.length, true), dv.setUint32(10, off, true), dv.setUint32(14, 40, true);
  dv.setInt32(18, w, true), dv.setInt32(22, h, true), dv.setUint16(26, 1, true), dv.setUint16(28, bits, true);
  dv.setUint32(46, palette.length, true);
  palette.forEach(([r, g, b], i) => out.set([b, g, r, 0], 54 + 4 * i));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = px[y * w + x], at = off + (h - 1 - y) * rowBytes + x * (bits / 8);
      out.set(bits === 8 ? [p[0]] : bits === 24 ? [p[2], p[1], p[0]] : [p[2], p[1], p[0], p[3]], at);
    }
  }
  return out;
}

/** A little-endian, uncompressed, one-strip TIFF; `extra` adds [tag, values] (SHORT). */
function tiff(
  w: number,
  h: number,
  photometric: number,
  bits: number[],
  pixels: Uint8Array,
  extra: [number, number[]][] = [],
) {
  const tags = ([
    [256, [w]],
    [257, [h]],
    [258, bits],
    [259, [1]],
    [262, [photometric]],
    [273, [0]],
    [277, [bits.length]],
    [278, [h]],
    [279, [pixels.length]],
    ...extra,
  ] as [number, number[]][]).sort((a, b) => a[0] - b[0]);
  let blobAt = 8 + 2 + tags.length * 12 + 4;
  const blobs: [number, number[]][] = [];
  const entries = tags.map(([tag, vals]) => {
    if (vals.length <= 2 || tag === 273) return { tag, vals, at: -1 };
    const at = blobAt;
    blobAt += 2 * vals.length;
    blobs.push([at, vals]);
    return { tag, vals, at };
  });
  const out = new Uint8Array(blobAt + pixels.length), dv = new DataView(out.buffer);
  out.set([0x49, 0x49, 42, 0]);
  dv.setUint32(4, 8, true), dv.setUint16(8, tags.length, true);
  entries.forEach(({ tag, vals, at }, i) => {
    const p = 10 + 12 * i, long = tag === 273 || tag === 279 || tag === 256 || tag === 257 || tag === 278;
    dv.setUint16(p, tag, true),
      dv.setUint16(p + 2, long ? 4 : 3, true),
      dv.setUint32(p + 4, vals.length, true);
    if (tag === 273) dv.setUint32(p + 8, blobAt, true);
    else if (long) dv.setUint32(p + 8, vals[0], true);
    else if (at >= 0) dv.setUint32(p + 8, at, true);
    else vals.forEach((v, k) => dv.setUint16(p + 8 + 2 * k, v, true));
  });
  for (const [at, vals] of blobs) vals.forEach((v, k) => dv.setUint16(at + 2 * k, v, true));
  out.set(pixels, blobAt);
  return out;
}

const u16be = (vals: number[]) => Uint8Array.from(vals.flatMap((v) => [v >> 8, v & 255]));
const u16le = (vals: number[]) => new Uint8Array(Uint16Array.from(vals).buffer);
/** Python's round (half to even). */
const pyRound = (x: number) => (Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : Math.round(x));

/** [name, file bytes, expected RGB] for every format and mode, expected by PIL's documented rules. */
async function cases(): Promise<[string, Uint8Array, Image8][]> {
  const w = 5, h = 3, n = w * h;
  const g8 = ramp(n, 1), g16 = [0, 1, 200, 255, 256, 1000, 65535, ...ramp(n - 7, 2, 65536)];
  const c16 = ramp(3 * n, 3, 65536), a8 = ramp(4 * n, 4), la16 = ramp(2 * n, 5, 65536);
  const pal = Array.from({ length: 16 }, (_, i) => [i * 16, 255 - i * 9, (i * 77) % 256]);
  const idx = ramp(n, 6, 16);
  const grey = (v: (i: number) => number) => rgb(w, h, (i) => [v(i), v(i), v(i)]);
  const packed4 = new Uint8Array(h * Math.ceil(w / 2));
  idx.forEach((v, i) => {
    const [y, x] = [Math.floor(i / w), i % w];
    packed4[y * Math.ceil(w / 2) + (x >> 1)] |= x % 2 ? v : v << 4;
  });
  const g2 = ramp(n, 7, 4), packed2 = new Uint8Array(h * Math.ceil(w / 4));
  g2.forEach((v, i) => {
    const [y, x] = [Math.floor(i / w), i % w];
    packed2[y * Math.ceil(w / 4) + (x >> 2)] |= v << (6 - 2 * (x % 4));
  });
  const maxval = 100, plain = ramp(3 * n, 8, maxval + 1);
  const p6 = new TextEncoder().encode(`P6\n# comment\n${w} ${h}\n255\n`);
  const wp = new Uint8ClampedArray(a8);
  const webp = new Uint8Array(
    await encodeWebp({ width: w, height: h, data: wp, colorSpace: "srgb" } as ImageData, {
      lossless: 1,
      exact: 1,
    } as any),
  );
  return [
    [
      "grey8.png",
      png({ width: w, height: h, channels: 1, depth: 8, data: Uint8Array.from(g8) }),
      grey((i) => g8[i]),
    ],
    // 16-bit grey opens as I;16 and convert('RGB') clamps to 255.
    [
      "grey16.png",
      png({ width: w, height: h, channels: 1, depth: 16, data: Uint16Array.from(g16) }),
      grey((i) => Math.min(g16[i], 255)),
    ],
    // 2-bit grey (L;2) is scaled by 85.
    [
      "grey2.png",
      png({ width: w, height: h, channels: 1, depth: 2, data: packed2 }),
      grey((i) => g2[i] * 85),
    ],
    [
      "greyalpha8.png",
      png({ width: w, height: h, channels: 2, depth: 8, data: Uint8Array.from(a8.slice(0, 2 * n)) }),
      grey((i) => a8[2 * i]),
    ],
    // 16-bit colour and grey+alpha keep the high byte.
    [
      "greyalpha16.png",
      png({ width: w, height: h, channels: 2, depth: 16, data: Uint16Array.from(la16) }),
      grey((i) => la16[2 * i] >> 8),
    ],
    [
      "rgb16.png",
      png({ width: w, height: h, channels: 3, depth: 16, data: Uint16Array.from(c16) }),
      rgb(w, h, (i) => [c16[3 * i] >> 8, c16[3 * i + 1] >> 8, c16[3 * i + 2] >> 8]),
    ],
    // Alpha is dropped, not composited.
    [
      "rgba8.png",
      png({ width: w, height: h, channels: 4, depth: 8, data: Uint8Array.from(a8) }),
      rgb(w, h, (i) => [a8[4 * i], a8[4 * i + 1], a8[4 * i + 2]]),
    ],
    [
      "palette4.png",
      png({ width: w, height: h, channels: 1, depth: 4, data: packed4, palette: pal }),
      rgb(w, h, (i) => pal[idx[i]] as [number, number, number]),
    ],
    [
      "p6.ppm",
      Uint8Array.from([...p6, ...a8.slice(0, 3 * n)]),
      rgb(w, h, (i) => [a8[3 * i], a8[3 * i + 1], a8[3 * i + 2]]),
    ],
    // Plain PPM with maxval 100: round(v / 100 * 255), ties to even.
    [
      "p3.ppm",
      new TextEncoder().encode(`P3 ${w} ${h} ${maxval}\n${plain.join(" ")}\n`),
      rgb(
        w,
        h,
        (i) => [0, 1, 2].map((k) => pyRound(plain[3 * i + k] / maxval * 255)) as [number, number, number],
      ),
    ],
    [
      "p5.pgm",
      Uint8Array.from([...new TextEncoder().encode(`P5 ${w} ${h} 255 `), ...g8]),
      grey((i) => g8[i]),
    ],
    // 16-bit PGM (maxval 65535) opens as mode I: clamped to 255.
    [
      "p5-16.pgm",
      Uint8Array.from([...new TextEncoder().encode(`P5 ${w} ${h} 65535\n`), ...u16be(g16)]),
      grey((i) => Math.min(g16[i], 255)),
    ],
    [
      "rgb24.bmp",
      bmp(w, h, 24, ramp(n, 0).map((_, i) => [a8[3 * i], a8[3 * i + 1], a8[3 * i + 2]])),
      rgb(w, h, (i) => [a8[3 * i], a8[3 * i + 1], a8[3 * i + 2]]),
    ],
    [
      "rgbx32.bmp",
      bmp(w, h, 32, ramp(n, 0).map((_, i) => a8.slice(4 * i, 4 * i + 4))),
      rgb(w, h, (i) => [a8[4 * i], a8[4 * i + 1], a8[4 * i + 2]]),
    ],
    [
      "palette8.bmp",
      bmp(w, h, 8, idx.map((v) => [v]), pal),
      rgb(w, h, (i) => pal[idx[i]] as [number, number, number]),
    ],
    [
      "rgb8.tif",
      tiff(w, h, 2, [8, 8, 8], Uint8Array.from(a8.slice(0, 3 * n))),
      rgb(w, h, (i) => [a8[3 * i], a8[3 * i + 1], a8[3 * i + 2]]),
    ],
    ["grey16.tiff", tiff(w, h, 1, [16], u16le(g16)), grey((i) => Math.min(g16[i], 255))],
    ["whiteiszero.tif", tiff(w, h, 0, [8], Uint8Array.from(g8)), grey((i) => 255 - g8[i])],
    // Palette TIFF: the colour map's 16-bit values, high byte (PIL's b // 256).
    [
      "palette.tif",
      tiff(w, h, 3, [8], Uint8Array.from(idx), [[
        320,
        [0, 1, 2].flatMap((k) => Array.from({ length: 256 }, (_, i) => (pal[i % 16][k] << 8) | 0x7f)),
      ]]),
      rgb(w, h, (i) => pal[idx[i]] as [number, number, number]),
    ],
    ["rgba.webp", webp, rgb(w, h, (i) => [a8[4 * i], a8[4 * i + 1], a8[4 * i + 2]])],
  ];
}

Deno.test("every format and mode converts as PIL's convert('RGB')", async () => {
  for (const [name, bytes, want] of await cases()) {
    const got = readImageRgb(bytes, name);
    assert.deepEqual([got.width, got.height, got.channels], [want.width, want.height, 3], name);
    assert.deepEqual(Array.from(got.data), Array.from(want.data), name);
  }
});

/** Writes images as PNG files (RGB, 8-bit) into a new folder under root. */
function pngFolder(root: string, name: string, images: Image8[]): string {
  const dir = join(root, name);
  Deno.mkdirSync(dir);
  images.forEach((im, i) => Deno.writeFileSync(join(dir, `${i}.png`), png({ ...im, depth: 8 })));
  return dir;
}

/** Statistics of per-image features: each image resized alone (preset pytorch-fid), covariance 1/(N-1). */
async function perImageStats(images: Image8[]): Promise<{ mu: Float64Array; sigma: Float64Array }> {
  const gpu = await testGpu();
  const inception = Inception.create(gpu, await loadInceptionWeights(TEST_DETECTOR));
  const f: Float64Array[] = [];
  for (const im of images) {
    const x = preprocess(gpu, im.data, 1, im.height, im.width, 3, "pytorch-fid");
    f.push(Float64Array.from(await readTensor(gpu, inception.forward(x).pool3)));
    x.destroy();
  }
  inception.destroy();
  const d = f[0].length, n = f.length, mu = new Float64Array(d), sigma = new Float64Array(d * d);
  for (const v of f) v.forEach((x, j) => (mu[j] += x / n));
  for (const v of f) {
    for (let a = 0; a < d; a++) {
      const da = (v[a] - mu[a]) / (n - 1);
      for (let b = 0; b < d; b++) sigma[a * d + b] += da * (v[b] - mu[b]);
    }
  }
  return { mu, sigma };
}

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

Deno.test(
  {
    name: "sg3 fid --preset pytorch-fid on a mixed folder equals per-image resizing and Inception",
    ...GPU_TEST,
  },
  async () => {
    const root = Deno.makeTempDirSync();
    const all = await cases();
    const pick = (n: string) => all.find(([name]) => name === n)!;
    // Three sizes and kinds: an RGBA PNG, a palette BMP behind a symbolic link, a 16-bit PGM.
    const big = rgb(23, 17, (i) => [i % 256, (i * 3) % 256, (i * 5) % 256]);
    const dir = join(root, "mixed");
    Deno.mkdirSync(dir);
    Deno.writeFileSync(
      join(dir, "a.png"),
      png({
        ...big,
        channels: 4,
        depth: 8,
        data: Uint8Array.from(
          { length: 23 * 17 * 4 },
          (_, i) => i % 4 === 3 ? 0 : big.data[Math.floor(i / 4) * 3 + (i % 4)],
        ),
      }),
    );
    Deno.writeFileSync(join(root, "outside.bmp"), pick("palette8.bmp")[1]);
    Deno.symlinkSync(join(root, "outside.bmp"), join(dir, "b.bmp"));
    Deno.writeFileSync(join(dir, "c.pgm"), pick("p5-16.pgm")[1]);
    const out = join(root, "stats.npz");
    const r = await runMain([
      "fid",
      "--preset",
      "pytorch-fid",
      "--data",
      dir,
      "--save-stats",
      out,
      "--detector",
      TEST_DETECTOR,
      "--no-cache",
      "--quiet",
    ]);
    assert.equal(r.code, 0, r.err.join("\n"));
    const saved = readNpz(out);
    const want = await perImageStats([big, pick("palette8.bmp")[2], pick("p5-16.pgm")[2]]);
    const [mu, sigma] = [toFloat64(saved.get("mu")!), toFloat64(saved.get("sigma")!)];
    const scale = maxAbs(want.mu, new Float64Array(want.mu.length)),
      sscale = maxAbs(want.sigma, new Float64Array(want.sigma.length));
    console.log(
      `mu max diff ${maxAbs(mu, want.mu).toExponential(2)} (of ${scale.toExponential(2)}), sigma ${
        maxAbs(sigma, want.sigma).toExponential(2)
      } (of ${sscale.toExponential(2)})`,
    );
    assert.ok(maxAbs(mu, want.mu) <= 1e-5 * scale && maxAbs(sigma, want.sigma) <= 1e-5 * sscale);
    Deno.removeSync(root, { recursive: true });
  },
);

Deno.test(
  { name: "--data .npy/.npz (stored and deflated) equals the same images as a folder", ...GPU_TEST },
  async () => {
    const root = Deno.makeTempDirSync();
    const images = [0, 1, 2].map((s) =>
      rgb(6, 4, (i) => [(i * 9 + s) % 256, (i * 5 + 40 * s) % 256, (i * 13) % 256])
    );
    const folder = pngFolder(root, "folder", images);
    const arr = new Uint8Array(3 * 6 * 4 * 3);
    images.forEach((im, i) => arr.set(im.data, i * im.data.length));
    const npy = formatNpy({ shape: [3, 4, 6, 3], dtype: "|u1", data: arr });
    Deno.writeFileSync(join(root, "x.npy"), npy);
    Deno.writeFileSync(
      join(root, "stored.npz"),
      zipSync({ "arr_0.npy": [npy, { level: 0 }], "arr_1.npy": [npy, { level: 0 }] }),
    );
    Deno.writeFileSync(join(root, "deflated.npz"), zipSync({ "arr_0.npy": [npy, { level: 9 }] }));
    const want = Dataset.open(folder, { mirror: true });
    for (const name of ["x.npy", "stored.npz", "deflated.npz"]) {
      const got = Dataset.open(join(root, name), { mirror: true });
      assert.equal(got.count, 6);
      // Mirrored items after the originals make the deflated stream start again.
      for (const i of [0, 1, 2, 3, 4, 5, 1]) assert.deepEqual(got.item(i), want.item(i), `${name} item ${i}`);
      got.close();
    }
    const stats = async (data: string) => {
      const out = join(root, `${data.replace(/\W/g, "_")}.npz`);
      const r = await runMain([
        "fid",
        "--data",
        join(root, data),
        "--save-stats",
        out,
        "--detector",
        TEST_DETECTOR,
        "--no-cache",
        "--quiet",
      ]);
      assert.equal(r.code, 0, r.err.join("\n"));
      return readNpz(out);
    };
    const [a, b] = [await stats("folder"), await stats("deflated.npz")];
    assert.deepEqual(a.get("mu")!.data, b.get("mu")!.data);
    assert.deepEqual(a.get("sigma")!.data, b.get("sigma")!.data);
    Deno.removeSync(root, { recursive: true });
  },
);

Deno.test({ name: "new failures are one line naming the file, exit code 2", ...GPU_TEST }, async () => {
  const root = Deno.makeTempDirSync();
  const im = (w: number) => png({ width: w, height: 4, channels: 3, depth: 8, data: new Uint8Array(w * 12) });
  const npy = (shape: number[], dtype: string, data: Uint8Array) => formatNpy({ shape, dtype, data });
  const files: [string, Uint8Array | Record<string, Uint8Array>, string][] = [
    ["sizes.zip", zipSync({ "a.png": im(4), "b.png": im(5) }), "b.png is 5x4"],
    [
      "float.npy",
      formatNpy({ shape: [1, 2, 2, 3], dtype: "<f4", data: new Float32Array(12) }),
      "float.npy: expected an [N, H, W, 3] uint8",
    ],
    ["grey.npy", npy([1, 2, 2], "|u1", new Uint8Array(4)), "grey.npy: expected an [N, H, W, 3] uint8"],
    [
      "short.npy",
      npy([2, 2, 2, 3], "|u1", new Uint8Array(24)).slice(0, 140),
      "short.npy: .npy data is truncated",
    ],
    [
      "keys.npz",
      zipSync({ "a.npy": npy([1], "|u1", new Uint8Array(1)), "b.npy": npy([1], "|u1", new Uint8Array(1)) }),
      "keys.npz: no arr_0",
    ],
    ["dir/x.bmp", bmp(2, 2, 8, [[0], [1], [0], [1]], [[1, 2, 3]]), "x.bmp: BMP colour index 1"],
    ["dir2/x.tif", tiff(2, 2, 5, [8, 8, 8, 8], new Uint8Array(16)), "x.tif: "],
    ["dir3/x.ppm", new TextEncoder().encode("P6 2 2 255\n1"), "x.ppm: not a valid PGM/PPM file"],
    ["dir4/x.gif", new Uint8Array(4), "x.gif: this image format is not read"],
    ["dir5/x.webp", new TextEncoder().encode("RIFF\0\0\0\0WEBPjunk"), "x.webp: not a valid WebP image"],
  ];
  for (const [name, bytes] of files) {
    Deno.mkdirSync(join(root, name, ".."), { recursive: true });
    Deno.writeFileSync(join(root, name), bytes as Uint8Array);
  }
  for (const [name, , message] of files) {
    const data = join(root, name.includes("/") ? name.split("/")[0] : name);
    const r = await runMain([
      "fid",
      "--data",
      data,
      "--save-stats",
      join(root, "s.npz"),
      "--detector",
      TEST_DETECTOR,
      "--no-cache",
      "--quiet",
    ]);
    assert.equal(r.code, 2, `${name}: ${r.err.join("\n")}`);
    assert.equal(r.err.length, 1, r.err.join("\n"));
    assert.ok(
      r.err[0].includes(message) && r.err[0].includes(name.split("/").pop()!),
      `${name}: ${r.err[0]}`,
    );
  }
  Deno.removeSync(root, { recursive: true });
});
