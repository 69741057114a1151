/**
 * What every orchestrator shares: the engine run with its lifecycle events, a probe on node runs
 * (attempts and outputs per task, for job records), and the response built from the head.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { ThreadNotFound } from "../../GraphError.js"
import * as RunEvent from "../../RunEvent.js"
import type { WorkflowSnapshotEncoded } from "../../Snapshot.js"
import type { Backend } from "../../Snapshots.js"
import type { AnyCompiled } from "../../StateGraph.js"
import type { Compiled } from "../graph.js"
import { toPending } from "../engine/answers.js"
import { tagOf } from "../engine/codec.js"
import * as Ids from "../ids.js"
import type { NewJob } from "./models.js"
import { EngineObserver, type Observer } from "../engine/observer.js"
import { execute } from "../engine/execute.js"
import type { Checkpoint, RunOutcome, RunPolicy, RunRequest, StreamPart } from "../engine/model.js"
import { infrastructureTags, type OrchestrationResponse, type PendingInterrupt, type ResponseStatus } from "./contract.js"

// ---------------------------------------------------------------------------------------------
// probe
// ---------------------------------------------------------------------------------------------

/** What the engine's observer reported, per task id: attempts, and finished tasks' encoded output. @internal */
export interface Probe {
  readonly attempts: Map<string, number>
  readonly outputs: Map<string, Record<string, unknown>>
  readonly observer: Observer
}

/** A node's writes as its job's output (channel → encoded value). */
const encodeOutput = (compiled: Compiled, writes: ReadonlyArray<readonly [string, unknown]>): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [channel, value] of writes) {
    const codec = compiled.codecByName[channel]
    if (codec === undefined) continue
    const enc = codec.kind === "Append" ? codec.encodeItems(value as ReadonlyArray<unknown>) : codec.encodeValue(value)
    out[channel] = Either.getOrElse(enc, () => value)
  }
  return out
}

