/**
 * 3x3 stride-1 convolution by Winograd's minimal filtering F(2x2, 3x3) (Lavin & Gray, 2016): the output is
 * cut into 2x2 tiles, each computed from a 4x4 input patch d with 16 multiplies per input and output channel
 * instead of 36:
 *
 *   U[n, ab, c, t] = (B^T (s[n, c] d[n, c, t]) B)[a, b]      B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
 *   W'[ab, c, o]   = (G g[o, c] G^T)[a, b]                  G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
 *   M[n, ab, o, t] = sum_c W'[ab, c, o] U[n, ab, c, t]         (16 matrix products)
 *   Y[n, o, t]     = A^T M[n, :, o, t] A                      A^T = [1 1 1 0; 0 1 -1 -1]
 *
 * then the convolutions' epilogue (kernels/conv_epilogue.ts: demodulation, noise, bias, activation, gain,
 * clamp, accumulation). Three launches: the input transform, the products (each invocation 4V output
 * channels x RN tiles in registers, the tiles loaded as vec4s: the fewest loads per multiply-add, which is
 * what decides speed on llvmpipe), and the output transform with the epilogue. U and M live in one binding
 * each, so the batch runs in chunks of samples that fit ({@link winogradFits}: one sample must). The weight
 * transform is done in float64 on the first launch that needs it ({@link WinogradWeights}).
 *
 * Larger tiles are not offered: F(4x4, 3x3) needs 2.25 multiplies per output instead of 4 (stylegan3-t-128's
 * products took 230 ms instead of 394 on llvmpipe) but is 6-25x less accurate in float32 (with the points
 * 0, +-1, 2, -1/2 and 0, +-1, +-2; F(3x3, 3x3) no better), beyond the tolerances every variant must meet.
 */
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { runProgram } from "../gpu/program.ts";
import { grid1d, main1d } from "./grid.ts";
import {
  type ConvLaunch,
  epilogue,
  epilogueBuffers,
  epilogueParams,
  LRELU,
  type Shape,
} from "./conv_epilogue.ts";
import { linearCombination, memoized, range } from "./unroll.ts";

const BT = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]];
const G = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]];
const AT = [[1, 1, 1, 0], [0, 1, -1, -1]];
/** The input patch (4x4) and output tile (2x2) sizes. */
const PATCH = BT.length, TILE = AT.length;

/** G g G^T of a 3x3 kernel g (row-major), in float64: the 4x4 transformed kernel (row-major). */
export function winogradKernel(g: ArrayLike<number>): Float64Array {
  const out = new Float64Array(16);
  for (let a = 0; a < 4; a++) {
    for (let b = 0; b < 4; b++) {
      let v = 0;
      for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) v += G[a][i] * g[i * 3 + j] * G[b][j];
      out[a * 4 + b] = v;
    }
  }
  return out;
}

/**
 * A 3x3 weight [cout, cin, 3, 3] (row-major) as W'[ab, c, o] ([16 * cin, cpad]), output channels padded with
 * zeros to `cpad` (a multiple of 32).
 */
export function winogradWeights(w: Float32Array, cout: number, cin: number, cpad: number): Float32Array {
  const packed = new Float32Array(16 * cin * cpad);
  for (let o = 0; o < cout; o++) {
    for (let c = 0; c < cin; c++) {
      const t = winogradKernel(w.subarray((o * cin + c) * 9, (o * cin + c + 1) * 9));
      for (let ab = 0; ab < 16; ab++) packed[(ab * cin + c) * cpad + o] = t[ab];
    }
  }
  return packed;
}

/**
 * The Winograd transform of a 3x3 weight on the GPU, made on the first launch that needs it, so that loading a
 * network where Winograd is not chosen (or a stride-2 layer, where it cannot be) pays neither for the transform
 * (~0.3 s per 512 x 512 layer) nor for its memory.
 */
export class WinogradWeights {
  #made: Tensor | null = null;

  /** For weight `w` [cout, cin, 3, 3] (row-major; kept until the transform is made), channels padded to cpad. */
  constructor(readonly w: Float32Array, readonly cout: number, readonly cin: number, readonly cpad: number) {}

