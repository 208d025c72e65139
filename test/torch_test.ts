/**
 * PyTorch file readers against the loader fixtures (made by torch.save / torch.jit.save / pickle on
 * PyTorch 1.13): zip and legacy state dicts with every dtype, strided and offset views and shared
 * storages, module state dicts with their `_metadata`, a TorchScript archive and a persistence pickle
 * with embedded legacy storage blobs. Values must be bit-identical to the expected .npy arrays.
 */
import assert from "node:assert/strict";
import { fixture, fixtureTest, manifest } from "./fixtures.ts";
import { join } from "node:path";
import { zipSync } from "fflate";
import {
  collectTensors,
  readTorchBytes,
  readTorchFile,
  tensorToTyped,
  type TorchTensor,
  type TypedTensor,
} from "../formats/torch.ts";
import { listZip, zipMember } from "../formats/zip.ts";
import { UserError } from "../errors.ts";
import { rng } from "./reference.ts";
import type { PyDict } from "../formats/pickle.ts";
import { type NdArray, readNpy } from "../formats/npy.ts";

const LOADER = "inception";

/** Asserts a loaded tensor equals an expected .npy array exactly (dtype family, shape, bits). */
function assertTensorEquals(t: TypedTensor, e: NdArray, what: string): void {
  assert.deepEqual(t.shape, e.shape, `${what} shape`);
  assert.equal(t.data.length, e.data.length, `${what} length`);
  const a = Array.from(t.data as ArrayLike<number | bigint>),
    b = Array.from(e.data as ArrayLike<number | bigint>);
  assert.deepEqual(a.map(String), b.map(String), `${what} values`);
}

for (const kind of ["zip", "legacy"] as const) {
  fixtureTest(`readTorchFile: ${kind} state dict with every dtype, views and offsets`, LOADER, async () => {
    const m = manifest("inception").loader;
    const sd = await readTorchFile(fixture("inception", m[kind].file));
    const entries = m.state_dict_entries as Record<
      string,
      { dtype: string; shape: number[]; expected: string }
    >;
    assert.deepEqual([...sd.keys()], Object.keys(entries));
    for (const [key, entry] of Object.entries(entries)) {
      const t = sd.get(key)!;
      assert.equal(t.dtype, entry.dtype, `${key} dtype`);
      assertTensorEquals(t, readNpy(fixture("inception", entry.expected)), key);
    }
  });

  fixtureTest(`readTorchBytes: ${kind} shared storages stay shared`, LOADER, () => {
    const m = manifest("inception").loader;
    const bytes = Deno.readFileSync(fixture("inception", m[kind].file));
    const tensors = collectTensors(readTorchBytes(bytes, kind));
    const base = tensors.get("shared_base")!, view = tensors.get("shared_view_offset3")!;
    assert.equal(base.storage, view.storage);
    assert.equal(view.offset, 3);
    assert.deepEqual(tensors.get("f32_transposed")!.stride, [1, 4]);
  });

  fixtureTest(`readTorchFile: ${kind} module state dict and its _metadata`, LOADER, async () => {
    const m = manifest("inception").loader;
    const file = fixture("inception", m.module_state_dict[kind].file);
    const sd = await readTorchFile(file);
    for (const [key, path] of Object.entries(m.torchscript.expected as Record<string, string>)) {
      assertTensorEquals(sd.get(key)!, readNpy(fixture("inception", path)), key);
    }
    const root = readTorchBytes(Deno.readFileSync(file), kind) as PyDict;
    const meta = (root.attrs as PyDict).get("_metadata") as PyDict;
    for (const [k, v] of Object.entries(m.module_state_dict[kind].metadata_attribute)) {
      assert.deepEqual(Object.fromEntries(meta.get(k) as PyDict), v, `_metadata[${k}]`);
    }
  });
}

fixtureTest("readTorchFile: TorchScript archive weights", LOADER, async () => {
  const m = manifest("inception").loader.torchscript;
  const sd = await readTorchFile(fixture("inception", m.file));
  const expected = Object.entries(m.expected as Record<string, string>);
  assert.deepEqual([...sd.keys()].sort(), expected.map(([k]) => k).sort());
  for (const [key, path] of expected) {
    assertTensorEquals(sd.get(key)!, readNpy(fixture("inception", path)), key);
  }
});

