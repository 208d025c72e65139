/**
 * Dense matrix product with optional transposed right operand, scale and bias:
 * C[m, n] = alpha * sum_k A[m, k] * B[k, n] + beta * bias[n]   (B given as [K, N], or [N, K] with transB).
 *
 * Variants ({@link matmulCandidates}; the tuner picks per shape):
 * - "rows": register tiles without workgroup memory. With transB (K a multiple of 4) each invocation
 *   computes RM x RN outputs as vec4 dot products along K (A and B rows both contiguous in K); without
 *   transB (N a multiple of 4) RM rows x RV vec4 column groups, broadcasting A[m, k] over a vec4 of B[k, :].
 * - "tiled": TILE x TILE outputs per workgroup through workgroup memory (any shape; GPUs may prefer it).
 */
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { runProgram } from "../gpu/program.ts";
import { range } from "./unroll.ts";

const TILE = 16;

/** A matmul variant: workgroup-memory tiles, or register tiles of rm rows x rn columns (vec4s without transB). */
export type MatmulVariant = { kind: "tiled" } | { kind: "rows"; rm: number; rn: number; wg: number };

/** The valid variants for a product with these dimensions, the llvmpipe default first. */
export function matmulCandidates(k: number, n: number, transB: boolean): MatmulVariant[] {
  const out: MatmulVariant[] = [];
  if (transB ? k % 4 === 0 : n % 4 === 0) {
    const tiles = transB ? [[4, 8], [4, 4], [8, 4], [2, 4]] : [[4, 2], [4, 1], [8, 1], [8, 2]];
    for (const [rm, rn] of tiles) out.push({ kind: "rows", rm, rn, wg: 64 });
  }
  out.push({ kind: "tiled" });
  return out;
}

/** WGSL of the register-tiled variant. */
function rowsSource(transB: boolean, rm: number, rn: number): string {
  const is = range(rm), js = range(rn);
  const store = (acc: string, col: string) =>
    `if (${col} < p.n) { c[row * p.n + ${col}] = p.alpha * ${acc} + p.beta * bias[min(${col}, arrayLength(&bias) - 1u)]; }`;
  if (transB) {
    // a, b as vec4 rows of K / 4; rows past the matrix are clamped (their results are not stored).
    return /* wgsl */ `
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let r0 = gid.y * ${rm}u;
  let c0 = gid.x * ${rn}u;
  if (r0 >= p.m || c0 >= p.n) { return; }
  ${is.map((i) => `let ar${i} = min(r0 + ${i}u, p.m - 1u) * p.k4;`).join(" ")}
  ${js.map((j) => `let br${j} = min(c0 + ${j}u, p.n - 1u) * p.k4;`).join(" ")}
  ${is.map((i) => js.map((j) => `var s${i}_${j} = 0.0;`).join(" ")).join("\n  ")}
  for (var k = 0u; k < p.k4; k++) {
    ${is.map((i) => `let a${i} = a[ar${i} + k];`).join(" ")}
    ${js.map((j) => `let b${j} = b[br${j} + k];`).join(" ")}
    ${is.map((i) => js.map((j) => `s${i}_${j} += dot(a${i}, b${j});`).join(" ")).join("\n    ")}
  }
${
      is.map((i) =>
        `  {
    let row = r0 + ${i}u;
    if (row < p.m) {
${js.map((j) => `      ${store(`s${i}_${j}`, `c0 + ${j}u`)}`).join("\n")}
    }
  }`
      ).join("\n")
    }
}`;
  }
  // a scalar [M, K]; b as vec4 groups of columns [K, N / 4].
  return /* wgsl */ `
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let r0 = gid.y * ${rm}u;
  let g0 = gid.x * ${rn}u;
  if (r0 >= p.m || g0 * 4u >= p.n) { return; }
  ${is.map((i) => `let ar${i} = min(r0 + ${i}u, p.m - 1u) * p.k;`).join(" ")}
  ${is.map((i) => js.map((j) => `var s${i}_${j} = vec4f(0.0);`).join(" ")).join("\n  ")}
  for (var k = 0u; k < p.k; k++) {
    ${js.map((j) => `let b${j} = b[k * p.n4 + min(g0 + ${j}u, p.n4 - 1u)];`).join(" ")}
    ${is.map((i) => `let a${i} = vec4f(a[ar${i} + k]);`).join(" ")}
    ${is.map((i) => js.map((j) => `s${i}_${j} = fma(a${i}, b${j}, s${i}_${j});`).join(" ")).join("\n    ")}
  }
${
    is.map((i) =>
      `  {
    let row = r0 + ${i}u;
    if (row < p.m) {
${
        js.map((j) =>
          range(4).map((e) => `      ${store(`s${i}_${j}[${e}]`, `(g0 + ${j}u) * 4u + ${e}u`)}`).join("\n")
        )
          .join("\n")
      }
    }
  }`
    ).join("\n")
  }
}`;
}

