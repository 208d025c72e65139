import assert from "node:assert/strict";
import { join } from "node:path";
import { RandomState, readLatents, zFromSeed } from "../models/latents.ts";
import { formatNpy, formatNpz, readNpy } from "../formats/npy.ts";
import { UserError } from "../errors.ts";
import { fixture, fixtureTest, manifest } from "./fixtures.ts";

Deno.test("MT19937 matches the reference outputs of init_genrand(5489)", () => {
  const rs = new RandomState(5489);
  assert.deepEqual([rs.nextUint32(), rs.nextUint32(), rs.nextUint32()], [3499211612, 581869302, 3890346734]);
  // The 10000th output of the default-seeded generator (C++11 std::mt19937 requirement).
  const r = new RandomState(5489);
  for (let i = 0; i < 9999; i++) r.nextUint32();
  assert.equal(r.nextUint32(), 4123659995);
});

Deno.test("legacy draws interleave like NumPy's RandomState (values from numpy 2.4.6)", () => {
  const rs = new RandomState(7);
  assert.deepEqual([...rs.randn(3)], [1.690525703800356, -0.4659373705408328, 0.0328201636785844]);
  assert.deepEqual([...rs.rand(3)], [0.5011204636599379, 0.07205113335976154, 0.26843898010187117]);
  assert.deepEqual([...rs.randn(1)], [0.40751628299650783]); // the cached second gaussian survives rand()
  assert.deepEqual([...rs.uniform(-0.125, 0.125, 2)], [-0.00002937479361000972, 0.04480749903023512]);
  assert.deepEqual(rs.randint(0, 10, 5), [7, 0, 7, 6, 3]);
  assert.deepEqual(rs.randint(-3, 1000000, 7), [789945, 27689, 110268, 943426, 364341, 230549, 569524]);
  assert.deepEqual(rs.randint(0, 2 ** 32, 3), [106941365, 3224501360, 2579337979]);
  assert.deepEqual([...rs.randn(2)], [0.645055011875167, -0.45006902922127706]);
});

Deno.test("bad seeds are user errors", () => {
  for (const s of [-1, 2 ** 32, 1.5, NaN]) assert.throws(() => new RandomState(s), UserError);
});

fixtureTest(
  "zFromSeed is bit-identical to the fixtures' np.random.RandomState(seed).randn(1, z_dim)",
  "sg3",
  () => {
    const m = manifest("sg3");
    const zs = m.files.filter((f: any) => /\/z-seed\d+\.npy$/.test(f.path));
    assert.ok(zs.length >= 12);
    for (const f of zs) {
      const want = readNpy(fixture("sg3", f.path));
      assert.equal(want.dtype, "<f8");
      const got = zFromSeed(f.seed, want.shape[1]);
      assert.deepEqual([...got], [...want.data], f.path);
    }
  },
);

fixtureTest("uniform() reproduces the equivariance fixtures' translations and angles", "sg3", () => {
  const params = readNpy(fixture("sg3", "tiny-t", "eq", "params.npy")); // [8, 5] float32
  const res = 32;
  for (let i = 0; i < 8; i++) {
    const row = [...params.data.subarray(i * 5, i * 5 + 5) as Float32Array];
    const tInt = new RandomState(200 + i).uniform(-0.125, 0.125, 2).map((t) => Math.fround(t));
    const tFrac = new RandomState(300 + i).uniform(-0.125, 0.125, 2);
    const angle = new RandomState(400 + i).uniform(-1, 1, 1)[0] * Math.PI;
    // torch.round rounds half to even; these values are never at .5 ties.
    const want = [...tInt.map((t) => Math.fround(Math.round(Math.fround(t * res)) / res)), ...tFrac, angle];
    assert.deepEqual(row, want.map(Math.fround), `sample ${i}`);
  }
});

Deno.test("readLatents reads z and ws from .npy/.npz and rejects wrong shapes", () => {
  const dir = Deno.makeTempDirSync();
  const dims = { zDim: 4, wDim: 3, numWs: 2 };
  const write = (name: string, bytes: Uint8Array) => {
    Deno.writeFileSync(join(dir, name), bytes);
    return join(dir, name);
  };
  try {
    const z = write("z.npy", formatNpy({ shape: [2, 4], dtype: "<f8", data: new Float64Array(8).fill(0.5) }));
    assert.deepEqual(readLatents(z, dims), { kind: "z", n: 2, values: new Float64Array(8).fill(0.5) });
    const ws = new Float32Array([1, 2, 3, 4, 5, 6]);
    const projected = write("w.npz", formatNpz({ w: { shape: [1, 2, 3], dtype: "<f4", data: ws } }));
    assert.deepEqual(readLatents(projected, dims), { kind: "w", n: 1, values: Float64Array.from(ws) });
    const wNpy = write("w.npy", formatNpy({ shape: [1, 2, 3], dtype: "<f4", data: ws }));
    assert.equal(readLatents(wNpy, dims).kind, "w");
    const bad = [
      write("bad1.npy", formatNpy({ shape: [1, 5], dtype: "<f8", data: new Float64Array(5) })),
      write("bad2.npy", formatNpy({ shape: [1, 3, 3], dtype: "<f4", data: new Float32Array(9) })),
      write("bad3.npy", formatNpy({ shape: [4], dtype: "|u1", data: new Uint8Array(4) })),
      write(
        "bad4.npz",
        formatNpz({
          a: { shape: [4], dtype: "<f4", data: new Float32Array(4) },
          b: { shape: [6], dtype: "<f4", data: ws },
        }),
      ),
      write("bad5.npy", formatNpy({ shape: [4], dtype: "<f4", data: new Float32Array([0, NaN, 0, 0]) })),
      join(dir, "missing.npy"),
    ];
    for (const p of bad) assert.throws(() => readLatents(p, dims), UserError, p);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
