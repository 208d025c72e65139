/**
 * What the viewer shows for a set of controls, computed with sg3's own generator: the page runs it on the
 * browser's WebGPU, the server (fallback) on its own adapter. No Deno APIs here.
 *
 * - The image of an integer seed is exactly `sg3 generate`'s (models/generate.ts: same z, label,
 *   truncation, input transform, noise and uint8 conversion), so "save PNG" writes the same file.
 * - A fractional seed s (dragging) blends the ws of floor(s) and floor(s) + 1 linearly, as visualizer.py
 *   blends the ws of neighbouring seeds: w = w(floor(s)) + (w(floor(s) + 1) - w(floor(s))) * (s - floor(s)),
 *   each after truncation; StyleGAN2's random noise is floor(s)'s (as in its layer views).
 * - A layer view shows one synthesis layer's output as visualizer.py's renderer does (`img_normalize`):
 *   1 or 3 channels, each divided by its largest absolute value, then `(x * 127.5 + 128)` clamped to uint8;
 *   the channels are taken in order of decreasing magnitude (mean absolute value), starting at `channel`.
 */
import type { Gpu } from "../gpu/device.ts";
import type { Tensor } from "../gpu/tensor.ts";
import { readTensor } from "../gpu/readback.ts";
import { type Image8, toImage8 } from "../formats/png.ts";
import type { Generator, NoiseMode } from "../models/generator.ts";
import { generateImages, type GenerateRequest, labels } from "../models/generate.ts";
import { zFromSeed } from "../models/latents.ts";
import { invert3x3, makeTransform } from "../models/transform.ts";

/** The viewer's controls. */
export interface ViewSettings {
  /** Seed; fractional values blend neighbouring seeds' ws. */
  seed: number;
  psi: number;
  /** Truncate only the first `cutoff` ws; null = all. */
  cutoff: number | null;
  /** Class of a conditional network. */
  classIdx: number;
  tx: number;
  ty: number;
  /** Rotation in degrees. */
  rotate: number;
  /** Animate translate/rotate (the page moves them over time). */
  animate: boolean;
  noiseMode: NoiseMode;
  /** "" = the output image, else a synthesis layer name (as the capture names them). */
  layer: string;
  /** First channel shown (in order of decreasing magnitude). */
  channel: number;
  /** 1 (grey) or 3 (RGB) channels shown. */
  channels: 1 | 3;
  /** Display zoom; 0 = fit the window. */
  zoom: number;
}

export const DEFAULT_SETTINGS: ViewSettings = {
  seed: 0,
  psi: 1,
  cutoff: null,
  classIdx: 0,
  tx: 0,
  ty: 0,
  rotate: 0,
  animate: false,
  noiseMode: "const",
  layer: "",
  channel: 0,
  channels: 3,
  zoom: 0,
};

/** URL parameter names of the settings (the permalink's hash and the fallback's /render query). */
const KEYS: Record<keyof ViewSettings, string> = {
  seed: "seed",
  psi: "psi",
  cutoff: "cutoff",
  classIdx: "class",
  tx: "tx",
  ty: "ty",
  rotate: "rot",
  animate: "anim",
  noiseMode: "noise",
  layer: "layer",
  channel: "ch",
  channels: "chs",
  zoom: "zoom",
};

/** The settings as URL parameters (defaults left out). */
export function settingsToParams(s: ViewSettings): URLSearchParams {
  const p = new URLSearchParams();
  for (const key of Object.keys(KEYS) as (keyof ViewSettings)[]) {
    const v = s[key];
    if (v === DEFAULT_SETTINGS[key]) continue;
    p.set(KEYS[key], v === null ? "all" : typeof v === "boolean" ? (v ? "1" : "0") : String(v));
  }
  return p;
}

