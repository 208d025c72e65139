/**
 * The `sg3` command: dispatches to one module per subcommand and turns errors into exit codes:
 * 0 success, 1 a metric gate failed, 2 bad input, arguments or device (one line, no stack trace).
 */
import { GateFailure, UserError, type UserErrorOption } from "../errors.ts";
import { discardPendingTemps } from "../formats/atomic.ts";
import { printable } from "../formats/printable.ts";
import { helperThreads } from "../formats/threads.ts";
import { installDefaultInterrupt } from "./interrupt.ts";

/** How each option a library error concerns becomes advice: [prefix, suffix] around the message. */
const ADVICE: Record<UserErrorOption, [string, string]> = {
  fp16: ["", "; run without --fp16"],
  fps: ["--fps: ", ""],
  encoder: ["--encoder ffmpeg: ", ""],
  class: ["--class: ", ""],
  seeds: ["--seeds: ", ""],
  "num-keyframes": ["", ", or give --num-keyframes"],
  "data-labels": ["", "; give it with --data"],
};

/** The one line printed for a UserError: its message with the CLI's advice for the option it concerns. */
export function userErrorLine(e: UserError): string {
  const [prefix, suffix] = e.option ? ADVICE[e.option] : ["", ""];
  return `${prefix}${e.message}${suffix}`;
}

interface Command {
  USAGE: string;
  run(args: string[]): Promise<number>;
}

/** Subcommands, loaded on demand so that `sg3 info` does not load the models. */
const COMMANDS: Record<string, () => Promise<Command>> = {
  info: () => import("./info.ts"),
  inspect: () => import("./inspect.ts"),
  generate: () => import("./generate.ts"),
  video: () => import("./video.ts"),
  "eq-metrics": () => import("./eq_metrics.ts"),
  fid: () => import("./fid.ts"),
  merge: () => import("./merge.ts"),
  tune: () => import("./tune.ts"),
  view: () => import("./view.ts"),
};

function usage(): string {
  return `sg3 — StyleGAN3 on WebGPU\n\nusage: sg3 <command> [options]\n\ncommands: ${
    Object.keys(COMMANDS).join(", ")
  }\nrun 'sg3 <command> --help' for a command's options`;
}

/** Runs the CLI with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (!name || name === "--help" || name === "-h") {
    console.log(usage());
    return name ? 0 : 2;
  }
  const load = COMMANDS[name];
  if (!load) {
    console.error(`sg3: unknown command "${name}" (commands: ${Object.keys(COMMANDS).join(", ")})`);
    return 2;
  }
  const command = await load();
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(command.USAGE);
    return 0;
  }
  try {
    helperThreads(); // a bad SG3_THREADS is refused before any work, whether or not this run starts workers
    return await command.run(rest);
  } catch (e) {
    // One line each, whatever a file name or file content put into the message.
    if (e instanceof UserError) {
      console.error(`sg3 ${name}: ${printable(userErrorLine(e))}`);
      return 2;
    }
    if (e instanceof GateFailure) {
      console.error(`sg3 ${name}: ${printable(e.message)}`);
      return 1;
    }
    const err = e as Error;
    console.error(
      `sg3 ${name}: internal error: ${
        printable(String(err?.message ?? err))
      } (set SG3_DEBUG=1 for the stack)`,
    );
    if (Deno.env.get("SG3_DEBUG")) console.error(err?.stack);
    return 2;
  }
}

/** Signals that end a run (timeout, schedulers, closed terminals) and their exit codes (128 + number). */
const TERMINATING: [Deno.Signal, number][] = [["SIGTERM", 143], ["SIGHUP", 129]];

/**
 * Ends the process on SIGTERM or SIGHUP as a second Ctrl-C does: temporary files are removed, so nothing
 * half-written stays behind (where the platform has these signals).
 */
function exitCleanlyOnSignals(): void {
  for (const [signal, code] of TERMINATING) {
    try {
      Deno.addSignalListener(signal, () => {
        discardPendingTemps();
        Deno.exit(code);
      });
    } catch { /* not available on this platform (Windows has no SIGHUP) */ }
  }
}

if (import.meta.main) {
  exitCleanlyOnSignals();
  installDefaultInterrupt();
  Deno.exit(await main(Deno.args));
}