  /** W' ([16 * cin, cpad]), uploaded on first use (before the pending work is submitted). */
  tensor(gpu: Gpu): Tensor {
    this.#made ??= gpu.upload(winogradWeights(this.w, this.cout, this.cin, this.cpad), [
      16 * this.cin,
      this.cpad,
    ]);
    return this.#made;
  }

  /** Frees the transform if it was made. */
  destroy(): void {
    this.#made?.destroy();
    this.#made = null;
  }
}

/** A tile of the products: 4V output channels x RN output tiles (RN a multiple of 4). */
export interface WinogradTile {
  v: number;
  rn: number;
  wg: number;
}

/** The padded tile count of U and M (a multiple of RN) for an oh x ow output. */
function paddedTiles(oh: number, ow: number, t: WinogradTile): number {
  return Math.ceil((Math.ceil(oh / TILE) * Math.ceil(ow / TILE)) / t.rn) * t.rn;
}

/** Invocations of the products' launch for a batch of n (what a tile gives the cores to do). */
export function winogradInvocations(
  n: number,
  cout: number,
  oh: number,
  ow: number,
  t: WinogradTile,
): number {
  return n * PATCH * PATCH * Math.ceil(cout / (4 * t.v)) * (paddedTiles(oh, ow, t) / t.rn);
}

/** Samples per chunk of the launches: as many as U [16, cin, tiles] and M [16, cout, tiles] allow per binding. */
function chunkSamples(gpu: Gpu, cin: number, cout: number, oh: number, ow: number, t: WinogradTile): number {
  return Math.floor(gpu.maxBinding / (PATCH * PATCH * Math.max(cin, cout) * paddedTiles(oh, ow, t) * 4));
}

/**
 * Whether one sample's U and M each fit one binding (larger batches run in chunks of samples, so the choice
 * does not depend on the batch size).
 */
export function winogradFits(
  gpu: Gpu,
  cin: number,
  cout: number,
  oh: number,
  ow: number,
  t: WinogradTile,
): boolean {
  return chunkSamples(gpu, cin, cout, oh, ow, t) >= 1;
}

/** The launch's geometry and what it binds besides x, the weights and y. */
export type WinogradLaunch = ConvLaunch<WinogradTile>;

/**
 * L x L^T of a q x q block x (row-major WGSL expressions) for a p x q matrix L, as `let` statements named
 * `<name>_<i>_<j>` (the p x p result, row-major), columns first.
 */
function sandwich(l: number[][], x: string[], name: string): { code: string[]; out: string[] } {
  const p = l.length, q = l[0].length;
  const code: string[] = [];
  for (let i = 0; i < p; i++) {
    for (let j = 0; j < q; j++) {
      code.push(`let ${name}c${i}_${j} = ${linearCombination(l[i], range(q).map((k) => x[k * q + j]))};`);
    }
  }
  const out = range(p * p).map((e) => `${name}_${Math.floor(e / p)}_${e % p}`);
  for (let e = 0; e < p * p; e++) {
    const i = Math.floor(e / p), j = e % p;
    code.push(`let ${out[e]} = ${linearCombination(l[j], range(q).map((k) => `${name}c${i}_${k}`))};`);
  }
  return { code, out };
}

/**
 * The opening of a transform launch (one invocation per sample, channel and quad of tiles, quads fastest):
 * binds q, the channel `ch` of `channels`, nl and n, and returns for samples outside the current chunk.
 */
function transformEntry(ch: string, channels: string): string {
  return `${main1d("item", `p.count * ${channels} * p.quads`)}
  let q = item % p.quads;
  let ${ch} = item / p.quads % ${channels};
  let nl = item / (p.quads * ${channels});
  let n = p.n0 + nl;
  if (n < p.s0 || n >= p.s0 + p.sc) { return; }`;
}

