/**
 * The worker: claims jobs (one task of a step each), runs them with the engine, records how
 * they ended, and queues the next step's tasks when a job advanced the thread.
 */
import { Cause, Clock, Duration, Effect, Exit, Option, Schedule, ScheduleDecision, ScheduleIntervals, Schema } from "effect"
import { SnapshotVersionMismatch } from "../../GraphError.js"
import type * as Graphs from "../../Graphs.js"
import * as Interrupt from "../../Interrupt.js"
import * as RunEvent from "../../RunEvent.js"
import type { InterruptRecord, WorkflowSnapshotEncoded } from "../../Snapshot.js"
import type * as Snapshots from "../../Snapshots.js"
import * as Ids from "../ids.js"
import * as loop from "../loop.js"
import { AsyncConfig, type Backoff } from "./contract.js"
import {
  emitter,
  encodeOutput,
  type EventScope,
  instrument,
  isGraphInterrupted,
  makeProbe,
  ProbeRef,
  render,
  runInline,
  tagOf
} from "./engine.js"
import type { Claimed, Finished, JobEnd, NewJob, PipelineStore } from "./models.js"

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
  ) as any

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
const configCache = new Map<string, AsyncConfig>()
/** The pipeline's stored config (decoded once per distinct config). */
const configOf = (stored: unknown): AsyncConfig => {
  const key = JSON.stringify(stored ?? {})
  let config = configCache.get(key)
  if (config === undefined) {
    config = Option.getOrElse(decodeAsyncConfig(stored ?? {}), () => Option.getOrThrow(decodeAsyncConfig({})))
    if (configCache.size > 256) configCache.clear()
    configCache.set(key, config)
  }
  return config
}

const jobsOf = (cp: { readonly checkpointId: string; readonly step: number; readonly tasks: ReadonlyArray<{ readonly id: string; readonly node: string }> }): ReadonlyArray<NewJob> =>
  cp.tasks.map((t) => ({ id: Ids.make(), taskId: t.id, checkpointId: cp.checkpointId, node: t.node, step: cp.step }))

const rebuildAnswers = (claimed: Claimed) => {
  const out: Array<Interrupt.Answer<string, unknown>> = []
  for (const a of claimed.resume?.answers ?? []) {
    const definition = Interrupt.registry.get(a.kind)
    if (definition === undefined) return Option.none()
    const value = Schema.decodeUnknownOption(definition.responseSchema)(a.value)
    if (Option.isNone(value)) return Option.none()
    out.push({ _tag: "Answer", kind: a.kind, id: a.id, value: value.value, definition })
  }
  return Option.some(out)
}

