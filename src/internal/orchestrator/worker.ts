/**
 * The worker: claims jobs (one task of a step each), runs them with the engine (`job.ts`), records
 * how they ended, and queues the next step's tasks when a job advanced the thread.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as RunEvent from "../../RunEvent.js"
import { runInline } from "./engine.js"
import { type Deps, eventBase, jobEventBase, type Outcome, runJob } from "./job.js"
import type { Claimed, Finished } from "./models.js"

export { backoffSchedule, type Deps, type Outcome, retryDelay, runJob } from "./job.js"

// ---------------------------------------------------------------------------------------------
// recording how jobs ended
// ---------------------------------------------------------------------------------------------


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
