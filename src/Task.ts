/**
 * What a running node may do durably: journaled activities (run once, replayed on re-run),
 * fan-out / fan-in with `forEach`, child graphs with `call`, durable `sleep`, and `emit` to the
 * stream.
 *
 * Every operation takes the next slot of the task's journal, in call order. When the node
 * re-runs (resume after an interrupt, retry after a crash) the journaled results are returned
 * instead of running the effects again.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Schema from "effect/Schema"
import { randomUUID } from "node:crypto"
import type * as Channel from "./Channel.js"
import type * as GraphError from "./GraphError.js"
import type { LeaseLost } from "./GraphError.js"
import type * as Interrupt from "./Interrupt.js"
import { Configurable, CurrentActivity, CurrentTask } from "./internal/task.js"
import { callImpl } from "./internal/task/call.js"
import type { ActivityTimeout, ChildFailed, FanOutTimeout, JournalMismatch } from "./internal/task/errors.js"
import { forEachImpl } from "./internal/task/forEach.js"
import { activityImpl } from "./internal/task/journal.js"
import { sleepIn } from "./internal/task/sleep.js"
import type { CompiledGraph, HandoffTo, InterruptsOf } from "./StateGraph.js"

export {
  /**
   * An activity ran longer than its `timeout`.
   *
   * @since 0.1.0
   * @category errors
   */
  ActivityTimeout,
  /**
   * A child graph failed; `error` is its typed error.
   *
   * @since 0.1.0
   * @category errors
   */
  ChildFailed,
  /**
   * A `forEach` ran out of time; `partial` holds the results that finished (by item index).
   *
   * @since 0.1.0
   * @category errors
   */
  FanOutTimeout,
  /**
   * The journal no longer matches the node's calls (the code changed between runs).
   *
   * @since 0.1.0
   * @category errors
   */
  JournalMismatch
} from "./internal/task/errors.js"

/**
 * Whether `A` survives a JSON round trip as the same type: primitives, arrays and plain objects
 * of those. Class instances (`Date`, `Map`, errors built with `Data.TaggedError` or
 * `Schema.TaggedError`: anything with methods), functions, bigints and symbols do not — stored as
 * JSON, they would come back as plain objects or strings while the type still says otherwise.
 * `unknown` and `any` pass (they promise nothing).
 *
 * @since 0.1.0
 * @category models
 */
export type IsJsonSafe<A> = false extends JsonCheck<A, []> ? false : true

type JsonCheck<A, Depth extends ReadonlyArray<0>> = Depth["length"] extends 10 ? true
  : unknown extends A ? true
  : A extends string | number | boolean | null | undefined | void ? true
  : A extends Function | bigint | symbol ? false
  : A extends ReadonlyArray<infer T> ? JsonCheck<T, [...Depth, 0]>
  : A extends object ? (false extends { [K in keyof A]-?: JsonCheck<A[K], [...Depth, 0]> }[keyof A] ? false : true)
  : false

/**
 * @since 0.1.0
 * @category models
 */
export interface ActivityOptions<A, E> {
  /** retried before the result is journaled */
  readonly retry?: import("effect").Schedule.Schedule<any, E, never>
  readonly timeout?: Duration.DurationInput
  /** how the success is stored; required when it is not plain JSON (see `IsJsonSafe`) */
  readonly success?: Schema.Schema<A, any, never>
  /** how a typed failure is stored; required when it is not plain JSON (see `IsJsonSafe`) */
  readonly error?: Schema.Schema<E, any, never>
  /** @deprecated the former name of `error` (kept so code written against 0.1 compiles); use `error` */
  readonly failure?: Schema.Schema<E, any, never>
}

/**
 * The options of `activity`, with `success` / `error` required when the effect's success / error
 * type is not plain JSON: the journal must revive it through a schema, or the replayed value would
 * not be what the type says.
 *
 * @since 0.1.0
 * @category models
 */
