import assert from "node:assert/strict";
import { GPU_TEST, testGpu } from "./gpu.ts";
import { axpby, cast } from "../kernels/elementwise.ts";
import { matmul, matmulCandidates } from "../kernels/matmul.ts";
import { readBytes, readTensor } from "../gpu/readback.ts";
import { type Program, programSource, runProgram, uniformBytes } from "../gpu/program.ts";
import { grid1d, main1d } from "../kernels/grid.ts";
import type { DType } from "../gpu/tensor.ts";
import { OpProfiler } from "../gpu/profile.ts";
import { assertClose, randomF32 } from "./reference.ts";

Deno.test("a program declaration generates the header, bindings and uniform bytes", () => {
  const fake = {} as GPUBuffer;
  const src = programSource({
    name: "demo",
    params: { n: ["u32", 7], shift: ["i32", -2], gain: ["f32", 0.5] },
    buffers: [
      { name: "x", data: fake },
      { name: "h", data: fake, type: "f16" },
      { name: "y", data: fake, access: "read_write" },
      { name: "q", data: fake, type: "vec4" },
    ],
    workgroupSize: [8, 4],
    source: "fn helper() {}\nfn main() {}",
    workgroups: [1],
  });
  assert.equal(
    src,
    [
      "enable f16;",
      "const WG_X = 8u;",
      "const WG_Y = 4u;",
      "const WG_Z = 1u;",
      "const WG = 32u;",
      "struct P { n: u32, shift: i32, gain: f32 }",
      "@group(0) @binding(0) var<uniform> p: P;",
      "@group(0) @binding(1) var<storage, read> x: array<f32>;",
      "@group(0) @binding(2) var<storage, read> h: array<f16>;",
      "@group(0) @binding(3) var<storage, read_write> y: array<f32>;",
      "@group(0) @binding(4) var<storage, read> q: array<vec4<f32>>;",
      "fn helper() {}",
      "@compute @workgroup_size(8, 4, 1)",
      "fn main() {",
      "  let p = p;}",
    ].join("\n"),
  );
  // Without parameters there is no struct to copy.
  const bare = programSource({
    name: "bare",
    buffers: [],
    workgroupSize: 64,
    source: "fn main() {}",
    workgroups: [1],
  });
  assert.ok(bare.endsWith("@compute @workgroup_size(64, 1, 1)\nfn main() {}"), bare);
  const view = new DataView(uniformBytes({ n: ["u32", 7], shift: ["i32", -2], gain: ["f32", 0.5] }));
  assert.deepEqual([
    view.byteLength,
    view.getUint32(0, true),
    view.getInt32(4, true),
    view.getFloat32(8, true),
  ], [
    16,
    7,
    -2,
    0.5,
  ]);
  assert.throws(() => uniformBytes({ n: ["u32", -1] }), /u32 out of range/);
});

Deno.test(
  { name: "sources kept between launches follow every input of the generated header", ...GPU_TEST },
  async () => {
    const gpu = await testGpu();
    const x = gpu.upload(new Float32Array(64), [64]), y = gpu.tensor([64]);
    const base: Program = {
      name: "source_cache_probe",
      params: { n: ["u32", 64] },
      buffers: [{ name: "x", data: x, texture: false }, { name: "y", data: y, access: "read_write" }],
      workgroupSize: 64,
      source: `fn main(@builtin(global_invocation_id) g: vec3u) {
  if (g.x < u32(p.n)) { y[g.x] = dot(vec4f(ld_x(g.x)), vec4f(0.25)); }
}`,
      workgroups: [1],
    };
    const variants: Program[] = [
      base,
      { ...base, params: { n: ["u32", 32] } }, // a value, not part of the source
      { ...base, params: { n: ["i32", 64] } },
      { ...base, workgroupSize: 32 },
      { ...base, f16: gpu.f16 },
      { ...base, buffers: [{ ...base.buffers[0], type: "vec4" }, base.buffers[1]] },
      { ...base, buffers: [{ ...base.buffers[0], texture: true }, base.buffers[1]] },
    ];
    const codes: string[] = [];
    const dispatch = gpu.submission.dispatch;
    gpu.submission.dispatch = (d) => {
      codes.push(d.code);
      dispatch.call(gpu.submission, d);
    };
    try {
      // Twice: the second round's sources come from the cache.
      for (const v of [...variants, ...variants]) runProgram(gpu, v);
    } finally {
      gpu.submission.dispatch = dispatch;
    }
    await gpu.sync();
    assert.deepEqual(codes, [...variants, ...variants].map((v) => programSource(v, gpu)));
    x.destroy();
    y.destroy();
  },
);

