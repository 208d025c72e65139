/**
 * The golden fixtures made by the official implementation live in ../shared/fixtures beside the project
 * (here and in CI, not in a user's clone). Tests that need them are registered as ignored, with the
 * missing folder in their name, when the folder is absent. SG3_FIXTURES overrides the location.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { existsSync } from "node:fs";
import type { TrainOptions } from "../models/config.ts";

/** The fixtures root folder. */
const FIXTURES = Deno.env.get("SG3_FIXTURES") ??
  fileURLToPath(new URL("../../shared/fixtures", import.meta.url));

/** Path of a file or folder inside the fixtures. */
export function fixture(...parts: string[]): string {
  return join(FIXTURES, ...parts);
}

/** Reads and parses a fixture folder's manifest.json. */
export function manifest(folder: string): any {
  return JSON.parse(Deno.readTextFileSync(fixture(folder, "manifest.json")));
}

/** Options passed through to Deno.test. */
export type TestOptions = Omit<Deno.TestDefinition, "name" | "fn" | "ignore">;

/** Registers a test that needs `fixture(folder)`; ignored, with the reason in its name, when it is missing. */
export function fixtureTest(
  name: string,
  folder: string,
  fn: () => void | Promise<void>,
  opts: TestOptions = {},
): void {
  const present = existsSync(fixture(folder));
  Deno.test({
    ...opts,
    name: present ? name : `${name} (ignored: fixtures folder ${fixture(folder)} not found)`,
    ignore: !present,
    fn,
  });
}

/**
 * The StyleGAN3 (T and R) networks of manifest("sg3").networks as [name, entry] pairs: the tiny StyleGAN2
 * fixture (arch "sg2") has no synthesis input or layer table of that kind.
 */
export function sg3FixtureNetworks(): [string, any][] {
  return Object.entries(manifest("sg3").networks).filter(([, net]: [string, any]) => net.arch === "sg3") as [
    string,
    any,
  ][];
}

/**
 * The train.py options that rebuild a network of manifest("sg3").networks from its recorded G_kwargs and
 * common_kwargs (train.py doubles --cbase/--cmax for config R, so they are halved back).
 */
export function fixtureTrainOptions(net: any): TrainOptions {
  const g = net.G_kwargs;
  const cfg = net.cfg === "r" ? "stylegan3-r" : "stylegan3-t";
  const r = cfg === "stylegan3-r" ? 2 : 1;
  return {
    cfg,
    res: net.common_kwargs.img_resolution,
    cbase: g.channel_base / r,
    cmax: g.channel_max / r,
    zDim: g.z_dim,
    wDim: g.w_dim,
    cDim: net.common_kwargs.c_dim,
    mappingLayers: g.mapping_kwargs.num_layers,
  };
}
