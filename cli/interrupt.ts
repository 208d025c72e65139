/**
 * Ctrl-C (SIGINT): commands that finish their work in hand on a first Ctrl-C (video, eq-metrics) own it while
 * they run; otherwise a Ctrl-C ends the process at once like SIGTERM, after removing pending temporary files
 * (exit code 130), so that no half-written output stays behind, not even mid-write.
 */
import { discardPendingTemps } from "../formats/atomic.ts";

let owners = 0;

/** Takes over Ctrl-C with `handler` until the returned release is called. */
export function ownInterrupt(handler: () => void): () => void {
  owners++;
  Deno.addSignalListener("SIGINT", handler);
  return () => {
    Deno.removeSignalListener("SIGINT", handler);
    owners--;
  };
}

/** The default Ctrl-C: when no command owns it, remove pending temporary files and exit 130. */
export function installDefaultInterrupt(): void {
  try {
    Deno.addSignalListener("SIGINT", () => {
      if (owners > 0) return;
      discardPendingTemps();
      Deno.exit(130);
    });
  } catch { /* no SIGINT listeners on this platform */ }
}