export type ActivityOptionsFor<A, E> =
  & ActivityOptions<A, E>
  & (IsJsonSafe<A> extends true ? {} : { readonly success: Schema.Schema<A, any, never> })
  & (IsJsonSafe<E> extends true ? {}
    : { readonly error: Schema.Schema<E, any, never> } | { readonly failure: Schema.Schema<E, any, never> })


/**
 * Runs `effect` once per task execution and journals its result (success or typed failure).
 * When the node re-runs, the journaled result is returned and the effect does not run again.
 * Outside a graph node it simply runs the effect.
 *
 * @since 0.1.0
 * @category activities
 */
export const activity = <A, E, R>(
  name: string,
  effect: Effect.Effect<A, E, R>,
  ...options: IsJsonSafe<A> extends true ? IsJsonSafe<E> extends true ? [options?: ActivityOptionsFor<A, E>]
    : [options: ActivityOptionsFor<A, E>]
    : [options: ActivityOptionsFor<A, E>]
): Effect.Effect<A, E | ActivityTimeout | JournalMismatch | LeaseLost, R> => activityImpl(name, effect, options[0])


/**
 * The idempotency key of the running activity, to pass to the outside system it calls (a
 * payment provider's `Idempotency-Key`, a unique message id): the effect of an activity can run
 * more than once (a crash between the effect and its journal entry, see the guide), and the key
 * lets the outside system do it once.
 *
 * Inside a graph node it is made of the thread, the task and the activity's slot in the task's
 * journal: the same on every re-run of that call — in another process too — and different for
 * every other call. An activity outside a graph node gets a random key, kept across its own
 * `retry`; outside any activity each read is a new random key.
 *
 * @since 0.1.0
 * @category activities
 */
export const idempotencyKey: Effect.Effect<string> = Effect.map(CurrentActivity, ({ key }) => key ?? randomUUID())

/**
 * @since 0.1.0
 * @category models
 */
export interface ForEachOptions<A, E = unknown> {
  /** children running at once (default: unbounded) */
  readonly concurrency?: number | "unbounded"
  /** fails the node with `FanOutTimeout` (keeping the partial results) after this long */
  readonly timeout?: Duration.DurationInput
  /** how each child's result is stored (default: as JSON; give it for what is not plain JSON) */
  readonly success?: Schema.Schema<A, any, never>
  /**
   * how a child's typed failure is stored (default: as JSON; give it for error classes). The
   * errors of `Task` itself (`ActivityTimeout`, `JournalMismatch`, `LeaseLost`) are stored as
   * themselves.
   */
  readonly error?: Schema.Schema<Exclude<E, ActivityTimeout | JournalMismatch | LeaseLost>, any, never>
}

/**
 * Runs a child per item and gathers the results, each child journaled like an activity (a
 * re-run runs only the children that had not finished).
 *
 * - `"all"` (default): every result in item order; waits for every child, then fails with the
 *   first failure in item order if any failed.
 * - `"anyError"`: stops at the first failure and interrupts the rest.
 * - `"first"`: the first child to succeed wins (`Option.some`), the rest are interrupted.
 *
 * @since 0.1.0
 * @category fan-out
 */
export const forEach: {
  <In, A, E, R>(
    items: Iterable<In>,
    f: (item: In, index: number) => Effect.Effect<A, E, R>,
    options: ForEachOptions<A, E> & { readonly mode: "first" }
  ): Effect.Effect<Option.Option<A>, E | FanOutTimeout<A> | JournalMismatch, R>
  <In, A, E, R>(
    items: Iterable<In>,
    f: (item: In, index: number) => Effect.Effect<A, E, R>,
    options?: ForEachOptions<A, E> & { readonly mode?: "all" | "anyError" }
  ): Effect.Effect<Array<A>, E | FanOutTimeout<A> | JournalMismatch, R>
} = (items: Iterable<any>, f: any, options?: any): any => forEachImpl(items, f, options?.mode ?? "all", options)

// ---------------------------------------------------------------------------------------------
// child graphs
// ---------------------------------------------------------------------------------------------

/**
 * The errors of a child graph seen from its parent: its interrupts surface as the parent's own
 * (answered through the parent's `resume`), everything else is a `ChildFailed`.
 *
 * @since 0.1.0
 * @category type-level
 */
