/**
 * What every orchestrator shares: the engine run with its lifecycle events, a probe on node runs
 * (attempts and outputs per task, for job records), and the response built from the head.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import { ThreadNotFound } from "../../GraphError.js"
import * as Interrupt from "../../Interrupt.js"
import * as RunEvent from "../../RunEvent.js"
import type { WorkflowSnapshotEncoded } from "../../Snapshot.js"
import type { Backend } from "../../Snapshots.js"
import type { AnyCompiled } from "../../StateGraph.js"
import * as Task from "../../Task.js"
import * as algo from "../engine/algo.js"
import type { Compiled } from "../graph.js"
import { toPending } from "../engine/answers.js"
import { execute } from "../engine/execute.js"
import type { Checkpoint, RunOutcome, RunPolicy, RunRequest, StreamPart } from "../engine/model.js"
import { infrastructureTags, type OrchestrationResponse, type PendingInterrupt, type ResponseStatus } from "./contract.js"

// ---------------------------------------------------------------------------------------------
// probe
// ---------------------------------------------------------------------------------------------

/** What the instrumented nodes report, per task id. @internal */
export interface Probe {
  readonly attempts: Map<string, number>
  readonly outputs: Map<string, unknown>
}

/** @internal */
export const makeProbe = (): Probe => ({ attempts: new Map(), outputs: new Map() })

/** @internal */
export const ProbeRef: FiberRef.FiberRef<Probe | undefined> = FiberRef.unsafeMake<Probe | undefined>(undefined)

const instrumented = new WeakMap<Compiled, Compiled>()

/**
 * The compiled graph with each node's run reporting its attempts and output to the probe in
 * the fiber (none: unchanged behaviour). Same id, version, codecs and edges.
 *
 * @internal
 */
export const instrument = (compiled: Compiled): Compiled => {
  const cached = instrumented.get(compiled)
  if (cached !== undefined) return cached
  const nodes: Record<string, Compiled["nodes"][string]> = {}
  for (const [name, def] of Object.entries(compiled.nodes)) {
    nodes[name] = {
      ...def,
      run: (input: unknown) =>
        Effect.flatMap(FiberRef.get(ProbeRef), (probe) => {
          if (probe === undefined) return def.run(input)
          return Effect.flatMap(Task.current, (task) => {
            if (Option.isNone(task)) return def.run(input)
            const id = task.value.taskId
            probe.attempts.set(id, (probe.attempts.get(id) ?? 0) + 1)
            return Effect.tap(def.run(input), (out) => Effect.sync(() => void probe.outputs.set(id, out)))
          })
        })
    }
  }
  const out: Compiled = { ...compiled, nodes }
  instrumented.set(compiled, out)
  return out
}

/** A node's output as its encoded writes (channel → encoded value). @internal */
export const encodeOutput = (compiled: Compiled, node: string, output: unknown): Record<string, unknown> | undefined => {
  const normalized = algo.normalizeOutput(compiled, node, output)
  if (Either.isLeft(normalized)) return undefined
  const out: Record<string, unknown> = {}
  for (const [channel, value] of normalized.right.writes) {
    const codec = compiled.codecByName[channel]
    if (codec === undefined) continue
    const enc = codec.kind === "Append" ? codec.encodeItems(value as ReadonlyArray<unknown>) : codec.encodeValue(value)
    out[channel] = Either.getOrElse(enc, () => value)
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------------------------

/** @internal */
export const tagOf = (u: unknown): string | undefined =>
  typeof u === "object" && u !== null && typeof (u as any)._tag === "string" ? (u as any)._tag : undefined

/** @internal */
export const isInfrastructure = (u: unknown) => {
  const tag = tagOf(u)
  return tag !== undefined && infrastructureTags.has(tag)
}

/** @internal */
export const render = (error: unknown): string => {
  if (error instanceof Error) {
    const tag = (error as any)._tag ?? error.name
    return error.message ? `${tag}: ${error.message}` : String(tag)
  }
  try {
    return JSON.stringify(error)
  } catch {
    return String(error)
  }
}

/** @internal */
export const isGraphInterrupted = (u: unknown): u is Interrupt.GraphInterrupted<any> =>
  u instanceof Interrupt.GraphInterrupted

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
        const raw = probe.outputs.get(event.taskId)
        return Effect.zipRight(
          published,
          Effect.ignore(hooks.finished(event.taskId, event.node, {
            _tag: "Done",
            output: encodeOutput(compiled, event.node, raw),
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
    const compiled = instrument(graph.compiled)
    const probe = makeProbe()
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
    const exit = yield* Effect.exit(Effect.locally(run, ProbeRef, probe))
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
  ...(result.status === "completed" && result.checkpoint !== undefined ? { output: result.checkpoint.values as any } : {}),
  ...(pipelineId !== undefined ? { pipelineId } : {}),
  ...(result.error !== undefined ? { error: result.error } : {})
})