fixtureTest("readTorchFile: persistence pickle with embedded legacy storages", LOADER, async () => {
  const m = manifest("inception").loader.plain_pickle_persistence;
  const sd = await readTorchFile(fixture("inception", m.file));
  assert.deepEqual([...sd.keys()].sort(), ["beta", "mean", "var", "weight"]);
  for (const key of sd.keys()) {
    assertTensorEquals(
      sd.get(key)!,
      readNpy(fixture("inception", "loader", "plain_pickle_expected", `${key}.npy`)),
      key,
    );
  }
});

/** Protocol-2 opcode builders for hand-made torch pickles. */
const enc = new TextEncoder();
const op = {
  str: (s: string) => {
    const b = enc.encode(s);
    return [0x58, b.length, 0, 0, 0, ...b];
  },
  global: (m: string, n: string) => [0x63, ...enc.encode(`${m}\n${n}\n`)],
  int: (v: number) => [0x4a, ...new Uint8Array(new Int32Array([v]).buffer)],
  tuple: (items: number[][]) => [0x28, ...items.flat(), 0x74],
  pickle: (body: number[]) => new Uint8Array([0x80, 2, ...body, 0x2e]),
};

/**
 * _rebuild_tensor_v2(<persistent id `pid`>, 0, shape, C-order strides, False, OrderedDict()), or with a
 * `dtype` (a torch.<dtype> global name) _rebuild_tensor_v3(..., OrderedDict(), dtype).
 */
function tensorOps(pid: number[][], shape: number[], dtype?: string): number[] {
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  return [
    ...op.global("torch._utils", dtype ? "_rebuild_tensor_v3" : "_rebuild_tensor_v2"),
    ...[
      0x28,
      ...op.tuple(pid),
      0x51,
      ...op.int(0),
      ...op.tuple(shape.map(op.int)),
      ...op.tuple(strides.map(op.int)),
    ],
    ...[0x89, ...op.global("collections", "OrderedDict"), 0x29, 0x52],
    ...(dtype ? op.global("torch", dtype) : []),
    ...[0x74, 0x52],
  ];
}

/** A persistent id ("storage", torch.<cls>, key, "cpu", numel). */
function storageId(cls: string, key: string, numel: number): number[][] {
  return [op.str("storage"), op.global("torch", cls), op.str(key), op.str("cpu"), op.int(numel)];
}

/** A torch.save data.pkl: {"w": tensor of `shape` over FloatStorage "0" of `numel` elements}. */
function dataPkl(shape: number[], numel: number): Uint8Array {
  return op.pickle([0x7d, ...op.str("w"), ...tensorOps(storageId("FloatStorage", "0", numel), shape), 0x73]);
}

/** The bytes of float32 values 0, 1, 2, ... (`n` bytes of them). */
function rampBytes(n: number): Uint8Array {
  return new Uint8Array(Float32Array.from({ length: Math.ceil(n / 4) }, (_, i) => i).buffer).subarray(0, n);
}

/**
 * A torch.save zip archive holding `dataPkl(shape, numel)` and, unless null, `storageBytes` bytes of storage
 * data (0, 1, 2, ... as float32); members stored, or deflated at `level` > 0.
 */
function torchZip(shape: number[], numel: number, storageBytes: number | null, level: 0 | 6 = 0): Uint8Array {
  const files: Record<string, [Uint8Array, { level: 0 | 6 }]> = {
    "archive/data.pkl": [dataPkl(shape, numel), { level }],
  };
  if (storageBytes !== null) files["archive/data/0"] = [rampBytes(storageBytes), { level }];
  files["archive/version"] = [new TextEncoder().encode("3\n"), { level }];
  return zipSync(files);
}

