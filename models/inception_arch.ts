/**
 * The FID Inception-v3 architecture (the 2015-12-05 TensorFlow graph as ported by pytorch-fid's
 * fid_inception_v3: torchvision Inception3 with the FIDInceptionA/C/E_1/E_2 blocks) as data: a list of
 * blocks, each the channel concatenation of paths of convolutions and pools. Every convolution is
 * conv (no bias) + batch norm (eps 1e-3) + ReLU, named by its pytorch-fid module prefix.
 */

/** A convolution with its folded batch norm and ReLU. */
export interface ConvOp {
  kind: "conv";
  /** pytorch-fid module prefix, e.g. "Mixed_5b.branch5x5_2". */
  name: string;
  cin: number;
  cout: number;
  kh: number;
  kw: number;
  stride: number;
  padH: number;
  padW: number;
}

/** Square pooling; "avg" never counts padding (the FID blocks use count_include_pad=False). */
export interface PoolOp {
  kind: "avg" | "max";
  k: number;
  stride: number;
  pad: number;
}

/** One step of a path. */
export type Op = ConvOp | PoolOp;

/** Ops applied in order; when `split` is set, the result feeds each sub-path and their outputs concatenate. */
export interface Path {
  ops: Op[];
  split?: Path[];
}

/** A block: the channel concatenation of its paths, all applied to the block's input. */
export interface Block {
  name: string;
  paths: Path[];
}

/** Width of the pool3 features. */
export const FEATURE_DIM = 2048;
/** Number of logits of the 2015-12-05 graph (1000 classes + 8 unused). */
export const LOGIT_DIM = 1008;
/** Input resolution of the network. */
export const INPUT_SIZE = 299;
/** Batch-norm epsilon of the TensorFlow graph. */
export const BN_EPS = 1e-3;

function conv(
  name: string,
  cin: number,
  cout: number,
  k: number | [number, number],
  opts: { stride?: number; pad?: number | [number, number] } = {},
): ConvOp {
  const [kh, kw] = typeof k === "number" ? [k, k] : k;
  const [padH, padW] = typeof opts.pad === "number" ? [opts.pad, opts.pad] : opts.pad ?? [0, 0];
  return { kind: "conv", name, cin, cout, kh, kw, stride: opts.stride ?? 1, padH, padW };
}

const avgPool3: PoolOp = { kind: "avg", k: 3, stride: 1, pad: 1 };
const maxPool3s2: PoolOp = { kind: "max", k: 3, stride: 2, pad: 0 };

function blockA(name: string, cin: number, poolFeatures: number): Block {
  const c = (n: string, ci: number, co: number, k: number, pad = 0) =>
    conv(`${name}.${n}`, ci, co, k, { pad });
  return {
    name,
    paths: [
      { ops: [c("branch1x1", cin, 64, 1)] },
      { ops: [c("branch5x5_1", cin, 48, 1), c("branch5x5_2", 48, 64, 5, 2)] },
      {
        ops: [
          c("branch3x3dbl_1", cin, 64, 1),
          c("branch3x3dbl_2", 64, 96, 3, 1),
          c("branch3x3dbl_3", 96, 96, 3, 1),
        ],
      },
      { ops: [avgPool3, c("branch_pool", cin, poolFeatures, 1)] },
    ],
  };
}

function blockB(name: string, cin: number): Block {
  return {
    name,
    paths: [
      { ops: [conv(`${name}.branch3x3`, cin, 384, 3, { stride: 2 })] },
      {
        ops: [
          conv(`${name}.branch3x3dbl_1`, cin, 64, 1),
          conv(`${name}.branch3x3dbl_2`, 64, 96, 3, { pad: 1 }),
          conv(`${name}.branch3x3dbl_3`, 96, 96, 3, { stride: 2 }),
        ],
      },
      { ops: [maxPool3s2] },
    ],
  };
}

function blockC(name: string, cin: number, c7: number): Block {
  const row = (n: string, ci: number, co: number) => conv(`${name}.${n}`, ci, co, [1, 7], { pad: [0, 3] });
  const col = (n: string, ci: number, co: number) => conv(`${name}.${n}`, ci, co, [7, 1], { pad: [3, 0] });
  return {
    name,
    paths: [
      { ops: [conv(`${name}.branch1x1`, cin, 192, 1)] },
      {
        ops: [
          conv(`${name}.branch7x7_1`, cin, c7, 1),
          row("branch7x7_2", c7, c7),
          col("branch7x7_3", c7, 192),
        ],
      },
      {
        ops: [
          conv(`${name}.branch7x7dbl_1`, cin, c7, 1),
          col("branch7x7dbl_2", c7, c7),
          row("branch7x7dbl_3", c7, c7),
          col("branch7x7dbl_4", c7, c7),
          row("branch7x7dbl_5", c7, 192),
        ],
      },
      { ops: [avgPool3, conv(`${name}.branch_pool`, cin, 192, 1)] },
    ],
  };
}

