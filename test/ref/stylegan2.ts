/**
 * A float64 reference of the StyleGAN2 generator (training/networks_stylegan2.py), written the way the
 * official code computes it, independently of sg3's kernels: per-sample modulated weights; conv0 as a
 * stride-2 transposed convolution followed by upfirdn2d(f, padding 1, gain 4) (conv2d_resample's up path);
 * noise, bias_act; ToRGB; the skip image upsampled by upfirdn2d(up 2, padding [2, 1], gain 4); the resnet
 * skip as upfirdn2d then a 1x1 convolution at gain sqrt(1/2). Slow: for tiny networks only.
 */
import type { NetworkDescription } from "../../formats/network.ts";
import { fcRef, normalize2ndMomentRef, truncateRef } from "./fc.ts";

type Planes = { c: number; h: number; w: number; data: Float64Array };

const T = (net: NetworkDescription, name: string) => {
  const t = net.tensors.get(name);
  if (!t) throw new Error(`reference: no tensor ${name}`);
  return t;
};
const A = (net: NetworkDescription, path: string) => net.modules.get(path)!.attrs as Record<string, any>;

function fc(net: NetworkDescription, path: string, x: ArrayLike<number>, n: number, scale = 1): Float64Array {
  const a = A(net, path), w = T(net, `${path}.weight`);
  const b = net.tensors.get(`${path}.bias`)?.data ?? null;
  const [outF, inF] = w.shape;
  return fcRef(
    x,
    w.data,
    b,
    n,
    inF,
    outF,
    Number(a.weight_gain),
    Number(a.bias_gain ?? 1),
    a.activation === "lrelu",
  )
    .map((v) => v * scale);
}

/** ws [n, num_ws, w_dim] of the mapping network (no labels unless c is given). */
export function mappingRef(
  net: NetworkDescription,
  z: ArrayLike<number>,
  n: number,
  c?: ArrayLike<number>,
): Float64Array {
  const m = A(net, "mapping");
  const zDim = Number(m.z_dim), wDim = Number(m.w_dim), cDim = Number(m.c_dim);
  let x: Float64Array = normalize2ndMomentRef(z, n, zDim);
  if (cDim > 0) {
    const y = normalize2ndMomentRef(fc(net, "mapping.embed", c!, n), n, wDim);
    const cat = new Float64Array(n * (zDim + wDim));
    for (let i = 0; i < n; i++) {
      cat.set(x.subarray(i * zDim, (i + 1) * zDim), i * (zDim + wDim));
      cat.set(y.subarray(i * wDim, (i + 1) * wDim), i * (zDim + wDim) + zDim);
    }
    x = cat;
  }
  for (let i = 0; i < Number(m.num_layers); i++) x = fc(net, `mapping.fc${i}`, x, n);
  const numWs = Number(m.num_ws);
  return truncateRef(x, T(net, "mapping.w_avg").data, n, wDim, numWs, 1, numWs);
}

/** upfirdn2d(x, f [4, 4], up, padding [p0, p1] on both axes, gain) with flip_filter=False. */
function upfirdn(x: Planes, f: ArrayLike<number>, up: number, p0: number, p1: number, gain: number): Planes {
  const uh = x.h * up + p0 + p1, uw = x.w * up + p0 + p1;
  const h = uh - 3, w = uw - 3;
  const out = new Float64Array(x.c * h * w);
  const u = (c: number, j: number, i: number) => {
    const y = j - p0, xx = i - p0;
    if (y < 0 || xx < 0 || y % up || xx % up || y / up >= x.h || xx / up >= x.w) return 0;
    return x.data[(c * x.h + y / up) * x.w + xx / up];
  };
  for (let c = 0; c < x.c; c++) {
    for (let Y = 0; Y < h; Y++) {
      for (let X = 0; X < w; X++) {
        let s = 0;
        for (let a = 0; a < 4; a++) {
          for (let b = 0; b < 4; b++) s += u(c, Y + a, X + b) * f[(3 - a) * 4 + 3 - b];
        }
        out[(c * h + Y) * w + X] = s * gain;
      }
    }
  }
  return { c: x.c, h, w, data: out };
}

/** One modulated convolution of one sample: styles s [cin]; up = 2 uses the transposed-convolution path. */
function modconv(
  x: Planes,
  wt: ArrayLike<number>,
  shape: number[],
  s: ArrayLike<number>,
  demod: boolean,
  up: number,
  pad: number,
  f?: ArrayLike<number>,
): Planes {
  const [co, ci, k] = shape;
  const w = new Float64Array(co * ci * k * k);
  for (let o = 0; o < co; o++) {
    let sq = 0;
    for (let i = 0; i < ci; i++) {
      for (let t = 0; t < k * k; t++) {
        const v = wt[(o * ci + i) * k * k + t] * s[i];
        w[(o * ci + i) * k * k + t] = v;
        sq += v * v;
      }
    }
    if (demod) {
      const d = 1 / Math.sqrt(sq + 1e-8);
      for (let t = 0; t < ci * k * k; t++) w[o * ci * k * k + t] *= d;
    }
  }
  if (up === 1) {
    const h = x.h + 2 * pad - k + 1, wd = x.w + 2 * pad - k + 1;
    const out = new Float64Array(co * h * wd);
    for (let o = 0; o < co; o++) {
      for (let Y = 0; Y < h; Y++) {
        for (let X = 0; X < wd; X++) {
          let acc = 0;
          for (let i = 0; i < ci; i++) {
            for (let ky = 0; ky < k; ky++) {
              const iy = Y + ky - pad;
              if (iy < 0 || iy >= x.h) continue;
              for (let kx = 0; kx < k; kx++) {
                const ix = X + kx - pad;
                if (ix < 0 || ix >= x.w) continue;
                acc += w[((o * ci + i) * k + ky) * k + kx] * x.data[(i * x.h + iy) * x.w + ix];
              }
            }
          }
          out[(o * h + Y) * wd + X] = acc;
        }
      }
    }
    return { c: co, h, w: wd, data: out };
  }
  // conv_transpose2d(x, w^T, stride 2), then upfirdn2d(f, padding 1, gain 4).
  const th = (x.h - 1) * 2 + k, tw = (x.w - 1) * 2 + k;
  const t = new Float64Array(co * th * tw);
  for (let o = 0; o < co; o++) {
    for (let i = 0; i < ci; i++) {
      for (let y = 0; y < x.h; y++) {
        for (let xx = 0; xx < x.w; xx++) {
          const v = x.data[(i * x.h + y) * x.w + xx];
          for (let ky = 0; ky < k; ky++) {
            for (let kx = 0; kx < k; kx++) {
              t[(o * th + 2 * y + ky) * tw + 2 * xx + kx] += v * w[((o * ci + i) * k + ky) * k + kx];
            }
          }
        }
      }
    }
  }
  return upfirdn({ c: co, h: th, w: tw, data: t }, f!, 1, 1, 1, 4);
}

