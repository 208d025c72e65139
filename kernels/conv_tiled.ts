/**
 * Convolution as an implicit matrix product tiled through workgroup memory, the layout of GPU convolution
 * libraries: the same sum and epilogue as kernels/conv_gemm.ts,
 *
 *   v[n, o, pix] = sum_k W[k, o] * X[n, k, pix],   k = (c * kh + ky) * kw + kx,
 *   X[n, k, (oy, ox)] = s[n, c] * x[n, c, oy * stride + ky - padH, ox * stride + kx - padW]   (0 outside)
 *
 * then y = epilogue(v * d[n, o]) (kernels/conv_epilogue.ts). Each workgroup of 16 x 16 invocations computes
 * a tile of TM = 64 V output channels x TN = 16 RN output pixels of one sample (pixels counted row-major
 * over the output map). The reduction runs in slabs of KS = 16 values of k: the workgroup stages the slab's
 * weights [KS, TM] (rows of the packed weight, read as coalesced vec4s) and its inputs [KS, TN] (gathered
 * with zero padding and the factors s, four consecutive pixels per vec4) in workgroup memory, then every
 * invocation adds the slab's products for its 4V channels x RN pixels from there. Every weight and input
 * value read from memory thus serves 16 invocations, where conv_gemm's register tiles read them once per
 * invocation: what a GPU's memory hierarchy rewards. On llvmpipe each barrier suspends every invocation (a
 * convolution with barriers ran 1.7x slower there), so software adapters do not offer these tiles.
 * The sum over k runs in the same order as conv_gemm's row tiles.
 */
import type { Gpu } from "../gpu/device.ts";
import { runProgram } from "../gpu/program.ts";
import { grid1d } from "./grid.ts";
import {
  type ConvLaunch,
  epilogue,
  epilogueBuffers,
  epilogueParams,
  LRELU,
  type Shape,
  tileSums,
} from "./conv_epilogue.ts";
import { memoized, range } from "./unroll.ts";

/** Invocations per workgroup along each side of the 16 x 16 workgroup. */
const SIDE = 16;
/** Values of k per staged slab. */
const KS = 16;

/** A workgroup tile: V vec4s of output channels and RN pixels (a multiple of 4) per invocation. */
export interface TiledTile {
  v: number;
  rn: number;
  /**
   * f16 arithmetic (kernels/conv_gemm.ts's ConvVariant.half): the slabs staged as f16 (the weight given in
   * f16), each invocation's products of a slab ({@link TILED_SLAB} values of k) summed in f16, then added into
   * its f32 accumulators.
   */
  half?: true;
}

/** Values of k per staged slab: with f16 arithmetic, the products summed in f16 before they join f32. */
export const TILED_SLAB = KS;

/**
 * The launch of {@link convTiled} (the weight: kernels/conv_gemm.ts's packed [cin * kh * kw, cpad], or with
 * `weightGroups` g, g such weights one after another [g * cin * kh * kw, cpad], sample n using weight n mod g:
 * Winograd's products, kernels/winograd.ts). `label` and `flops` replace the kernel's name and its declared
 * arithmetic.
 */
export type TiledLaunch = ConvLaunch<TiledTile> & { weightGroups?: number; label?: string; flops?: number };

