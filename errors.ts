/**
 * Errors that end the program with one clear line and exit code 2: bad input files, bad arguments,
 * missing or unusable devices. Anything else that escapes is a bug and is reported as such.
 */
export class UserError extends Error {
  /** Always "UserError". */
  override name = "UserError";

  /**
   * Creates the error.
   *
   * @param message the problem, in the library's terms (no command-line flag names)
   * @param option the command-line option the problem concerns, if any (e.g. "fp16"): the CLI turns it into
   *   flag advice (cli/main.ts), library callers can ignore it
   */
  constructor(message: string, readonly option?: UserErrorOption) {
    super(message);
  }
}

/** The options a library error can concern; cli/main.ts words the advice for each. */
export type UserErrorOption =
  | "fp16"
  | "fps"
  | "encoder"
  | "class"
  | "seeds"
  | "num-keyframes"
  | "data-labels";

/** A metric fell below a gate bound given on the command line; exit code 1. */
export class GateFailure extends Error {
  /** Always "GateFailure". */
  override name = "GateFailure";
}
