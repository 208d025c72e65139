/**
 * Runs the sg3 CLI as a user would: in a subprocess, or in this process with its console output captured
 * (faster, and it shares the test's GPU device cache).
 */
import { main } from "../cli/main.ts";

/** A tiny random-initialised StyleGAN3-T (16 px) for subprocess tests: the `sg3 generate`/`video` options. */
export const TINY_NET = ["--cfg", "stylegan3-t", "--res", "16", "--cbase", "256", "--cmax", "16"];

/** Options of {@link sg3Command}. */
export interface Sg3CommandOptions {
  /** Environment beside XDG_RUNTIME_DIR (which is always set). */
  env?: Record<string, string>;
  stdout?: "piped" | "null";
  stderr?: "piped" | "null";
}

/** The CLI as a subprocess command, `sg3 args` (stdout and stderr piped unless said otherwise). */
export function sg3Command(args: string[], opts: Sg3CommandOptions = {}): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../cli/main.ts", import.meta.url).pathname, ...args],
    stdout: opts.stdout ?? "piped",
    stderr: opts.stderr ?? "piped",
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp", ...opts.env },
  });
}

/** Runs the CLI in a subprocess; returns exit code, stdout and stderr. */
export async function sg3(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await sg3Command(args).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Runs cli/main.ts's `main` in this process; returns its exit code, the stdout lines joined, and the stderr lines. */
export async function runMain(args: string[]): Promise<{ code: number; out: string; err: string[] }> {
  const out: string[] = [], err: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = (...a: unknown[]) => out.push(a.join(" "));
  console.error = (...a: unknown[]) => err.push(a.join(" "));
  try {
    return { code: await main(args), out: out.join("\n"), err };
  } finally {
    [console.log, console.error] = [log, error];
  }
}
