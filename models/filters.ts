/**
 * The low-pass filters of StyleGAN3's synthesis layers, designed as SynthesisLayer.design_lowpass_filter
 * does: a separable Kaiser-windowed sinc (scipy.signal.firwin) or, for the downsampling filters of config R,
 * a radially symmetric jinc times a separable Kaiser window. Designed in float64, stored as float32.
 */
import type { SynthesisLayerAttrs } from "./config.ts";
import type { NamedTensor } from "../formats/network.ts";

/** scipy.signal.kaiser_atten: stopband attenuation in dB of a Kaiser FIR filter; width relative to Nyquist. */
export function kaiserAtten(numtaps: number, width: number): number {
  return 2.285 * (numtaps - 1) * Math.PI * width + 7.95;
}

/** scipy.signal.kaiser_beta: Kaiser's empirical window parameter for an attenuation in dB. */
export function kaiserBeta(atten: number): number {
  if (atten > 50) return 0.1102 * (atten - 8.7);
  if (atten > 21) return 0.5842 * (atten - 21) ** 0.4 + 0.07886 * (atten - 21);
  return 0;
}

/** Modified Bessel function of the first kind, order 0: I0(x) = sum_k ((x/2)^k / k!)^2 (all terms > 0). */
export function besselI0(x: number): number {
  const q = (x * x) / 4;
  let term = 1, sum = 1;
  for (let k = 1; term > sum * 1e-17; k++) {
    term *= q / (k * k);
    sum += term;
  }
  return sum;
}

/**
 * Bessel function of the first kind, order 1, by Miller's backward recurrence
 * J_{n-1} = (2n / x) J_n - J_{n+1} from a start order well above |x|, normalised with
 * J_0 + 2 (J_2 + J_4 + ...) = 1. Accurate to a few ulps of max(|J1|, 1e-16) for any real x.
 */
export function besselJ1(x: number): number {
  if (x === 0) return 0;
  const ax = Math.abs(x);
  const start = 2 * Math.ceil((ax + 20 + 10 * Math.sqrt(ax)) / 2);
  let next = 0, cur = 1e-300, j1 = 0, norm = 0;
  for (let n = start; n > 0; n--) {
    const prev = (2 * n / ax) * cur - next; // J_{n-1}
    next = cur;
    cur = prev;
    if (n - 1 === 1) j1 = cur;
    if ((n - 1) % 2 === 0) norm += (n - 1 === 0 ? 1 : 2) * cur;
    if (Math.abs(cur) > 1e250) { // rescale to avoid overflow; the ratio is what matters
      next *= 1e-250;
      cur *= 1e-250;
      j1 *= 1e-250;
      norm *= 1e-250;
    }
  }
  const v = j1 / norm;
  return x < 0 ? -v : v;
}

/** scipy.signal.windows.kaiser(numtaps, beta, sym=True) = np.kaiser: I0(beta sqrt(1 - (2n/(M-1) - 1)^2)) / I0(beta). */
export function kaiserWindow(numtaps: number, beta: number): Float64Array {
  const w = new Float64Array(numtaps);
  if (numtaps === 1) return w.fill(1);
  const alpha = (numtaps - 1) / 2;
  const denom = besselI0(beta);
  for (let n = 0; n < numtaps; n++) {
    const t = (n - alpha) / alpha;
    w[n] = besselI0(beta * Math.sqrt(1 - t * t)) / denom;
  }
  return w;
}

/** np.sinc: sin(pi x) / (pi x), 1 at x = 0. */
function sinc(x: number): number {
  if (x === 0) return 1;
  const y = Math.PI * x;
  return Math.sin(y) / y;
}

/**
 * scipy.signal.firwin(numtaps, cutoff, width=width, fs=fs) (low-pass, Kaiser window, scaled to unit DC gain):
 * h[m] = c sinc(c m) * kaiser[m] with c = cutoff / (fs/2), m = n - (numtaps-1)/2, then h /= sum(h).
 */
export function firwin(numtaps: number, cutoff: number, width: number, fs: number): Float64Array {
  const nyquist = fs / 2;
  const c = cutoff / nyquist;
  const win = kaiserWindow(numtaps, kaiserBeta(kaiserAtten(numtaps, width / nyquist)));
  const alpha = (numtaps - 1) / 2;
  const h = new Float64Array(numtaps);
  let sum = 0;
  for (let n = 0; n < numtaps; n++) {
    h[n] = c * sinc(c * (n - alpha)) * win[n];
    sum += h[n];
  }
  return h.map((v) => v / sum);
}

/**
 * The radially symmetric low-pass filter of design_lowpass_filter(radial=True), [numtaps, numtaps] row-major
 * (row = y): h(r) = J1(2 pi cutoff r) / (pi r) at r = hypot(x_i, x_j), x_k = (k - (numtaps-1)/2) / fs, times
 * the outer product of a Kaiser window (beta as firwin's), normalised to unit sum.
 */
export function radialLowpass(numtaps: number, cutoff: number, width: number, fs: number): Float64Array {
  const win = kaiserWindow(numtaps, kaiserBeta(kaiserAtten(numtaps, width / (fs / 2))));
  const x = Array.from({ length: numtaps }, (_, k) => (k - (numtaps - 1) / 2) / fs);
  const f = new Float64Array(numtaps * numtaps);
  let sum = 0;
  for (let i = 0; i < numtaps; i++) {
    for (let j = 0; j < numtaps; j++) {
      const r = Math.hypot(x[j], x[i]);
      const v = besselJ1(2 * cutoff * (Math.PI * r)) / (Math.PI * r) * win[i] * win[j];
      f[i * numtaps + j] = v;
      sum += v;
    }
  }
  return f.map((v) => v / sum);
}

/**
 * SynthesisLayer.design_lowpass_filter: null for numtaps = 1 (no filter), else the separable firwin filter
 * [numtaps] or the radial filter [numtaps, numtaps], cast once to float32.
 */
export function designLowpassFilter(
  numtaps: number,
  cutoff: number,
  width: number,
  fs: number,
  radial = false,
): NamedTensor | null {
  if (numtaps === 1) return null;
  if (!radial) return { shape: [numtaps], data: Float32Array.from(firwin(numtaps, cutoff, width, fs)) };
  return {
    shape: [numtaps, numtaps],
    data: Float32Array.from(radialLowpass(numtaps, cutoff, width, fs)),
  };
}

/** The layer attributes that determine a SynthesisLayer's two filters. */
export type LayerFilterAttrs = Pick<
  SynthesisLayerAttrs,
  | "up_taps"
  | "down_taps"
  | "in_cutoff"
  | "out_cutoff"
  | "in_half_width"
  | "out_half_width"
  | "tmp_sampling_rate"
  | "down_radial"
>;

/**
 * The up- and downsampling filters SynthesisLayer.__init__ designs: both at the layer's temporary sampling
 * rate with transition bands twice the half-widths, the input cutoff for `up`, the output cutoff for `down`
 * (radial for config R); null where a factor has one tap.
 */
export function layerFilters(a: LayerFilterAttrs): { up: NamedTensor | null; down: NamedTensor | null } {
  return {
    up: designLowpassFilter(a.up_taps, a.in_cutoff, a.in_half_width * 2, a.tmp_sampling_rate),
    down: designLowpassFilter(
      a.down_taps,
      a.out_cutoff,
      a.out_half_width * 2,
      a.tmp_sampling_rate,
      a.down_radial,
    ),
  };
}
