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
 * each, so the batch runs in chunks of samples that fit ({@link winogradFits}: one sample must). The weight transform is done
 * once in float64 when the weight is packed.
 */
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { runProgram } from "../gpu/program.ts";
import { grid1d, main1d } from "./grid.ts";
import { epilogue, LRELU, type Shape } from "./conv_epilogue.ts";

/** G g G^T of a 3x3 kernel g (row-major), in float64: the 4x4 transformed kernel (row-major). */
export function winogradKernel(g: ArrayLike<number>): Float64Array {
  const G = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]];
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

/** A tile of the products: 4V output channels x RN output tiles (RN a multiple of 4). */
export interface WinogradTile {
  v: number;
  rn: number;
  wg: number;
}

/** The padded tile count of U and M (a multiple of RN) for an oh x ow output. */
function paddedTiles(oh: number, ow: number, rn: number): number {
  return Math.ceil((Math.ceil(oh / 2) * Math.ceil(ow / 2)) / rn) * rn;
}

/** Invocations of the products' launch for a batch of n (what a tile gives the cores to do). */
export function winogradInvocations(
  n: number,
  cout: number,
  oh: number,
  ow: number,
  t: WinogradTile,
): number {
  return n * 16 * Math.ceil(cout / (4 * t.v)) * (paddedTiles(oh, ow, t.rn) / t.rn);
}

/** Samples per chunk of the launches: as many as U [16, cin, tiles] and M [16, cout, tiles] allow per binding. */
function chunkSamples(gpu: Gpu, cin: number, cout: number, oh: number, ow: number, rn: number): number {
  return Math.floor(gpu.maxBinding / (16 * Math.max(cin, cout) * paddedTiles(oh, ow, rn) * 4));
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
  rn: number,
): boolean {
  return chunkSamples(gpu, cin, cout, oh, ow, rn) >= 1;
}

/** The launch's geometry and what it binds besides x, the weights and y. */
export interface WinogradLaunch {
  x: Tensor;
  weight: Tensor;
  cin: number;
  cout: number;
  padH: number;
  padW: number;
  oh: number;
  ow: number;
  cTotal: number;
  cOffset: number;
  out: Tensor;
  scale: Tensor | null;
  dcoef: Tensor | null;
  bias: Tensor | null;
  noise: Tensor | null;
  strength: number;
  gain: number;
  clamp: number;
  shape: Shape;
  tile: WinogradTile;
  tag?: string;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** B^T r B on a 4x4 block given as 16 WGSL expressions (row-major): 16 expressions. */
function inputTransform(d: string[]): string[] {
  const bt = (
    r: string[],
  ) => [`${r[0]} - ${r[2]}`, `${r[1]} + ${r[2]}`, `${r[2]} - ${r[1]}`, `${r[1]} - ${r[3]}`];
  const rows = range(4).map((j) => bt(range(4).map((i) => d[i * 4 + j]))); // columns first: rows[j][a]
  return range(16).map((ab) => {
    const a = Math.floor(ab / 4), b = ab % 4;
    return `(${bt(range(4).map((j) => `(${rows[j][a]})`))[b]})`;
  });
}

function inputSource(scale: boolean): string {
  // Four consecutive tiles per invocation, so that U is written with vec4 stores.
  const tiles = range(4).map((k) => {
    const d = range(16).map((e) => `d${k}_${e}`);
    const loads = range(16).map((e) => {
      const i = Math.floor(e / 4), j = e % 4;
      const [y, x] = [`iy${k} + ${i}`, `ix${k} + ${j}`];
      return `  let d${k}_${e} = select(0.0, ld_x(xc + u32(max(${y}, 0)) * p.w + u32(max(${x}, 0))), ` +
        `${y} >= 0 && ${y} < i32(p.h) && ${x} >= 0 && ${x} < i32(p.w))${scale ? " * sc" : ""};`;
    });
    return { loads, v: inputTransform(d) };
  });
  return /* wgsl */ `
${main1d("item", "p.count * p.cin * p.quads")}
  let q = item % p.quads;
  let c = item / p.quads % p.cin;
  let nl = item / (p.quads * p.cin);
  let n = p.n0 + nl;
  if (n < p.s0 || n >= p.s0 + p.sc) { return; }
  let xc = (nl * p.cin + c) * p.h * p.w;
  ${scale ? "let sc = scale[n * p.cin + c];" : ""}
${
    range(4).map((k) =>
      `  let iy${k} = i32((q * 4u + ${k}u) / p.tx * 2u) - p.padH;\n  let ix${k} = i32((q * 4u + ${k}u) % p.tx * 2u) - p.padW;`
    ).join("\n")
  }
${tiles.flatMap((t) => t.loads).join("\n")}
  let ub = ((n - p.s0) * 16u * p.cin + c) * p.quads + q;
${
    range(16).map((ab) =>
      `  u4[ub + ${ab}u * p.cin * p.quads] = vec4f(${range(4).map((k) => tiles[k].v[ab]).join(", ")});`
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
    let mb = ((n * 16u + ab) * p.cout + ob * 4u + ${4 * v + e}u) * p.tpad + g * ${t.rn}u;
${range(t.rn).map((j) => `    m[mb + ${j}u] = a${v}_${j}[${e}];`).join("\n")}
  }`
    )
  );
  return /* wgsl */ `
${main1d("item", "p.count * 16u * p.blocks * p.groups")}
  let g = item % p.groups;
  let ob = item / p.groups % p.blocks * ${V}u;
  let ab = item / (p.groups * p.blocks) % 16u;
  let n = item / (p.groups * p.blocks * 16u);
  ${acc.join(" ")}
  for (var c = 0u; c < p.cin; c++) {
    let ub = ((n * 16u + ab) * p.cin + c) * (p.tpad / 4u) + g * ${Q}u;
${range(Q).map((q) => `    let x${q} = u4[ub + ${q}u];`).join("\n")}
    let wb = (ab * p.cin + c) * p.c4 + ob;
${range(V).map((v) => `    let w${v} = wt[wb + ${v}u];`).join("\n")}
${fmas.map((f) => `    ${f}`).join("\n")}
  }
${stores.join("\n")}
}`;
}

