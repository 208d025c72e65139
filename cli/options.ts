/**
 * Command-line options declared once: each option states its value name (or none for a switch), its help,
 * its default and how its text becomes a checked value; the parse table (node:util parseArgs, strict), the
 * conversion and validation, and the help lines are generated from that one declaration. Options shared by
 * several commands (GPU, network, batch, ...) are declared in the modules that own them and spread into each
 * command's table. Every problem is a one-line UserError naming the option (exit code 2).
 */
import { parseArgs } from "node:util";
import { UserError } from "../errors.ts";

/** One option. `arg` absent: a switch (true when given); present: takes a value shown as `arg` in the help. */
export interface Opt<T> {
  /** The value's name in the help (N, FILE, LIST, ...); absent for switches. */
  arg?: string;
  /** The help text; lines after the first are indented under it. */
  help: string;
  /** The value when the option is not given (stated in the help unless `hideDefault`). */
  default?: T;
  /** Do not append "(default ...)" to the help (the help words the default itself). */
  hideDefault?: boolean;
  /** How the default is written in the help (default: String(default)). */
  shown?: string;
  /** Converts and checks the given text; throws UserErrors without the option name (it is added). */
  parse?: (text: string) => T;
  /** The option may repeat; its value is the list of given values (see {@link list}). */
  multiple?: boolean;
}

/** An option with a default: its value is always set. */
export type WithDefault<T> = Opt<T> & { default: T };

/** A command's option table. */
export type OptionTable = Record<string, Opt<unknown>>;

/** The parsed values: T where a default exists, else T | undefined. */
export type Values<O extends OptionTable> = {
  [K in keyof O]: O[K] extends { default: infer T } ? T : O[K] extends Opt<infer T> ? T | undefined : never;
};

/** A switch (false unless given). */
export function flag(help: string): WithDefault<boolean> {
  return { help, default: false, parse: () => true };
}

/** A string-valued option. */
export function text(arg: string, help: string): Opt<string>;
export function text(arg: string, help: string, fallback: string): WithDefault<string>;
export function text(arg: string, help: string, fallback?: string): Opt<string> {
  return { arg, help, default: fallback, parse: (s) => s };
}

/** An integer option within [min, max]. */
export function int(arg: string, help: string, fallback?: undefined, min?: number, max?: number): Opt<number>;
export function int(
  arg: string,
  help: string,
  fallback: number,
  min?: number,
  max?: number,
): WithDefault<number>;
export function int(arg: string, help: string, fallback?: number, min?: number, max?: number): Opt<number> {
  return numeric(true, arg, help, fallback, min, max);
}

/** A finite number option within [min, max]. */
export function num(arg: string, help: string, fallback?: undefined, min?: number, max?: number): Opt<number>;
export function num(
  arg: string,
  help: string,
  fallback: number,
  min?: number,
  max?: number,
): WithDefault<number>;
export function num(arg: string, help: string, fallback?: number, min?: number, max?: number): Opt<number> {
  return numeric(false, arg, help, fallback, min, max);
}

/** A numeric option (integers only when `integer`) within [min, max]. */
function numeric(
  integer: boolean,
  arg: string,
  help: string,
  fallback: number | undefined,
  min = -Infinity,
  max = Infinity,
): Opt<number> {
  const range = min === -Infinity && max === Infinity
    ? ""
    : max === Infinity
    ? ` >= ${min}`
    : min === -Infinity
    ? ` <= ${max}`
    : ` in ${min}..${max}`;
  return {
    arg,
    help,
    default: fallback,
    parse: (s) => {
      const n = Number(s);
      const ok = s.trim() !== "" && (integer ? Number.isInteger(n) : Number.isFinite(n)) && n >= min &&
        n <= max;
      if (!ok) throw new UserError(`expected ${integer ? "an integer" : "a number"}${range}, got "${s}"`);
      return n;
    },
  };
}