Deno.test(
  {
    name: "textures of storage formats are read as read-only storage textures, with the same values",
    ...GPU_TEST,
  },
  async () => {
    const gpu = await testGpu();
    const n = 4099;
    const a = randomF32(n, 21), b = randomF32(4 * n, 22);
    const at = gpu.upload(a, [n]), bt = gpu.upload(b, [4 * n]);
    const half = gpu.f16 ? gpu.upload(a, [n], "f16") : at;
    const program = (texture: boolean, y: ReturnType<typeof gpu.tensor>): Program => ({
      name: "texture_read_probe",
      params: { n: ["u32", n] },
      buffers: [
        { name: "a", data: at, texture },
        { name: "b", data: bt, type: "vec4", texture },
        { name: "h", data: half, texture },
        { name: "y", data: y, access: "read_write" },
      ],
      workgroupSize: 64,
      f16: gpu.f16,
      source: `${main1d("i", "p.n")}
  y[i] = f32(ld_a(i)) + dot(vec4f(ld_b(i)), vec4f(1.0, 2.0, 3.0, 4.0)) + f32(ld_h(i));
}`,
      workgroups: grid1d(n, 64, gpu.maxWorkgroups),
    });
    const [viaTextures, viaBuffers] = [gpu.tensor([n]), gpu.tensor([n])];
    runProgram(gpu, program(true, viaTextures));
    runProgram(gpu, program(false, viaBuffers));
    assert.deepEqual(await readTensor(gpu, viaTextures), await readTensor(gpu, viaBuffers));
    const code = programSource(program(true, viaTextures), gpu);
    if (gpu.storageTextureReads) {
      assert.match(code, /var a: texture_storage_2d<r32float, read>/);
      assert.match(code, /var b: texture_storage_2d<rgba32float, read>/);
      // r16float is no storage format: sampled.
      if (gpu.f16) assert.match(code, /var h: texture_2d<f32>/);
      // Past the stage's storage-texture bindings, the rest are sampled.
      const one = Object.create(gpu, { maxStorageTextures: { value: 1 } });
      const limited = programSource(program(true, viaTextures), one);
      assert.match(limited, /var a: texture_storage_2d<r32float, read>/);
      assert.match(limited, /var b: texture_2d<f32>/);
    } else {
      assert.doesNotMatch(code, /texture_storage_2d/);
    }
  },
);

Deno.test({ name: "axpby matches float64 on an awkward size", ...GPU_TEST }, async () => {
  const gpu = await testGpu();
  const n = 100_003;
  const a = randomF32(n, 1), b = randomF32(n, 2);
  const out = await readTensor(gpu, axpby(gpu, 0.75, gpu.upload(a, [n]), -1.5, gpu.upload(b, [n])));
  const ref = Float64Array.from(a, (x, i) => 0.75 * x - 1.5 * b[i]);
  assertClose(out, ref, { abs: 1e-6 });
});

Deno.test(
  { name: "cast rounds f32 to f16 as the upload does, and widens back exactly", ...GPU_TEST },
  async () => {
    const gpu = await testGpu();
    if (!gpu.f16) return;
    const n = 10_007;
    const a = randomF32(n, 5, -300, 300);
    const half = cast(gpu, gpu.upload(a, [n]), "f16");
    assert.equal(half.dtype, "f16");
    const want = await readTensor(gpu, gpu.upload(a, [n], "f16"));
    const got = await readTensor(gpu, half);
    // Each value within half an f16 step of a (11 significant bits), and the same as the host's rounding.
    for (let i = 0; i < n; i++) {
      assert.ok(
        Math.abs(got[i] - a[i]) <= Math.abs(a[i]) * 2 ** -11,
        `${a[i]} -> ${got[i]}`,
      );
    }
    assert.deepEqual(got, want);
    assert.deepEqual(await readTensor(gpu, cast(gpu, half, "f32")), want);
  },
);

