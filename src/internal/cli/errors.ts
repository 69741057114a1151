/**
 * The CLI's one error, with the exit code each reason maps to: 1 failed, 2 usage, 3 not found.
 */
import * as Data from "effect/Data"

export class CliError extends Data.TaggedError("CliError")<{
  readonly reason: "Failed" | "Usage" | "NotFound"
  readonly message: string
}> {}

export const exitCodes = { Failed: 1, Usage: 2, NotFound: 3 } as const
