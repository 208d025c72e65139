/**
 * Runs the sg3 CLI as a user would: in a subprocess, or in this process with its console output captured
 * (faster, and it shares the test's GPU device cache).
 */
import { main } from "../cli/main.ts";

/** Runs the CLI in a subprocess; returns exit code, stdout and stderr. */
export async function sg3(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../cli/main.ts", import.meta.url).pathname, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { XDG_RUNTIME_DIR: "/tmp" },
  });
  const out = await cmd.output();
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
