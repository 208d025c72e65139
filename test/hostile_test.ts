/**
 * Hostile inputs for the file-format and metrics-input layers, each made by the test itself: tiny
 * pickles that declare huge numpy arrays, long integers and deep or numerous containers; a small .pt
 * with a highly compressible storage and a broadcast view; zip bombs in torch archives, .npz files and
 * dataset zips; symbolic links (and a loop) in dataset folders; bad statistics files; a rewritten
 * detector under the statistics cache. Each ends in a one-line UserError naming the file (and the
 * budget), or in the correct result, within a time ceiling and with bounded memory.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { zipSync } from "fflate";
import { UserError } from "../errors.ts";
import { BASE_GLOBALS, toPlain, unpickle } from "../formats/pickle.ts";
import { readTorchBytes } from "../formats/torch.ts";
import { formatNpz, parseNpz } from "../formats/npy.ts";
import { Dataset } from "../formats/dataset.ts";
import { encodePng } from "../formats/png.ts";
import { readImageRgb } from "../formats/image_file.ts";
import { frechetDistance, readStats } from "../metrics/fid.ts";
import { statsCachePath } from "../metrics/stats_cache.ts";

const enc = new TextEncoder();
const MiB = 2 ** 20;

/** Concatenates pickle opcodes given as bytes, byte arrays or text (written as latin-1 bytes). */
function ops(...parts: (number | string | Uint8Array)[]): Uint8Array {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === "number") out.push(p);
    else if (typeof p === "string") { for (const c of p) out.push(c.charCodeAt(0)); }
    else for (const x of p) out.push(x);
  }
  return Uint8Array.from(out);
}
const binint = (v: number) => ops(0x4a, new Uint8Array(new Int32Array([v]).buffer));
const unicode = (s: string) => ops(0x58, new Uint8Array(new Uint32Array([s.length]).buffer), s);
const tuple = (...items: Uint8Array[]) => ops(0x28, ...items, 0x74);

/** A numpy array pickle: _reconstruct(ndarray, (0,), b"b") then BUILD (1, shape, dtype(code), False, data). */
function numpyArray(shape: number[], code: string, data: Uint8Array): Uint8Array {
  return ops(
    0x80,
    2,
    "cnumpy.core.multiarray\n_reconstruct\n",
    tuple(ops("cnumpy\nndarray\n"), tuple(binint(0)), ops(0x43, 1, "b")),
    0x52,
    tuple(
      binint(1),
      tuple(...shape.map(binint)),
      ops("cnumpy\ndtype\n", tuple(unicode(code), ops(0x89, 0x88)), 0x52),
      ops(0x89),
      data,
    ),
    0x62,
    0x2e,
  );
}

const load = (bytes: Uint8Array, name = "hostile.pkl") =>
  unpickle(bytes, { globals: BASE_GLOBALS, name }).value;

/** Runs `fn`, which must throw a one-line UserError starting with `file` and matching `re`, within `ms`. */
function refuses(fn: () => unknown, file: string, re: RegExp, ms = 3000): void {
  const t0 = performance.now(), rss0 = Deno.memoryUsage().rss;
  assert.throws(fn, (e) => {
    assert.ok(e instanceof UserError, `not a UserError: ${e}`);
    assert.ok(e.message.startsWith(file), `does not name ${file}: ${e.message}`);
    assert.match(e.message, re);
    // deno-lint-ignore no-control-regex -- finding control characters is the point
    assert.ok(!/[\x00-\x1f\x7f]/.test(e.message), `control characters in: ${e.message}`);
    return true;
  });
  const dt = performance.now() - t0, grew = Deno.memoryUsage().rss - rss0;
  assert.ok(dt < ms, `took ${dt.toFixed(0)} ms`);
  assert.ok(grew < 1024 * MiB, `memory grew by ${(grew / MiB).toFixed(0)} MiB`);
}

