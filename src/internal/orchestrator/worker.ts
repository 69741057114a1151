/**
 * The worker: claims jobs (one task of a step each), runs them with the engine, records how
 * they ended, and queues the next step's tasks when a job advanced the thread.
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
import {
  emitter,
  type EventScope,
  makeProbe,
  jobsOf,
  runInline,
} from "./engine.js"
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

const eventBase = (claimed: Claimed, at: number) => ({
  executionId: claimed.executionId,
  threadId: claimed.threadId,
  pipelineId: claimed.job.pipelineId,
  timestamp: at
})

const jobEventBase = (claimed: Claimed, at: number) => ({
  ...eventBase(claimed, at),
  jobId: claimed.job.id,
  node: claimed.job.node,
  step: claimed.job.step
})

/**
 * Runs a claimed job with the engine and says how it ended; nothing about the job is recorded
 * yet (see `afterFinish`). Event classes are built without re-validating what the engine made.
 *
 * @internal
 */
export const runJob = (deps: Deps, workerId: string, claimed: Claimed) =>
  Effect.gen(function*() {
    const { graphs, pipelines, store } = deps
    const { job, threadId } = claimed
    const config = configOf(claimed.config)
    const base = (at: number) => eventBase(claimed, at)
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
    const scope: EventScope = { executionId: claimed.executionId, threadId, pipelineId: job.pipelineId }
    // the engine's events only when someone listens
    const listened = Option.isSome(yield* Effect.serviceOption(RunEvent.EventBus))
    let run: Effect.Effect<RunOutcome, unknown, unknown> = execute(compiled, store, request, {
      threadId,
      runId: job.pipelineId,
      ...(listened ? { emit: emitter(compiled, scope, probe, Effect.void), modes: eventsMode } : {})
    }, { keepClaim: true, onlyTasks: only, stopAfterSteps: 1 })
    if (config.timeoutMillis !== undefined) run = Effect.timeout(run, Duration.millis(config.timeoutMillis))
    // the services the graph's nodes need, captured with the registry
    run = Effect.provide(run, graphs.services)
    const exit = yield* Effect.exit(Effect.provideService(run, EngineObserver, probe.observer))
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
        return advanced(cp, () =>
          Effect.gen(function*() {
            yield* Effect.ignore(store.setStatus(threadId, job.pipelineId, cp.checkpointId, {
              status: "paused",
              interrupts: cp.interrupts,
              pauseReason: "interrupt"
            }))
            if (yield* pipelines.transition(job.pipelineId, ["running"], "paused", { now: at, pauseReason: "interrupt" })) {
              yield* RunEvent.publish(() => new RunEvent.PipelinePaused({ ...base(at), workflowId: claimed.workflowId, reason: "interrupt" }, true))
            }
          }))
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
      }, (f) =>
        Effect.gen(function*() {
          if (!f.owned) return
          if (own && f.interrupts !== undefined) yield* mergeInterrupts(deps, claimed, checkpointId, f.interrupts)
          const moved = yield* pipelines.transition(job.pipelineId, ["running"], "paused", { now: at, pauseReason: "interrupt" })
          yield* RunEvent.publish(() =>
            new RunEvent.Interrupted({
              ...base(at),
              checkpointId,
              interrupts: ended.interrupts.map((i) => ({ id: i.id, kind: i.kind, node: i.node }))
            }, true)
          )
          if (moved) {
            yield* RunEvent.publish(() => new RunEvent.PipelinePaused({ ...base(at), workflowId: claimed.workflowId, reason: "interrupt" }, true))
          }
        }))
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
 */
export const afterFinish = (deps: Deps, o: Outcome, f: Finished): Effect.Effect<void, unknown> =>
  Effect.gen(function*() {
    const { claimed, end } = o
    const at = o.options.now
    if (!f.owned && end._tag !== "Completed") return
    const attempt = claimed.job.attempts
    switch (end._tag) {
      case "Completed":
        yield* RunEvent.publish(() => new RunEvent.JobCompleted({ ...jobEventBase(claimed, at), attempt }, true))
        break
      case "Retry":
        yield* RunEvent.publish(() =>
          new RunEvent.JobRetrying({ ...jobEventBase(claimed, at), attempt, error: end.error, runAt: end.runAt }, true)
        )
        break
      case "Failed":
        yield* RunEvent.publish(() => new RunEvent.JobFailed({ ...jobEventBase(claimed, at), attempt, error: end.error }, true))
        break
      default:
        break
    }
    for (const j of f.created) {
      yield* RunEvent.publish(() => new RunEvent.JobCreated({ ...eventBase(claimed, at), jobId: j.id, node: j.node, step: j.step }, true))
    }
    const pipelineBase = { ...eventBase(claimed, at), workflowId: claimed.workflowId }
    if (f.pipelineStatus === "completed") {
      yield* Effect.ignore(deps.store.release(claimed.threadId, claimed.job.pipelineId))
      yield* RunEvent.publish(() => new RunEvent.PipelineCompleted(pipelineBase, true))
    }
    if (f.releaseThread === true) yield* Effect.ignore(deps.store.release(claimed.threadId, claimed.job.pipelineId))
    if (f.pipelineStatus === "failed") {
      yield* RunEvent.publish(() =>
        new RunEvent.PipelineFailed({ ...pipelineBase, error: end._tag === "Failed" ? end.error : "a job failed" }, true)
      )
    }
    if (o.then !== undefined) yield* o.then(f)
  })

