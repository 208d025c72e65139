/**
 * Per-adapter kernel tuning. Kernels with tiling choices list their candidate configurations (small
 * JSON objects) and ask {@link Tuner.pick} for one per shape; the tuner answers from its cache (the
 * winner measured earlier on this adapter and driver), else with the first candidate (each kernel's
 * default). {@link tuneWith} measures: it runs a workload (e.g. one forward pass) once per candidate
 * round, every shape taking its round's candidate, times each dispatch with timestamp queries
 * (gpu/profile.ts), keeps per shape the fastest candidate and writes the cache.
 *
 * The cache is one human-readable JSON file, `tune.json` in sg3's cache folder (`$SG3_CACHE`, else
 * `$XDG_CACHE_HOME/sg3`, else `~/.cache/sg3`): `{ "version": 1, "adapters": { "<adapter key>":
 * { "<family> <shape>": { "variant": {...}, "ms": 1.23, "default_ms": 2.34 } } } }`, the adapter key naming
 * the adapter, its vendor/architecture/device and Deno's version (which fixes the WebGPU implementation).
 */
import { join } from "node:path";
import { existsSync } from "node:fs";
import { writeFileAtomic } from "../formats/atomic.ts";
import { cacheDir } from "../formats/download.ts";
import type { AdapterSummary } from "./adapter.ts";
import { OpProfiler } from "./profile.ts";
import type { Gpu } from "./device.ts";

/** What the tuner does: use the cache ("on"), or always the default candidate ("off"). */
export type TuneMode = "on" | "off";

/** One tuned shape in the cache. */
export interface TuneEntry {
  variant: unknown;
  /** GPU time of the winner and of the default candidate, ms per run of the tuning workload. */
  ms: number;
  default_ms: number;
}

interface TuneFile {
  version: 1;
  adapters: Record<string, Record<string, TuneEntry>>;
}

/** The cache file's path. */
export function tuneCachePath(): string {
  return join(cacheDir(), "tune.json");
}

/** The key of an adapter in the cache: its name, vendor, architecture, device and Deno's version. */
export function adapterKey(s: AdapterSummary): string {
  return [s.description, s.vendor, s.architecture, s.device, `deno ${Deno.version.deno}`].join(" | ");
}

function readFile(path: string): TuneFile {
  if (!existsSync(path)) return { version: 1, adapters: {} };
  try {
    const data = JSON.parse(Deno.readTextFileSync(path));
    if (data?.version === 1 && typeof data.adapters === "object") return data;
  } catch {
    // A damaged cache is rebuilt: tuning results are only a speed hint.
  }
  return { version: 1, adapters: {} };
}

/** Chooses kernel variants per shape for one device. */
export class Tuner {
  mode: TuneMode = "on";
  /** Measure shapes that are cached already (else measuring skips them). */
  retune = false;
  readonly #key: string;
  #entries: Record<string, TuneEntry> | null = null;
  /** While measuring: the round (candidate index) and the shapes met with their candidate lists. */
  #round: number | null = null;
  readonly #met = new Map<string, unknown[]>();

  constructor(summary: AdapterSummary, readonly path: () => string = tuneCachePath) {
    this.#key = adapterKey(summary);
  }

  /** The cached entries of this adapter (read on first use). */
  get entries(): Record<string, TuneEntry> {
    this.#entries ??= readFile(this.path()).adapters[this.#key] ?? {};
    return this.#entries;
  }

  /**
   * The variant for kernel `family` at `shape` among `candidates` (the first is the default), and the
   * tag its dispatches are timed under while measuring.
   */
  pick<V>(family: string, shape: string, candidates: V[]): { variant: V; tag?: string } {
    const key = `${family} ${shape}`;
    if (this.#round !== null && (this.retune || !this.entries[key]) && candidates.length > 1) {
      this.#met.set(key, candidates);
      const i = this.#round % candidates.length;
      return { variant: candidates[i], tag: `${key}#${i}` };
    }
    if (this.mode === "off") return { variant: candidates[0] };
    const cached = this.entries[key];
    if (cached) {
      const want = JSON.stringify(cached.variant);
      const hit = candidates.find((c) => JSON.stringify(c) === want);
      if (hit) return { variant: hit };
    }
    return { variant: candidates[0] };
  }

  /** Rounds a measurement needs: the longest candidate list met so far. */
  get rounds(): number {
    return Math.max(1, ...[...this.#met.values()].map((c) => c.length));
  }

  /** Starts measuring with candidate round `round` (see {@link tuneWith}). */
  beginRound(round: number): void {
    this.#round = round;
  }

  /** Ends measuring; keeps the fastest candidate of each shape from `times` (tag -> ms) and saves. */
  finish(times: Map<string, number>): Record<string, TuneEntry> {
    this.#round = null;
    const won: Record<string, TuneEntry> = {};
    for (const [key, candidates] of this.#met) {
      let best = -1, bestMs = Infinity;
      candidates.forEach((_, i) => {
        const ms = times.get(`${key}#${i}`);
        if (ms !== undefined && ms < bestMs) [best, bestMs] = [i, ms];
      });
      const defaultMs = times.get(`${key}#0`);
      if (best >= 0 && defaultMs !== undefined) {
        won[key] = { variant: candidates[best], ms: round3(bestMs), default_ms: round3(defaultMs) };
      }
    }
    this.#met.clear();
    const file = readFile(this.path());
    const entries = { ...(file.adapters[this.#key] ?? {}), ...won };
    file.adapters[this.#key] = entries;
    writeFileAtomic(this.path(), JSON.stringify(file, null, 1) + "\n");
    this.#entries = entries;
    return won;
  }
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}

/**
 * Tunes every tunable kernel that `workload` launches: one round per candidate index (as many as the
 * longest candidate list), each run `reps` times, keeping per tag (kernel, shape, candidate) the least
 * GPU time of a run. Needs `timestamp-query`; returns the new cache entries.
 */
export async function tuneWith(
  gpu: Gpu,
  workload: () => Promise<void>,
  opts: { reps?: number; maxRounds?: number; onRound?: (round: number, rounds: number) => void } = {},
): Promise<Record<string, TuneEntry>> {
  if (!gpu.profilable) throw new Error("this adapter has no timestamp-query feature, which tuning needs");
  const profiler = new OpProfiler(gpu.device);
  const times = new Map<string, number>();
  let rounds = 1;
  try {
    for (let round = 0; round < rounds; round++) {
      gpu.tuner.beginRound(round);
      for (let rep = 0; rep < (opts.reps ?? 2); rep++) {
        gpu.submission.profiler = profiler;
        profiler.reset();
        await workload();
        await gpu.sync();
        await profiler.drain();
        // A candidate's time is its GPU time over the whole workload (all its dispatches: a variant may
        // take several passes, and a shape may occur several times).
        for (const [tag, t] of profiler.tagged) times.set(tag, Math.min(times.get(tag) ?? Infinity, t.ms));
      }
      // The first round met every shape: now the number of rounds is known (1 if all are cached).
      if (round === 0) rounds = Math.min(opts.maxRounds ?? Infinity, gpu.tuner.rounds);
      opts.onRound?.(round + 1, rounds);
    }
  } finally {
    gpu.submission.profiler = null;
  }
  return gpu.tuner.finish(times);
}
