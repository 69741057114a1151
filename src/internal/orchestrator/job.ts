/**
 * One job of the queue: how it is retried (the backoff), how it runs with the engine, and how it
 * ended (an `Outcome`, recorded by the worker).
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleIntervals from "effect/ScheduleIntervals"
import * as Schema from "effect/Schema"
import { SnapshotVersionMismatch } from "../../GraphError.js"
import type * as Graphs from "../../Graphs.js"
import * as Interrupt from "../../Interrupt.js"
import * as RunEvent from "../../RunEvent.js"
import type { InterruptRecord, WorkflowSnapshotEncoded } from "../../Snapshot.js"
import type * as Snapshots from "../../Snapshots.js"
import { checkedAnswer } from "../engine/answers.js"
import { EngineObserver } from "../engine/observer.js"
import { renderError, tagOf } from "../engine/codec.js"
import { execute } from "../engine/execute.js"
import type { RunOutcome, RunRequest } from "../engine/model.js"
import { AsyncConfig, type Backoff } from "./contract.js"
import { emitter, type EventScope, jobsOf, makeProbe, type Probe } from "./engine.js"
import type { Compiled } from "../graph.js"
import type { Claimed, Finished, FinishRequest, JobEnd, PipelineStore } from "./models.js"

// ---------------------------------------------------------------------------------------------
// backoff
// ---------------------------------------------------------------------------------------------

/**
 * The retry schedule of a backoff config: exponential from `baseMillis` by `factor`, each delay
 * capped at `maxDelayMillis`, `maxAttempts - 1` retries.
 *
 * @internal
 */
export const backoffSchedule = (b: Backoff): Schedule.Schedule<unknown, unknown> =>
  Schedule.exponential(Duration.millis(b.baseMillis), b.factor).pipe(
    Schedule.modifyDelay((d) => Duration.min(d, Duration.millis(b.maxDelayMillis))),
    Schedule.intersect(Schedule.recurs(b.maxAttempts - 1))
  )

/**
 * The delay before retry number `retry` (1 = after the first failure), by stepping the schedule;
 * none when the schedule is done. Durable: recomputed from the attempt count, in any process.
 *
 * @internal
 */
export const retryDelay = (schedule: Schedule.Schedule<unknown, unknown>, retry: number): Effect.Effect<Option.Option<number>> =>
  Effect.gen(function*() {
    let state = schedule.initial
    let now = 0
    let delay = 0
    for (let i = 0; i < retry; i++) {
      const [next, , decision] = yield* schedule.step(now, undefined, state)
      if (ScheduleDecision.isDone(decision)) return Option.none()
      const start = ScheduleIntervals.start(decision.intervals)
      delay = Math.max(0, start - now)
      now = start
      state = next
    }
    return Option.some(delay)
  })

// ---------------------------------------------------------------------------------------------
// running one job
// ---------------------------------------------------------------------------------------------

/** @internal */
export interface Deps {
  readonly store: Snapshots.Backend
  readonly pipelines: PipelineStore
  readonly graphs: Graphs.Registry
  readonly leaseMillis: number
}

const decodeAsyncConfig = Schema.decodeUnknownOption(AsyncConfig)
const defaultConfig = Option.getOrThrow(decodeAsyncConfig({}))
const configCache = new WeakMap<object, AsyncConfig>()
/** The pipeline's stored config, decoded once per stored object (the store shares equal ones). */
const configOf = (stored: unknown): AsyncConfig => {
  if (typeof stored !== "object" || stored === null) return Option.getOrElse(decodeAsyncConfig(stored ?? {}), () => defaultConfig)
  let config = configCache.get(stored)
  if (config === undefined) {
    config = Option.getOrElse(decodeAsyncConfig(stored), () => defaultConfig)
    configCache.set(stored, config)
  }
  return config
}

const eventsMode: ReadonlySet<string> = new Set(["events"])

/**
 * The answers of a resume job: checked and encoded by the orchestrator that queued them, each for
 * one interrupt id; the asking node decodes its own (no table of kinds is consulted here).
 */