/** A probe fed by the engine's observer (provide `probe.observer` as `EngineObserver` around the run). @internal */
export const makeProbe = (compiled: Compiled): Probe => {
  const attempts = new Map<string, number>()
  const outputs = new Map<string, Record<string, unknown>>()
  return {
    attempts,
    outputs,
    observer: {
      taskEnded: ({ outcome }) => {
        attempts.set(outcome.task.id, outcome.attempts)
        if (outcome._tag === "Done") outputs.set(outcome.task.id, encodeOutput(compiled, outcome.output.writes))
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------------------------

/** @internal */
export const isInfrastructure = (u: unknown) => {
  const tag = tagOf(u)
  return tag !== undefined && infrastructureTags.has(tag)
}

/** One job per task of a checkpoint's next step. @internal */
export const jobsOf = (cp: {
  readonly checkpointId: string
  readonly step: number
  readonly tasks: ReadonlyArray<{ readonly id: string; readonly node: string }>
}): ReadonlyArray<NewJob> => cp.tasks.map((t) => ({ id: Ids.make(), taskId: t.id, checkpointId: cp.checkpointId, node: t.node, step: cp.step }))

// ---------------------------------------------------------------------------------------------
// events
// ---------------------------------------------------------------------------------------------

/** Hooks the pipeline orchestrator uses to keep one job record per task execution. @internal */
export interface TaskHooks {
  readonly started: (taskId: string, node: string, step: number, now: number) => Effect.Effect<void, unknown>
  readonly finished: (
    taskId: string,
    node: string,
    outcome:
      | { readonly _tag: "Done"; readonly output: unknown; readonly attempts: number }
      | { readonly _tag: "Failed"; readonly error: string; readonly attempts: number }
      | { readonly _tag: "Interrupted"; readonly attempts: number },
    now: number
  ) => Effect.Effect<void, unknown>
  readonly checkpoint: (checkpointId: string, now: number) => Effect.Effect<void, unknown>
}

/** Who events are about. @internal */
export interface EventScope {
  executionId: string
  readonly threadId: string
  readonly pipelineId?: string | undefined
}

/**
 * The engine's stream parts (mode `events`) as lifecycle events on the bus, and as job records
 * through `hooks`. `resolveExecution` fills the execution id on the first event.
 *
 * @internal
 */
export const emitter = (
  compiled: Compiled,
  scope: EventScope,
  probe: Probe,
  resolveExecution: Effect.Effect<void>,
  hooks?: TaskHooks
) =>
(part: StreamPart): Effect.Effect<void> => {
  if (part.mode !== "events") return Effect.void
  const event = part.event
  switch (event._tag) {
    case "TaskStarted":
    case "TaskFinished":
    case "TaskFailed":
    case "TaskInterrupted":
    case "CheckpointSaved":
      break
    default:
      return Effect.void
  }
  const emit = Effect.flatMap(Clock.currentTimeMillis, (timestamp) => {
    const base = {
      executionId: scope.executionId,
      threadId: scope.threadId,
      ...(scope.pipelineId !== undefined ? { pipelineId: scope.pipelineId } : {}),
      timestamp
    }
    // events are built from the engine's own values: not validated again
    switch (event._tag) {
      case "TaskStarted": {
        const published = RunEvent.publish(() =>
          new RunEvent.NodeStarted({ ...base, node: event.node, taskId: event.taskId, step: event.step }, true)
        )
        return hooks ? Effect.zipRight(published, Effect.ignore(hooks.started(event.taskId, event.node, event.step, timestamp))) : published
      }
      case "TaskFinished": {
        const published = RunEvent.publish(() =>
          new RunEvent.NodeCompleted({ ...base, node: event.node, taskId: event.taskId, step: event.step }, true)
        )
        if (!hooks) return published
        return Effect.zipRight(
          published,
          Effect.ignore(hooks.finished(event.taskId, event.node, {
            _tag: "Done",
            output: probe.outputs.get(event.taskId),
            attempts: probe.attempts.get(event.taskId) ?? 1
          }, timestamp))
        )
      }
      case "TaskFailed": {
        const published = RunEvent.publish(() =>
          new RunEvent.NodeFailed({ ...base, node: event.node, taskId: event.taskId, step: event.step, error: event.error }, true)
        )
        if (!hooks) return published
        return Effect.zipRight(
          published,
          Effect.ignore(hooks.finished(event.taskId, event.node, {
            _tag: "Failed",
            error: event.error,
            attempts: probe.attempts.get(event.taskId) ?? 1
          }, timestamp))
        )
      }
      case "TaskInterrupted":
        return hooks
          ? Effect.ignore(
            hooks.finished(event.taskId, event.node, { _tag: "Interrupted", attempts: probe.attempts.get(event.taskId) ?? 1 }, timestamp)
          )
          : Effect.void
      case "CheckpointSaved": {
        const published = RunEvent.publish(() =>
          new RunEvent.CheckpointSaved({ ...base, checkpointId: event.checkpointId, step: event.step }, true)
        )
        return hooks ? Effect.zipRight(published, Effect.ignore(hooks.checkpoint(event.checkpointId, timestamp))) : published
      }
    }
  })
  return scope.executionId === "" ? Effect.zipRight(resolveExecution, emit) : emit
}

// ---------------------------------------------------------------------------------------------
// the inline run (stategraph, sync, pipeline)
// ---------------------------------------------------------------------------------------------

/** @internal */
export interface InlineOptions {
  readonly graph: AnyCompiled
  readonly store: Backend
  readonly threadId: string
  readonly request: RunRequest
  /** run as this run id (a pipeline that owns the thread) */
  readonly runId?: string | undefined
  /** where the caller stops the run short (a handover) */
  readonly policy?: RunPolicy | undefined
  readonly pipelineId?: string | undefined
  readonly timeoutMillis?: number | undefined
  readonly hooks?: TaskHooks | undefined
}

/** @internal */
export interface InlineResult {
  readonly status: ResponseStatus
  readonly checkpoint: Checkpoint | undefined
  readonly error: unknown
  readonly interrupts: ReadonlyArray<PendingInterrupt>
  readonly snapshot: WorkflowSnapshotEncoded
  readonly executionId: string
}

/** The timeout of a whole inline run. @internal */
export class RunTimeout extends Error {
  readonly _tag = "RunTimeout"
  constructor(readonly timeoutMillis: number) {
    super(`the run took longer than ${timeoutMillis} ms`)
  }
}

/** @internal */
export const loadHead = (store: Backend, threadId: string) =>
  Effect.flatMap(store.load(threadId), (o) =>
    Option.isSome(o) ? Effect.succeed(o.value) : Effect.fail(new ThreadNotFound({ threadId })))

/**
 * Runs the engine in this fiber with events (and job hooks), then reads the head snapshot. A
 * run's own failure is a `failed` result; store and claim errors fail the effect.
 *
 * @internal
 */
export const runInline = (options: InlineOptions): Effect.Effect<InlineResult, any, any> =>
  Effect.gen(function*() {
    const { graph, store, threadId } = options
    const compiled = graph.compiled
    const probe = makeProbe(compiled)
    const scope: EventScope = { executionId: "", threadId, pipelineId: options.pipelineId }
    const resolveExecution = Effect.ignore(Effect.map(store.load(threadId), (o) => {
      if (Option.isSome(o)) scope.executionId = o.value.executionId
    }))
    const emit = emitter(graph.compiled, scope, probe, resolveExecution, options.hooks)
    let run: Effect.Effect<RunOutcome, unknown, unknown> = execute(compiled, store, options.request, {
      threadId,
      emit,
      modes: new Set(["events"]),
      runId: options.runId
    }, options.policy)
    if (options.timeoutMillis !== undefined) {
      const millis = options.timeoutMillis
      run = Effect.timeoutFail(run, { duration: millis, onTimeout: () => new RunTimeout(millis) })
    }
    const exit = yield* Effect.exit(Effect.provideService(run, EngineObserver, probe.observer))
    // a run that wrote nothing (an unknown thread, a refused start) has no head: its own failure
    const snapshot = yield* Effect.catchTag(
      loadHead(store, threadId),
      "ThreadNotFound",
      (notFound) => Exit.isFailure(exit) ? Effect.failCause(exit.cause as Cause.Cause<never>) : Effect.fail(notFound)
    )
    scope.executionId = snapshot.executionId
    const result = (status: ResponseStatus, extra?: Partial<InlineResult>): InlineResult => ({
      status,
      checkpoint: undefined,
      error: undefined,
      interrupts: [],
      snapshot,
      executionId: snapshot.executionId,
      ...extra
    })
    const failed = (error: unknown) => isInfrastructure(error) ? Effect.fail(error) : Effect.succeed(result("failed", { error }))
    if (Exit.isFailure(exit)) {
      const failure = Cause.failureOption(exit.cause)
      return Option.isNone(failure) ? yield* Effect.failCause(exit.cause as Cause.Cause<never>) : yield* failed(failure.value)
    }
    const outcome = exit.value
    switch (outcome._tag) {
      case "Completed":
      case "Stopped": {
        const cp = outcome.checkpoint
        const status = cp.tasks.length === 0 ? "completed" : snapshot.status === "paused" ? "paused" : "running"
        return result(status, { checkpoint: cp })
      }
      case "Paused": {
        const interrupts: ReadonlyArray<PendingInterrupt> = outcome.interrupts.map(toPending(graph.compiled))
        const timestamp = yield* Clock.currentTimeMillis
        yield* RunEvent.publish(() =>
          new RunEvent.Interrupted({
            executionId: snapshot.executionId,
            threadId,
            ...(options.pipelineId !== undefined ? { pipelineId: options.pipelineId } : {}),
            timestamp,
            checkpointId: outcome.checkpoint.checkpointId,
            interrupts: interrupts.map((i) => ({ id: i.id, kind: i.kind, node: i.node }))
          })
        )
        return result("paused", { interrupts })
      }
      case "Sleeping":
        // a durable sleep: the thread is paused until its wake-up time (a worker continues it)
        return result("paused")
      case "Failed":
        return yield* failed(outcome.error)
    }
  })

/** @internal */
export const toResponse = (
  orchestrator: string,
  threadId: string,
  result: InlineResult,
  pipelineId?: string
): OrchestrationResponse<any> => ({
  orchestrator,
  executionId: result.executionId,
  threadId,
  status: result.status,
  snapshot: result.snapshot,
  interrupts: result.interrupts,
  ...(result.status === "completed" && result.checkpoint !== undefined ? { output: result.checkpoint.values } : {}),
  ...(pipelineId !== undefined ? { pipelineId } : {}),
  ...(result.error !== undefined ? { error: result.error } : {})
})
