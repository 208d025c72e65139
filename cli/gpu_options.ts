/**
 * The GPU options of every command that runs kernels: `--adapter` (which WebGPU adapter) and `--tune`
 * (whether kernel variants come from the tuning cache that `sg3 tune` writes, or are the defaults).
 */
import { UserError } from "../errors.ts";
import { Gpu } from "../gpu/device.ts";

/** parseArgs option definitions. */
export const GPU_OPTIONS = {
  adapter: { type: "string" },
  tune: { type: "string" },
} as const;

/** Their help lines, aligned with the commands' other options. */
export const GPU_HELP = `  --adapter NAME           WebGPU adapter choice
  --tune on|off            kernel variants tuned for this adapter by 'sg3 tune' (default on) or the defaults`;

/** Opens the GPU as the parsed {@link GPU_OPTIONS} say. */
export function openGpu(v: { adapter?: string; tune?: string }): Promise<Gpu> {
  const tune = v.tune ?? "on";
  if (tune !== "on" && tune !== "off") throw new UserError(`--tune: expected on or off, got "${tune}"`);
  return Gpu.open({ adapter: v.adapter, tune });
}