const queuedAnswers = (claimed: Claimed): ReadonlyArray<Interrupt.Answer<string, unknown>> =>
  (claimed.resume?.answers ?? []).map((a) => checkedAnswer(a.kind, a.id, a.value))

/**
 * How a job ended, to record (`PipelineStore.finish`), and what to do once it is recorded:
 * the events, and for pauses the thread's and the pipeline's status.
 *
 * @internal
 */
export interface Outcome extends FinishRequest {
  readonly then?: ((f: Finished) => Effect.Effect<void, unknown>) | undefined
}

export const eventBase = (claimed: Claimed, at: number) => ({
  executionId: claimed.executionId,
  threadId: claimed.threadId,
  pipelineId: claimed.job.pipelineId,
  timestamp: at
})

export const jobEventBase = (claimed: Claimed, at: number) => ({
  ...eventBase(claimed, at),
  jobId: claimed.job.id,
  node: claimed.job.node,
  step: claimed.job.step
})

/** Runs the job's step with the engine: one step, only the job's tasks, keeping the pipeline's claim. */
const runEngine = (
  deps: Deps,
  claimed: Claimed,
  compiled: Compiled,
  probe: Probe,
  options: { readonly request: RunRequest; readonly only: ReadonlySet<string> | undefined; readonly config: AsyncConfig }
) =>
  Effect.gen(function*() {
    const { job, threadId } = claimed
    const scope: EventScope = { executionId: claimed.executionId, threadId, pipelineId: job.pipelineId }
    // the engine's events only when someone listens
    const listened = Option.isSome(yield* Effect.serviceOption(RunEvent.EventBus))
    let run: Effect.Effect<RunOutcome, unknown, unknown> = execute(compiled, deps.store, options.request, {
      threadId,
      runId: job.pipelineId,
      ...(listened ? { emit: emitter(compiled, scope, probe, Effect.void), modes: eventsMode } : {})
    }, { keepClaim: true, onlyTasks: options.only, stopAfterSteps: 1 })
    if (options.config.timeoutMillis !== undefined) run = Effect.timeout(run, Duration.millis(options.config.timeoutMillis))
    // the services the graph's nodes need, captured with the registry
    run = Effect.provide(run, deps.graphs.services)
    return yield* Effect.exit(Effect.provideService(run, EngineObserver, probe.observer))
  })

/** Some interrupts of a resumed step are still unanswered: the thread and the pipeline pause again. */
const pauseAgain = (
  deps: Deps,
  claimed: Claimed,
  cp: { readonly checkpointId: string; readonly interrupts: ReadonlyArray<InterruptRecord> },
  at: number
) =>
  Effect.gen(function*() {
    const { job, threadId } = claimed
    yield* Effect.ignore(deps.store.setStatus(threadId, job.pipelineId, cp.checkpointId, {
      status: "paused",
      interrupts: cp.interrupts,
      pauseReason: "interrupt"
    }))
    if (yield* deps.pipelines.transition(job.pipelineId, ["running"], "paused", { now: at, pauseReason: "interrupt" })) {
      yield* RunEvent.publish(() => new RunEvent.PipelinePaused({ ...eventBase(claimed, at), workflowId: claimed.workflowId, reason: "interrupt" }, true))
    }
  })

/** A job's task asked: once recorded, the step's interrupts are merged and the pipeline pauses. */
const interrupted = (
  deps: Deps,
  claimed: Claimed,
  f: Finished,
  e: {
    readonly checkpointId: string
    readonly interrupts: ReadonlyArray<{ readonly id: string; readonly kind: string; readonly node: string }>
    readonly own: boolean
    readonly at: number
  }
) =>
  Effect.gen(function*() {
    if (!f.owned) return
    const base = eventBase(claimed, e.at)
    if (e.own && f.interrupts !== undefined) yield* mergeInterrupts(deps, claimed, e.checkpointId, f.interrupts)
    const moved = yield* deps.pipelines.transition(claimed.job.pipelineId, ["running"], "paused", { now: e.at, pauseReason: "interrupt" })
    yield* RunEvent.publish(() =>
      new RunEvent.Interrupted({
        ...base,
        checkpointId: e.checkpointId,
        interrupts: e.interrupts.map((i) => ({ id: i.id, kind: i.kind, node: i.node }))
      }, true)
    )
    if (moved) yield* RunEvent.publish(() => new RunEvent.PipelinePaused({ ...base, workflowId: claimed.workflowId, reason: "interrupt" }, true))
  })