function source(s: Shape, t: TiledTile): string {
  const V = t.v, Q = t.rn / 4, KHW = s.kh * s.kw;
  const vs = range(V), qs = range(Q), es = range(4);
  // Accumulator a{v}_{j}: channels 4(ty V + v) .. +3 of the tile at its pixel tx RN + j; with f16 arithmetic
  // a slab's products go to h{v}_{j} first. The staged values' types: vec4f, or vec4h with f16 arithmetic.
  const js = range(t.rn), [sum, vec, one] = t.half ? ["h", "vec4h", "f16"] : ["a", "vec4f", "f32"];
  const sums = tileSums(V, t.rn);
  const products = [
    ...vs.map((v) => `let w${v} = ws[r * TM4 + ty * ${V}u + ${v}u];`),
    ...qs.map((q) => `let x${q} = xs[r * TN4 + tx * ${Q}u + ${q}u];`),
    ...vs.flatMap((v) =>
      js.map((j) => `${sum}${v}_${j} = fma(w${v}, ${vec}(x${j >> 2}[${j & 3}]), ${sum}${v}_${j});`)
    ),
  ].join("\n      ");
  const store = vs.flatMap((v) =>
    es.map((e) =>
      `  {
    let o = (mb * TM4 + ty * ${V}u + ${v}u) * 4u + ${e}u;
    if (o < p.cout) {
      let d = ${s.dcoef ? "dcoef[n * p.cout + o]" : "1.0"};
      let b = ${s.bias ? "bias[o]" : "0.0"};
      let yb = (nl * p.cTotal + p.cOffset + o) * npix;
${
        js.map((j) =>
          `      if (px0 + ${j}u < npix) { ${
            epilogue(s, `a${v}_${j}[${e}] * d`, `yb + px0 + ${j}u`, `px0 + ${j}u`)
          } }`
        ).join("\n")
      }
    }
  }`
    )
  ).join("\n");
  return /* wgsl */ `
${LRELU}
const KS = ${KS}u;
const TM4 = ${SIDE * V}u;
const TN4 = ${SIDE * Q}u;
var<workgroup> ws: array<${vec}, ${KS * SIDE * V}>;
var<workgroup> xs: array<${vec}, ${KS * SIDE * Q}>;
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32,
        @builtin(num_workgroups) nwg: vec3u) {
  let tile = wid.x + wid.y * nwg.x;
  if (tile >= p.count * p.mblocks * p.pblocks) { return; }
  let nl = tile / (p.mblocks * p.pblocks);
  let n = p.n0 + nl;
  let mb = tile / p.pblocks % p.mblocks;
  let pb = tile % p.pblocks;
  let tx = li % ${SIDE}u;
  let ty = li / ${SIDE}u;
  let npix = p.oh * p.ow;
  let K = p.cin * ${KHW}u;
  let wrow = n % p.wgroups * K;
  let px0 = pb * TN4 * 4u + tx * ${t.rn}u;
  ${sums.declare}
  for (var k0 = 0u; k0 < K; k0 += KS) {
    for (var i = li; i < KS * TM4; i += WG) {
      let k = k0 + i / TM4;
      let o4 = mb * TM4 + i % TM4;
      var w = ${vec}(0.0);
      if (k < K && o4 < p.c4) { w = wt[(wrow + k) * p.c4 + o4]; }
      ws[i] = w;
    }
    for (var i = li; i < KS * TN4; i += WG) {
      let k = k0 + i / TN4;
      var xv = ${vec}(0.0);
      if (k < K) {
        let c = k / ${KHW}u;
        let ky = i32(k % ${KHW}u / ${s.kw}u);
        let kx = i32(k % ${s.kw}u);
        let xc = (nl * p.cin + c) * p.h * p.w;
        let sc = ${s.scale ? "scale[n * p.cin + c]" : "1.0"};
        for (var e = 0u; e < 4u; e++) {
          let pix = (pb * TN4 + i % TN4) * 4u + e;
          let iy = i32(pix / p.ow * ${s.stride}u) + ky - p.padH;
          let ix = i32(pix % p.ow * ${s.stride}u) + kx - p.padW;
          if (pix < npix && iy >= 0 && iy < i32(p.h) && ix >= 0 && ix < i32(p.w)) {
            xv[e] = ${one}(ld_x(xc + u32(iy) * p.w + u32(ix)) * sc);
          }
        }
      }
      xs[i] = xv;
    }
    workgroupBarrier();
    ${t.half ? sums.open : ""}
    for (var r = 0u; r < KS; r++) {
      ${products}
    }
    ${t.half ? sums.close : ""}
    workgroupBarrier();
  }
${store}
}`;
}

/** {@link source}, built once per configuration. */
const tiledSource = memoized(source);

/** Workgroups of a launch: channel blocks of TM and pixel blocks of TN per sample. */
function blocks(cout: number, oh: number, ow: number, t: TiledTile): { mblocks: number; pblocks: number } {
  return { mblocks: Math.ceil(cout / (4 * SIDE * t.v)), pblocks: Math.ceil((oh * ow) / (SIDE * t.rn)) };
}

/** Invocations of a launch over n samples (for filling a device). */
export function tiledInvocations(n: number, cout: number, oh: number, ow: number, t: TiledTile): number {
  const { mblocks, pblocks } = blocks(cout, oh, ow, t);
  return n * mblocks * pblocks * SIDE * SIDE;
}

/** Invocations per workgroup of every tiled variant. */
export const TILED_WG = SIDE * SIDE;

/**
 * Records the tiled convolution of `l` (see the module doc; the weight in f16 for a `half` tile); batches larger
 * than a binding run in pieces.
 */
export function convTiled(gpu: Gpu, l: TiledLaunch): void {
  const [n, , h, w] = l.x.shape;
  const { mblocks, pblocks } = blocks(l.cout, l.oh, l.ow, l.tile);
  const u = (v: number) => ["u32", v] as const;
  const kh = l.shape.kh, kw = l.shape.kw;
  runProgram(gpu, {
    name: l.label ??
      `conv_tiled_${kh}x${kw}_s${l.stride}_v${l.tile.v}_rn${l.tile.rn}${l.tile.half ? "_h" : ""}${
        l.shape.accumulate ? "_acc" : ""
      }`,
    items: n,
    params: {
      cin: u(l.cin),
      cout: u(l.cout),
      c4: u(l.weight.shape[1] / 4),
      h: u(h),
      w: u(w),
      oh: u(l.oh),
      ow: u(l.ow),
      mblocks: u(mblocks),
      pblocks: u(pblocks),
      wgroups: u(l.weightGroups ?? 1),
      padH: ["i32", l.padH],
      padW: ["i32", l.padW],
      ...epilogueParams(l),
    },
    buffers: [
      { name: "x", data: l.x, split: true },
      { name: "wt", data: l.weight, type: "vec4" },
      { name: "scale", data: l.scale ?? l.weight },
      ...epilogueBuffers(l, l.weight),
    ],
    workgroupSize: [SIDE, SIDE],
    tag: l.tag,
    flops: l.flops ?? 2 * n * l.oh * l.ow * l.cout * l.cin * kh * kw,
    source: tiledSource(l.shape, l.tile),
    workgroups: (count) => grid1d(count * mblocks * pblocks, 1, gpu.maxWorkgroups),
  });
}
