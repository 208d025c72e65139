/**
 * Per-adapter kernel tuning. Kernels with tiling choices list their candidate configurations (small
 * JSON objects) and ask {@link Tuner.pick} for one per shape; the tuner answers from its cache (the
 * winner measured earlier on this adapter and driver), else with the first candidate (each kernel's
 * default). `tuneWith` (gpu/tune.ts) measures: it runs a workload (e.g. one forward pass) once per candidate
 * round, every shape taking its round's candidate, times each dispatch with timestamp queries
 * (gpu/profile.ts), keeps per shape the fastest candidate and writes the cache.
 *
 * The cache is one human-readable JSON file, `tune.json` in sg3's cache folder (`$SG3_CACHE`, else
 * `$XDG_CACHE_HOME/sg3`, else `~/.cache/sg3`): `{ "version": 1, "adapters": { "<adapter key>":
 * { "<family> <shape>": { "variant": {...}, "ms": 1.23, "default_ms": 2.34 } } } }`, the adapter key naming
 * the adapter, its vendor/architecture/device and Deno's version (which fixes the WebGPU implementation).
 * The file access is in gpu/tune_cache.ts, which the viewer's browser build swaps for an in-memory cache.
 */
import {
  readTuneFile,
  runtimeName,
  tuneCachePath,
  type TuneEntry,
  type TuneFile,
  writeTuneFile,
} from "./tune_cache.ts";
import type { AdapterSummary } from "./adapter.ts";

/** What the tuner does: use the cache ("on"), or always the default candidate ("off"). */
export type TuneMode = "on" | "off";

export type { TuneEntry, TuneFile };
export { tuneCachePath };

/** The key of an adapter in the cache: its name, vendor, architecture, device and Deno's version. */
export function adapterKey(s: AdapterSummary): string {
  return [s.description, s.vendor, s.architecture, s.device, runtimeName()].join(" | ");
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
  /** While confirming: per shape the candidate each launch takes (the leader, or the default 0). */
  #confirming: Map<string, number> | null = null;

  constructor(summary: AdapterSummary, readonly path: () => string = tuneCachePath) {
    this.#key = adapterKey(summary);
  }

  /** The cached entries of this adapter (read on first use). */
  get entries(): Record<string, TuneEntry> {
    this.#entries ??= readTuneFile(this.path()).adapters[this.#key] ?? {};
    return this.#entries;
  }

  /**
   * The variant for kernel `family` at `shape` among `candidates` (the first is the default), and the
   * tag its dispatches are timed under while measuring.
   */
  pick<V>(family: string, shape: string, candidates: V[]): { variant: V; tag?: string } {
    const key = `${family} ${shape}`;
    const confirmed = this.#confirming?.get(key);
    if (confirmed !== undefined) return { variant: candidates[confirmed], tag: `${key}#${confirmed}` };
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

  /** Per shape met, the index of its fastest candidate in `times` (tag -> ms), where that is not the default. */
  leaders(times: Map<string, number>): Map<string, number> {
    const out = new Map<string, number>();
    for (const [key, candidates] of this.#met) {
      const best = fastest(key, candidates.length, times);
      if (best > 0) out.set(key, best);
    }
    return out;
  }

  /**
   * Starts (`leaders` given: each shape takes its leader when `leading`, else its default) or ends (null) a
   * confirmation run of {@link tuneWith}.
   */
  confirm(leaders: Map<string, number> | null, leading = true): void {
    // The other shapes take their usual choice, untimed.
    this.#round = null;
    this.#confirming = leaders && new Map([...leaders].map(([key, i]) => [key, leading ? i : 0]));
  }

  /**
   * Ends measuring; keeps the fastest candidate of each shape from `times` (tag -> ms) and saves. Where
   * `confirmed` (tag -> ms, from runs of the leaders against the defaults) times a shape's leader and default,
   * the leader is kept only if it beats the default there too, and those times are what the entry records.
   */
  finish(
    times: Map<string, number>,
    confirmed: Map<string, number> = new Map(),
  ): Record<string, TuneEntry> {
    this.#round = null;
    this.#confirming = null;
    const won: Record<string, TuneEntry> = {};
    for (const [key, candidates] of this.#met) {
      let best = fastest(key, candidates.length, times);
      const again = [confirmed.get(`${key}#${best}`), confirmed.get(`${key}#0`)];
      const pair = again.every((ms) => ms !== undefined) ? again as number[] : null;
      if (pair && pair[0] >= pair[1]) best = 0;
      const [bestMs, defaultMs] = pair
        ? [Math.min(...pair), pair[1]]
        : [times.get(`${key}#${best}`), times.get(`${key}#0`)];
      if (best >= 0 && bestMs !== undefined && defaultMs !== undefined) {
        won[key] = { variant: candidates[best], ms: round3(bestMs), default_ms: round3(defaultMs) };
      }
    }
    this.#met.clear();
    const file = readTuneFile(this.path());
    const entries = { ...(file.adapters[this.#key] ?? {}), ...won };
    file.adapters[this.#key] = entries;
    writeTuneFile(this.path(), file);
    this.#entries = entries;
    return won;
  }
}

/** The index of the least time among the tags `<key>#0` .. `<key>#<n - 1>` in `times`; -1 if none is timed. */
function fastest(key: string, n: number, times: Map<string, number>): number {
  let best = -1, bestMs = Infinity;
  for (let i = 0; i < n; i++) {
    const ms = times.get(`${key}#${i}`);
    if (ms !== undefined && ms < bestMs) [best, bestMs] = [i, ms];
  }
  return best;
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}
