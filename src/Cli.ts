/**
 * The `stategraph` command line: run, inspect, answer and clean up threads from a terminal.
 *
 * The installed package's `stategraph` bin runs it with plain Node; it needs `@effect/cli` and
 * `@effect/platform-node` (optional peer dependencies: install them to use the CLI). Configure it
 * with a `stategraph.config.js` (or `.ts` with tsx installed):
 *
 * ```ts no-check
 * import { defineConfig } from "effect-stategraph/Cli"
 * export default defineConfig({ graphs: ["./graphs/approval.js:graph"], store: { sqlite: ".data/threads.db" } })
 * ```
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as ConfigModel from "./internal/cli/config.js"
import { CliError, exitCodes } from "./internal/cli/errors.js"
import { dev } from "./internal/cli/dev.js"
import { graph } from "./internal/cli/graphs.js"
import { init } from "./internal/cli/init.js"
import { root } from "./internal/cli/root.js"
import { serve } from "./internal/cli/serve.js"
import { snapshots } from "./internal/cli/snapshots.js"
import { threads } from "./internal/cli/threads.js"
import { tokens } from "./internal/cli/tokens.js"
import { worker } from "./internal/cli/worker.js"

/**
 * What `stategraph.config.js` default-exports.
 *
 * @since 0.1.0
 * @category models
 */
export type Config = ConfigModel.Config

/**
 * Types a config file's export.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defineConfig = (config: Config): Config => config

/**
 * The CLI's error: 1 failed, 2 usage, 3 not found.
 *
 * @since 0.1.0
 * @category errors
 */
export { CliError }

/**
 * The root command with every subcommand.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = root.pipe(
  Command.withDescription("operate effect-stategraph: threads (list, show, answer, fork, clean up), workers, the server and its tokens"),
  Command.withSubcommands([init, dev, serve, worker, threads, snapshots, graph, tokens])
)

/**
 * Runs the CLI on `argv` (as `process.argv`: the first two entries are skipped).
 *
 * @since 0.1.0
 * @category running
 */
export const run = (argv: ReadonlyArray<string>) =>
  Command.run(command, { name: "stategraph", version: "0.1.0", executable: "stategraph" })(argv).pipe(
    Effect.provide(NodeContext.layer)
  )

const notFound = new Set(["ThreadNotFound", "CheckpointNotFound", "PipelineNotFound", "NoSuchElementException"])

/**
 * The exit code of a run: 0 ok (or stopped by a signal), 1 error, 2 usage, 3 not found.
 *
 * @since 0.1.0
 * @category running
 */
export const exitCode = (exit: Exit.Exit<unknown, unknown>): number => {
  if (Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)) return 0
  const failure = Cause.failureOption(exit.cause)
  if (Option.isNone(failure)) return 1
  const error = failure.value
  if (error instanceof CliError) return exitCodes[error.reason]
  if (ValidationError.isValidationError(error)) return 2
  const tag = (error as { _tag?: unknown })._tag
  return typeof tag === "string" && notFound.has(tag) ? 3 : 1
}

/** What to print for a failed run (a usage error was printed by @effect/cli already). */
const report = (exit: Exit.Exit<unknown, unknown>) => {
  if (Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)) return
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure) && ValidationError.isValidationError(failure.value)) return
  const error: unknown = Option.getOrUndefined(failure)
  const message = error === undefined
    ? Cause.pretty(exit.cause)
    : error instanceof CliError
    ? error.message
    : typeof error === "object" && error !== null && "message" in error
    ? `${"_tag" in error ? `${String(error._tag)}: ` : ""}${String(error.message)}`
    : String(error)
  process.stderr.write(`stategraph: ${message}\n`)
}

/**
 * The bin's main: runs the CLI on `process.argv` and exits with its code; SIGINT / SIGTERM stop
 * it gracefully (a worker gives its jobs back).
 *
 * @since 0.1.0
 * @category running
 */
export const main = (argv: ReadonlyArray<string> = process.argv): void =>
  NodeRuntime.runMain(run(argv), {
    disableErrorReporting: true,
    disablePrettyLogger: true,
    teardown: (exit, onExit) => {
      report(exit)
      onExit(exitCode(exit))
    }
  })