Deno.test("readTorchBytes: a hand-made archive loads (stored or deflated); missing or short storages are refused", () => {
  for (const level of [0, 6] as const) {
    const w = collectTensors(readTorchBytes(torchZip([2, 3], 6, 24, level), "ok.pth")).get("w")!;
    assert.deepEqual(tensorToTyped(w), {
      dtype: "float32",
      shape: [2, 3],
      data: new Float32Array([0, 1, 2, 3, 4, 5]),
    });
  }
  assert.throws(
    () => readTorchBytes(torchZip([2, 3], 6, null), "missing.pth"),
    (e) =>
      e instanceof UserError && /missing\.pth: archive is missing storage archive\/data\/0/.test(e.message),
  );
  const short = collectTensors(readTorchBytes(torchZip([2, 3], 6, 16), "short.pth")).get("w")!;
  assert.throws(
    () => tensorToTyped(short, "short.pth"),
    (e) => e instanceof UserError && /too short/.test(e.message),
  );
  const big = collectTensors(readTorchBytes(torchZip([4, 3], 6, 24), "big.pth")).get("w")!;
  assert.throws(
    () => tensorToTyped(big, "big.pth"),
    (e) => e instanceof UserError && /too short/.test(e.message),
  );
});

fixtureTest(
  "readTorchFile: truncated files, random bytes and empty files give one-line UserErrors",
  LOADER,
  async () => {
    const dir = Deno.makeTempDirSync({ prefix: "sg3-torch-" });
    try {
      const m = manifest("inception").loader;
      const r = rng(7);
      const cases: [string, Uint8Array][] = [
        ["random.pth", Uint8Array.from({ length: 4096 }, () => Math.floor(r() * 256))],
        ["empty.pth", new Uint8Array(0)],
      ];
      for (const kind of ["zip", "legacy", "torchscript"]) {
        const bytes = Deno.readFileSync(fixture("inception", m[kind].file));
        for (const frac of [0.1, 0.5, 0.9, 0.99]) {
          cases.push([`${kind}-${frac}.pth`, bytes.subarray(0, Math.floor(bytes.length * frac))]);
        }
      }
      for (const [name, bytes] of cases) {
        const path = join(dir, name);
        Deno.writeFileSync(path, bytes);
        await assert.rejects(readTorchFile(path), (e) => {
          assert.ok(e instanceof UserError, `${name}: ${e}`);
          assert.ok(e.message.startsWith(`${path}: `), e.message);
          assert.ok(!e.message.includes("\n"), e.message);
          return true;
        });
      }
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
);

Deno.test("readTorchBytes: legacy storage views (view_metadata) resolve into their root storage", () => {
  const magic = [0x8a, 10, ...[0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]];
  const pid = [
    ...[op.str("storage"), op.global("torch", "FloatStorage"), op.str("root"), op.str("cpu"), op.int(6)],
    op.tuple([op.str("view"), op.int(2), op.int(3)]),
  ];
  const body = new Float32Array([0, 1, 2, 3, 4, 5]);
  const file = new Uint8Array([
    ...op.pickle(magic),
    ...op.pickle(op.int(1001)),
    ...op.pickle([0x7d]),
    ...op.pickle(tensorOps(pid, [3])),
    ...op.pickle([0x28, ...op.str("root"), 0x6c]),
    ...new Uint8Array(new BigInt64Array([6n]).buffer),
    ...new Uint8Array(body.buffer),
  ]);
  const t = readTorchBytes(file, "view.pth");
  assert.deepEqual(tensorToTyped(t as TorchTensor).data, new Float32Array([2, 3, 4]));
  assert.throws(
    () => readTorchBytes(file.subarray(0, file.length - 4), "short.pth"),
    (e) => e instanceof UserError && /short\.pth: truncated file \(storage root/.test(e.message),
  );
});

/** Writes `bytes` to a temporary file, runs `fn` on its path, removes it. */
async function withFile<T>(bytes: Uint8Array, fn: (path: string) => Promise<T>): Promise<T> {
  const path = Deno.makeTempFileSync({ prefix: "sg3-torch-", suffix: ".pt" });
  try {
    Deno.writeFileSync(path, bytes);
    return await fn(path);
  } finally {
    Deno.removeSync(path);
  }
}

Deno.test("readTorchFile: TorchScript tensor constants (constants.pkl) load as constants.c<i>", async () => {
  // The constant table (tensor, 7, tensor) with its storages under constants/, as torch.jit.save writes it.
  const table = op.pickle(op.tuple([
    tensorOps(storageId("FloatStorage", "0", 3), [3]),
    op.int(7),
    tensorOps(storageId("LongStorage", "1", 2), [2]),
  ]));
  const files = (withStorage: boolean) =>
    zipSync({
      "ts/data.pkl": dataPkl([2], 2),
      "ts/data/0": rampBytes(8),
      "ts/constants.pkl": table,
      ...(withStorage ? { "ts/constants/0": rampBytes(12) } : {}),
      "ts/constants/1": new Uint8Array(new BigInt64Array([5n, -6n]).buffer),
    }, { level: 0 });
  const sd = await withFile(files(true), readTorchFile);
  assert.deepEqual([...sd.keys()], ["w", "constants.c0", "constants.c2"]);
  assert.deepEqual(sd.get("constants.c0"), {
    dtype: "float32",
    shape: [3],
    data: new Float32Array([0, 1, 2]),
  });
  assert.deepEqual(sd.get("constants.c2"), {
    dtype: "int64",
    shape: [2],
    data: new BigInt64Array([5n, -6n]),
  });
  await withFile(files(false), (path) =>
    assert.rejects(
      readTorchFile(path),
      (e) => e instanceof UserError && e.message === `${path}: archive is missing storage ts/constants/0`,
    ));
});

Deno.test("readTorchBytes: torch.UntypedStorage ids (torch >= 2.0) take the dtype their tensor names", () => {
  const untyped = storageId("UntypedStorage", "0", 24);
  const archive = (body: number[], bytes = 24) =>
    zipSync({ "a/data.pkl": op.pickle(body), "a/data/0": rampBytes(bytes) }, { level: 0 });
  const dict = (
    ...items: [string, number[]][]
  ) => [0x7d, 0x28, ...items.flatMap(([k, v]) => [...op.str(k), ...v]), 0x75];
  const tensors = collectTensors(readTorchBytes(
    archive(dict(
      ["f32", tensorOps(untyped, [2, 3], "float32")],
      ["f16", tensorOps(untyped, [12], "float16")],
      ["u8", tensorOps(untyped, [24])],
    )),
    "untyped.pt",
  ));
  assert.equal(tensors.get("f32")!.storage, tensors.get("u8")!.storage, "one storage, several dtypes");
  assert.deepEqual(tensorToTyped(tensors.get("f32")!).data, new Float32Array([0, 1, 2, 3, 4, 5]));
  const f16 = tensorToTyped(tensors.get("f16")!);
  assert.equal(f16.dtype, "float16");
  assert.deepEqual(f16.data, new Float16Array(rampBytes(24).buffer as ArrayBuffer));
  assert.deepEqual(tensorToTyped(tensors.get("u8")!), { dtype: "uint8", shape: [24], data: rampBytes(24) });
  // A view needing more bytes than the untyped storage holds, and a dtype sg3 does not know.
  const long = collectTensors(
    readTorchBytes(archive(dict(["w", tensorOps(untyped, [7], "float32")])), "long.pt"),
  );
  assert.throws(
    () => tensorToTyped(long.get("w")!, "long.pt"),
    (e) => e instanceof UserError && /too short/.test(e.message),
  );
  assert.throws(
    () => readTorchBytes(archive(dict(["w", tensorOps(untyped, [3], "uint16")])), "u16.pt"),
    (e) => e instanceof UserError && /u16\.pt: .*torch\.uint16/.test(e.message),
  );
});

/** CRC-32 (IEEE, reflected 0xEDB88320) of `b`, as zip records it. */
function crc32(b: Uint8Array): number {
  let c = ~0;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

/** Little-endian record builder: [bytes, value] fields of 2, 4 or 8 bytes, or raw byte arrays. */
function record(...fields: ([2 | 4 | 8, number] | Uint8Array)[]): Uint8Array {
  const parts = fields.map((f) => {
    if (f instanceof Uint8Array) return f;
    const [n, v] = f, b = new Uint8Array(n), dv = new DataView(b.buffer);
    if (n === 2) dv.setUint16(0, v, true);
    else if (n === 4) dv.setUint32(0, v, true);
    else dv.setBigUint64(0, BigInt(v), true);
    return b;
  });
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) out.set(p, (off += p.length) - p.length);
  return out;
}

/**
 * A zip64 archive of stored members, written by hand (fflate writes no zip64): every 32-bit size and
 * offset is 0xffffffff with the real values in zip64 extra fields, and the end of central directory
 * points through the zip64 locator to the zip64 end record.
 */
function zip64(files: Record<string, Uint8Array>): Uint8Array {
  const M = 0xffffffff, locals: Uint8Array[] = [], centrals: Uint8Array[] = [];
  let offset = 0;
  for (const [member, data] of Object.entries(files)) {
    const name = new TextEncoder().encode(member), crc = crc32(data);
    const head = (sig: number, central: boolean) =>
      [
        [4, sig],
        ...(central ? [[2, 45]] : []),
        [2, 45],
        [2, 0],
        [2, 0],
        [4, 0],
        [4, crc],
        [4, M],
        [4, M],
        [2, name.length],
      ] as [2 | 4, number][];
    const local = record(...head(0x04034b50, false), [2, 20], name, [2, 1], [2, 16], [8, data.length], [
      8,
      data.length,
    ], data);
    centrals.push(
      record(
        ...head(0x02014b50, true),
        ...[[2, 28], [2, 0], [2, 0], [2, 0], [4, 0], [4, M]] as [2 | 4, number][],
        name,
        ...[[2, 1], [2, 24], [8, data.length], [8, data.length], [8, offset]] as [2 | 8, number][],
      ),
    );
    locals.push(local);
    offset += local.length;
  }
  const cd = record(...centrals), n = centrals.length;
  const end64 = record([4, 0x06064b50], [8, 44], [2, 45], [2, 45], [4, 0], [4, 0], [8, n], [8, n], [
    8,
    cd.length,
  ], [8, offset]);
  const locator = record([4, 0x07064b50], [4, 0], [8, offset + cd.length], [4, 1]);
  const eocd = record([4, 0x06054b50], [2, 0], [2, 0], [2, 0xffff], [2, 0xffff], [4, M], [4, M], [2, 0]);
  return record(...locals, cd, end64, locator, eocd);
}

Deno.test("listZip / zipMember: a hand-made zip64 archive (sizes, offsets and count in zip64 records)", () => {
  const pkl = dataPkl([2, 3], 6), storage = rampBytes(24);
  const bytes = zip64({
    "z/data.pkl": pkl,
    "z/data/0": storage,
    "z/version": new TextEncoder().encode("3\n"),
  });
  const entries = listZip(bytes, "z64.pt");
  assert.deepEqual([...entries.keys()], ["z/data.pkl", "z/data/0", "z/version"]);
  const e = entries.get("z/data/0")!;
  assert.deepEqual(e, { method: 0, localOffset: 30 + 10 + 20 + pkl.length, compressedSize: 24, size: 24 });
  assert.deepEqual(zipMember(bytes, e, "z/data/0", "z64.pt"), storage);
  assert.deepEqual(zipMember(bytes, entries.get("z/data.pkl")!, "z/data.pkl", "z64.pt"), pkl);
  const w = collectTensors(readTorchBytes(bytes, "z64.pt")).get("w")!;
  assert.deepEqual(tensorToTyped(w).data, new Float32Array([0, 1, 2, 3, 4, 5]));
  // A locator pointing past the zip64 end record is a one-line error, not a crash.
  const broken = bytes.slice();
  new DataView(broken.buffer).setUint32(broken.length - 22 - 12, 5, true);
  assert.throws(
    () => listZip(broken, "broken.pt"),
    (e) => e instanceof UserError && e.message === "broken.pt: corrupt zip64 directory",
  );
});
