/**
 * The journal of a task: how a result is stored and replayed, and `Task.activity`.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import type * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import { randomUUID } from "node:crypto"
import { LeaseLost } from "../../GraphError.js"
import * as Interrupt from "../../Interrupt.js"
import type { Backend } from "../../Snapshots.js"
import type { ActivityOptions } from "../../Task.js"
import { CurrentActivity, CurrentTask, type JournalEntry, type TaskScope } from "../task.js"
import { ActivityTimeout, ChildPaused, JournalMismatch } from "./errors.js"

/** An encoded result in the journal. */
export type ExitEntry = { readonly exit: "success" | "failure"; readonly value: unknown }

export const json = Schema.Unknown as Schema.Schema<any, any, never>

export const mismatch = (scope: TaskScope, index: number, expected: string, found: JournalEntry) =>
  new JournalMismatch({ taskId: scope.taskId, index, expected, found: `${found.type} "${found.name}"` })

const corrupt = (scope: TaskScope, what: string, issue: ParseResult.ParseIssue) =>
  Effect.dieMessage(`journal of task ${scope.taskId}: ${what} does not decode: ${ParseResult.TreeFormatter.formatIssueSync(issue)}`)

const withTimeout = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  name: string,
  timeout: Duration.DurationInput | undefined
): Effect.Effect<A, E | ActivityTimeout, R> =>
  timeout === undefined
    ? effect
    : Effect.timeoutFail(effect, {
      duration: timeout,
      onTimeout: () => new ActivityTimeout({ name, timeoutMillis: Duration.toMillis(timeout) })
    })

/** Encodes an exit of a child / activity for the journal; defects and interruptions are not journaled. */
export const encodeExit = <A, E>(
  exit: Exit.Exit<A, E>,
  success: Schema.Schema<A, any, never>,
  failure: Schema.Schema<E, any, never>
): Option.Option<ExitEntry> => {
  if (Exit.isSuccess(exit)) {
    const enc = ParseResult.encodeUnknownEither(success)(exit.value)
    return Either.isRight(enc) ? Option.some({ exit: "success", value: enc.right }) : Option.none()
  }
  const error = Cause.failureOption(exit.cause)
  if (Option.isNone(error)) return Option.none()
  const enc = ParseResult.encodeUnknownEither(failure)(error.value)
  return Either.isRight(enc) ? Option.some({ exit: "failure", value: enc.right }) : Option.none()
}

/**
 * A child that paused (it asked, its child graph paused) has not finished: it is not journaled,
 * it runs again when the task re-runs. (A durable sleep is a defect, never journaled.)
 */
export const isPause = (exit: Exit.Exit<unknown, unknown>): boolean => {
  if (Exit.isSuccess(exit)) return false
  const failure = Cause.failureOption(exit.cause)
  return Option.isSome(failure) && (Interrupt.isInterrupt(failure.value) || failure.value instanceof ChildPaused)
}

export const replay = <A, E>(
  scope: TaskScope,
  entry: ExitEntry,
  success: Schema.Schema<A, any, never>,
  failure: Schema.Schema<E, any, never>
): Effect.Effect<A, E> => {
  if (entry.exit === "success") {
    const dec = ParseResult.decodeUnknownEither(success)(entry.value)
    return Either.isRight(dec) ? Effect.succeed(dec.right) : corrupt(scope, "a result", dec.left)
  }
  const dec = ParseResult.decodeUnknownEither(failure)(entry.value)
  return Either.isRight(dec) ? Effect.fail(dec.right) : corrupt(scope, "a failure", dec.left)
}

/**
 * A run that no longer holds its thread must not start a side effect: its lease ran out (it was
 * frozen, or its heartbeat could not reach the store), another run took the thread over, or an
 * operator broke the lease. Store writes are fenced anyway; this fences the outside world.
 */
const leaseCheck = (scope: TaskScope): Effect.Effect<void, LeaseLost> => {
  if (!scope.durable || scope.threadId === undefined || scope.runId === undefined || scope.store === undefined) return Effect.void
  const threadId = scope.threadId
  const runId = scope.runId
  return Effect.flatMap(Effect.orDie((scope.store as Backend).leases({ threadId })), (found) => {
    const lease = found[0]
    return lease !== undefined && lease.holder === runId && lease.alive
      ? Effect.void
      : Effect.fail(new LeaseLost({ threadId, runId, ...(lease !== undefined && lease.holder !== runId ? { holder: lease.holder } : {}) }))
  })
}

export const activityImpl = <A, E, R>(
  name: string,
  effect: Effect.Effect<A, E, R>,
  options: ActivityOptions<A, E> | undefined
): Effect.Effect<A, E | ActivityTimeout | JournalMismatch | LeaseLost, R> =>
  Effect.flatMap(CurrentTask, ({ scope }): Effect.Effect<A, E | ActivityTimeout | JournalMismatch | LeaseLost, R> => {
    let run: Effect.Effect<A, E | ActivityTimeout, R> = withTimeout(effect, name, options?.timeout)
    // each attempt can time out: the schedule sees those failures too
    if (options?.retry !== undefined) run = Effect.retry(run, options.retry as Schedule.Schedule<unknown, E | ActivityTimeout>)
    // one key for the activity, kept across its own retries
    if (scope === undefined) return Effect.suspend(() => Effect.provideService(run, CurrentActivity, { key: randomUUID() }))
    const success = options?.success ?? json
    // a timeout is journaled as itself, whatever the activity's own errors are stored as
    const failure = Schema.Union(ActivityTimeout, options?.error ?? options?.failure ?? json) as Schema.Schema<E | ActivityTimeout, any, never>
    const index = scope.journalIndex++
    const entry = scope.journal[index]
    if (entry !== undefined && entry !== null) {
      if (entry.type !== "activity" || entry.name !== name) {
        return Effect.fail(mismatch(scope, index, `activity "${name}"`, entry))
      }
      return replay(scope, entry, success, failure)
    }
    // the journal slot names the call: the same thread, task and slot on every re-run
    const key = `${scope.threadId ?? ""}/${scope.taskId}/${scope.path}${index}`
    return Effect.zipRight(
      leaseCheck(scope),
      Effect.flatMap(Effect.exit(Effect.provideService(run, CurrentActivity, { key })), (exit) => {
        const encoded = encodeExit(exit, success, failure)
        if (Option.isNone(encoded)) return exit
        scope.journal[index] = { name, type: "activity", ...encoded.value }
        return Effect.zipRight(Effect.orDie(scope.persist), exit)
      })
    )
  })
