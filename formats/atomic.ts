/**
 * Atomic output: every file sg3 writes goes to a temporary name beside the target and is renamed into
 * place only when complete, so an error or Ctrl-C never leaves a half-written file under the final name.
 */
import { dirname } from "node:path";
import { UserError } from "../errors.ts";

/**
 * Creates `path`'s folder and returns a fresh temporary path beside it (same file system, so the final
 * rename is atomic).
 */
export function tempPathFor(path: string): string {
  try {
    Deno.mkdirSync(dirname(path), { recursive: true });
  } catch (e) {
    throw new UserError(`${path}: cannot create its folder: ${(e as Error).message.split("\n")[0]}`);
  }
  return `${path}.${Deno.pid}.${Math.random().toString(36).slice(2, 8)}.tmp`;
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
  }
}