/** Whether recording these outcomes made jobs ready: the pool's workers are woken. */
const readies = (outcomes: ReadonlyArray<Outcome>, finished: ReadonlyArray<Finished>) =>
  outcomes.some((o, i) => finished[i]!.created.length > 0 || o.end._tag === "Requeue" || o.end._tag === "Retry")

/** Records outcomes in one transaction, then runs what follows each, in order. @internal */
export const record = (deps: Deps, outcomes: ReadonlyArray<Outcome>): Effect.Effect<void, unknown> =>
  outcomes.length === 0 ? Effect.void : Effect.flatMap(retryStore(deps.pipelines.finish(outcomes), 6, 50), (finished) =>
    Effect.zipRight(
      Effect.forEach(outcomes, (o, i) => afterFinish(deps, o, finished[i]!), { discard: true }),
      readies(outcomes, finished) ? deps.pipelines.signal : Effect.void
    ))

/**
 * A store call that failed (the database restarting, a connection cut) is tried again after
 * `delayMillis`, doubling, `attempts` times, on the live clock. For `finish`, the outcome of a job
 * already run: given up, the job would wait for its lease to end and run again. Repeating it is
 * safe: a job already recorded is no longer this worker's.
 */
const retryStore = <A, E>(effect: Effect.Effect<A, E>, attempts: number, delayMillis: number): Effect.Effect<A, E> =>
  Effect.catchAll(effect, (e) =>
    attempts <= 0
      ? Effect.fail(e)
      : Effect.zipRight(
        Effect.sleep(Duration.millis(delayMillis)).pipe(Effect.withClock(Clock.make())),
        retryStore(effect, attempts - 1, delayMillis * 2)
      ))

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
  /** the most jobs a worker fiber claims at once */
  readonly maxBatch: number
  /** how long a worker fiber's batch may take: its size comes from recent job durations */
  readonly batchWindowMillis: number
}

/**
 * The jobs of one claim, run one after another by the worker fiber that claimed them. Shared by
 * that fiber and its watchdog; each takes what it handles in one synchronous step.
 */
interface Batch {
  /** claimed, not started */
  readonly waiting: Array<Claimed>
  /** ended, not recorded */
  readonly ended: Array<Outcome>
  /** the job running now */
  running: Claimed | undefined
}

/** Records the batch's ended jobs (one transaction). */
const recordEnded = (deps: Deps, batch: Batch) =>
  Effect.suspend(() => record(deps, batch.ended.splice(0, batch.ended.length))).pipe(
    Effect.catchAllCause((cause) => Effect.logWarning("worker could not record jobs", cause))
  )

/** Claimed jobs not started go back to the queue. */
const giveBack = (deps: Deps, workerId: string, jobs: ReadonlyArray<Claimed>) =>
  jobs.length === 0 ? Effect.void : Effect.flatMap(Clock.currentTimeMillis, (now) =>
    deps.pipelines.giveBack(jobs.map((c) => c.job.id), workerId, now)).pipe(
      Effect.catchAllCause((cause) => Effect.logWarning("worker could not give jobs back", cause))
    )

/** What is left of a batch: the jobs not started go back to the queue, the ended ones are recorded. */
const settleBatch = (deps: Deps, workerId: string, batch: Batch) =>
  Effect.zipRight(
    Effect.suspend(() => giveBack(deps, workerId, batch.waiting.splice(0, batch.waiting.length))),
    recordEnded(deps, batch)
  )

/**
 * Watches a batch (wall clock, as leases are): when a job is still running at the end of the
 * batch's window, the jobs not started go back to the queue (other workers may be free) and the
 * ended ones are recorded (their pipelines go on); then the running job's lease is renewed every
 * third of the lease while it runs.
 */
const watchdog = (deps: Deps, workerId: string, batch: Batch, windowMillis: number) =>
  Effect.sleep(Duration.millis(windowMillis)).pipe(
    Effect.zipRight(Effect.uninterruptible(settleBatch(deps, workerId, batch))),
    Effect.zipRight(
      Effect.suspend(() =>
        batch.running === undefined
          ? Effect.void
          : Effect.ignore(deps.pipelines.heartbeat(batch.running.job.id, workerId, Date.now() + deps.leaseMillis))
      ).pipe(Effect.delay(Duration.millis(Math.max(10, Math.floor(deps.leaseMillis / 3)))), Effect.forever)
    ),
    Effect.withClock(Clock.make())
  )