Deno.test(
  { name: "axpby works on a tensor larger than maxStorageBufferBindingSize", ...GPU_TEST },
  async () => {
    const gpu = await testGpu();
    // More elements than one binding holds on this adapter (128 MiB on llvmpipe, 2 GiB on an H100 -> capped).
    const n = Math.min(Math.floor(gpu.maxBinding / 4) + 12_345, 140_000_000);
    const a = randomF32(n, 3), b = randomF32(n, 4);
    const out = await readTensor(gpu, axpby(gpu, 2, gpu.upload(a, [n]), 0.5, gpu.upload(b, [n])));
    const ref = new Float64Array(n);
    for (let i = 0; i < n; i++) ref[i] = 2 * a[i] + 0.5 * b[i];
    assertClose(out, ref, { abs: 1e-6 });
    if (n * 4 <= gpu.maxBinding) console.log(`note: binding limit ${gpu.maxBinding} exceeds the test size`);
  },
);

function matmulRef(
  a: Float32Array,
  b: Float32Array,
  m: number,
  k: number,
  n: number,
  transB: boolean,
): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += a[i * k + t] * (transB ? b[j * k + t] : b[t * n + j]);
      c[i * n + j] = s;
    }
  }
  return c;
}

Deno.test(
  { name: "matmul matches float64 (plain, transposed, bias), every variant", ...GPU_TEST },
  async () => {
    const gpu = await testGpu();
    let seed = 5;
    for (const [m, k, n] of [[37, 53, 29], [37, 52, 28], [5, 256, 13], [70, 12, 36]]) {
      const a = randomF32(m * k, seed++), b = randomF32(k * n, seed++), bias = randomF32(n, seed++);
      const ta = gpu.upload(a, [m, k]), tb = gpu.upload(b, [k, n]), tbT = gpu.upload(b, [n, k]);
      const biasT = gpu.upload(bias, [n]);
      for (const variant of matmulCandidates(k, n, false)) {
        const plain = await readTensor(gpu, matmul(gpu, ta, tb, { variant }));
        assertClose(
          plain,
          matmulRef(a, b, m, k, n, false),
          { abs: 1e-5 },
          `${[m, k, n]} ${JSON.stringify(variant)}`,
        );
      }
      const ref = matmulRef(a, b, m, k, n, true).map((v, i) => 0.5 * v + 2 * bias[i % n]);
      for (const variant of matmulCandidates(k, n, true)) {
        const got = await readTensor(
          gpu,
          matmul(gpu, ta, tbT, { transB: true, alpha: 0.5, bias: biasT, beta: 2, variant }),
        );
        assertClose(got, ref, { abs: 1e-5 }, `${[m, k, n]} transB ${JSON.stringify(variant)}`);
      }
    }
  },
);

Deno.test({ name: "f16 tensors round-trip with values (not zeros)", ...GPU_TEST }, async () => {
  const gpu = await testGpu();
  if (!gpu.f16) return;
  const x = randomF32(1001, 8);
  const back = await readTensor(gpu, gpu.upload(x, [1001], "f16"));
  assertClose(back, x, { abs: 1e-3 });
});

Deno.test(
  {
    name: "buffers read through textures give what storage reads give (f32, f16, vec4, split, constant)",
    ...GPU_TEST,
  },
  async () => {
    const gpu = await testGpu();
    const dtypes: DType[] = gpu.f16 ? ["f32", "f16"] : ["f32"];
    // Sizes across texture rows (4096 texels) with a partial last row; split inputs hold 3 items.
    for (const dtype of dtypes) {
      for (const vec4 of [false, true]) {
        for (const split of [false, true]) {
          const n = vec4 ? 4 * (4096 + 5) * 3 : (2 * 4096 + 37) * 3;
          const data = randomF32(n, n + +vec4);
          const x = gpu.upload(data, [3, n / 3], dtype);
          const width = vec4 ? 4 : 1;
          for (const texture of [false, true, "constant"] as const) {
            const y = gpu.tensor([n]);
            runProgram(gpu, {
              name: "texture_read_test",
              params: { total: ["u32", n / width] },
              items: split ? 3 : undefined,
              buffers: [
                { name: "x", data: x, type: vec4 ? "vec4" : undefined, split, texture },
                { name: "y", data: y, type: vec4 ? "vec4f" : "f32", access: "read_write" },
              ],
              workgroupSize: 64,
              source: `${main1d("i", "p.total")}\n  y[i] = ${vec4 ? "vec4f" : "f32"}(ld_x(i));\n}`,
              workgroups: split ? () => grid1d(n / width, 64) : grid1d(n / width, 64),
            });
            const got = await readTensor(gpu, y);
            const want = dtype === "f32" ? data : Float32Array.from(Float16Array.from(data));
            assert.deepEqual(got, want, `${dtype} vec4 ${vec4} split ${split} texture ${texture}`);
            // A constant tensor's texture copy is made on its first read and kept with it (whole tensors only).
            assert.equal(!!x.texture, texture === "constant" && !split);
          }
          x.destroy();
          assert.equal(x.texture, null);
        }
      }
    }
  },
);

