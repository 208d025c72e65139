/**
 * Dense matrix product with optional transposed right operand, scale and bias:
 * C[m, n] = alpha * sum_k A[m, k] * B[k, n] + beta * bias[n]   (B given as [K, N], or [N, K] with transB).
 * Tiled through workgroup memory (TILE x TILE outputs per workgroup, one per thread).
 */
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { Uniforms } from "../gpu/uniforms.ts";

const TILE = 16;

function source(transB: boolean): string {
  const bIndex = transB ? "col * p.k + kb" : "kb * p.n + col";
  return /* wgsl */ `
const T = ${TILE}u;
struct P { m: u32, n: u32, k: u32, alpha: f32, beta: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;
var<workgroup> ta: array<array<f32, T>, T>;
var<workgroup> tb: array<array<f32, T>, T>;
@compute @workgroup_size(T, T)
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
  gpu.dispatch({
    code: source(transB),
    uniforms: new Uniforms().u32(m).u32(n).u32(k).f32(opts.alpha ?? 1).f32(opts.bias ? (opts.beta ?? 1) : 0)
      .bytes(),
    bindings: [a, b, bias, c],
    workgroups: [Math.ceil(n / TILE), Math.ceil(m / TILE)],
  });
  return c;
}