function inputSource(scale: boolean): string {
  // Four consecutive tiles per invocation, so that U is written with vec4 stores.
  const tiles = range(4).map((k) => {
    const d = range(PATCH * PATCH).map((e) => `d${k}_${e}`);
    const loads = range(PATCH * PATCH).map((e) => {
      const i = Math.floor(e / PATCH), j = e % PATCH;
      const [y, x] = [`iy${k} + ${i}`, `ix${k} + ${j}`];
      return `  let d${k}_${e} = select(0.0, ld_x(xc + u32(max(${y}, 0)) * p.w + u32(max(${x}, 0))), ` +
        `${y} >= 0 && ${y} < i32(p.h) && ${x} >= 0 && ${x} < i32(p.w))${scale ? " * sc" : ""};`;
    });
    const { code, out } = sandwich(BT, d, `u${k}`);
    return { loads, code: code.map((c) => `  ${c}`), out };
  });
  return /* wgsl */ `
${transformEntry("c", "p.cin")}
  let xc = (nl * p.cin + c) * p.h * p.w;
  ${scale ? "let sc = scale[n * p.cin + c];" : ""}
${
    range(4).map((k) =>
      `  let iy${k} = i32((q * 4u + ${k}u) / p.tx * ${TILE}u) - p.padH;\n  let ix${k} = i32((q * 4u + ${k}u) % p.tx * ${TILE}u) - p.padW;`
    ).join("\n")
  }
${tiles.flatMap((t) => [...t.loads, ...t.code]).join("\n")}
  let ub = ((n - p.s0) * ${PATCH * PATCH}u * p.cin + c) * p.quads + q;
${
    range(PATCH * PATCH).map((ab) =>
      `  u4[ub + ${ab}u * p.cin * p.quads] = vec4f(${range(4).map((k) => tiles[k].out[ab]).join(", ")});`
    ).join("\n")
  }
}`;
}

function productSource(t: WinogradTile): string {
  const V = t.v, Q = t.rn / 4;
  const acc = range(V).flatMap((v) => range(t.rn).map((j) => `var a${v}_${j} = vec4f(0.0);`));
  const fmas = range(V).map((v) =>
    range(t.rn).map((j) => `a${v}_${j} = fma(w${v}, vec4f(x${j >> 2}[${j & 3}]), a${v}_${j});`).join(" ")
  );
  const stores = range(V).flatMap((v) =>
    range(4).map((e) =>
      `  if (ob * 4u + ${4 * v + e}u < p.cout) {
    let mb = ((n * ${PATCH * PATCH}u + ab) * p.cout + ob * 4u + ${4 * v + e}u) * p.tpad + g * ${t.rn}u;
${range(t.rn).map((j) => `    m[mb + ${j}u] = a${v}_${j}[${e}];`).join("\n")}
  }`
    )
  );
  return /* wgsl */ `
${main1d("item", `p.count * ${PATCH * PATCH}u * p.blocks * p.groups`)}
  let g = item % p.groups;
  let ob = item / p.groups % p.blocks * ${V}u;
  let ab = item / (p.groups * p.blocks) % ${PATCH * PATCH}u;
  let n = item / (p.groups * p.blocks * ${PATCH * PATCH}u);
  ${acc.join(" ")}
  for (var c = 0u; c < p.cin; c++) {
    let ub = ((n * ${PATCH * PATCH}u + ab) * p.cin + c) * (p.tpad / 4u) + g * ${Q}u;
${range(Q).map((q) => `    let x${q} = u4[ub + ${q}u];`).join("\n")}
    let wb = (ab * p.cin + c) * p.c4 + ob;
${range(V).map((v) => `    let w${v} = wt[wb + ${v}u];`).join("\n")}
${fmas.map((f) => `    ${f}`).join("\n")}
  }
${stores.join("\n")}
}`;
}

function outputSource(s: Shape): string {
  // A^T M A of each tile's 4x4 block, 2x2 results; four tiles per invocation, so that M is read with vec4
  // loads.
  const tile = (k: number) => {
    const { code, out } = sandwich(AT, range(PATCH * PATCH).map((e) => `v${e}[${k}]`), `y${k}`);
    const stores = range(TILE * TILE).map((e) => {
      const i = Math.floor(e / TILE), j = e % TILE;
      return `    if (oy + ${i}u < p.oh && ox + ${j}u < p.ow) {
      ${epilogue(s, `${out[e]} * d`, `yb + ${i}u * p.ow + ${j}u`, `(oy + ${i}u) * p.ow + ox + ${j}u`)}
    }`;
    });
    return `  {
    let t = q * 4u + ${k}u;
    let oy = t / p.tx * ${TILE}u;
    let ox = t % p.tx * ${TILE}u;
    let yb = ((nl * p.cTotal + p.cOffset + o) * p.oh + oy) * p.ow + ox;
    if (t < p.tiles) {
${code.map((c) => `    ${c}`).join("\n")}
${stores.join("\n")}
    }
  }`;
  };
  return /* wgsl */ `
${LRELU}
${transformEntry("o", "p.cout")}
  let mb = ((n - p.s0) * ${PATCH * PATCH}u * p.cout + o) * p.quads + q;
${range(PATCH * PATCH).map((ab) => `  let v${ab} = m4[mb + ${ab}u * p.cout * p.quads];`).join("\n")}
  let d = ${s.dcoef ? "dcoef[n * p.cout + o]" : "1.0"};
  let b = ${s.bias ? "bias[o]" : "0.0"};
${range(4).map(tile).join("\n")}
}`;
}