Deno.test("pickle: a numpy object array with a huge shape and no items is refused, not expanded", () => {
  const bomb = numpyArray([1 << 20, 1 << 20], "O8", ops(0x5d));
  refuses(() => toPlain(load(bomb)), "hostile.pkl", /object array/);
  // A numeric array with a zero dimension holds no data but would nest 2^28 empty arrays.
  const empty = numpyArray([1 << 28, 0], "f4", ops(0x43, 0));
  const value = load(empty);
  refuses(() => toPlain(value), "value", /budget of converted values/);
  // Through a loader that names the file: the torch reader's conversion path (guard) names it too.
  refuses(() => readTorchBytes(bomb, "net.pkl"), "net.pkl", /object array/);
});

Deno.test("pickle: long integers decode in linear time within a size budget", () => {
  const long4 = (k: number) => {
    const b = new Uint8Array(6 + k);
    b[0] = 0x8b;
    new DataView(b.buffer).setInt32(1, k, true);
    b.fill(0xa5, 5, 5 + k);
    b[5 + k] = 0x2e;
    return b;
  };
  const t0 = performance.now();
  const v = load(long4(60_000));
  assert.equal(typeof v, "bigint");
  assert.ok((v as bigint) < 0n, "two's complement sign");
  assert.equal((v as bigint) & 0xffn, 0xa5n);
  assert.ok(performance.now() - t0 < 500, "a 60 KB LONG4 must load at once");
  refuses(() => load(long4(2 * MiB)), "hostile.pkl", /budget of long-integer bytes/, 500);
  refuses(() => load(ops("L", "9".repeat(400_000), "L\n.")), "hostile.pkl", /long-integer/, 500);
});

Deno.test("pickle: containers are budgeted and deep nesting is refused", () => {
  refuses(
    () => load(ops(0x80, 4, new Uint8Array(2 * MiB).fill(0x5d), 0x2e)),
    "hostile.pkl",
    /pickle containers/,
  );
  const depth = 5000;
  const nested = ops(0x80, 4, new Uint8Array(depth).fill(0x5d), new Uint8Array(depth - 1).fill(0x61), 0x2e);
  refuses(() => toPlain(load(nested)), "value", /nested deeper than 1000/);
});

/** A zip whose member `name` is `data` deflated, but declares `declared` uncompressed bytes. */
function zipDeclaring(files: Record<string, Uint8Array>, deflated: string, declared: number): Uint8Array {
  const zip = zipSync(
    Object.fromEntries(Object.entries(files).map(([k, v]) => [k, [v, { level: k === deflated ? 9 : 0 }]])),
  );
  const dv = new DataView(zip.buffer);
  const nameBytes = enc.encode(deflated);
  for (let p = 0; p + 46 < zip.length; p++) {
    const sig = dv.getUint32(p, true);
    const at = sig === 0x04034b50 ? 30 : sig === 0x02014b50 ? 46 : 0;
    const size = sig === 0x04034b50 ? 22 : 24;
    const len = dv.getUint16(p + (sig === 0x04034b50 ? 26 : 28), true);
    if (at && len === nameBytes.length && nameBytes.every((b, i) => zip[p + at + i] === b)) {
      dv.setUint32(p + size, declared, true);
    }
  }
  return zip;
}

/** The data.pkl of a torch archive: {name: tensor view (shape, stride) of storage "0" of `numel` floats}. */
function torchPickle(numel: number, views: [string, number[], number[]][]): Uint8Array {
  const storage = ops(
    tuple(unicode("storage"), ops("ctorch\nFloatStorage\n"), unicode("0"), unicode("cpu"), binint(numel)),
    0x51,
  );
  const tensors = views.map(([name, shape, stride]) =>
    ops(
      unicode(name),
      "ctorch._utils\n_rebuild_tensor_v2\n",
      tuple(storage, binint(0), tuple(...shape.map(binint)), tuple(...stride.map(binint)), ops(0x89)),
      0x52,
    )
  );
  // The storage is the same object in every view: memoised after its first load.
  return ops(0x80, 2, 0x7d, 0x28, ...tensors, 0x75, 0x2e);
}