export type CallError<E> =
  | ChildFailed<Exclude<E, Interrupt.Any | HandoffTo<any>> | GraphError.EngineError | GraphError.ResumeError>
  | InterruptsOf<E>
  | JournalMismatch

/**
 * Runs a compiled graph as a child of the current task (fluxor's `Call`). With a persisted
 * parent thread, the child checkpoints under a namespace of it; its interrupts pause the parent
 * and the parent's `resume` answers reach the child.
 *
 * @since 0.1.0
 * @category child graphs
 */
export const call = <S extends Channel.Channels, N extends string, E, R>(
  child: CompiledGraph<S, N, E, R>,
  input: Channel.Update<S>,
  options?: { readonly threadId?: string }
): Effect.Effect<Channel.State<S>, CallError<E>, R> => callImpl(child, input, options)

// ---------------------------------------------------------------------------------------------
// durable sleep
// ---------------------------------------------------------------------------------------------

/**
 * Sleeps until `date`. In process (or under `TestClock`) it waits; on a persisted thread a
 * sleep longer than the graph's `sleepThreshold` pauses the thread with its wake-up time
 * recorded (status `paused`, reason `sleeping`); `invoke(null, { threadId })` or a worker
 * continues it, and the sleep is not restarted.
 *
 * @since 0.1.0
 * @category durable sleep
 */
export const sleepUntil = (date: Date | number): Effect.Effect<void> =>
  Effect.flatMap(CurrentTask, ({ scope }) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const target = typeof date === "number" ? date : date.getTime()
      if (scope === undefined) return Effect.sleep(Duration.millis(Math.max(0, target - now)))
      return sleepIn(scope, now, () => target)
    }))

/**
 * Sleeps for `duration` (see `sleepUntil`).
 *
 * @since 0.1.0
 * @category durable sleep
 */
export const sleep = (duration: Duration.DurationInput): Effect.Effect<void> =>
  Effect.flatMap(CurrentTask, ({ scope }) => {
    if (scope === undefined) return Effect.sleep(duration)
    return Effect.flatMap(Clock.currentTimeMillis, (now) => sleepIn(scope, now, () => now + Duration.toMillis(duration)))
  })


/**
 * A part a node streams: chat deltas (`messages` mode) or anything (`custom` mode).
 *
 * @since 0.1.0
 * @category models
 */
export type EmitPart =
  | { readonly mode: "messages"; readonly messageId: string; readonly delta: string }
  | { readonly mode: "custom"; readonly data: unknown }

/**
 * Sends a part to `stream(…, { mode: "messages" | "custom" })`, tagged with the node and task.
 * A no-op when nobody streams that mode.
 *
 * @since 0.1.0
 * @category streaming
 */
export const emit = (part: EmitPart): Effect.Effect<void> =>
  Effect.flatMap(CurrentTask, ({ scope }) =>
    scope?.emit !== undefined && scope.modes.has(part.mode)
      ? scope.emit({ ...part, node: scope.node, taskId: scope.taskId })
      : Effect.void)

/**
 * The `configurable` values given to the run (`invoke(input, { configurable: { userId } })`),
 * `{}` when none were: per-call settings a node reads, seen by the graphs it runs too. Decode
 * them with a schema (`Schema.decodeUnknown(Config)(yield* Task.configurable)`); for a typed
 * dependency a node cannot run without, a `Context.Tag` in its requirements is better.
 *
 * @since 0.1.0
 * @category context
 */
export const configurable: Effect.Effect<Readonly<Record<string, unknown>>> = Configurable

/**
 * The current task's id and node, when running inside a graph node.
 *
 * @since 0.1.0
 * @category context
 */
export const current: Effect.Effect<Option.Option<{ readonly taskId: string; readonly node: string; readonly threadId: string | undefined }>> =
  Effect.map(CurrentTask, ({ scope }) =>
    scope === undefined ? Option.none() : Option.some({ taskId: scope.taskId, node: scope.node, threadId: scope.threadId }))
