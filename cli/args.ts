/**
 * Argument parsing shared by the subcommands: node:util parseArgs in strict mode, with its errors
 * turned into one-line usage errors (exit code 2).
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UserError } from "../errors.ts";

/** Parses `args` with `options`; unknown flags and bad values become UserErrors naming the command. */
export function parse<T extends ParseArgsConfig["options"]>(
  _command: string,
  args: string[],
  options: T,
  allowPositionals = false,
) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (e) {
    throw new UserError((e as Error).message.split("\n")[0]);
  }
}

/** Parses an integer option, with a range check. */
export function intOption(
  name: string,
  value: string | undefined,
  fallback: number,
  min = -Infinity,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    throw new UserError(`--${name}: expected an integer >= ${min}, got "${value}"`);
  }
  return n;
}

/** Parses a finite number option. */
export function numberOption(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || value.trim() === "") {
    throw new UserError(`--${name}: expected a number, got "${value}"`);
  }
  return n;
}
