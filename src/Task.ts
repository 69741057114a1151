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
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as Channel from "./Channel.js"
import type * as GraphError from "./GraphError.js"
import { LeaseLost } from "./GraphError.js"
import * as Interrupt from "./Interrupt.js"
import { checkedAnswer } from "./internal/engine/answers.js"
import { Configurable, CurrentActivity, CurrentTask, type JournalEntry, type TaskScope } from "./internal/task.js"
import { Handoff } from "./internal/engine/handoff.js"
import { withoutStack } from "./internal/pause.js"
import type { AnyCompiled, CompiledGraph, HandoffTo, InterruptsOf } from "./StateGraph.js"
import { randomUUID } from "node:crypto"
import type { Backend } from "./Snapshots.js"
import { Snapshots } from "./Snapshots.js"

/**
 * The journal no longer matches the node's calls (the code changed between runs).
 *
 * @since 0.1.0
 * @category errors
 */
export class JournalMismatch extends Schema.TaggedError<JournalMismatch>()("JournalMismatch", {
  taskId: Schema.String,
  index: Schema.Number,
  expected: Schema.String,
  found: Schema.String
}) {
  override get message() {
    return `journal of task ${this.taskId} does not match at call ${this.index}: the node now calls ${this.expected}, the journal holds ${this.found}`
  }
}

/**
 * An activity ran longer than its `timeout`.
 *
 * @since 0.1.0
 * @category errors
 */
export class ActivityTimeout extends Schema.TaggedError<ActivityTimeout>()("ActivityTimeout", {
  name: Schema.String,
  timeoutMillis: Schema.Number
}) {}

/**
 * A `forEach` ran out of time; `partial` holds the results that finished (by item index).
 *
 * @since 0.1.0
 * @category errors
 */
export class FanOutTimeout<A = unknown> extends Data.TaggedError("FanOutTimeout")<{
  readonly timeoutMillis: number
  readonly partial: ReadonlyMap<number, A>
}> {
  override get message() {
    return `fan-out timed out after ${this.timeoutMillis} ms with ${this.partial.size} results`
  }
}

/**
 * A child graph failed; `error` is its typed error.
 *
 * @since 0.1.0
 * @category errors
 */
export class ChildFailed<E = unknown> extends Data.TaggedError("ChildFailed")<{
  readonly graphId: string
  readonly threadId: string | undefined
  readonly error: E
}> {
  override get message() {
    const e = this.error as { readonly _tag?: unknown; readonly message?: unknown } | undefined
    return `child graph "${this.graphId}" failed: ${e?._tag ?? ""} ${e?.message ?? String(e)}`
  }
}

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

const json = Schema.Unknown as Schema.Schema<any, any, never>