/**
 * Runs a claimed job with the engine and says how it ended; nothing about the job is recorded
 * yet (see `afterFinish`). Event classes are built without re-validating what the engine made.
 *
 * @internal
 */
export const runJob = (deps: Deps, workerId: string, claimed: Claimed) =>
  Effect.gen(function*() {
    const { graphs, store } = deps
    const { job, threadId } = claimed
    const config = configOf(claimed.config)
    const startedAt = yield* Clock.currentTimeMillis
    const outcome = (end: JobEnd, options: Omit<Outcome["options"], "startedAt">, then?: Outcome["then"]): Outcome => ({
      claimed,
      workerId,
      end,
      options: { ...options, startedAt },
      then
    })
    const retryOrFail = (error: string, at: number) =>
      Effect.map(retryDelay(backoffSchedule(config.backoff), job.attempts), (delay) =>
        Option.isSome(delay)
          ? outcome({ _tag: "Retry", runAt: at + delay.value, error }, { now: at })
          : outcome({ _tag: "Failed", error, fatal: false }, { now: at }))

    const graph = yield* graphs.get(claimed.workflowId, claimed.workflowVersion)
    yield* RunEvent.publish(() => new RunEvent.JobStarted({ ...jobEventBase(claimed, startedAt), attempt: job.attempts, workerId }, true))
    if (Option.isNone(graph)) {
      // never run another version of the graph: fail the job (and the pipeline) with the mismatch
      const known = yield* graphs.versions(claimed.workflowId)
      const error = new SnapshotVersionMismatch({
        threadId,
        expected: known.length === 0 ? "(no version registered)" : known.join("|"),
        found: claimed.workflowVersion
      })
      return outcome({ _tag: "Failed", error: renderError(error), fatal: true }, { now: startedAt })
    }

    let request: RunRequest = { _tag: "Continue" }
    let only: ReadonlySet<string> | undefined = new Set([job.taskId])
    if (claimed.resume !== undefined) {
      request = { _tag: "Resume", answers: queuedAnswers(claimed) }
      only = claimed.resume.tasks.length > 0 ? new Set(claimed.resume.tasks) : undefined
    }

    const compiled = graph.value.compiled
    const probe = makeProbe(compiled)
    const exit = yield* runEngine(deps, claimed, compiled, probe, { request, only, config })
    const at = yield* Clock.currentTimeMillis

    const output = () => {
      if (claimed.resume === undefined) return probe.outputs.get(job.taskId)
      const all: Record<string, unknown> = {}
      for (const [taskId, output] of probe.outputs) all[taskId] = output
      return all
    }

    const advanced = (
      cp: { readonly checkpointId: string; readonly step: number; readonly tasks: ReadonlyArray<{ readonly id: string; readonly node: string }> },
      then?: Outcome["then"]
    ) => {
      if (cp.checkpointId === job.checkpointId) return outcome({ _tag: "Completed", output: output() }, { now: at }, then)
      const complete = cp.tasks.length === 0
      return outcome({ _tag: "Completed", output: output() }, {
        now: at,
        snapshotId: cp.checkpointId,
        complete,
        next: complete ? undefined : jobsOf(cp)
      }, then)
    }

    const ended = Exit.isSuccess(exit) ? exit.value : undefined
    if (ended !== undefined && (ended._tag === "Completed" || ended._tag === "Stopped")) {
      const cp = ended.checkpoint
      const waiting = cp.interrupts.filter((i) => i.status === "pending")
      if (claimed.resume !== undefined && cp.checkpointId === job.checkpointId && waiting.length > 0) {
        // some interrupts of the step are still unanswered: the pipeline pauses again
        return advanced(cp, () => pauseAgain(deps, claimed, cp, at))
      }
      return advanced(cp)
    }
    if (ended !== undefined && ended._tag === "Paused") {
      const checkpointId = ended.checkpoint.checkpointId
      const own = ended.interrupts.some((i) => only === undefined || only.has(i.taskId))
      const head = Option.flatten(yield* Effect.option(store.load(threadId)))
      const records = own ? interruptRecords(ended.interrupts, head) : []
      return outcome(own ? { _tag: "Interrupted", interrupts: records } : { _tag: "Completed", output: output() }, {
        now: at,
        snapshotId: checkpointId
      }, (f) => interrupted(deps, claimed, f, { checkpointId, interrupts: ended.interrupts, own, at }))
    }
    if (ended !== undefined && ended._tag === "Sleeping") return outcome({ _tag: "Requeue", runAt: ended.wakeAt }, { now: at })
    // a failed run (its node's error) or a failed effect (the store, a refusal, the timeout)
    const failure = Exit.isSuccess(exit)
      ? Option.some(exit.value._tag === "Failed" ? exit.value.error : undefined)
      : Cause.failureOption(exit.cause)
    const error: unknown = Option.isSome(failure) ? failure.value : Exit.isFailure(exit) ? Cause.pretty(exit.cause) : undefined
    switch (tagOf(error)) {
      case "ThreadPaused":
        // a sibling paused the thread: this job waits for the resume
        return outcome({ _tag: "Requeue", runAt: at }, { now: at })
      case "ThreadBusy": {
        // a racing commit: another job advanced the step (or another run holds the thread)
        const head = Option.flatten(yield* Effect.option(store.load(threadId)))
        if (Option.isSome(head) && head.value.checkpointId !== job.checkpointId) return advanced(head.value)
        // another run holds the thread: try again later, as a failed attempt
        return yield* retryOrFail(renderError(error), at)
      }
      case "SnapshotVersionMismatch":
      case "CorruptSnapshot":
      case "ThreadNotFound":
        return outcome({ _tag: "Failed", error: renderError(error), fatal: true }, { now: at })
      default:
        return yield* retryOrFail(Option.isSome(failure) ? renderError(error) : String(error), at)
    }
  })