Deno.test(
  {
    name: "profiles time a launch's texture copies as texture_copy, under the launch's tuning tag",
    ...GPU_TEST,
  },
  async () => {
    const gpu = await testGpu();
    if (!gpu.profilable) return console.log("  (no timestamp-query on this adapter: nothing to time)");
    const n = 3 * 4096;
    const x = gpu.upload(randomF32(n, 7), [n]);
    const y = gpu.tensor([n]);
    const profiler = new OpProfiler(gpu.device);
    gpu.submission.profiler = profiler;
    try {
      for (
        const [tag, texture] of [["copied#0", true], ["constant#1", "constant"], [
          "constant#1",
          "constant",
        ]] as const
      ) {
        runProgram(gpu, {
          name: "profiled_copy_test",
          params: { total: ["u32", n] },
          buffers: [{ name: "x", data: x, texture }, { name: "y", data: y, access: "read_write" }],
          workgroupSize: 64,
          tag,
          source: `${main1d("i", "p.total")}\n  y[i] = ld_x(i) * 2.0;\n}`,
          workgroups: grid1d(n, 64),
        });
      }
      await gpu.sync();
      await profiler.drain();
    } finally {
      gpu.submission.profiler = null;
    }
    assert.equal(profiler.totals.get("profiled_copy_test")?.count, 3);
    // Copies before the first two launches; the constant texture, once made, is not copied again.
    assert.equal(profiler.totals.get("texture_copy")?.count, 2);
    assert.equal(profiler.tagged.get("copied#0")?.count, 2, "the launch and its copy");
    assert.equal(profiler.tagged.get("constant#1")?.count, 3, "two launches, one copy");
    for (const t of profiler.totals.values()) assert.ok(t.ms >= 0 && Number.isFinite(t.ms));
    x.destroy();
    y.destroy();
  },
);

Deno.test(
  {
    name: "a texture copy serves later launches until its buffer is written (by a launch or a copy)",
    ...GPU_TEST,
  },
  async () => {
    const gpu = await testGpu();
    const n = 4096 + 3;
    const data = randomF32(n, 11);
    const x = gpu.upload(data, [n]);
    const y = gpu.tensor([n]);
    const profiler = gpu.profilable ? new OpProfiler(gpu.device) : null;
    gpu.submission.profiler = profiler;
    // y = 2 x through a texture; x = x + 1 in place; a copy of y into x.
    const double = () =>
      runProgram(gpu, {
        name: "texture_reuse_read",
        params: { total: ["u32", n] },
        buffers: [{ name: "x", data: x, texture: true }, { name: "y", data: y, access: "read_write" }],
        workgroupSize: 64,
        source: `${main1d("i", "p.total")}\n  y[i] = ld_x(i) * 2.0;\n}`,
        workgroups: grid1d(n, 64),
      });
    const increment = () =>
      runProgram(gpu, {
        name: "texture_reuse_write",
        params: { total: ["u32", n] },
        buffers: [{ name: "x", data: x, access: "read_write" }],
        workgroupSize: 64,
        source: `${main1d("i", "p.total")}\n  x[i] = x[i] + 1.0;\n}`,
        workgroups: grid1d(n, 64),
      });
    const expect = async (f: (v: number) => number, what: string) =>
      assert.deepEqual(await readTensor(gpu, y), data.map(f), what);
    try {
      double();
      double();
      await expect((v) => Math.fround(v * 2), "read twice");
      increment();
      double();
      await expect((v) => Math.fround(Math.fround(v + 1) * 2), "read after a launch wrote x");
      gpu.submission.copy(y.buffer, 0, x.buffer, 0, 4 * n);
      double();
      await expect((v) => Math.fround(Math.fround(Math.fround(v + 1) * 2) * 2), "read after a copy into x");
      double();
      await gpu.sync();
      await profiler?.drain();
    } finally {
      gpu.submission.profiler = null;
    }
    // Five reads of x, three copies: before the first read, after the launch and after the copy that wrote it.
    if (profiler) {
      assert.equal(profiler.totals.get("texture_reuse_read")?.count, 5);
      assert.equal(profiler.totals.get("texture_copy")?.count, 3);
    }
    x.destroy();
    y.destroy();
  },
);

