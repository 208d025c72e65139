/**
 * The options every network-using command shares: `--network` (a local .pkl, an http(s) URL or an official
 * short name such as stylegan3-t-ffhq-1024x1024; `--which G|G_ema`) or a random-initialised network
 * (`--cfg stylegan3-t|stylegan3-r|stylegan2 --res N`, `--cbase`/`--cmax` for small test configs).
 */
import { UserError } from "../errors.ts";
import { transferReporter } from "./progress.ts";
import { loadNetwork } from "../formats/snapshot.ts";
import { randomNetwork, randomNetworkWeights } from "../models/random_init.ts";

/** The largest random network built on request: 2^28 float32 convolution weights (1 GiB). */
const MAX_RANDOM_WEIGHTS = 2 ** 28;
import type { NetworkDescription } from "../formats/network.ts";
import type { Gpu } from "../gpu/device.ts";
import { Generator, type GeneratorOptions } from "../models/generator.ts";
import { calibrateMagnitudes } from "../models/calibrate.ts";
import { int, oneOf, text, type Values } from "./options.ts";

/** The network options, declared once (see cli/options.ts). */
export const NETWORK_OPTS = {
  network: text(
    "FILE|URL|NAME",
    "official .pkl snapshot, URL or short name (stylegan3-t-ffhq-1024x1024, ...)",
  ),
  which: oneOf("which generator of a training snapshot (default G_ema)", ["G_ema", "G"] as const),
  cfg: oneOf(
    "a random-initialised network instead (train.py's --cfg)",
    ["stylegan3-t", "stylegan3-r", "stylegan2"] as const,
  ),
  res: int("N", "its resolution, a power of two >= 16", undefined, 16, 8192),
  cbase: int("N", "its channel base (train.py's --cbase; default 32768)", undefined, 1),
  cmax: int("N", "its channel maximum (train.py's --cmax; default 512)", undefined, 1),
  "init-seed": int("N", "the seed of its random weights (default 0)", undefined, 0, 0xffffffff),
};

/** A network to open: a snapshot, or a random-initialised configuration (validated, nothing loaded). */
export type NetworkPlan =
  | { kind: "file"; source: string; which: "G_ema" | "G" }
  | {
    kind: "random";
    cfg: "stylegan3-t" | "stylegan3-r" | "stylegan2";
    res: number;
    cbase?: number;
    cmax?: number;
    seed: number;
  };

/**
 * Validates the network options: `--network` (with `--which`), or `--cfg` (with `--res`, `--cbase`, `--cmax`,
 * `--init-seed`), or the command's embedded default `fallback` when neither is given (else one is required).
 */
export function planNetwork(
  v: Values<typeof NETWORK_OPTS>,
  given: Set<string>,
  fallback?: { cfg: "stylegan3-t" | "stylegan3-r" | "stylegan2"; res: number; cbase?: number; cmax?: number },
): NetworkPlan {
  if (v.network !== undefined && v.cfg !== undefined) {
    throw new UserError("give either --network or --cfg, not both");
  }
  if (v.network !== undefined) {
    const cfgOnly = ["res", "cbase", "cmax", "init-seed"].find((k) => given.has(k));
    if (cfgOnly) {
      throw new UserError(`--${cfgOnly} applies to random-initialised networks (--cfg), not to --network`);
    }
    if (v.network === "") throw new UserError("--network: empty name");
    return { kind: "file", source: v.network, which: v.which ?? "G_ema" };
  }
  if (v.which !== undefined) {
    throw new UserError("--which needs --network (it picks G or G_ema of a snapshot)");
  }
  const base = v.cfg !== undefined ? { cfg: v.cfg, res: 256 } : fallback;
  if (!base) {
    throw new UserError(
      "no network: give --network FILE|URL|NAME or --cfg stylegan3-t|stylegan3-r|stylegan2",
    );
  }
  const res = v.res ?? base.res;
  if (Math.log2(res) % 1 !== 0) {
    throw new UserError(`--res: expected a power of two such as 256, 512, 1024, got ${res}`);
  }
  const fb = v.cfg === undefined ? fallback : undefined;
  const plan = {
    kind: "random" as const,
    cfg: base.cfg,
    res,
    cbase: v.cbase ?? fb?.cbase,
    cmax: v.cmax ?? fb?.cmax,
    seed: v["init-seed"] ?? 0,
  };
  const weights = randomNetworkWeights(plan);
  if (weights > MAX_RANDOM_WEIGHTS) {
    const size = `${plan.cbase ? ` --cbase ${plan.cbase}` : ""}${plan.cmax ? ` --cmax ${plan.cmax}` : ""}`;
    throw new UserError(
      `--cfg ${plan.cfg} --res ${res}${size}: ${weights.toExponential(2)} convolution weights, more than ` +
        `${MAX_RANDOM_WEIGHTS.toExponential(2)} (1 GiB)`,
    );
  }
  return plan;
}

/** Loads or builds the planned network. */
export async function openNetwork(plan: NetworkPlan): Promise<ChosenNetwork> {
  if (plan.kind === "file") {
    const net = await loadNetwork(plan.source, { which: plan.which, report: transferReporter() });
    return { net, label: plan.source, random: false };
  }
  const { cfg, res, cbase, cmax, seed } = plan;
  return {
    net: randomNetwork({ cfg, res, cbase, cmax, seed }),
    random: true,
    label: `random-init ${cfg} ${res}x${res}${cbase ? ` cbase ${cbase}` : ""}${cmax ? ` cmax ${cmax}` : ""}`,
  };
}

/** The embedded default network of `generate`, `video` and `tune`: a random-initialised StyleGAN3-T. */
export const EMBEDDED = { cfg: "stylegan3-t", res: 128, cbase: 4096, cmax: 128 } as const;

/** The network a command runs, and a short label for reports. */
export interface ChosenNetwork {
  net: NetworkDescription;
  label: string;
  /** A random-initialised network, which needs magnitude calibration before it draws anything. */
  random: boolean;
}

/**
 * Throws when a run moves StyleGAN3's input transform (`what` names the options, e.g. "--motion") on a
 * network that has none (StyleGAN2).
 */
export function requireInputTransform(chosen: ChosenNetwork, what: string): void {
  if (chosen.net.arch === "stylegan2" || !chosen.net.tensors.has("synthesis.input.transform")) {
    throw new UserError(
      `${what}: this ${chosen.net.arch} network has no input transform (synthesis.input.transform); only ` +
        "StyleGAN3 (T, R) networks take image transformations, StyleGAN2 networks have none",
    );
  }
}

/** The generator of a chosen network on `gpu`; random-initialised networks are calibrated first. */
export async function openGenerator(
  gpu: Gpu,
  chosen: ChosenNetwork,
  opts: GeneratorOptions = {},
): Promise<Generator> {
  if (chosen.random) await calibrateMagnitudes(gpu, chosen.net);
  return Generator.create(gpu, chosen.net, opts);
}