/** Settings from URL parameters; missing or malformed values take the defaults. */
export function settingsFromParams(p: URLSearchParams): ViewSettings {
  const s = { ...DEFAULT_SETTINGS };
  const number = (key: string, fallback: number) => {
    const v = p.get(key);
    const n = v === null || v.trim() === "" ? NaN : Number(v);
    return Number.isFinite(n) ? n : fallback;
  };
  s.seed = Math.max(0, Math.min(0xffffffff, number(KEYS.seed, s.seed)));
  s.psi = number(KEYS.psi, s.psi);
  const cutoff = p.get(KEYS.cutoff);
  s.cutoff = cutoff === null || cutoff === "all" ? null : Math.max(0, Math.floor(number(KEYS.cutoff, 0)));
  s.classIdx = Math.max(0, Math.floor(number(KEYS.classIdx, 0)));
  s.tx = number(KEYS.tx, 0);
  s.ty = number(KEYS.ty, 0);
  s.rotate = number(KEYS.rotate, 0);
  s.animate = p.get(KEYS.animate) === "1";
  const noise = p.get(KEYS.noiseMode);
  s.noiseMode = noise === "random" || noise === "none" ? noise : "const";
  s.layer = p.get(KEYS.layer) ?? "";
  s.channel = Math.max(0, Math.floor(number(KEYS.channel, 0)));
  s.channels = number(KEYS.channels, 3) === 1 ? 1 : 3;
  s.zoom = Math.max(0, Math.min(16, number(KEYS.zoom, 0)));
  return s;
}

/** A synthesis layer's name and output shape [C, H, W]. */
export interface LayerInfo {
  name: string;
  shape: number[];
}

/** One rendered view. */
export interface ViewFrame {
  /** RGB uint8 (a layer view's grey channel is repeated). */
  image: Image8;
  /** The file stem `sg3 generate` would use (seed0042); fractional seeds get two decimals. */
  name: string;
  /** For a layer view: the layer's channel count. */
  layerChannels?: number;
  /** The output image as floats (NCHW, unclamped), when rendered in this process. */
  float?: Float32Array;
}

/** The file stem of a seed's image. */
export function seedName(seed: number): string {
  return Number.isInteger(seed)
    ? `seed${String(seed).padStart(4, "0")}`
    : `seed${String(Math.floor(seed)).padStart(4, "0")}.${(seed % 1).toFixed(2).slice(2)}`;
}

/** The request of `sg3 generate` for these settings (integer seeds). */
export function generateRequest(gen: Generator, s: ViewSettings): GenerateRequest {
  return {
    seeds: [s.seed],
    psi: s.psi,
    cutoff: s.cutoff,
    classIdx: gen.cDim > 0 ? s.classIdx : undefined,
    translate: gen.hasInputTransform ? [s.tx, s.ty] : [0, 0],
    rotate: gen.hasInputTransform ? s.rotate : 0,
    noiseMode: s.noiseMode,
    batch: 1,
  };
}

/** ws [1, num_ws, w_dim] of the settings' seed (blended for fractional seeds) on the GPU. */
async function seedWs(gpu: Gpu, gen: Generator, s: ViewSettings): Promise<Tensor> {
  const lo = Math.floor(s.seed), t = s.seed - lo;
  const opts = { c: labels(gen, 1, gen.cDim > 0 ? s.classIdx : undefined), psi: s.psi, cutoff: s.cutoff };
  if (t === 0) return gen.mapping(zFromSeed(lo, gen.zDim), 1, opts);
  const a = gen.mapping(zFromSeed(lo, gen.zDim), 1, opts);
  const b = gen.mapping(zFromSeed(lo + 1, gen.zDim), 1, opts);
  const [wa, wb] = [await readTensor(gpu, a), await readTensor(gpu, b)];
  a.destroy();
  b.destroy();
  const w = wa.map((v, i) => v + (wb[i] - v) * t);
  return gpu.upload(w, [1, gen.numWs, gen.wDim]);
}