Deno.test(
  {
    name:
      "a readback started before the previous one has made its map request submits only after that request",
    ...GPU_TEST,
  },
  async () => {
    const gpu = await testGpu();
    const a = gpu.upload(Float32Array.of(1, 2, 3, 4), [4]), b = gpu.upload(Float32Array.of(5, 6, 7, 8), [4]);
    gpu.flush();
    const before = gpu.submission.submitted;
    const first = readBytes(gpu, a.buffer, 0, 16);
    assert.equal(gpu.submission.submitted, before + 1, "the first readback submits at once");
    // The next step's work, recorded while the first one runs.
    const c = axpby(gpu, 2, a, 1, b);
    const second = readTensor(gpu, c);
    assert.equal(
      gpu.submission.submitted,
      before + 1,
      "the second readback waits for the first's map request",
    );
    assert.deepEqual([...new Float32Array((await first).buffer)], [1, 2, 3, 4]);
    assert.equal(gpu.submission.submitted, before + 2, "submitted once the first readback mapped");
    assert.deepEqual([...await second], [7, 10, 13, 16]);
    gpu.release(a, b, c);
  },
);

Deno.test(
  {
    name:
      "recorded work goes to an idle GPU after a few milliseconds, to a busy one only with its readback or when recording is slow",
    ...GPU_TEST,
  },
  async () => {
    const gpu = await testGpu();
    const a = gpu.upload(Float32Array.of(1, 2, 3, 4), [4]), b = gpu.upload(Float32Array.of(5, 6, 7, 8), [4]);
    // Records launches for 10 ms of host time: past an idle GPU's 3 ms, within a busy one's 100 ms and the 512
    // launches after which any recording is submitted.
    const record = () => {
      const outs: ReturnType<typeof axpby>[] = [], start = performance.now();
      while (performance.now() - start < 10 && outs.length < 450) outs.push(axpby(gpu, 1, a, 1, b));
      assert.ok(performance.now() - start > 3, "450 launches recorded in less than 3 ms");
      return outs;
    };
    await readTensor(gpu, a);
    assert.ok(gpu.submission.idle, "a readback's map shows the GPU idle");
    let before = gpu.submission.submitted;
    const idle = record();
    assert.equal(gpu.submission.submitted, before + 1, "submitted once while the host still records");
    const last = await readTensor(gpu, idle[idle.length - 1]);
    assert.deepEqual([...last], [6, 8, 10, 12]);
    assert.ok(gpu.submission.idle);
    gpu.flush();
    const axpb = axpby(gpu, 1, a, 1, b);
    gpu.flush(); // submitted, not known to have run
    assert.ok(!gpu.submission.idle);
    before = gpu.submission.submitted;
    const busy = record();
    assert.equal(gpu.submission.submitted, before, "nothing submitted while earlier work may still run");
    assert.deepEqual([...await readTensor(gpu, busy[0])], [6, 8, 10, 12]);
    gpu.release(a, b, axpb, ...idle, ...busy);
  },
);

Deno.test(
  {
    name: "a readback started while another is in flight maps only after that one has come back",
    ...GPU_TEST,
  },
  async () => {
    const gpu = await testGpu();
    const a = gpu.upload(Float32Array.of(1, 2, 3, 4), [4]), b = gpu.upload(Float32Array.of(5, 6, 7, 8), [4]);
    const events: string[] = [];
    const mapAsync = GPUBuffer.prototype.mapAsync;
    // Deno's mapAsync holds the thread until all submitted work has run: made too early, the second map request
    // would hold back the first result until the second batch had run.
    GPUBuffer.prototype.mapAsync = function (...args) {
      events.push("map request");
      return mapAsync.apply(this, args);
    };
    try {
      const first = readBytes(gpu, a.buffer, 0, 16).then((bytes) => {
        events.push("first result");
        return bytes;
      });
      const c = axpby(gpu, 2, a, 1, b); // the next batch, recorded while the first one runs
      const second = readTensor(gpu, c).then((values) => {
        events.push("second result");
        return values;
      });
      assert.deepEqual([...new Float32Array((await first).buffer)], [1, 2, 3, 4]);
      assert.deepEqual([...await second], [7, 10, 13, 16]);
      assert.deepEqual(events, ["map request", "first result", "map request", "second result"]);
      gpu.release(c);
    } finally {
      GPUBuffer.prototype.mapAsync = mapAsync;
      gpu.release(a, b);
    }
  },
);
