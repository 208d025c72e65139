/**
 * Pooling over NCHW tensors: square windows with stride and zero-free padding, either the maximum or
 * the average of the in-bounds samples only (PyTorch's count_include_pad=False, which the FID Inception
 * blocks use), and the global average over all pixels. Window pools may write into a channel slice
 * of a larger output, like convGemm, so that they can form one branch of a concatenation, and may end in a
 * per-channel bias and ReLU (the epilogue of a 1x1 convolution run before the pool, see models/inception.ts).
 * Input and output are split buffers (gpu/split.ts): batches larger than one storage binding run in pieces of
 * samples (Inception at batch 64 on llvmpipe, whose bindings hold 128 MiB, once failed at its first max pool).
 */
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { runProgram } from "../gpu/program.ts";
import { grid1d, main1d } from "./grid.ts";
import { convOutSize } from "./conv_gemm.ts";
import { memoized, range } from "./unroll.ts";

const WG = 256;

/** Outputs of a row per invocation of a window pool. */
const RUN = 8;

/**
 * A k x k window pool with stride s, unrolled: each invocation computes RUN consecutive outputs of a row,
 * loading the (RUN - 1) * s + k input values of each of its k rows once and sharing them between the
 * overlapping windows (3.75 loads per output for 3x3 stride 1 instead of 9). Out-of-bounds samples are left
 * out (the identity of the reduction), and the average divides by the in-bounds count. With `epilogue`,
 * y = max(pool + b[channel], 0). Built once per configuration.
 */
const windowSource = memoized((mode: "avg" | "max", k: number, s: number, epilogue: boolean): string => {
  const init = mode === "max" ? "-3.4028235e38" : "0.0";
  const op = (a: string, v: string) => mode === "max" ? `max(${a}, ${v})` : `${a} + ${v}`;
  const R = (RUN - 1) * s + k, rs = range(R), js = range(RUN);
  const rows = range(k).map((dy) =>
    `  {
    let iy = i32(oy * ${s}u + ${dy}u) - p.pad;
    let rok = iy >= 0 && iy < i32(p.h);
    rows += select(0u, 1u, rok);
    let rb = base + u32(clamp(iy, 0, i32(p.h) - 1)) * p.w;
${
      rs.map((r) =>
        `    let v${r} = select(${init}, ld_x(rb + u32(clamp(ix0 + ${r}, 0, i32(p.w) - 1))), rok && c${r});`
      ).join("\n")
    }
${
      js.map((j) => `    a${j} = ${range(k).reduce((acc, dx) => op(acc, `v${j * s + dx}`), `a${j}`)};`).join(
        "\n",
      )
    }
  }`
  );
  const stores = js.map((j) => {
    const cols = range(k).map((dx) => `select(0u, 1u, c${j * s + dx})`).join(" + ");
    const pooled = mode === "max" ? `a${j}` : `a${j} / f32(rows * (${cols}))`;
    const value = epilogue ? `max(${pooled} + b, 0.0)` : pooled;
    return `  if (ox0 + ${j}u < p.ow) { st_y(yb + ${j}u, ${value}); }`;
  });
  return /* wgsl */ `
${main1d("i", "p.count * p.c * p.oh * p.groups")}
  let ox0 = i % p.groups * ${RUN}u;
  let oy = (i / p.groups) % p.oh;
  let nc = i / (p.groups * p.oh);
  let ch = nc % p.c;
  let img = nc / p.c; // within the run of samples (gpu/split.ts), as are base and yb
  let base = nc * p.h * p.w;
  let ix0 = i32(ox0 * ${s}u) - p.pad;
${rs.map((r) => `  let c${r} = ix0 + ${r} >= 0 && ix0 + ${r} < i32(p.w);`).join("\n")}
${js.map((j) => `  var a${j} = ${init};`).join("\n")}
  var rows = 0u;
${rows.join("\n")}
  let yb = ((img * p.cTotal + p.cOffset + ch) * p.oh + oy) * p.ow + ox0;
${epilogue ? "  let b = bias[ch];" : ""}
${stores.join("\n")}
}`;
});

/** Pooling window. */
export interface PoolParams {
  /** Window size (k x k). */
  k: number;
  /** Step between windows, in input pixels. */
  stride: number;
  /** Padding on every side; padded samples never count (neither in the maximum nor the average). */
  pad: number;
}

/**
 * Max or average (of in-bounds samples only) pooling of x [N, C, H, W]; writes into `into` or returns
 * a new [N, C, OH, OW] tensor. With `bias` [C], each output becomes max(pool + bias[channel], 0). Batches
 * larger than one binding run in pieces.
 */
export function pool2d(
  gpu: Gpu,
  x: Tensor,
  mode: "avg" | "max",
  { k, stride, pad }: PoolParams,
  into?: { out: Tensor; cOffset: number },
  bias?: Tensor,
): Tensor {
  const [n, c, h, w] = x.shape;
  const oh = convOutSize(h, k, stride, pad), ow = convOutSize(w, k, stride, pad);
  const out = into?.out ?? gpu.tensor([n, c, oh, ow]);
  const cOffset = into?.cOffset ?? 0;
  const [on, cTotal, ooh, oow] = out.shape;
  if (on !== n || ooh !== oh || oow !== ow || cOffset + c > cTotal) {
    throw new Error(`pool2d: output [${out.shape}] cannot hold ${c} channels of ${oh}x${ow} at ${cOffset}`);
  }
  if (bias && bias.size !== c) throw new Error(`pool2d: bias [${bias.shape}] for ${c} channels`);
  const groups = Math.ceil(ow / RUN);
  runProgram(gpu, {
    name: `${mode}_pool2d_${k}x${k}_s${stride}${bias ? "_bias_relu" : ""}`,
    items: n,
    params: {
      c: ["u32", c],
      h: ["u32", h],
      w: ["u32", w],
      oh: ["u32", oh],
      ow: ["u32", ow],
      groups: ["u32", groups],
      pad: ["i32", pad],
      cTotal: ["u32", cTotal],
      cOffset: ["u32", cOffset],
    },
    buffers: [
      { name: "x", data: x, split: true, texture: gpu.textureReads },
      { name: "y", data: out, access: "read_write", split: true },
      ...bias ? [{ name: "bias", data: bias }] : [],
    ],
    workgroupSize: WG,
    source: windowSource(mode, k, stride, !!bias),
    workgroups: (count) => grid1d(count * c * oh * groups, WG, gpu.maxWorkgroups),
  });
  return out;
}

const GLOBAL_AVG = /* wgsl */ `
${main1d("i", "p.count * p.c")}
  var acc = 0.0;
  for (var j = 0u; j < p.size; j++) { acc += ld_x(i * p.size + j); }
  st_y(i, acc / f32(p.size));
}`;

/** Global average pool: x [N, C, H, W] -> [N, C], the mean of each plane (in pieces, like {@link pool2d}). */
export function globalAvgPool(gpu: Gpu, x: Tensor): Tensor {
  const [n, c, h, w] = x.shape;
  const out = gpu.tensor([n, c]);
  runProgram(gpu, {
    name: "global_avg_pool",
    items: n,
    params: { c: ["u32", c], size: ["u32", h * w] },
    buffers: [
      { name: "x", data: x, split: true },
      { name: "y", data: out, access: "read_write", split: true },
    ],
    workgroupSize: WG,
    source: GLOBAL_AVG,
    workgroups: (count) => grid1d(count * c, WG, gpu.maxWorkgroups),
  });
  return out;
}