/** WGSL of the workgroup-memory variant. */
function tiledSource(transB: boolean): string {
  const bIndex = transB ? "col * p.k + kb" : "kb * p.n + col";
  return /* wgsl */ `
const T = ${TILE}u;
var<workgroup> ta: array<array<f32, T>, T>;
var<workgroup> tb: array<array<f32, T>, T>;
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let row = wg.y * T + lid.y;
  let col = wg.x * T + lid.x;
  var acc = 0.0;
  for (var k0 = 0u; k0 < p.k; k0 += T) {
    let ka = k0 + lid.x;
    ta[lid.y][lid.x] = select(0.0, a[min(row * p.k + ka, arrayLength(&a) - 1u)], row < p.m && ka < p.k);
    let kb = k0 + lid.y;
    tb[lid.y][lid.x] = select(0.0, b[min(${bIndex}, arrayLength(&b) - 1u)], col < p.n && kb < p.k);
    workgroupBarrier();
    for (var i = 0u; i < T; i++) { acc += ta[lid.y][i] * tb[i][lid.x]; }
    workgroupBarrier();
  }
  if (row < p.m && col < p.n) {
    c[row * p.n + col] = p.alpha * acc + p.beta * bias[min(col, arrayLength(&bias) - 1u)];
  }
}`;
}

/** Options of {@link matmul}. */
export interface MatmulOptions {
  /** B is given as [N, K] (rows of B^T) instead of [K, N]; default false. */
  transB?: boolean;
  /** Factor on the product (default 1). */
  alpha?: number;
  /** Bias [N] added to every row (a 1-element bias is broadcast); none when absent. */
  bias?: Tensor;
  /** Factor on the bias (default 1). */
  beta?: number;
  /** The variant; default the tuner's choice for this shape on this adapter. */
  variant?: MatmulVariant;
}

/** C = alpha * A B (+ beta * bias) for A [M, K]; returns C [M, N]. */
export function matmul(gpu: Gpu, a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const [m, k] = a.shape;
  const transB = opts.transB ?? false;
  const n = transB ? b.shape[0] : b.shape[1];
  if ((transB ? b.shape[1] : b.shape[0]) !== k) throw new Error(`matmul: [${a.shape}] x [${b.shape}]`);
  const c = gpu.tensor([m, n]);
  const bias = opts.bias ?? b;
  const candidates = matmulCandidates(k, n, transB);
  const picked = opts.variant
    ? { variant: opts.variant, tag: undefined }
    : gpu.tuner.pick("matmul", `${m}x${k}x${n}${transB ? " transB" : ""}`, candidates);
  const v = picked.variant;
  if (!candidates.some((c) => JSON.stringify(c) === JSON.stringify(v))) {
    throw new Error(`matmul: variant ${JSON.stringify(v)} does not fit [${a.shape}] x [${b.shape}]`);
  }
  const rows = v.kind === "rows";
  const vecB = rows;
  const vecA = rows && transB;
  runProgram(gpu, {
    name: rows
      ? `matmul${transB ? "_transB" : ""}_rows${v.rm}x${v.rn}`
      : `matmul${transB ? "_transB" : ""}_tiled`,
    params: {
      m: ["u32", m],
      n: ["u32", n],
      k: ["u32", k],
      k4: ["u32", Math.floor(k / 4)],
      n4: ["u32", Math.floor(n / 4)],
      alpha: ["f32", opts.alpha ?? 1],
      beta: ["f32", opts.bias ? (opts.beta ?? 1) : 0],
    },
    buffers: [
      { name: "a", data: a, type: vecA ? "vec4f" : "f32" },
      { name: "b", data: b, type: vecB ? "vec4f" : "f32" },
      { name: "bias", data: bias },
      { name: "c", data: c, access: "read_write" },
    ],
    workgroupSize: rows ? v.wg : [TILE, TILE],
    source: rows ? rowsSource(transB, v.rm, v.rn) : tiledSource(transB),
    workgroups: rows
      ? [Math.ceil(Math.ceil((transB ? n : n / 4) / v.rn) / v.wg), Math.ceil(m / v.rm)]
      : [Math.ceil(n / TILE), Math.ceil(m / TILE)],
    tag: picked.tag,
    flops: 2 * m * n * k,
  });
  return c;
}
