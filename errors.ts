/**
 * Errors that end the program with one clear line and exit code 2: bad input files, bad arguments,
 * missing or unusable devices. Anything else that escapes is a bug and is reported as such.
 */
export class UserError extends Error {
  override name = "UserError";
}

/** A metric fell below a gate bound given on the command line; exit code 1. */
export class GateFailure extends Error {
  override name = "GateFailure";
}