/** An option taking one of `choices`. */
export function oneOf<C extends string>(help: string, choices: readonly C[]): Opt<C>;
export function oneOf<C extends string>(help: string, choices: readonly C[], fallback: C): WithDefault<C>;
export function oneOf<C extends string>(help: string, choices: readonly C[], fallback?: C): Opt<C> {
  return {
    arg: choices.join("|"),
    help,
    default: fallback,
    parse: (s) => {
      if (!(choices as readonly string[]).includes(s)) {
        throw new UserError(`expected ${choices.join(", ")}, got "${s}"`);
      }
      return s as C;
    },
  };
}

/** A string option that may repeat; its value lists the given values in order (empty when absent). */
export function list(arg: string, help: string): WithDefault<string[]> {
  return { arg, help, default: [], hideDefault: true, multiple: true };
}

/** An option with a custom conversion. */
export function custom<T>(arg: string, help: string, parse: (text: string) => T): Opt<T>;
export function custom<T>(arg: string, help: string, parse: (text: string) => T, fallback: T): WithDefault<T>;
export function custom<T>(arg: string, help: string, parse: (text: string) => T, fallback?: T): Opt<T> {
  return { arg, help, parse, default: fallback };
}

/** Parses `args` by `table`; returns the values, which options were given, and the positionals. */
export function parseOptions<O extends OptionTable>(
  args: string[],
  table: O,
  positionals = false,
): { values: Values<O>; given: Set<keyof O & string>; positionals: string[] } {
  const config = Object.fromEntries(
    Object.entries(table).map(([name, o]) => [
      name,
      { type: o.arg === undefined ? "boolean" : "string", multiple: o.multiple ?? false } as const,
    ]),
  );
  let parsed;
  try {
    parsed = parseArgs({ args, options: config, allowPositionals: positionals, strict: true });
  } catch (e) {
    throw new UserError((e as Error).message.split("\n")[0]);
  }
  const values: Record<string, unknown> = {};
  const given = new Set<keyof O & string>();
  for (const [name, o] of Object.entries(table)) {
    const raw = (parsed.values as Record<string, string | string[] | boolean | undefined>)[name];
    if (raw === undefined) {
      values[name] = o.default;
      continue;
    }
    given.add(name as keyof O & string);
    try {
      values[name] = typeof raw === "boolean"
        ? true
        : Array.isArray(raw)
        ? raw
        : (o.parse ?? ((s: string) => s))(raw);
    } catch (e) {
      if (e instanceof UserError) throw new UserError(`--${name}: ${e.message}`);
      throw e;
    }
  }
  return { values: values as Values<O>, given, positionals: parsed.positionals };
}

/** Width of the option column of help lines. */
const COLUMN = 25;

/** The help lines of `table`, aligned: "  --name ARG   help (default X)". */
export function optionHelp(table: OptionTable): string {
  return Object.entries(table).map(([name, o]) => {
    const head = `  --${name}${o.arg ? ` ${o.arg}` : ""}`;
    const shown = o.default !== undefined && !o.hideDefault && o.arg
      ? ` (default ${o.shown ?? o.default})`
      : "";
    const [first, ...rest] = `${o.help}${shown}`.split("\n");
    const pad = " ".repeat(COLUMN);
    const line = head.length < COLUMN ? head.padEnd(COLUMN) + first : `${head}\n${pad}${first}`;
    return [line, ...rest.map((r) => pad + r)].join("\n");
  }).join("\n");
}

/**
 * A command's usage text: synopsis, description, the option help (one table, or sections of
 * [heading, table]) and a footer.
 */
export function usage(
  synopsis: string,
  description: string,
  options: OptionTable | [string, OptionTable][],
  footer = "",
): string {
  const help = Array.isArray(options)
    ? options.map(([heading, table]) => `  ${heading}\n${optionHelp(table)}`).join("\n")
    : optionHelp(options);
  return [synopsis, description, help, footer].filter((s) => s).join("\n");
}

/** Throws when options of `names` were given although they do not apply (`why` completes the sentence). */
export function refuse(given: Set<string>, names: readonly string[], why: string): void {
  const bad = names.find((n) => given.has(n));
  if (bad) throw new UserError(`--${bad} ${why}`);
}
