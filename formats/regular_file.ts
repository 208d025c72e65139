/** Input files must be regular files: reading a FIFO or a device blocks or never ends. */
import { UserError } from "../errors.ts";

/**
 * `path` when it is a regular file (or a link to one); a folder, FIFO, socket or device is refused, since
 * reading a FIFO or a device would block or never end.
 */
export function requireRegularFile(path: string): string {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (e) {
    throw new UserError(`${path}: cannot read: ${(e as Error).message.split("\n")[0]}`);
  }
  if (!info.isFile) {
    throw new UserError(
      `${path}: not a regular file (${info.isDirectory ? "a folder" : "a FIFO, socket or device"})`,
    );
  }
  return path;
}