/** @internal */
export const runJob = (deps: Deps, workerId: string, claimed: Claimed) =>
  Effect.scoped(Effect.gen(function*() {
    const { graphs, leaseMillis, pipelines, store } = deps
    const { job, threadId } = claimed
    const config = configOf(claimed.config)
    const schedule = backoffSchedule(config.backoff)
    const base = (at: number) => ({ executionId: claimed.executionId, threadId, pipelineId: job.pipelineId, timestamp: at })
    const jobBase = (at: number) => ({ ...base(at), jobId: job.id, node: job.node, step: job.step })

    const finish = (end: JobEnd, options: Parameters<PipelineStore["finish"]>[3]) =>
      Effect.tap(pipelines.finish(claimed, workerId, end, options), (f) => afterFinish(end, f, options.now))

    const afterFinish = (end: JobEnd, f: Finished, at: number) =>
      Effect.gen(function*() {
        if (!f.owned && end._tag !== "Completed") return
        switch (end._tag) {
          case "Completed":
            yield* RunEvent.publish(() => new RunEvent.JobCompleted({ ...jobBase(at), attempt: job.attempts }))
            break
          case "Retry":
            yield* RunEvent.publish(() => new RunEvent.JobRetrying({ ...jobBase(at), attempt: job.attempts, error: end.error, runAt: end.runAt }))
            break
          case "Failed":
            yield* RunEvent.publish(() => new RunEvent.JobFailed({ ...jobBase(at), attempt: job.attempts, error: end.error }))
            break
          default:
            break
        }
        for (const j of f.created) {
          yield* RunEvent.publish(() => new RunEvent.JobCreated({ ...base(at), jobId: j.id, node: j.node, step: j.step }))
        }
        const pipelineBase = { ...base(at), workflowId: claimed.workflowId }
        if (f.pipelineStatus === "completed") {
          yield* Effect.ignore(store.release(threadId, job.pipelineId))
          yield* RunEvent.publish(() => new RunEvent.PipelineCompleted(pipelineBase))
        }
        if (f.pipelineStatus === "failed") {
          yield* Effect.ignore(store.release(threadId, job.pipelineId))
          yield* RunEvent.publish(() =>
            new RunEvent.PipelineFailed({ ...pipelineBase, error: end._tag === "Failed" ? end.error : "a job failed" })
          )
        }
        if (f.created.length > 0 || end._tag === "Requeue" || end._tag === "Retry") yield* pipelines.signal
      })

    const now = yield* Clock.currentTimeMillis
    const graph = yield* graphs.get(claimed.workflowId, claimed.workflowVersion)
    if (Option.isNone(graph)) {
      // never run another version of the graph: fail the job (and the pipeline) with the mismatch
      const known = yield* graphs.versions(claimed.workflowId)
      const error = new SnapshotVersionMismatch({
        threadId,
        expected: known.length === 0 ? "(no version registered)" : known.join("|"),
        found: claimed.workflowVersion
      })
      yield* RunEvent.publish(() => new RunEvent.JobStarted({ ...jobBase(now), attempt: job.attempts, workerId }))
      return yield* finish({ _tag: "Failed", error: render(error), fatal: true }, { now })
    }

    // keep the lease while the job runs (wall clock: other processes read it)
    yield* pipelines.heartbeat(job.id, workerId, Date.now() + leaseMillis).pipe(
      Effect.ignore,
      Effect.delay(Duration.millis(Math.max(10, Math.floor(leaseMillis / 3)))),
      Effect.forever,
      Effect.withClock(Clock.make()),
      Effect.forkScoped
    )
    yield* RunEvent.publish(() => new RunEvent.JobStarted({ ...jobBase(now), attempt: job.attempts, workerId }))

    let request: loop.RunRequest = { _tag: "Continue" }
    let only: ReadonlySet<string> | undefined = new Set([job.taskId])
    if (claimed.resume !== undefined) {
      const answers = rebuildAnswers(claimed)
      if (Option.isNone(answers)) {
        return yield* finish({ _tag: "Failed", error: "the answers of the resume job do not decode here", fatal: true }, { now })
      }
      request = { _tag: "Resume", answers: answers.value }
      only = claimed.resume.tasks.length > 0 ? new Set(claimed.resume.tasks) : undefined
    }

    const compiled = graph.value.compiled
    const probe = makeProbe()
    const scope: EventScope = { executionId: claimed.executionId, threadId, pipelineId: job.pipelineId }
    let run: Effect.Effect<loop.Checkpoint, any, any> = loop.execute(instrument(compiled), store, request, {
      threadId,
      runId: job.pipelineId,
      keepClaim: true,
      onlyTasks: only,
      stopAfterSteps: 1,
      emit: emitter(compiled, scope, probe, Effect.void),
      modes: new Set(["events"])
    })
    if (config.timeoutMillis !== undefined) run = Effect.timeout(run, Duration.millis(config.timeoutMillis))
    const exit = yield* Effect.exit(Effect.locally(run, ProbeRef, probe))
    const at = yield* Clock.currentTimeMillis

    const output = () => {
      if (claimed.resume === undefined) return encodeOutput(compiled, job.node, probe.outputs.get(job.taskId))
      const all: Record<string, unknown> = {}
      for (const [taskId, raw] of probe.outputs) all[taskId] = encodeOutput(compiled, taskId.split("/")[1]?.split(".")[0] ?? "", raw)
      return all
    }

    const advanced = (cp: { readonly checkpointId: string; readonly step: number; readonly tasks: ReadonlyArray<{ readonly id: string; readonly node: string }> }) => {
      if (cp.checkpointId === job.checkpointId) return finish({ _tag: "Completed", output: output() }, { now: at })
      const complete = cp.tasks.length === 0
      return finish({ _tag: "Completed", output: output() }, {
        now: at,
        snapshotId: cp.checkpointId,
        complete,
        next: complete ? undefined : jobsOf(cp)
      })
    }

    if (Exit.isSuccess(exit)) {
      const cp = exit.value
      const waiting = cp.interrupts.filter((i) => i.status === "pending")
      if (claimed.resume !== undefined && cp.checkpointId === job.checkpointId && waiting.length > 0) {
        // some interrupts of the step are still unanswered: the pipeline pauses again
        const f = yield* advanced(cp)
        yield* Effect.ignore(store.setStatus(threadId, job.pipelineId, cp.checkpointId, {
          status: "paused",
          interrupts: cp.interrupts,
          pauseReason: "interrupt"
        }))
        if (yield* pipelines.transition(job.pipelineId, ["running"], "paused", { now: at, pauseReason: "interrupt" })) {
          yield* RunEvent.publish(() => new RunEvent.PipelinePaused({ ...base(at), workflowId: claimed.workflowId, reason: "interrupt" }))
        }
        return f
      }
      return yield* advanced(cp)
    }

    const failure = Cause.failureOption(exit.cause)
    const error: unknown = Option.isSome(failure) ? failure.value : Cause.pretty(exit.cause)
    if (isGraphInterrupted(error)) {
      const own = error.interrupts.some((i: any) => only === undefined || only.has(i.taskId))
      const head = Option.flatten(yield* Effect.option(store.load(threadId)))
      const records = own ? interruptRecords(error, head) : []
      const f = yield* finish(own ? { _tag: "Interrupted", interrupts: records } : { _tag: "Completed", output: output() }, {
        now: at,
        snapshotId: error.checkpointId
      })
      if (!f.owned) return f
      if (own && f.interrupts !== undefined) yield* mergeInterrupts(deps, claimed, error.checkpointId, f.interrupts)
      const moved = yield* pipelines.transition(job.pipelineId, ["running"], "paused", { now: at, pauseReason: "interrupt" })
      yield* RunEvent.publish(() =>
        new RunEvent.Interrupted({
          ...base(at),
          checkpointId: error.checkpointId,
          interrupts: error.interrupts.map((i: any) => ({ id: i.id, kind: i.kind, node: i.node }))
        })
      )
      if (moved) {
        yield* RunEvent.publish(() => new RunEvent.PipelinePaused({ ...base(at), workflowId: claimed.workflowId, reason: "interrupt" }))
      }
      return f
    }
    switch (tagOf(error)) {
      case "ThreadPaused":
        // a sibling paused the thread: this job waits for the resume
        return yield* finish({ _tag: "Requeue", runAt: at }, { now: at })
      case "ThreadSleeping": {
        const wakeAt = Date.parse((error as any).wakeAt)
        return yield* finish({ _tag: "Requeue", runAt: Number.isNaN(wakeAt) ? at : wakeAt }, { now: at })
      }
      case "ThreadBusy": {
        // a racing commit: another job advanced the step (or another run holds the thread)
        const head = yield* Effect.option(store.load(threadId))
        const h = Option.flatten(head)
        if (Option.isSome(h) && h.value.checkpointId !== job.checkpointId) return yield* advanced(h.value)
        // another run holds the thread: try again later, as a failed attempt
        const delay = yield* retryDelay(schedule, job.attempts)
        if (Option.isSome(delay)) return yield* finish({ _tag: "Retry", runAt: at + delay.value, error: render(error) }, { now: at })
        return yield* finish({ _tag: "Failed", error: render(error), fatal: false }, { now: at })
      }
      case "SnapshotVersionMismatch":
      case "CorruptSnapshot":
      case "ThreadNotFound":
        return yield* finish({ _tag: "Failed", error: render(error), fatal: true }, { now: at })
      default: {
        const message = Option.isSome(failure) ? render(error) : String(error)
        const delay = yield* retryDelay(schedule, job.attempts)
        if (Option.isSome(delay)) {
          return yield* finish({ _tag: "Retry", runAt: at + delay.value, error: message }, { now: at })
        }
        return yield* finish({ _tag: "Failed", error: message, fatal: false }, { now: at })
      }
    }
  }))