function inputTransform(gen: Generator, s: ViewSettings): Float32Array | undefined {
  return gen.hasInputTransform
    ? Float32Array.from(invert3x3(makeTransform([s.tx, s.ty], s.rotate)))
    : undefined;
}

/** The synthesis layers and their output shapes (one capturing pass). */
export async function listLayers(gpu: Gpu, gen: Generator, s: ViewSettings): Promise<LayerInfo[]> {
  const ws = await seedWs(gpu, gen, s);
  const capture = new Map<string, Tensor>();
  const img = gen.synthesis(ws, {
    transforms: inputTransform(gen, s),
    noiseMode: s.noiseMode,
    noiseSeeds: [Math.floor(s.seed)],
    capture,
  });
  await gpu.sync();
  const layers = [...capture].map(([name, t]) => ({ name, shape: t.shape.slice(1) }));
  capture.forEach((t) => t !== img && t.destroy());
  img.destroy();
  ws.destroy();
  return layers;
}

/** Renders the settings' view: the output image or a layer's feature maps. */
export async function renderView(gpu: Gpu, gen: Generator, s: ViewSettings): Promise<ViewFrame> {
  const name = seedName(s.seed);
  if (!s.layer && Number.isInteger(s.seed)) {
    for await (const r of generateImages(gpu, gen, generateRequest(gen, s))) {
      return { image: r.image, name, float: r.float };
    }
  }
  const ws = await seedWs(gpu, gen, s);
  const capture = new Map<string, Tensor>();
  const img = gen.synthesis(ws, {
    transforms: inputTransform(gen, s),
    noiseMode: s.noiseMode,
    noiseSeeds: [Math.floor(s.seed)],
    capture: s.layer ? capture : undefined,
  });
  if (!s.layer) {
    const float = await readTensor(gpu, img);
    img.destroy();
    ws.destroy();
    return { image: toImage8(float, img.shape), name, float };
  }
  const layer = capture.get(s.layer);
  try {
    if (!layer) throw new Error(`the network has no layer ${s.layer}`);
    const data = await readTensor(gpu, layer);
    const [, c, h, w] = layer.shape;
    return { image: featureImage(data, c, h, w, s.channel, s.channels), name, layerChannels: c };
  } finally {
    capture.forEach((t) => t !== img && t.destroy());
    img.destroy();
    ws.destroy();
  }
}

/** Channel indices of a [C, H, W] tensor in order of decreasing mean absolute value. */
export function channelsByMagnitude(data: Float32Array, c: number, hw: number): number[] {
  const mag = Array.from({ length: c }, (_, k) => {
    let sum = 0;
    for (let i = k * hw; i < (k + 1) * hw; i++) sum += Math.abs(data[i]);
    return sum / hw;
  });
  return mag.map((_, k) => k).sort((a, b) => mag[b] - mag[a] || a - b);
}

/** visualizer.py's normalised view of `count` channels from `base` (in magnitude order) as RGB uint8. */
export function featureImage(
  data: Float32Array,
  c: number,
  h: number,
  w: number,
  base: number,
  count: 1 | 3,
): Image8 {
  const hw = h * w;
  const order = channelsByMagnitude(data, c, hw);
  const n = count > c ? 1 : count;
  const first = Math.max(0, Math.min(base, c - n));
  const out = new Uint8Array(hw * 3);
  for (let j = 0; j < 3; j++) {
    const ch = order[first + (n === 1 ? 0 : j)];
    let max = 0;
    for (let i = 0; i < hw; i++) max = Math.max(max, Math.abs(data[ch * hw + i]));
    const scale = 1 / Math.min(Math.max(max, 1e-8), 1e8);
    for (let i = 0; i < hw; i++) {
      const v = data[ch * hw + i] * scale * 127.5 + 128;
      out[i * 3 + j] = Math.trunc(Math.min(255, Math.max(0, v)));
    }
  }
  return { width: w, height: h, channels: 3, data: out };
}
