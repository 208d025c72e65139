/**
 * Fréchet Inception Distance in float64:
 *   FID = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr(sqrtm(S1 S2)).
 * S1 S2 is similar to the symmetric positive semi-definite L^T S2 L (S1 = L L^T, pivoted Cholesky, which
 * also handles singular S1 from fewer samples than dimensions), so tr(sqrtm(S1 S2)) is the sum of the
 * square roots of that matrix's eigenvalues (negative round-off clamped to 0, as the real part of
 * scipy's sqrtm drops it). Also the statistics files of pytorch-fid / clean-fid: .npz with `mu` [d]
 * and `sigma` [d, d] in float64.
 */
import { UserError } from "../errors.ts";
import { writeFileAtomic } from "../formats/atomic.ts";
import { formatNpz, type NdArray, readNpz, toFloat64 } from "../formats/npy.ts";
import type { CovarianceConvention, Stats } from "./feature_stats.ts";
import { congruence, pivotedCholesky, symmetricEigenvalues } from "./linalg.ts";
import type { Preset } from "../models/inception.ts";

/** Covariance normalisation of each preset's reference tool. */
export const PRESET_COVARIANCE: Record<Preset, CovarianceConvention> = {
  "stylegan3": "biased",
  "pytorch-fid": "unbiased",
  "clean-fid": "unbiased",
};

/** tr(sqrtm(S1 S2)) for symmetric positive semi-definite d x d matrices. */
export function traceSqrtProduct(s1: Float64Array, s2: Float64Array, d: number): number {
  const f = pivotedCholesky(s1, d);
  if (f.rank === 0) return 0;
  const eig = symmetricEigenvalues(congruence(f, s2), f.rank);
  let t = 0;
  for (const v of eig) if (v > 0) t += Math.sqrt(v);
  return t;
}

/** The Fréchet distance between two Gaussians given by their statistics. */
export function frechetDistance(a: Stats, b: Stats): number {
  const d = a.dim;
  if (b.dim !== d) throw new UserError(`statistics of different dimensions: ${a.dim} and ${b.dim}`);
  let m = 0, tr = 0;
  for (let i = 0; i < d; i++) {
    m += (a.mu[i] - b.mu[i]) ** 2;
    tr += a.sigma[i * d + i] + b.sigma[i * d + i];
  }
  return m + tr - 2 * traceSqrtProduct(a.sigma, b.sigma, d);
}

/** Reads a pytorch-fid / clean-fid statistics file (.npz with mu and sigma). */
export function readStats(path: string): Stats {
  const arrays = readNpz(path);
  const mu = arrays.get("mu"), sigma = arrays.get("sigma");
  if (!mu || !sigma) throw new UserError(`${path}: a statistics file needs arrays "mu" and "sigma"`);
  const d = mu.data.length;
  if (mu.shape.length !== 1 || sigma.shape.length !== 2 || sigma.shape[0] !== d || sigma.shape[1] !== d) {
    throw new UserError(`${path}: mu [${mu.shape}] and sigma [${sigma.shape}] do not fit together`);
  }
  const count = arrays.get("num_images");
  return {
    mu: toFloat64(mu),
    sigma: toFloat64(sigma),
    dim: d,
    count: count ? Number(toFloat64(count)[0]) : 0,
  };
}

/**
 * Writes statistics as .npz with float64 `mu` and `sigma` (readable by pytorch-fid and clean-fid, which
 * ignore the extra int64 `num_images` written when the count is known).
 */
export function writeStats(path: string, s: Stats): void {
  const arrays: Record<string, NdArray> = {
    mu: { shape: [s.dim], dtype: "<f8", data: s.mu },
    sigma: { shape: [s.dim, s.dim], dtype: "<f8", data: s.sigma },
  };
  if (s.count > 0) arrays.num_images = { shape: [], dtype: "<i8", data: BigInt64Array.of(BigInt(s.count)) };
  writeFileAtomic(path, formatNpz(arrays));
}
