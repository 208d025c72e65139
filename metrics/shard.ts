/**
 * Splitting a run's work into n shards for job arrays: shard k of n takes the contiguous block
 * [floor(k N / n), floor((k + 1) N / n)) of the run's N global indices (generated samples, sorted dataset
 * items, EQ samples, video frames), so the shards are disjoint, cover the run exactly and each does the
 * unsharded run's work for its indices. `auto` reads the shard from the environment a scheduler sets.
 */
import { UserError } from "../errors.ts";

/** Shard `index` of `count` (0 <= index < count). */
export interface Shard {
  index: number;
  count: number;
}

/** A half-open range [start, end) of global indices. */
export type IndexRange = [number, number];

/** The global indices of `total` that `shard` takes. */
export function shardRange(total: number, shard: Shard): IndexRange {
  return [
    Math.floor((shard.index * total) / shard.count),
    Math.floor(((shard.index + 1) * total) / shard.count),
  ];
}

/** "k/n", as shards are written in messages and files. */
export function formatShard(s: Shard): string {
  return `${s.index}/${s.count}`;
}

const MAX_SHARDS = 1_000_000;

function whole(text: string | undefined, what: string): number {
  const n = Number(text);
  if (text === undefined || text.trim() === "" || !Number.isSafeInteger(n) || n < 0) {
    throw new UserError(`${what}: expected a non-negative integer, got "${text}"`);
  }
  return n;
}

/** Parses "k/n" (0 <= k < n <= 10^6); `what` names the text's origin in errors. */
function parseKn(text: string, what: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) throw new UserError(`${what}: expected k/n such as 0/4, got "${text}"`);
  const index = Number(m[1]), count = Number(m[2]);
  if (count < 1 || count > MAX_SHARDS || index >= count) {
    throw new UserError(`${what}: expected 0 <= k < n <= ${MAX_SHARDS}, got "${text}"`);
  }
  return { index, count };
}

/**
 * Parses a shard: "k/n", or "auto" / "auto/n" from `env` (in this order):
 * - SG3_SHARD=k/n;
 * - SLURM_ARRAY_TASK_ID (minus SLURM_ARRAY_TASK_MIN, so arrays like --array=1-8 work) of
 *   SLURM_ARRAY_TASK_COUNT tasks;
 * - JOB_COMPLETION_INDEX (a Kubernetes Indexed Job, which states no count) with the count n of "auto/n".
 * A count given as "auto/n" must agree with the environment's.
 */
export function parseShard(text: string, env: Record<string, string | undefined>): Shard {
  const auto = /^\s*auto\s*(?:\/\s*(\d+)\s*)?$/.exec(text);
  if (!auto) return parseKn(text, "shard");
  const given = auto[1] === undefined ? undefined : Number(auto[1]);
  let shard: Shard;
  if (env.SG3_SHARD !== undefined) {
    shard = parseKn(env.SG3_SHARD, "SG3_SHARD");
  } else if (env.SLURM_ARRAY_TASK_ID !== undefined) {
    const id = whole(env.SLURM_ARRAY_TASK_ID, "SLURM_ARRAY_TASK_ID");
    const min = env.SLURM_ARRAY_TASK_MIN === undefined
      ? 0
      : whole(env.SLURM_ARRAY_TASK_MIN, "SLURM_ARRAY_TASK_MIN");
    const count = env.SLURM_ARRAY_TASK_COUNT === undefined
      ? given
      : whole(env.SLURM_ARRAY_TASK_COUNT, "SLURM_ARRAY_TASK_COUNT");
    if (count === undefined) {
      throw new UserError("SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not");
    }
    shard = parseKn(
      `${id - min}/${count}`,
      "SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN / SLURM_ARRAY_TASK_COUNT",
    );
  } else if (env.JOB_COMPLETION_INDEX !== undefined) {
    if (given === undefined) {
      throw new UserError(
        "JOB_COMPLETION_INDEX states no shard count: write auto/n with n = the Job's completions",
      );
    }
    shard = parseKn(
      `${whole(env.JOB_COMPLETION_INDEX, "JOB_COMPLETION_INDEX")}/${given}`,
      "JOB_COMPLETION_INDEX/n",
    );
  } else {
    throw new UserError("auto: none of SG3_SHARD, SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX is set");
  }
  if (given !== undefined && given !== shard.count) {
    throw new UserError(`auto/${given}: the environment says ${shard.count} shards`);
  }
  return shard;
}