Deno.test("torch: a compressible storage and broadcast views stay within the tensor budget", () => {
  const numel = 1 << 20; // 4 MiB of zeros, deflated to a few KB
  const broadcast = torchPickle(numel, [["w", [1 << 30], [0]]]);
  const file = zipDeclaring(
    { "a/data.pkl": broadcast, "a/data/0": new Uint8Array(4 * numel) },
    "a/data/0",
    4 * numel,
  );
  assert.ok(file.length < 64 * 1024);
  refuses(() => tensorsOf(file, "bomb.pt"), "bomb.pt", /budget of views/);
  // Views within 16x their storage, but together far beyond the file's tensor budget.
  const many = torchPickle(numel, Array.from({ length: 8 }, (_, i) => [`t${i}`, [1 << 24], [0]]));
  const file2 = zipDeclaring(
    { "a/data.pkl": many, "a/data/0": new Uint8Array(4 * numel) },
    "a/data/0",
    4 * numel,
  );
  refuses(() => tensorsOf(file2, "views.pt"), "views.pt", /budget of tensor bytes/, 5000);
});

/** Materialises every tensor of a torch file through the public file reader (a temporary file). */
function tensorsOf(bytes: Uint8Array, name: string): void {
  const dir = Deno.makeTempDirSync({ prefix: "sg3-hostile-" });
  try {
    const path = join(dir, name);
    Deno.writeFileSync(path, bytes);
    const run = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        "--v8-flags=--max-old-space-size=1024",
        `import { readTorchFile } from ${
          JSON.stringify(new URL("../formats/torch.ts", import.meta.url).href)
        };` +
        `import { UserError } from ${JSON.stringify(new URL("../errors.ts", import.meta.url).href)};` +
        `try { await readTorchFile(${JSON.stringify(path)}); } catch (e) {` +
        ` console.error(e.message); Deno.exit(e instanceof UserError ? 2 : 1); }`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).outputSync();
    const err = new TextDecoder().decode(run.stderr).trim().split("\n").filter((l) =>
      !/XDG_RUNTIME_DIR/.test(l)
    );
    assert.equal(run.code, 2, `exit ${run.code}: ${err.join(" | ")}`);
    assert.equal(err.length, 1);
    throw new UserError(err[0].replace(path, name));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test("zip bombs: torch archives, .npz files and dataset zips refuse members beyond their budget", () => {
  const zeros = new Uint8Array(96 * MiB);
  const pkl = torchPickle(4, [["w", [4], [1]]]);
  // Declares 96 MiB honestly: over 64 MiB + 32 x file size.
  refuses(
    () =>
      readTorchBytes(
        zipDeclaring({ "a/data.pkl": pkl, "a/data/0": zeros }, "a/data/0", zeros.length),
        "zb.pt",
      ),
    "zb.pt",
    /budget of decompressed bytes/,
  );
  // Declares 1 KiB but inflates to 96 MiB: stops at the declared size.
  refuses(
    () => readTorchBytes(zipDeclaring({ "a/data.pkl": pkl, "a/data/0": zeros }, "a/data/0", 1024), "lie.pt"),
    "lie.pt",
    /more than its declared/,
  );
  refuses(() => parseNpz(zipDeclaring({ "mu.npy": zeros }, "mu.npy", 1 << 30), "s.npz"), "s.npz", /budget/);
  const dir = Deno.makeTempDirSync({ prefix: "sg3-hostile-" });
  try {
    const png = encodePng({ width: 2, height: 2, channels: 3, data: new Uint8Array(12) });
    const ds = join(dir, "ds.zip");
    Deno.writeFileSync(ds, zipDeclaring({ "a.png": png, "b.png": zeros }, "b.png", 1 << 30));
    refuses(() => Dataset.open(ds).item(1), `${ds}: b.png`, /budget of decompressed bytes/);
    // A corrupt deflate stream in a dataset zip: one line naming the file and member.
    // (its name holds a newline, which the message shows escaped).
    const broken = zipSync({ "a.png": [png, { level: 9 }], "b\n.png": [png, { level: 9 }] });
    const local = broken.findIndex((_, i) => i > 30 && broken[i] === 0x50 && broken[i + 1] === 0x4b);
    broken.fill(0xff, local + 30 + 6 + 4, local + 30 + 6 + 16);
    Deno.writeFileSync(ds, broken);
    refuses(() => Dataset.open(ds).item(1), `${ds}: b\\x0a.png`, /corrupt deflate stream/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("datasets: symbolic links to files and folders are followed, loops are not", () => {
  const dir = Deno.makeTempDirSync({ prefix: "sg3-hostile-" });
  try {
    const png = (v: number) =>
      encodePng({ width: 2, height: 2, channels: 3, data: new Uint8Array(12).fill(v) });
    const real = join(dir, "real"), ds = join(dir, "ds");
    Deno.mkdirSync(join(real, "sub"), { recursive: true });
    Deno.mkdirSync(ds);
    Deno.writeFileSync(join(real, "x.png"), png(1));
    Deno.writeFileSync(join(real, "sub", "y.png"), png(2));
    Deno.writeFileSync(join(ds, "a.png"), png(3));
    Deno.writeFileSync(join(ds, "b.png"), png(4));
    Deno.symlinkSync(join(real, "x.png"), join(ds, "c.png"));
    Deno.symlinkSync(join(real, "sub"), join(ds, "linked"));
    Deno.symlinkSync(ds, join(real, "sub", "loop")); // ds/linked/loop -> ds: a loop
    const t0 = performance.now();
    const data = Dataset.open(ds);
    assert.deepEqual(data.files, ["a.png", "b.png", "c.png", "linked/y.png"]);
    assert.equal(data.item(2).data[0], 1);
    assert.ok(performance.now() - t0 < 2000);
    // Only links: still a dataset.
    const links = join(dir, "links");
    Deno.mkdirSync(links);
    Deno.symlinkSync(join(real, "x.png"), join(links, "1.png"));
    Deno.symlinkSync(join(real, "sub", "y.png"), join(links, "2.png"));
    assert.equal(Dataset.open(links).count, 2);
    // A broken link to an image: one line naming it.
    Deno.symlinkSync(join(dir, "missing.png"), join(links, "3.png"));
    refuses(() => Dataset.open(links).item(2), `${links}: 3.png`, /cannot read/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

/** Writes statistics arrays to an .npz in `dir`; returns its path. */
function statsFile(dir: string, name: string, mu: number[], sigma: number[][]): string {
  const d = mu.length, path = join(dir, name);
  Deno.writeFileSync(
    path,
    formatNpz({
      mu: { shape: [d], dtype: "<f8", data: Float64Array.from(mu) },
      sigma: {
        shape: [sigma.length, sigma[0]?.length ?? 0],
        dtype: "<f8",
        data: Float64Array.from(sigma.flat()),
      },
    }),
  );
  return path;
}

Deno.test("statistics files: non-finite, non-symmetric, misshapen and non-PSD sigma are one line", () => {
  const dir = Deno.makeTempDirSync({ prefix: "sg3-hostile-" });
  try {
    const ok = statsFile(dir, "ok.npz", [0, 0, 0], [[1, 0, 0], [0, 1, 0], [0, 0, 1]]);
    const cases: [string, number[], number[][], RegExp][] = [
      ["nan.npz", [0, NaN], [[1, 0], [0, 1]], /mu\[1\] is NaN/],
      ["offdiag.npz", [0, 0], [[1, NaN], [NaN, 1]], /sigma\[0, 1\] is NaN/],
      ["inf.npz", [0, 0], [[Infinity, 0], [0, 1]], /Infinity/],
      ["asym.npz", [0, 0], [[1, 0.5], [0, 1]], /not symmetric/],
      ["shape.npz", [0, 0], [[1, 0, 0], [0, 1, 0]], /do not fit/],
      ["negvar.npz", [0, 0], [[-1, 0], [0, 1]], /positive semi-definite/],
      ["corr.npz", [0, 0], [[1, 2], [2, 1]], /positive semi-definite/],
    ];
    for (const [name, mu, sigma, re] of cases) {
      const path = statsFile(dir, name, mu, sigma);
      refuses(() => readStats(path), path, re);
    }
    // Every 2x2 minor is fine, but the matrix has a negative eigenvalue: found with the distance.
    const indefinite = statsFile(dir, "indef.npz", [0, 0, 0], [[1, 0.9, -0.9], [0.9, 1, 0.9], [
      -0.9,
      0.9,
      1,
    ]]);
    refuses(() => frechetDistance(readStats(ok), readStats(indefinite)), ok, /imaginary component/);
    // The same matrix as the first argument: its pivoted Cholesky factorization shows it indefinite.
    refuses(
      () => frechetDistance(readStats(indefinite), readStats(ok)),
      indefinite,
      /first covariance is not positive/,
    );
    assert.equal(frechetDistance(readStats(ok), readStats(ok)), 0);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("statistics cache: keyed by the detector's content, not its path", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "sg3-hostile-" });
  const before = Deno.env.get("SG3_CACHE");
  Deno.env.set("SG3_CACHE", join(dir, "cache"));
  try {
    const det = join(dir, "detector.pth");
    const data = { path: dir, files: [], mirror: false, count: 1 } as unknown as Dataset;
    Deno.writeFileSync(det, new Uint8Array(64).fill(1));
    const a = await statsCachePath(data, det, "stylegan3");
    assert.equal(await statsCachePath(data, det, "stylegan3"), a);
    Deno.writeFileSync(det, new Uint8Array(64).fill(2)); // same path and size, new content
    Deno.utimeSync(det, new Date(), new Date(Date.now() + 5000));
    const b = await statsCachePath(data, det, "stylegan3");
    assert.notEqual(b, a);
    Deno.writeFileSync(det, new Uint8Array(64).fill(1)); // the first content again: its entry
    Deno.utimeSync(det, new Date(), new Date(Date.now() + 10000));
    assert.equal(await statsCachePath(data, det, "stylegan3"), a);
  } finally {
    if (before === undefined) Deno.env.delete("SG3_CACHE");
    else Deno.env.set("SG3_CACHE", before);
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("images: a small PNG or JPEG declaring huge dimensions is refused before decoding", () => {
  const png = encodePng({ width: 2, height: 2, channels: 3, data: new Uint8Array(12) });
  // Rewrite IHDR to 60000 x 60000 (the CRC no longer matches; the size check comes first).
  const dv = new DataView(png.buffer, png.byteOffset, png.byteLength);
  dv.setUint32(16, 60000);
  dv.setUint32(20, 60000);
  // A JPEG whose SOF0 declares 60000 x 60000 pixels, 3 components.
  const jpeg = Uint8Array.from([
    0xff,
    0xd8,
    0xff,
    0xc0,
    0x00,
    0x11,
    0x08,
    0xea,
    0x60,
    0xea,
    0x60,
    0x03,
    0x01,
    0x11,
    0x00,
    0x02,
    0x11,
    0x00,
    0x03,
    0x11,
    0x00,
    0xff,
    0xd9,
  ]);
  for (const [name, bytes] of [["huge.png", png], ["huge.jpg", jpeg]] as const) {
    const t0 = performance.now();
    assert.throws(
      () => readImageRgb(bytes, name),
      (e: Error) =>
        e instanceof UserError && e.message.startsWith(name) &&
        /decoded pixel bytes|maxResolutionInMP/.test(e.message),
    );
    assert.ok(performance.now() - t0 < 2000);
  }
});
