/**
 * A terminal progress bar with rate and ETA, written to stderr. On a terminal it redraws one line;
 * otherwise (CI logs) it prints a line at most every few seconds and at the end.
 */

import type { TransferReporter } from "../formats/download.ts";

/** Formats seconds as h:mm:ss or m:ss. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = h ? String(m).padStart(2, "0") : String(m);
  return `${h ? h + ":" : ""}${mm}:${String(r).padStart(2, "0")}`;
}

/** Progress of `total` units (images, frames, samples). */
export class Progress {
  readonly #start = performance.now();
  readonly #tty = Deno.stderr.isTerminal();
  #done = 0;
  #lastPrint = 0;
  readonly #enc = new TextEncoder();

  constructor(readonly label: string, readonly total: number, readonly unit = "it", readonly quiet = false) {}

  /** Adds `n` finished units and redraws. */
  tick(n = 1): void {
    this.#done += n;
    const now = performance.now();
    const interval = this.#tty ? 100 : 5000;
    if (this.#done < this.total && now - this.#lastPrint < interval) return;
    this.#lastPrint = now;
    this.#draw(now);
  }

  /** The line as it would be drawn now. */
  line(now = performance.now()): string {
    const elapsed = (now - this.#start) / 1000;
    const rate = this.#done / Math.max(elapsed, 1e-9);
    const eta = (this.total - this.#done) / rate;
    const frac = this.total ? this.#done / this.total : 1;
    const width = 24;
    const filled = Math.round(frac * width);
    const bar = "#".repeat(filled) + "-".repeat(width - filled);
    return `${this.label} [${bar}] ${this.#done}/${this.total} ${this.unit} ` +
      `${rate.toFixed(rate < 10 ? 2 : 1)} ${this.unit}/s elapsed ${formatDuration(elapsed)} ETA ${
        this.#done >= this.total ? "0:00" : formatDuration(eta)
      }`;
  }

  /** Ends the bar with a newline. */
  finish(): void {
    if (this.#tty && !this.quiet) Deno.stderr.writeSync(this.#enc.encode("\n"));
  }

  #draw(now: number): void {
    if (this.quiet) return;
    const text = this.line(now);
    Deno.stderr.writeSync(this.#enc.encode(this.#tty ? `\r\x1b[2K${text}` : `${text}\n`));
  }
}

/** A download reporter drawing {@link Progress} bars and notes on stderr (nothing when `quiet`). */
export function transferReporter(quiet = false): TransferReporter {
  return {
    bar: (label, total, unit) => new Progress(label, total, unit, quiet),
    note: (message) => {
      if (!quiet) console.error(message);
    },
  };
}
