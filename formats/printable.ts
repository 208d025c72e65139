/**
 * Error lines stay one line: control characters that file names or file contents bring into a message
 * (newlines, escape sequences, NULs) are shown escaped, as \xNN.
 */

// deno-lint-ignore no-control-regex -- finding control characters is the point
const CONTROL = /[\x00-\x1f\x7f]/g;

/** `s` with every control character escaped as \xNN. */
export function printable(s: string): string {
  return s.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}
