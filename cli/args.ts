/**
 * Value parsers shared by the subcommands' option declarations (cli/options.ts): seed lists and number
 * pairs. They throw one-line UserErrors without the option name, which the option parser adds.
 */
import { UserError } from "../errors.ts";

/**
 * Parses a list of integers and inclusive ranges as gen_images.py does: "0-3,7,10-11" -> [0,1,2,3,7,10,11].
 * Values are numpy seeds, so below 2^32.
 */
export function parseRangeList(value: string): number[] {
  const out: number[] = [];
  for (const part of value.split(",")) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw new UserError(`expected numbers and ranges like 0-3,7, got "${value}"`);
    const a = Number(m[1]), b = m[2] === undefined ? a : Number(m[2]);
    if (b > 0xffffffff) throw new UserError(`${m[2] ?? m[1]} is not below 2^32 (numpy seeds are 32-bit)`);
    if (b < a) throw new UserError(`range ${part.trim()} runs backwards`);
    if (b - a > 10_000_000) throw new UserError(`range ${part.trim()} is too long`);
    for (let i = a; i <= b; i++) out.push(i);
  }
  return out;
}

/** Parses a comma-separated pair of numbers such as "0.3,-0.1" (gen_images.py's --translate). */
export function parsePair(value: string): [number, number] {
  const parts = value.split(",").map((s) => s.trim());
  const nums = parts.map(Number);
  if (parts.length !== 2 || parts.some((p) => p === "") || nums.some((n) => !Number.isFinite(n))) {
    throw new UserError(`expected two comma-separated numbers like 0.3,0.1, got "${value}"`);
  }
  return [nums[0], nums[1]];
}
