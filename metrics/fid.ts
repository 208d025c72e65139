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
import { choleskyResidual, congruence, pivotedCholesky, symmetricEigenvalues } from "./linalg.ts";
import type { Preset } from "../models/inception.ts";

/** Covariance normalisation of each preset's reference tool. */
export const PRESET_COVARIANCE: Record<Preset, CovarianceConvention> = {
  "stylegan3": "biased",
  "pytorch-fid": "unbiased",
  "clean-fid": "unbiased",
};

/**
 * Eigenvalues of S1 S2 below -NEGATIVE_EIGEN_TOL x the largest one mean an input is not positive
 * semi-definite; round-off of a rank-deficient PSD product stays near 1e-13 of it.
 */
const NEGATIVE_EIGEN_TOL = 1e-6;

/**
 * tr(sqrtm(S1 S2)) for symmetric positive semi-definite d x d matrices. A clearly negative eigenvalue
 * of the product (where sqrtm has an imaginary component, which pytorch-fid reports as an error) is a
 * UserError naming `what`, as is a first covariance whose pivoted Cholesky factorization shows it indefinite.
 */
export function traceSqrtProduct(s1: Float64Array, s2: Float64Array, d: number, what = "statistics"): number {
  const f = pivotedCholesky(s1, d);
  let scale = 0;
  for (let i = 0; i < d; i++) scale = Math.max(scale, Math.abs(s1[i * d + i]));
  const residual = choleskyResidual(s1, f);
  if (residual > NEGATIVE_EIGEN_TOL * scale) {
    throw new UserError(
      `${what}: the first covariance is not positive semi-definite (its Cholesky factorization leaves ` +
        `${residual.toExponential(3)} against a largest variance of ${scale.toExponential(3)})`,
    );
  }
  if (f.rank === 0) return 0;
  const eig = symmetricEigenvalues(congruence(f, s2), f.rank);
  let t = 0, min = 0, max = 0;
  for (const v of eig) {
    if (v > 0) t += Math.sqrt(v);
    min = Math.min(min, v);
    max = Math.max(max, Math.abs(v));
  }
  if (min < -NEGATIVE_EIGEN_TOL * max) {
    throw new UserError(
      `${what}: the covariances are not positive semi-definite: sqrtm(sigma1 sigma2) has an imaginary ` +
        `component (eigenvalue ${min.toExponential(3)}, largest ${max.toExponential(3)})`,
    );
  }
  return t;
}

/** The file each statistics object was read from (named in errors found when they are used). */
const SOURCES = new WeakMap<Stats, string>();

/**
 * The Fréchet distance between two Gaussians given by their statistics:
 * |mu_a - mu_b|^2 + tr(sigma_a + sigma_b - 2 (sigma_a sigma_b)^(1/2)).
 *
 * @example FID between two saved statistics files (pytorch-fid / clean-fid .npz)
 * ```ts
 * import { frechetDistance, readStats } from "@sg3/sg3";
 *
 * const fid = frechetDistance(readStats("generated.npz"), readStats("ffhq-1024x1024.npz"));
 * console.log(`FID ${fid.toFixed(3)}`);
 * ```
 */
export function frechetDistance(a: Stats, b: Stats): number {
  const d = a.dim;
  if (b.dim !== d) throw new UserError(`statistics of different dimensions: ${a.dim} and ${b.dim}`);
  let m = 0, tr = 0;
  for (let i = 0; i < d; i++) {
    m += (a.mu[i] - b.mu[i]) ** 2;
    tr += a.sigma[i * d + i] + b.sigma[i * d + i];
  }
  const files = [SOURCES.get(a), SOURCES.get(b)].filter((f) => f !== undefined);
  return m + tr - 2 * traceSqrtProduct(a.sigma, b.sigma, d, files.length ? files.join(", ") : undefined);
}

/**
 * Reads a pytorch-fid / clean-fid statistics file (.npz with mu and sigma) and validates it: finite
 * values, mu [d] and sigma [d, d], sigma symmetric within {@link SYMMETRY_TOL} (then made exactly
 * symmetric, so that FID does not depend on the argument order) and free of the plainest signs of not
 * being positive semi-definite (a negative variance, a correlation beyond 1). A clearly negative
 * eigenvalue is found when the distance is computed. Every failure is one line naming the file.
 *
 * @example Reuse a dataset's statistics
 * ```ts
 * import { readStats } from "@sg3/sg3";
 *
 * const real = readStats("ffhq-1024x1024.npz");
 * console.log(real.dim, real.count); // 2048, and the image count when the file records it (else 0)
 * ```
 */