/**
 * Runs a claimed batch: its jobs one after another, for at most `windowMillis` (no job starts
 * later), then records how they ended in one transaction. A job after the first starts only while
 * its pipeline still runs (a pause or a cancel since the claim holds it back). What is not started
 * goes back to the queue — also when the batch is interrupted. Reports each job's duration.
 *
 * @internal
 */
export const runBatch = (
  deps: Deps,
  workerId: string,
  claimed: ReadonlyArray<Claimed>,
  windowMillis: number,
  observe: (millis: number) => void
) =>
  Effect.scoped(Effect.gen(function*() {
    const batch: Batch = { waiting: [...claimed], ended: [], running: undefined }
    const until = performance.now() + windowMillis
    yield* Effect.addFinalizer(() =>
      Effect.zipRight(
        // interrupted mid-job (the pool's scope closed): that job goes back too
        Effect.suspend(() => (batch.running === undefined ? Effect.void : giveBack(deps, workerId, [batch.running]))),
        settleBatch(deps, workerId, batch)
      ))
    yield* Effect.forkScoped(watchdog(deps, workerId, batch, windowMillis))
    let first = true
    while (batch.waiting.length > 0 && performance.now() <= until) {
      if (!first && !(yield* deps.pipelines.isRunning(batch.waiting[0]!.job.pipelineId))) {
        // paused, cancelled or ended since the claim: its jobs do not start (they go back)
        yield* giveBack(deps, workerId, batch.waiting.splice(0, 1))
        continue
      }
      first = false
      const next = batch.waiting.shift()!
      batch.running = next
      const started = performance.now()
      const exit = yield* Effect.exit(runJob(deps, workerId, next).pipe(
        Effect.withSpan("Worker.job", {
          attributes: {
            "stategraph.graph": next.workflowId,
            "stategraph.thread": next.threadId,
            "stategraph.pipeline": next.job.pipelineId,
            "stategraph.node": next.job.node,
            "stategraph.step": next.job.step,
            "stategraph.attempt": next.job.attempts
          }
        })
      ))
      observe(performance.now() - started)
      batch.running = undefined
      // a job that died unrecorded keeps its claim until its lease ends: then it runs again
      if (Exit.isSuccess(exit)) batch.ended.push(exit.value)
      else if (Exit.isInterrupted(exit)) {
        // the pool is shutting down: the job goes back to the queue now, not after its lease
        yield* Effect.uninterruptible(giveBack(deps, workerId, [next]))
      } else yield* Effect.logWarning("worker job failed", exit.cause)
    }
  }))

/**
 * One worker fiber: claim a batch, run it, repeat; waits for a wake-up or the poll interval when
 * idle. A batch holds as many jobs as this fiber's recent ones suggest end within half the batch
 * window (one while none ran yet, and when jobs are slow): short jobs share the claim and finish
 * transactions, long ones are claimed one at a time.
 *
 * @internal
 */
export const workerLoop = (
  deps: Deps,
  id: string,
  options: { readonly pollMillis: number; readonly maxBatch: number; readonly batchWindowMillis: number }
) =>
  Effect.suspend(() => {
    // moving average of this fiber's job durations (ms); none before its first job
    let average: number | undefined
    const observe = (millis: number) => {
      average = average === undefined ? millis : average * 0.8 + millis * 0.2
    }
    const size = () =>
      average === undefined
        ? 1
        : Math.max(1, Math.min(options.maxBatch, Math.floor(options.batchWindowMillis / 2 / Math.max(average, 0.01))))
    // failed iterations in a row: the next try waits 50 ms, doubling, never more than the poll
    // interval — a store back after a restart is used again at once, not a poll later
    let failures = 0
    return Effect.gen(function*() {
      const ticket = yield* deps.pipelines.ticket
      const now = yield* Clock.currentTimeMillis
      const claimed = yield* deps.pipelines.claim(id, now, Date.now() + deps.leaseMillis, size())
      failures = 0
      if (claimed.length === 0) return yield* deps.pipelines.awaitWorkSince(options.pollMillis, ticket, now)
      yield* runBatch(deps, id, claimed, options.batchWindowMillis, observe)
    }).pipe(
      Effect.catchAllCause((cause) =>
        Effect.zipRight(
          Effect.logWarning("worker iteration failed", cause),
          Effect.suspend(() =>
            Effect.sleep(Duration.millis(Math.min(options.pollMillis, 50 * 2 ** Math.min(failures++, 10))))
          ).pipe(Effect.withClock(Clock.make()))
        )
      ),
      Effect.forever
    )
  })

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
      yield* Effect.forkDaemon(Effect.ignore(Effect.provide(
        runInline({
          graph: graph.value,
          store: deps.store,
          threadId: t.threadId,
          request: { _tag: "Input", input: null }
        }),
        deps.graphs.services
      )))
    }
  }).pipe(
    Effect.catchAllCause((cause) => Effect.logWarning("worker maintenance failed", cause)),
    Effect.zipRight(Effect.sleep(Duration.millis(options.maintenanceMillis)).pipe(Effect.withClock(Clock.make()))),
    Effect.forever
  )