/** A job's interrupts as stored records: the head's when it has them, else re-encoded. */
const interruptRecords = (
  error: Interrupt.GraphInterrupted<any>,
  head: Option.Option<WorkflowSnapshotEncoded>
): ReadonlyArray<InterruptRecord> =>
  error.interrupts.map((i: any): InterruptRecord => {
    const stored = Option.isSome(head) ? head.value.interrupts.find((r) => r.id === i.id) : undefined
    if (stored !== undefined) return stored
    const kind = Interrupt.registry.get(i.kind)
    const request = kind === undefined
      ? i.request
      : Option.getOrElse(Schema.encodeUnknownOption(kind.requestSchema)(i.request), () => i.request)
    return { id: i.id, kind: i.kind, request, node: i.node, taskId: i.taskId, status: "pending" }
  })

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

// ---------------------------------------------------------------------------------------------
// the pool
// ---------------------------------------------------------------------------------------------

/** @internal */
export interface PoolOptions {
  readonly concurrency: number
  readonly pollMillis: number
  readonly leaseMillis: number
  readonly workerId: string
  readonly wakeSleepers: boolean
  /** how often expired leases are reclaimed and sleepers woken */
  readonly maintenanceMillis: number
}

/** One worker fiber: claim, run, repeat; waits for a wake-up or the poll interval when idle. @internal */
export const workerLoop = (deps: Deps, id: string, pollMillis: number) =>
  Effect.gen(function*() {
    const ticket = yield* deps.pipelines.ticket
    const now = yield* Clock.currentTimeMillis
    const claimed = yield* deps.pipelines.claim(id, now, Date.now() + deps.leaseMillis)
    if (Option.isNone(claimed)) return yield* deps.pipelines.awaitWorkSince(pollMillis, ticket)
    yield* runJob(deps, id, claimed.value)
  }).pipe(
    Effect.catchAllCause((cause) =>
      Effect.zipRight(
        Effect.logWarning("worker iteration failed", cause),
        Effect.sleep(Duration.millis(pollMillis)).pipe(Effect.withClock(Clock.make()))
      )
    ),
    Effect.forever
  )

