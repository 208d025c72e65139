/**
 * The options every network-using command shares: `--network` (a local .pkl, an http(s) URL or an official
 * short name such as stylegan3-t-ffhq-1024x1024; `--which G|G_ema`) or a random-initialised network
 * (`--cfg stylegan3-t|stylegan3-r|stylegan2 --res N`, `--cbase`/`--cmax` for small test configs).
 */
import { UserError } from "../errors.ts";
import { transferReporter } from "./progress.ts";
import { loadNetwork } from "../formats/snapshot.ts";
import { randomNetwork } from "../models/random_init.ts";
import type { NetworkDescription } from "../formats/network.ts";
import { intOption } from "./args.ts";
import type { Gpu } from "../gpu/device.ts";
import { Generator, type GeneratorOptions } from "../models/generator.ts";
import { calibrateMagnitudes } from "../models/calibrate.ts";

/** The embedded default network of `generate`, `video` and `tune`: a random-initialised StyleGAN3-T. */
export const EMBEDDED_DEFAULT = { cfg: "stylegan3-t", res: "128", cbase: "4096", cmax: "128" } as const;

/** parseArgs option definitions for choosing a network. */
export const NETWORK_OPTIONS = {
  network: { type: "string" },
  which: { type: "string" },
  cfg: { type: "string" },
  res: { type: "string" },
  cbase: { type: "string" },
  cmax: { type: "string" },
  "init-seed": { type: "string" },
} as const;

/** Parsed values of {@link NETWORK_OPTIONS}. */
export interface NetworkValues {
  network?: string;
  which?: string;
  cfg?: string;
  res?: string;
  cbase?: string;
  cmax?: string;
  "init-seed"?: string;
}

/** The network a command runs, and a short label for reports. */
export interface ChosenNetwork {
  net: NetworkDescription;
  label: string;
  /** A random-initialised network, which needs magnitude calibration before it draws anything. */
  random: boolean;
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

/**
 * Loads `--network`, or builds the random-initialised `--cfg` network; `fallbackCfg` is used when neither
 * is given (commands with an embedded default), otherwise one of them is required.
 */
export async function chooseNetwork(v: NetworkValues, fallbackCfg?: NetworkValues): Promise<ChosenNetwork> {
  if (v.network !== undefined && v.cfg !== undefined) {
    throw new UserError("give either --network or --cfg, not both");
  }
  if (v.network !== undefined) {
    const cfgOnly = (["res", "cbase", "cmax", "init-seed"] as const).filter((k) => v[k] !== undefined);
    if (cfgOnly.length) {
      throw new UserError(`--${cfgOnly[0]} applies to random-initialised networks (--cfg), not to --network`);
    }
    const which = v.which ?? "G_ema";
    if (which !== "G" && which !== "G_ema") {
      throw new UserError(`--which: expected G or G_ema, got "${which}"`);
    }
    return {
      net: await loadNetwork(v.network, { which, report: transferReporter() }),
      label: v.network,
      random: false,
    };
  }
  if (v.which !== undefined) {
    throw new UserError("--which needs --network (it picks G or G_ema of a snapshot)");
  }
  const c = v.cfg !== undefined ? v : fallbackCfg;
  if (!c?.cfg) {
    throw new UserError(
      "no network: give --network FILE|URL|NAME or --cfg stylegan3-t|stylegan3-r|stylegan2",
    );
  }
  if (c.cfg !== "stylegan3-t" && c.cfg !== "stylegan3-r" && c.cfg !== "stylegan2") {
    throw new UserError(`--cfg: expected stylegan3-t, stylegan3-r or stylegan2, got "${c.cfg}"`);
  }
  const res = intOption("res", v.res ?? c.res, 256, 16);
  if (Math.log2(res) % 1 !== 0) {
    throw new UserError(`--res: expected a power of two such as 256, 512, 1024, got ${res}`);
  }
  const cbase = v.cbase ?? c.cbase, cmax = v.cmax ?? c.cmax;
  const seed = intOption("init-seed", v["init-seed"] ?? c["init-seed"], 0, 0);
  const net = randomNetwork({
    cfg: c.cfg,
    res,
    cbase: cbase === undefined ? undefined : intOption("cbase", cbase, 0, 1),
    cmax: cmax === undefined ? undefined : intOption("cmax", cmax, 0, 1),
    seed,
  });
  return {
    net,
    random: true,
    label: `random-init ${c.cfg} ${res}x${res}${cbase ? ` cbase ${cbase}` : ""}${
      cmax ? ` cmax ${cmax}` : ""
    }`,
  };
}