export function readStats(path: string): Stats {
  const arrays = readNpz(path);
  const mu = arrays.get("mu"), sigma = arrays.get("sigma");
  if (!mu || !sigma) throw new UserError(`${path}: a statistics file needs arrays "mu" and "sigma"`);
  const d = mu.data.length;
  if (
    d === 0 || mu.shape.length !== 1 || sigma.shape.length !== 2 || sigma.shape[0] !== d ||
    sigma.shape[1] !== d
  ) {
    throw new UserError(`${path}: mu [${mu.shape}] and sigma [${sigma.shape}] do not fit together`);
  }
  const count = arrays.get("num_images");
  const stats = {
    mu: toFloat64(mu),
    sigma: toFloat64(sigma),
    dim: d,
    count: count?.data.length ? Number(toFloat64(count)[0]) : 0,
  };
  validateCovariance(path, stats);
  SOURCES.set(stats, path);
  return stats;
}

/** Largest asymmetry |s_ij - s_ji| accepted in a statistics file, relative to the largest |s_ij|. */
const SYMMETRY_TOL = 1e-6;

/** The checks of {@link readStats}; symmetrises sigma in place. */
function validateCovariance(path: string, { mu, sigma, dim: d }: Stats): void {
  const bad = mu.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new UserError(`${path}: mu[${bad}] is ${mu[bad]} (statistics must be finite)`);
  let scale = 0;
  for (let k = 0; k < sigma.length; k++) {
    const v = sigma[k];
    if (!Number.isFinite(v)) {
      throw new UserError(
        `${path}: sigma[${Math.floor(k / d)}, ${k % d}] is ${v} (statistics must be finite)`,
      );
    }
    scale = Math.max(scale, Math.abs(v));
  }
  const tol = SYMMETRY_TOL * scale;
  for (let i = 0; i < d; i++) {
    const sii = sigma[i * d + i];
    if (sii < -tol) {
      throw new UserError(
        `${path}: sigma is not positive semi-definite (variance sigma[${i}, ${i}] = ${sii})`,
      );
    }
    for (let j = i + 1; j < d; j++) {
      const a = sigma[i * d + j], b = sigma[j * d + i];
      if (Math.abs(a - b) > tol) {
        throw new UserError(
          `${path}: sigma is not symmetric (sigma[${i}, ${j}] = ${a}, sigma[${j}, ${i}] = ${b})`,
        );
      }
      const m = (a + b) / 2;
      if (m * m > Math.max(sii, 0) * Math.max(sigma[j * d + j], 0) + tol * tol + 1e-6 * m * m) {
        throw new UserError(
          `${path}: sigma is not positive semi-definite (|sigma[${i}, ${j}]| = ${Math.abs(m)} exceeds ` +
            `sqrt(sigma[${i}, ${i}] sigma[${j}, ${j}]))`,
        );
      }
      sigma[i * d + j] = sigma[j * d + i] = m;
    }
  }
}

/**
 * Writes statistics as .npz with float64 `mu` and `sigma` (readable by pytorch-fid and clean-fid, which
 * ignore the extra int64 `num_images` written when the count is known).
 *
 * @example Accumulate feature vectors and save their statistics
 * ```ts
 * import { FeatureStats, writeStats } from "@sg3/sg3";
 *
 * const acc = new FeatureStats(2); // 2-d features, for the example (Inception's are 2048-d)
 * acc.add(new Float32Array([1, 2, 3, 5, 4, 4]), 3); // 3 vectors, row-major
 * writeStats("stats.npz", acc.stats("unbiased")); // numpy.cov's 1 / (N - 1), as pytorch-fid
 * ```
 */
export function writeStats(path: string, s: Stats): void {
  const arrays: Record<string, NdArray> = {
    mu: { shape: [s.dim], dtype: "<f8", data: s.mu },
    sigma: { shape: [s.dim, s.dim], dtype: "<f8", data: s.sigma },
  };
  if (s.count > 0) arrays.num_images = { shape: [], dtype: "<i8", data: BigInt64Array.of(BigInt(s.count)) };
  writeFileAtomic(path, formatNpz(arrays));
}