/**
 * Housekeeping: expired leases back to the queue; due durable sleepers (not owned by a
 * pipeline) continued with `invoke(null)`.
 *
 * @internal
 */
export const maintenance = (deps: Deps, options: PoolOptions) =>
  Effect.gen(function*() {
    yield* deps.pipelines.reclaim(Date.now())
    if (!options.wakeSleepers) return
    const now = yield* Clock.currentTimeMillis
    const due = yield* deps.store.dueSleepers(now, 16)
    if (due.length === 0) return
    const owned = yield* deps.pipelines.activeThreads(due.map((t) => t.threadId))
    for (const t of due) {
      if (owned.has(t.threadId)) continue
      const head = yield* deps.store.load(t.threadId)
      if (Option.isNone(head)) continue
      const graph = yield* deps.graphs.get(head.value.workflowId, head.value.workflowVersion)
      if (Option.isNone(graph)) continue
      yield* Effect.forkDaemon(Effect.ignore(runInline({
        graph: graph.value,
        store: deps.store,
        threadId: t.threadId,
        request: { _tag: "Input", input: null }
      })))
    }
  }).pipe(
    Effect.catchAllCause((cause) => Effect.logWarning("worker maintenance failed", cause)),
    Effect.zipRight(Effect.sleep(Duration.millis(options.maintenanceMillis)).pipe(Effect.withClock(Clock.make()))),
    Effect.forever
  )
