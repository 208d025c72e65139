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

/**
 * Parses a list of integers and inclusive ranges as gen_images.py does: "0-3,7,10-11" -> [0,1,2,3,7,10,11].
 */
export function parseRangeList(name: string, value: string): number[] {
  const out: number[] = [];
  for (const part of value.split(",")) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw new UserError(`--${name}: expected numbers and ranges like 0-3,7, got "${value}"`);
    const a = Number(m[1]), b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) throw new UserError(`--${name}: range ${part.trim()} runs backwards`);
    if (b - a > 10_000_000) throw new UserError(`--${name}: range ${part.trim()} is too long`);
    for (let i = a; i <= b; i++) out.push(i);
  }
  return out;
}

/** Parses a comma-separated pair of numbers such as "0.3,-0.1" (gen_images.py's --translate). */
export function parsePair(
  name: string,
  value: string | undefined,
  fallback: [number, number],
): [number, number] {
  if (value === undefined) return fallback;
  const parts = value.split(",").map((s) => s.trim());
  const nums = parts.map(Number);
  if (parts.length !== 2 || parts.some((p) => p === "") || nums.some((n) => !Number.isFinite(n))) {
    throw new UserError(`--${name}: expected two comma-separated numbers like 0.3,0.1, got "${value}"`);
  }
  return [nums[0], nums[1]];
}
