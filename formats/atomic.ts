/**
 * Atomic output: every file sg3 writes goes to a temporary name beside the target and is renamed into
 * place only when complete, so an error or Ctrl-C never leaves a half-written file under the final name.
 */
import { basename, dirname, join } from "node:path";
import { UserError } from "../errors.ts";

/** Temporary files created and not yet renamed into place or removed (see {@link discardPendingTemps}). */
const pending = new Set<string>();

/**
 * Creates `path`'s folder and returns a fresh temporary path beside it (same file system, so the final
 * rename is atomic): `.<name, at most 100 characters>.<pid>.<random>.tmp`, short enough for any file name
 * that fits the file system. The path stays registered until {@link settleTemp}.
 */
export function tempPathFor(path: string): string {
  try {
    Deno.mkdirSync(dirname(path), { recursive: true });
  } catch (e) {
    throw new UserError(`${path}: cannot create its folder: ${(e as Error).message.split("\n")[0]}`);
  }
  const name = `.${basename(path).slice(0, 100)}.${Deno.pid}.${Math.random().toString(36).slice(2, 8)}.tmp`;
  const tmp = join(dirname(path), name);
  pending.add(tmp);
  return tmp;
}

/** Marks a temporary path as done with (renamed into place or removed). */
export function settleTemp(tmp: string): void {
  pending.delete(tmp);
}

/**
 * Removes every temporary file still pending: what a process ended by a signal (SIGTERM, SIGHUP, a
 * second Ctrl-C) does so that nothing half-written stays behind.
 */
export function discardPendingTemps(): void {
  for (const tmp of pending) {
    try {
      Deno.removeSync(tmp);
    } catch { /* not created yet, or already gone */ }
  }
  pending.clear();
}

/** Writes `data` to `path` atomically, creating the parent folder. */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const tmp = tempPathFor(path);
  try {
    if (typeof data === "string") Deno.writeTextFileSync(tmp, data);
    else Deno.writeFileSync(tmp, data);
    Deno.renameSync(tmp, path);
  } catch (e) {
    try {
      Deno.removeSync(tmp);
    } catch { /* the temp file may not exist */ }
    throw new UserError(`${path}: cannot write: ${(e as Error).message.split("\n")[0]}`);
  } finally {
    settleTemp(tmp);
  }
}
