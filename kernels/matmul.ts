/**
 * Dense matrix product with optional transposed right operand, scale and bias:
 * C[m, n] = alpha * sum_k A[m, k] * B[k, n] + beta * bias[n]   (B given as [K, N], or [N, K] with transB).
 * Tiled through workgroup memory (TILE x TILE outputs per workgroup, one per thread).
 */
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { runProgram } from "../gpu/program.ts";

const TILE = 16;

function source(transB: boolean): string {
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
  transB?: boolean;
  alpha?: number;
  bias?: Tensor;
  beta?: number;
}

/** C = alpha * A B (+ beta * bias) for A [M, K]; returns C [M, N]. */
export function matmul(gpu: Gpu, a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const [m, k] = a.shape;
  const transB = opts.transB ?? false;
  const n = transB ? b.shape[0] : b.shape[1];
  if ((transB ? b.shape[1] : b.shape[0]) !== k) throw new Error(`matmul: [${a.shape}] x [${b.shape}]`);
  const c = gpu.tensor([m, n]);
  const bias = opts.bias ?? b;
  runProgram(gpu, {
    name: transB ? "matmul_transB" : "matmul",
    params: {
      m: ["u32", m],
      n: ["u32", n],
      k: ["u32", k],
      alpha: ["f32", opts.alpha ?? 1],
      beta: ["f32", opts.bias ? (opts.beta ?? 1) : 0],
    },
    buffers: [
      { name: "a", data: a },
      { name: "b", data: b },
      { name: "bias", data: bias },
      { name: "c", data: c, access: "read_write" },
    ],
    workgroupSize: [TILE, TILE],
    source: source(transB),
    workgroups: [Math.ceil(n / TILE), Math.ceil(m / TILE)],
  });
  return c;
}
