/**
 * Options shared by several commands, declared once (cli/options.ts): the GPU (`--adapter`, `--tune`), the
 * batch size, `--fp16`, `--quiet` and `--json`.
 */
import { Gpu } from "../gpu/device.ts";
import { flag, int, oneOf, text, type Values } from "./options.ts";

/** `--adapter` and `--tune`. */
export const GPU_OPTS = {
  adapter: text("NAME", "WebGPU adapter: high-performance, low-power or part of its name"),
  tune: oneOf(
    "kernel variants tuned for this adapter by 'sg3 tune', or the defaults",
    ["on", "off"] as const,
    "on",
  ),
};

/** Opens the GPU as {@link GPU_OPTS} say. */
export function openGpu(v: Values<typeof GPU_OPTS>): Promise<Gpu> {
  return Gpu.open({ adapter: v.adapter, tune: v.tune });
}

/** `--batch N`: items per GPU batch. */
export function batchOption(what: string, fallback: number) {
  return { batch: int("N", `${what} per GPU batch`, fallback, 1, 65536) };
}

/** `--fp16`. */
export const FP16_OPT = {
  fp16: flag("keep the layers the network marks use_fp16 in float16 (needs shader-f16)"),
};

/** `--quiet`. */
export const QUIET_OPT = { quiet: flag("no progress bar") };

/** `--json`. */
export const JSON_OPT = { json: flag("print the results as JSON") };