/** The three launches' sources, each built once per configuration. */
const launchSources = {
  input: memoized(inputSource),
  product: memoized(productSource),
  output: memoized(outputSource),
};

/** Runs the three launches of the module doc for x [N, cin, H, W] into `out` (see {@link WinogradLaunch}). */
export function winogradConv(gpu: Gpu, l: WinogradLaunch): void {
  const [n, , h, w] = l.x.shape;
  const { tile, shape: s } = l;
  const tx = Math.ceil(l.ow / TILE),
    tiles = Math.ceil(l.oh / TILE) * tx,
    tpad = paddedTiles(l.oh, l.ow, tile);
  const chunk = Math.min(n, chunkSamples(gpu, l.cin, l.cout, l.oh, l.ow, tile));
  if (chunk < 1) throw new Error(`winogradConv: one sample of ${l.oh}x${l.ow} does not fit a binding`);
  const u = gpu.tensor([chunk * PATCH * PATCH * l.cin * tpad]);
  const mt = gpu.tensor([chunk * PATCH * PATCH * l.cout * tpad]);
  const blocks = Math.ceil(l.cout / (4 * tile.v)), groups = tpad / tile.rn;
  const u32 = (v: number) => ["u32", v] as const;
  const filler = l.weight;
  // Chunks of samples through U and M; the transforms' launches skip the samples of other chunks.
  for (let s0 = 0; s0 < n; s0 += chunk) {
    const sc = Math.min(chunk, n - s0);
    runProgram(gpu, {
      name: "winograd_input",
      items: n,
      params: {
        s0: u32(s0),
        sc: u32(sc),
        cin: u32(l.cin),
        h: u32(h),
        w: u32(w),
        tx: u32(tx),
        quads: u32(tpad / 4),
        padH: ["i32", l.padH],
        padW: ["i32", l.padW],
      },
      buffers: [
        { name: "x", data: l.x, split: true },
        { name: "scale", data: l.scale ?? filler },
        { name: "u4", data: u, type: "vec4f", access: "read_write" },
      ],
      workgroupSize: 64,
      tag: l.tag,
      source: launchSources.input(s.scale),
      workgroups: (count) => grid1d(count * l.cin * (tpad / 4), 64, gpu.maxWorkgroups),
    });
    runProgram(gpu, {
      name: `winograd_product_v${tile.v}_rn${tile.rn}_wg${tile.wg}`,
      params: {
        count: u32(sc),
        cin: u32(l.cin),
        cout: u32(l.cout),
        c4: u32(l.weight.shape[1] / 4),
        tpad: u32(tpad),
        blocks: u32(blocks),
        groups: u32(groups),
      },
      buffers: [
        { name: "u4", data: u, type: "vec4f" },
        { name: "wt", data: l.weight, type: "vec4f" },
        { name: "m", data: mt, access: "read_write" },
      ],
      workgroupSize: tile.wg,
      tag: l.tag,
      flops: 2 * sc * PATCH * PATCH * l.cin * l.cout * tiles,
      source: launchSources.product(tile),
      workgroups: grid1d(sc * PATCH * PATCH * blocks * groups, tile.wg, gpu.maxWorkgroups),
    });
    runProgram(gpu, {
      name: `winograd_output${s.accumulate ? "_acc" : ""}`,
      items: n,
      params: {
        s0: u32(s0),
        sc: u32(sc),
        cout: u32(l.cout),
        oh: u32(l.oh),
        ow: u32(l.ow),
        tx: u32(tx),
        tiles: u32(tiles),
        quads: u32(tpad / 4),
        ...epilogueParams(l),
      },
      buffers: [{ name: "m4", data: mt, type: "vec4f" }, ...epilogueBuffers(l, filler)],
      workgroupSize: 64,
      tag: l.tag,
      source: launchSources.output(s),
      workgroups: (count) => grid1d(count * l.cout * (tpad / 4), 64, gpu.maxWorkgroups),
    });
  }
  gpu.release(u, mt);
}