function biasAct(x: Planes, b: ArrayLike<number>, act: string, gain: number, clamp: number | null): Planes {
  const hw = x.h * x.w;
  const data = x.data.map((v, idx) => {
    let t = v + b[Math.floor(idx / hw)];
    if (act === "lrelu") t = t >= 0 ? t : 0.2 * t;
    if (act === "relu") t = Math.max(t, 0);
    t *= gain;
    return clamp === null ? t : Math.min(clamp, Math.max(-clamp, t));
  });
  return { ...x, data };
}

/** Images [n, img_channels, res, res] from ws (noise_mode 'const' or 'none'). */
export function synthesisRef(
  net: NetworkDescription,
  ws: ArrayLike<number>,
  n: number,
  noiseMode: "const" | "none",
): Float64Array {
  const syn = A(net, "synthesis");
  const numWs = Number(syn.num_ws), wDim = Number(syn.w_dim), res = Number(syn.img_resolution);
  const imgC = Number(syn.img_channels);
  const out = new Float64Array(n * imgC * res * res);
  for (let s = 0; s < n; s++) {
    const w = (i: number) => Array.from(ws).slice((s * numWs + i) * wDim, (s * numWs + i + 1) * wDim);
    const layer = (path: string, x: Planes, wi: number, gain = 1): Planes => {
      const a = A(net, path), weight = T(net, `${path}.weight`);
      const up = Number(a.up ?? 1);
      let y = modconv(
        x,
        weight.data,
        weight.shape,
        fc(net, `${path}.affine`, w(wi), 1),
        true,
        up,
        up === 1 ? 1 : 0,
        T(net, `${path}.resample_filter`).data,
      );
      if (noiseMode === "const" && net.tensors.has(`${path}.noise_const`)) {
        const nc = T(net, `${path}.noise_const`).data, st = T(net, `${path}.noise_strength`).data[0];
        y = { ...y, data: y.data.map((v, i) => v + nc[i % (y.h * y.w)] * st) };
      }
      const clamp = a.conv_clamp === null || a.conv_clamp === undefined ? null : Number(a.conv_clamp) * gain;
      return biasAct(y, T(net, `${path}.bias`).data, String(a.activation), Number(a.act_gain) * gain, clamp);
    };
    const torgb = (path: string, x: Planes, wi: number): Planes => {
      const a = A(net, path), weight = T(net, `${path}.weight`);
      const y = modconv(
        x,
        weight.data,
        weight.shape,
        fc(net, `${path}.affine`, w(wi), 1, Number(a.weight_gain)),
        false,
        1,
        0,
      );
      const clamp = a.conv_clamp === null || a.conv_clamp === undefined ? null : Number(a.conv_clamp);
      return biasAct(y, T(net, `${path}.bias`).data, "linear", 1, clamp);
    };
    let x: Planes | null = null, img: Planes | null = null, wIdx = 0;
    for (const r of (syn.block_resolutions as unknown[]).map(Number)) {
      const path = `synthesis.b${r}`, b = A(net, path);
      const f = T(net, `${path}.resample_filter`).data;
      if (Number(b.in_channels) === 0) {
        const c = T(net, `${path}.const`);
        x = layer(`${path}.conv1`, { c: c.shape[0], h: r, w: r, data: Float64Array.from(c.data) }, wIdx);
      } else if (b.architecture === "resnet") {
        const sw = T(net, `${path}.skip.weight`), g = Number(A(net, `${path}.skip`).weight_gain);
        const up = upfirdn(x!, f, 2, 2, 1, 4);
        const skip = modconv(
          up,
          sw.data.map((v) => v * g),
          sw.shape,
          new Float64Array(sw.shape[1]).fill(1),
          false,
          1,
          0,
        );
        const h = layer(`${path}.conv1`, layer(`${path}.conv0`, x!, wIdx), wIdx + 1, Math.SQRT1_2);
        x = { ...h, data: h.data.map((v, i) => v + skip.data[i] * Math.SQRT1_2) };
      } else {
        x = layer(`${path}.conv1`, layer(`${path}.conv0`, x!, wIdx), wIdx + 1);
      }
      if (img) img = upfirdn(img, f, 2, 2, 1, 4);
      if (b.is_last === true || b.architecture === "skip") {
        const y = torgb(`${path}.torgb`, x, wIdx + Number(b.num_conv));
        img = img ? { ...y, data: y.data.map((v, i) => v + img!.data[i]) } : y;
      }
      wIdx += Number(b.num_conv);
    }
    out.set(img!.data, s * imgC * res * res);
  }
  return out;
}