/**
 * Once a job's end is recorded: its events, the thread given back when the pipeline ended, then
 * the outcome's own follow-up. Nothing when the job's lease was lost (unless it completed).
 *
 * @internal


/** A job's interrupts as stored records: the head's when it has them, else the run's own. */
const interruptRecords = (
  interrupts: ReadonlyArray<InterruptRecord>,
  head: Option.Option<WorkflowSnapshotEncoded>
): ReadonlyArray<InterruptRecord> =>
  interrupts.map((i) => (Option.isSome(head) ? head.value.interrupts.find((r) => r.id === i.id) : undefined) ?? i)

/**
 * Tasks of one step that ask at the same time in different jobs each write the thread's
 * interrupt list: the last one's would hide the others'. After each, the pipeline (which owns
 * the thread) writes the union of every interrupted job's records of the step.
 */
const mergeInterrupts = (deps: Deps, claimed: Claimed, checkpointId: string, all: ReadonlyArray<unknown>) =>
  Effect.gen(function*() {
    const head = Option.flatten(yield* Effect.option(deps.store.load(claimed.threadId)))
    if (Option.isNone(head) || head.value.checkpointId !== checkpointId || head.value.status !== "paused") return
    const merged = new Map<string, InterruptRecord>()
    for (const r of head.value.interrupts) merged.set(r.id, r)
    let added = false
    for (const r of all as ReadonlyArray<InterruptRecord>) {
      if (!merged.has(r.id)) {
        merged.set(r.id, r)
        added = true
      }
    }
    if (!added) return
    yield* Effect.ignore(deps.store.setStatus(claimed.threadId, claimed.job.pipelineId, checkpointId, {
      status: "paused",
      interrupts: [...merged.values()],
      pauseReason: "interrupt"
    }))
  })

