import assert from "node:assert/strict";
import { join } from "node:path";
import { RandomState, readLatents, zFromSeed } from "../models/latents.ts";
import { fma, glibcLog } from "../models/glibc_log.ts";
import { formatNpy, formatNpz, readNpy } from "../formats/npy.ts";
import { UserError } from "../errors.ts";
import { fixture, fixtureTest, manifest } from "./fixtures.ts";
import { rng } from "./reference.ts";

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

/** Correctly rounded a * b + c by exact BigInt arithmetic (reference for the emulated fma). */
function fmaReference(a: number, b: number, c: number): number {
  const SCALE = 1100n; // every finite double times 2^1100 is an integer
  const big = (x: number): bigint => {
    if (x === 0) return 0n;
    const e = Math.floor(Math.log2(Math.abs(x))) - 52;
    const m = BigInt(x / 2 ** e); // exact: x = m 2^e with |m| < 2^53
    return e + 1100 >= 0 ? m << BigInt(e + 1100) : m >> BigInt(-(e + 1100));
  };
  let v = big(a) * big(b) + (big(c) << SCALE); // scaled by 2^2200
  if (v === 0n) return 0;
  const neg = v < 0n;
  if (neg) v = -v;
  const shift = Math.max(v.toString(2).length - 64, 0);
  // Keep 64 bits and a sticky bit so that Number() rounds to nearest-even exactly as the full value would.
  const sticky = (v & ((1n << BigInt(shift)) - 1n)) !== 0n ? 1n : 0n;
  const top = Number((v >> BigInt(shift)) | sticky);
  let x = neg ? -top : top, e = shift - 2200; // exact power-of-two scaling, in steps that stay in range
  for (; e < -1000; e += 1000) x *= 2 ** -1000;
  return x * 2 ** e;
}

Deno.test("emulated fma rounds a * b + c once", () => {
  assert.equal(fma(0.1, 10, -1), 5.551115123125783e-17); // plain arithmetic gives 0
  const r = rng(11);
  for (let i = 0; i < 3000; i++) {
    const a = (r() - 0.5) * 2 ** Math.floor(r() * 40 - 20);
    const b = (r() - 0.5) * 2 ** Math.floor(r() * 40 - 20);
    // c near -a*b makes the cancellation (and the rounding-to-odd step) matter.
    const c = i % 2 ? -(a * b) * (1 + (r() - 0.5) * 2 ** -30) : (r() - 0.5) * 2 ** Math.floor(r() * 40 - 20);
    assert.equal(fma(a, b, c), fmaReference(a, b, c), `fma(${a}, ${b}, ${c})`);
  }
  // a * b = half an ulp of c minus a sliver: rounding the partial sums to nearest would land on a tie twice
  // and round up; the exact result is below the midpoint.
  for (let s = 27; s <= 50; s++) {
    for (const sign of [1, -1]) {
      const c = sign * (1 + (2 * Math.floor(r() * 1e6) + 1) * 2 ** -52); // odd last bit
      const a = sign * 2 ** -53 * (1 + 2 ** -s), b = 1 - 2 ** -s;
      assert.equal(fma(a, b, c), c, `fma(${a}, ${b}, ${c})`);
      assert.equal(fmaReference(a, b, c), c);
    }
  }
});

Deno.test("glibcLog reproduces glibc's log, including its misrounded results (values from glibc 2.36)", () => {
  const cases = [
    [0.15446108106143985, -1.8678131168920569], // the correctly rounded result differs by one ulp
    [0.696820390536071, -0.36122759076053235], // idem
    [0.8079307895205905, -0.21327888066369474], // idem
    [0.2950819988599155, -1.2205019990296608], // idem
    [0.9931826211570518, -0.006840723329394109], // idem, near-one polynomial
    [0.9732082477405692, -0.02715719324167601], // idem
    [0.9861827893160886, -0.013913556859206628], // idem
    [5e-324, -744.4400719213812],
    [1.5e-310, -713.395913720046],
    [0.9375, -0.06453852113757118],
    [1.0000000000000002, 2.2204460492503128e-16],
    [0.9999999999999999, -1.1102230246251565e-16],
    [1.0646972656249998, 0.06269050112342253],
    [1.064697265625, 0.06269050112342274],
    [7, 1.9459101490553132],
    [1e300, 690.7755278982137],
  ];
  for (const [x, y] of cases) assert.equal(glibcLog(x), y, `log(${x})`);
  assert.equal(glibcLog(1), 0);
  assert.ok(Number.isNaN(glibcLog(-1)) && glibcLog(0) === -Infinity);
  // A seed whose 381st value depends on a misrounded log: numpy gives ...382, correct rounding ...383.
  assert.equal(zFromSeed(18, 512)[380], 0.5524204536685382);
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