const mismatch = (scope: TaskScope, index: number, expected: string, found: JournalEntry) =>
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
const encodeExit = <A, E>(
  exit: Exit.Exit<A, E>,
  success: Schema.Schema<A, any, never>,
  failure: Schema.Schema<E, any, never>
): Option.Option<{ readonly exit: "success" | "failure"; readonly value: unknown }> => {
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
const isPause = (exit: Exit.Exit<unknown, unknown>): boolean => {
  if (Exit.isSuccess(exit)) return false
  const failure = Cause.failureOption(exit.cause)
  return Option.isSome(failure) && (Interrupt.isInterrupt(failure.value) || failure.value instanceof ChildPaused)
}

const replay = <A, E>(
  scope: TaskScope,
  entry: { readonly exit: "success" | "failure"; readonly value: unknown },
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

const activityImpl = <A, E, R>(
  name: string,
  effect: Effect.Effect<A, E, R>,
  options: ActivityOptions<A, E> | undefined
): Effect.Effect<A, E | ActivityTimeout | JournalMismatch | LeaseLost, R> =>
  Effect.flatMap(CurrentTask, ({ scope }): Effect.Effect<A, E | ActivityTimeout | JournalMismatch | LeaseLost, R> => {
    let run: Effect.Effect<A, E | ActivityTimeout, R> = withTimeout(effect, name, options?.timeout)
    if (options?.retry !== undefined) run = Effect.retry(run, options.retry as any) as any
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

type ChildEntry = { readonly exit: "success" | "failure"; readonly value: unknown }

const forEachImpl = <In, A, E, R>(
  items: Iterable<In>,
  f: (item: In, index: number) => Effect.Effect<A, E, R>,
  mode: "all" | "first" | "anyError",
  options: ForEachOptions<A, E> | undefined
): Effect.Effect<any, any, R> =>
  Effect.flatMap(CurrentTask, ({ scope }) => {
    const list = Array.from(items)
    if (list.length === 0) return Effect.succeed(mode === "first" ? Option.none() : [])
    const success = options?.success ?? json
    const failure = Schema.Union(ActivityTimeout, JournalMismatch, LeaseLost, options?.error ?? json) as Schema.Schema<E, any, never>
    const results = new Map<number, A>()
    let children: Record<string, ChildEntry> = {}
    let journals: Record<string, ReadonlyArray<JournalEntry>> = {}
    let index = -1
    if (scope !== undefined) {
      index = scope.journalIndex++
      const entry = scope.journal[index]
      if (entry !== undefined && entry !== null) {
        if (entry.type !== "forEach") return Effect.fail(mismatch(scope, index, "forEach", entry))
        children = { ...entry.children }
        journals = { ...entry.journals }
      } else {
        scope.journal[index] = { name: "forEach", type: "forEach", children: {} }
      }
    }
    const lock = Effect.unsafeMakeSemaphore(1)
    const save = (parent: TaskScope) => {
      parent.journal[index] = { name: "forEach", type: "forEach", children, journals }
      // children finish concurrently: persist one at a time, each with the latest journal
      return lock.withPermits(1)(Effect.orDie(parent.persist))
    }
    const record = (i: number, exit: Exit.Exit<A, E>) =>
      Effect.suspend(() => {
        if (Exit.isSuccess(exit)) results.set(i, exit.value)
        if (scope === undefined || isPause(exit)) return Effect.void
        const encoded = encodeExit(exit, success, failure)
        if (Option.isNone(encoded)) return Effect.void
        children = { ...children, [String(i)]: encoded.value }
        return save(scope)
      })
    /**
     * A child runs in its own scope: its asks, activities, calls and sleeps are keyed by its item
     * (`<forEach index>.<item>/`), so they are found again whatever order the children run or
     * finish in; its journal lives in this forEach's entry.
     */
    const inScope = (parent: TaskScope, i: number, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
      const journal: Array<JournalEntry> = [...(journals[String(i)] ?? [])]
      const own: TaskScope = {
        ...parent,
        path: `${parent.path}${index}.${i}/`,
        askIndex: 0,
        journal,
        journalIndex: 0,
        persist: Effect.suspend(() => {
          journals = { ...journals, [String(i)]: [...journal] }
          return save(parent)
        })
      }
      return Effect.provideService(effect, CurrentTask, { scope: own })
    }
    const child = (item: In, i: number): Effect.Effect<A, E, R> => {
      const done = children[String(i)]
      if (scope !== undefined && done !== undefined) {
        return Effect.tap(replay(scope, done, success, failure), (a) => Effect.sync(() => results.set(i, a)))
      }
      const body = scope === undefined ? f(item, i) : inScope(scope, i, f(item, i))
      return Effect.flatMap(Effect.exit(body), (exit) => Effect.zipRight(record(i, exit), exit))
    }
    let run: Effect.Effect<any, any, R>
    if (mode === "first") {
      const winner = Object.entries(children).find(([, c]) => c.exit === "success")
      if (scope !== undefined && winner !== undefined) {
        run = Effect.map(replay(scope, winner[1], success, failure), Option.some)
      } else {
        run = Effect.map(Effect.raceAll(list.map((item, i) => child(item, i))), Option.some)
      }
    } else if (mode === "anyError") {
      run = Effect.forEach(list, child, { concurrency: options?.concurrency ?? "unbounded" })
    } else {
      run = Effect.flatMap(
        Effect.forEach(list, (item, i) => Effect.exit(child(item, i)), { concurrency: options?.concurrency ?? "unbounded" }),
        (exits): Effect.Effect<Array<A>, E> => {
          const firstFailure = exits.find(Exit.isFailure)
          return firstFailure !== undefined
            ? Effect.failCause(firstFailure.cause)
            : Effect.succeed(exits.map((e) => (e as Exit.Success<A, E>).value))
        }
      )
    }
    if (options?.timeout !== undefined) {
      const millis = Duration.toMillis(options.timeout)
      run = Effect.timeoutFail(run, {
        duration: options.timeout,
        onTimeout: () => new FanOutTimeout({ timeoutMillis: millis, partial: new Map(results) })
      })
    }
    return run
  })

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

/** The marker a task fails with when its child graph paused (the loop reads the scope). */
class ChildPaused extends Data.TaggedError("ChildPaused")<{ readonly threadId: string | undefined }> {}

const encodeState = (graph: AnyCompiled, values: Record<string, unknown>) => {
  const out: Record<string, unknown> = {}
  for (const c of graph.compiled.codecs) {
    if (values[c.name] === undefined) continue
    out[c.name] = Either.getOrElse(c.encodeValue(values[c.name]), () => values[c.name])
  }
  return out
}

const decodeState = (graph: AnyCompiled, encoded: unknown): Either.Either<Record<string, unknown>, string> => {
  const out: Record<string, unknown> = {}
  const rec = (encoded ?? {}) as Record<string, unknown>
  for (const c of graph.compiled.codecs) {
    if (rec[c.name] === undefined) continue
    const dec = c.decodeValue(rec[c.name])
    if (Either.isLeft(dec)) return Either.left(`channel ${c.name}`)
    out[c.name] = dec.right
  }
  return Either.right(out)
}

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
): Effect.Effect<Channel.State<S>, CallError<E>, R> =>
  Effect.flatMap(CurrentTask, ({ scope }): Effect.Effect<any, any, any> => {
    const failed = (threadId: string | undefined) => (error: unknown) =>
      new ChildFailed({ graphId: child.id, threadId, error })
    if (scope === undefined || scope.store === undefined || scope.threadId === undefined) {
      // nothing to persist: run the child inline; its interrupts cannot be resumed from here
      return Effect.mapError(child.invoke(input), (e: any) =>
        e?._tag === "GraphInterrupted" ? pauseWith(scope, undefined, e) : e instanceof Handoff ? e : failed(undefined)(e))
    }
    const index = scope.journalIndex++
    const entry = scope.journal[index]
    if (entry !== undefined && entry !== null && entry.type !== "call") {
      return Effect.fail(mismatch(scope, index, "call", entry))
    }
    const threadId = options?.threadId ?? `${scope.threadId}::${scope.taskId}.${scope.path}${index}`
    const store = scope.store as import("./Snapshots.js").Backend
    if (entry?.type === "call" && entry.exit === "success") {
      const dec = decodeState(child, entry.value)
      return Either.isRight(dec) ? Effect.succeed(dec.right) : Effect.dieMessage(`journal of task ${scope.taskId}: child state does not decode (${dec.left})`)
    }
    const started = entry?.type === "call"
    const run: Effect.Effect<any, any, any> = started
      ? Effect.flatMap(child.getState(threadId), (state): Effect.Effect<any, any, any> => {
        // a child that handed off to its parent is completed with its last step's tasks kept:
        // continuing it re-runs that step, whose node hands off again
        if (state.status === "completed" && state.next.length === 0) return Effect.succeed(state.values)
        if (state.status !== "paused") return child.invoke(null, { threadId })
        if (state.pauseReason === "sleeping") return child.invoke(null, { threadId })
        // the parent checked and encoded these answers; the child's asking node decodes its own
        const answers: Array<Interrupt.Answer<string, unknown>> = []
        for (const i of state.interrupts) {
          if (i.status !== "pending") continue
          const given = scope.forwarded[i.id]
          if (given !== undefined) answers.push(checkedAnswer(i.kind, i.id, given.value))
        }
        if (answers.length === 0) {
          // still waiting on the child's questions
          return Effect.fail(withoutStack(() =>
            new Interrupt.GraphInterrupted<any>({
              threadId,
              checkpointId: state.checkpointId,
              interrupts: state.interrupts.filter((i) => i.status === "pending")
            })
          ))
        }
        return child.resume({ threadId }, ...(answers as any))
      })
      : Effect.zipRight(
        Effect.sync(() => {
          scope.journal[index] = { name: child.id, type: "call", threadId }
        }).pipe(Effect.zipRight(Effect.orDie(scope.persist))),
        child.invoke(input, { threadId })
      )
    return run.pipe(
      Effect.provideService(Snapshots, store),
      Effect.tap((values) =>
        Effect.suspend(() => {
          scope.journal[index] = { name: child.id, type: "call", threadId, exit: "success", value: encodeState(child, values) }
          return Effect.orDie(scope.persist)
        })
      ),
      Effect.catchAll((e: any): Effect.Effect<never, unknown> =>
        e?._tag === "GraphInterrupted"
          ? Effect.flatMap(Effect.orDie(store.load(threadId)), (head) =>
            Effect.fail(pauseWith(scope, threadId, e, Option.getOrUndefined(head)?.interrupts, child.compiled.kinds)))
          : Effect.fail(e instanceof Handoff ? e : failed(threadId)(e))
      )
    )
  }) as any

const pauseWith = (
  scope: TaskScope | undefined,
  threadId: string | undefined,
  error: Interrupt.GraphInterrupted<any>,
  records?: ReadonlyArray<{ readonly id: string; readonly kind: string; readonly request: unknown; readonly node: string; readonly status: string }>,
  kinds?: ReadonlyMap<string, Interrupt.AnyKind>
) => {
  if (scope !== undefined) {
    // the parent decodes the child's requests with the child's kinds
    for (const r of records ?? []) {
      const kind = kinds?.get(r.kind)
      if (kind !== undefined && !scope.kinds.has(r.kind)) scope.kinds.set(r.kind, kind)
    }
    // several child graphs may pause in one task (Task.forEach): their interrupts add up
    scope.pause.child.push(
      ...(records !== undefined
        ? records.filter((r) => r.status === "pending").map((r) => ({ id: r.id, kind: r.kind, request: r.request, node: r.node }))
        : error.interrupts.map((i: any) => ({ id: i.id, kind: i.kind, request: i.request, node: i.node })))
    )
  }
  return scope === undefined ? error : new ChildPaused({ threadId })
}

// ---------------------------------------------------------------------------------------------
// durable sleep
// ---------------------------------------------------------------------------------------------

/** The marker of a durable sleep (a defect: user code cannot catch it by accident). */
class SleepPause extends Data.TaggedError("SleepPause")<{ readonly wakeAt: number }> {}

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

const sleepIn = (scope: TaskScope, now: number, target: () => number): Effect.Effect<void> => {
  const index = scope.journalIndex++
  const entry = scope.journal[index]
  let wakeAt: number
  let persist: Effect.Effect<void> = Effect.void
  if (entry !== undefined && entry !== null) {
    if (entry.type !== "sleep") return Effect.die(mismatch(scope, index, "sleep", entry))
    wakeAt = entry.wakeAt
  } else {
    wakeAt = target()
    scope.journal[index] = { name: "sleep", type: "sleep", wakeAt }
    persist = Effect.orDie(scope.persist)
  }
  const remaining = wakeAt - now
  if (remaining <= 0) return persist
  if (!scope.durable || remaining <= scope.sleepThresholdMillis) {
    return Effect.zipRight(persist, Effect.sleep(Duration.millis(remaining)))
  }
  return Effect.suspend(() => {
    // several sleeping children (Task.forEach): the task wakes for the first of them
    scope.pause.sleep = scope.pause.sleep === undefined ? wakeAt : Math.min(scope.pause.sleep, wakeAt)
    return Effect.die(new SleepPause({ wakeAt }))
  })
}

// ---------------------------------------------------------------------------------------------
// streaming from a node
// ---------------------------------------------------------------------------------------------

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