function blockD(name: string, cin: number): Block {
  return {
    name,
    paths: [
      {
        ops: [
          conv(`${name}.branch3x3_1`, cin, 192, 1),
          conv(`${name}.branch3x3_2`, 192, 320, 3, { stride: 2 }),
        ],
      },
      {
        ops: [
          conv(`${name}.branch7x7x3_1`, cin, 192, 1),
          conv(`${name}.branch7x7x3_2`, 192, 192, [1, 7], { pad: [0, 3] }),
          conv(`${name}.branch7x7x3_3`, 192, 192, [7, 1], { pad: [3, 0] }),
          conv(`${name}.branch7x7x3_4`, 192, 192, 3, { stride: 2 }),
        ],
      },
      { ops: [maxPool3s2] },
    ],
  };
}

/** FIDInceptionE_1 (average pool branch) or FIDInceptionE_2 (max pool branch). */
function blockE(name: string, cin: number, pool: "avg" | "max"): Block {
  const pair = (prefix: string): Path[] => [
    { ops: [conv(`${name}.${prefix}a`, 384, 384, [1, 3], { pad: [0, 1] })] },
    { ops: [conv(`${name}.${prefix}b`, 384, 384, [3, 1], { pad: [1, 0] })] },
  ];
  return {
    name,
    paths: [
      { ops: [conv(`${name}.branch1x1`, cin, 320, 1)] },
      { ops: [conv(`${name}.branch3x3_1`, cin, 384, 1)], split: pair("branch3x3_2") },
      {
        ops: [
          conv(`${name}.branch3x3dbl_1`, cin, 448, 1),
          conv(`${name}.branch3x3dbl_2`, 448, 384, 3, { pad: 1 }),
        ],
        split: pair("branch3x3dbl_3"),
      },
      { ops: [{ kind: pool, k: 3, stride: 1, pad: 1 }, conv(`${name}.branch_pool`, cin, 192, 1)] },
    ],
  };
}

/**
 * The blocks in order. pytorch-fid's output blocks end after index 1 (block 0, 64 channels at 73x73),
 * 3 (block 1, 192 channels at 35x35), 11 (block 2, 768 channels at 17x17) and 14 (block 3, before the
 * global average pool).
 */
export const BLOCKS: readonly Block[] = [
  {
    name: "stem1",
    paths: [{
      ops: [
        conv("Conv2d_1a_3x3", 3, 32, 3, { stride: 2 }),
        conv("Conv2d_2a_3x3", 32, 32, 3),
        conv("Conv2d_2b_3x3", 32, 64, 3, { pad: 1 }),
      ],
    }],
  },
  { name: "maxpool1", paths: [{ ops: [maxPool3s2] }] },
  { name: "stem2", paths: [{ ops: [conv("Conv2d_3b_1x1", 64, 80, 1), conv("Conv2d_4a_3x3", 80, 192, 3)] }] },
  { name: "maxpool2", paths: [{ ops: [maxPool3s2] }] },
  blockA("Mixed_5b", 192, 32),
  blockA("Mixed_5c", 256, 64),
  blockA("Mixed_5d", 288, 64),
  blockB("Mixed_6a", 288),
  blockC("Mixed_6b", 768, 128),
  blockC("Mixed_6c", 768, 160),
  blockC("Mixed_6d", 768, 160),
  blockC("Mixed_6e", 768, 192),
  blockD("Mixed_7a", 768),
  blockE("Mixed_7b", 1280, "avg"),
  blockE("Mixed_7c", 2048, "max"),
];

/** Indices in BLOCKS after which pytorch-fid's blocks 0, 1 and 2 end. */
export const BLOCK_ENDS = [1, 3, 11] as const;

/** All convolutions in state-dict order (the order torchvision registers the modules). */
export function convOps(): ConvOp[] {
  const out: ConvOp[] = [];
  const walk = (p: Path) => {
    for (const op of p.ops) if (op.kind === "conv") out.push(op);
    p.split?.forEach(walk);
  };
  for (const b of BLOCKS) b.paths.forEach(walk);
  return out;
}

/** Output size of a convolution or pool along one axis. */
export function outSize(size: number, k: number, stride: number, pad: number): number {
  return Math.floor((size + 2 * pad - k) / stride) + 1;
}
