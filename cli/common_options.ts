/**
 * Options shared by several commands, declared once (cli/options.ts): the GPU (`--adapter`, `--tune`), the
 * batch size, `--fp16`, `--quiet`, `--json`, and sharding (`--shard`, `--partial`).
 */
import { UserError } from "../errors.ts";
import { Gpu } from "../gpu/device.ts";
import { parseShard, type Shard } from "../metrics/shard.ts";
import { custom, flag, int, oneOf, text, type Values } from "./options.ts";

/** `--adapter` and `--tune`. */
export const GPU_OPTS = {
  adapter: text("NAME", "WebGPU adapter: high-performance, low-power or part of its name"),
  tune: oneOf(
    "kernel variants: on = the tuning cache of 'sg3 tune', and on hardware adapters the shapes it lacks\nare tuned the first time a run meets them; off = the defaults",
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

/** `--shard k/n|auto[/n]`: this process does shard k of n of the run's work (metrics/shard.ts). */
export const SHARD_OPT = {
  shard: custom(
    "k/n|auto",
    "do only shard k of n (0 <= k < n) of the work; auto: from SG3_SHARD=k/n,\nSLURM_ARRAY_TASK_ID/_COUNT, or JOB_COMPLETION_INDEX with auto/n",
    (text) => parseShard(text, Deno.env.toObject()),
  ),
};

/** `--shard` and `--partial FILE`, for the metrics whose shards `sg3 merge` combines. */
export const PARTIAL_OPTS = {
  ...SHARD_OPT,
  partial: text("FILE", "write this shard's sums to FILE.npz (combine the parts with sg3 merge)"),
};

/** A sharded metric run: which shard, and the partial-result file it writes. */
export interface ShardPlan {
  shard: Shard;
  partial: string;
}

/**
 * Checks {@link PARTIAL_OPTS}: `--shard` needs `--partial` (its result is only a part); `--partial` alone is
 * shard 0/1 (the whole run as one part); `gated` options (gates, whole-run outputs) belong to `sg3 merge`.
 */
export function planShard(
  v: Values<typeof PARTIAL_OPTS>,
  given: Set<string>,
  gated: readonly string[],
): ShardPlan | null {
  if (v.partial === undefined) {
    if (v.shard) throw new UserError("--shard needs --partial FILE (combine the parts with sg3 merge)");
    return null;
  }
  if (!v.partial.endsWith(".npz")) throw new UserError(`--partial ${v.partial}: expected a .npz file name`);
  const bad = gated.find((n) => given.has(n));
  if (bad) {
    throw new UserError(`--${bad} applies to the whole run: give it to sg3 merge instead of --partial`);
  }
  return { shard: v.shard ?? { index: 0, count: 1 }, partial: v.partial };
}