function outputSource(s: Shape): string {
  // A^T m A: rows then columns of the 4x4 block m (row-major), 2x2 results; four tiles per invocation, so
  // that M is read with vec4 loads.
  const at = (r: string[]) => [`${r[0]} + ${r[1]} + ${r[2]}`, `${r[1]} - ${r[2]} - ${r[3]}`];
  const tile = (k: number) => {
    const m = (e: number) => `v${e}[${k}]`;
    const cols = range(4).map((j) => at(range(4).map((i) => m(i * 4 + j))));
    const y = range(4).map((e) => at(range(4).map((c) => `(${cols[c][e >> 1]})`))[e & 1]);
    const stores = range(4).map((e) => {
      const i = e >> 1, j = e & 1;
      return `    if (oy + ${i}u < p.oh && ox + ${j}u < p.ow) {
      ${epilogue(s, `(${y[e]}) * d`, `yb + ${i}u * p.ow + ${j}u`, `(oy + ${i}u) * p.ow + ox + ${j}u`)}
    }`;
    });
    return `  {
    let t = q * 4u + ${k}u;
    let oy = t / p.tx * 2u;
    let ox = t % p.tx * 2u;
    let yb = ((nl * p.cTotal + p.cOffset + o) * p.oh + oy) * p.ow + ox;
    if (t < p.tiles) {
${stores.join("\n")}
    }
  }`;
  };
  return /* wgsl */ `
${LRELU}
${main1d("item", "p.count * p.cout * p.quads")}
  let q = item % p.quads;
  let o = item / p.quads % p.cout;
  let nl = item / (p.quads * p.cout);
  let n = p.n0 + nl;
  if (n < p.s0 || n >= p.s0 + p.sc) { return; }
  let mb = ((n - p.s0) * 16u * p.cout + o) * p.quads + q;
${range(16).map((ab) => `  let v${ab} = m4[mb + ${ab}u * p.cout * p.quads];`).join("\n")}
  let d = ${s.dcoef ? "dcoef[n * p.cout + o]" : "1.0"};
  let b = ${s.bias ? "bias[o]" : "0.0"};
${range(4).map(tile).join("\n")}
}`;
}

/** Runs the three launches of the module doc for x [N, cin, H, W] into `out` (see {@link WinogradLaunch}). */
export function winogradConv(gpu: Gpu, l: WinogradLaunch): void {
  const [n, , h, w] = l.x.shape;
  const { tile, shape: s } = l;
  const tx = Math.ceil(l.ow / 2), tiles = Math.ceil(l.oh / 2) * tx, tpad = paddedTiles(l.oh, l.ow, tile.rn);
  const chunk = Math.min(n, chunkSamples(gpu, l.cin, l.cout, l.oh, l.ow, tile.rn));
  if (chunk < 1) throw new Error(`winogradConv: one sample of ${l.oh}x${l.ow} does not fit a binding`);
  const u = gpu.tensor([chunk * 16 * l.cin * tpad]);
  const m = gpu.tensor([chunk * 16 * l.cout * tpad]);
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
      source: inputSource(s.scale),
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
        { name: "m", data: m, access: "read_write" },
      ],
      workgroupSize: tile.wg,
      tag: l.tag,
      flops: 2 * sc * 16 * l.cin * l.cout * tiles,
      source: productSource(tile),
      workgroups: grid1d(sc * 16 * blocks * groups, tile.wg, gpu.maxWorkgroups),
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
        cTotal: u32(l.cTotal),
        cOffset: u32(l.cOffset),
        gain: ["f32", l.gain],
        clamp: ["f32", l.clamp],
        strength: ["f32", l.strength],
      },
      buffers: [
        { name: "m4", data: m, type: "vec4f" },
        { name: "dcoef", data: l.dcoef ?? filler },
        { name: "bias", data: l.bias ?? filler },
        { name: "noise", data: l.noise ?? filler },
        { name: "y", data: l.out, access: "read_write", split: true },
      ],
      workgroupSize: 64,
      tag: l.tag,
      source: outputSource(s),
      workgroups: (count) => grid1d(count * l.cout * (tpad / 4), 64, gpu.maxWorkgroups),
    });
  }
  // Buffers may be destroyed once the work using them is submitted.
  gpu.flush();
  u.destroy();
  m.destroy();
}
