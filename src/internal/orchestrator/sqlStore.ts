/**
 * The pipeline and job store on @effect/sql (SQLite), in the same database as the snapshots.
 *
 * The queue is a table: a job is claimed by one `UPDATE … WHERE seq = (SELECT … LIMIT 1)` inside
 * a write transaction (`BEGIN IMMEDIATE`), so two workers — in one process or several — never
 * claim the same job. A claim takes a lease (wall-clock); a worker renews it while the job runs,
 * and a job whose lease ended goes back to the queue (`reclaim`).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import { StoreError } from "../../GraphError.js"
import * as SqliteDb from "../sqlite/db.js"
import { migrateOnce } from "../sqlite/migrations.js"
import * as SqliteQueue from "../sqlite/queue.js"
import type * as Db from "../sql/db.js"
import {
  type Claimed,
  type PipelineInfo,
  type EncodedAnswer,
  type FinishRequest,
  type Finished,
  type Job,
  type PipelineStatus,
  type PipelineStore
} from "./models.js"
import type { QueueStatements, Wakeups } from "../sql/queueStatements.js"
import { jobParams, opt, parse, terminal, toCounts, toJob, toPipeline } from "../sql/queueRows.js"

export type { QueueStatements, Wakeups } from "../sql/queueStatements.js"

// ---------------------------------------------------------------------------------------------
// the store
// ---------------------------------------------------------------------------------------------

/** Runs the SQLite queue's migrations; with several processes starting at once, waits until they are done. @internal */
export const migrate = migrateOnce(SqliteQueue.migrations, SqliteQueue.MIGRATIONS_TABLE).pipe(
  Effect.mapError((cause) => new StoreError({ operation: "migrate", cause }))
)

/** A store on the `SqlClient` in context (SQLite): runs its migrations first. @internal */
export const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* migrate
  return yield* makeWith(SqliteDb.make(sql, undefined, 5000), SqliteQueue.statements)
})

/** Below this poll interval an idle worker polls without looking up the next due job. */
const DUE_LOOKUP_MIN_POLL_MILLIS = 100

/** The queue on a dialect's executor and statements, woken across processes by `wakeups`. @internal */
export const makeWith = (db: Db.Db, Q: QueueStatements, wakeups?: Wakeups) => Effect.gen(function*() {

  // in-process wake-ups: a version counter and a deferred replaced on each signal
  let version = 0
  let wake = yield* Deferred.make<void>()
  const wakeHere = Effect.suspend(() => {
    version++
    const previous = wake
    wake = Deferred.unsafeMake<void>(FiberId.none)
    return Deferred.succeed(previous, undefined)
  }).pipe(Effect.asVoid)
  const signal = wakeups === undefined ? wakeHere : Effect.zipRight(wakeHere, wakeups.notify)

  /**
   * How long an idle worker may sleep: `millis`, or less when a job scheduled for later comes
   * due sooner (looked up only when the poll is long enough to be worth a query).
   */
  const untilDue = (millis: number, now: number | undefined): Effect.Effect<number> =>
    now === undefined || millis <= DUE_LOOKUP_MIN_POLL_MILLIS
      ? Effect.succeed(millis)
      : db.once("nextDue", Q.nextDue, [now]).pipe(
        Effect.map((rows) => {
          const due = rows[0]?.due
          return due === null || due === undefined ? millis : Math.max(0, Math.min(millis, Number(due) - now))
        }),
        Effect.orElseSucceed(() => millis)
      )
  if (wakeups !== undefined) yield* wakeups.listen(wakeHere)

  /** What a worker needs of a pipeline never changes after its creation: kept per pipeline. */
  const pipelineInfo = new Map<string, PipelineInfo>()
  /** Stored configs, parsed once per distinct text (pipelines of one workflow share theirs). */
  const configs = new Map<string, unknown>()
  const infoOf = (r: any): PipelineInfo => {
    const known = pipelineInfo.get(r.pipeline_id)
    if (known !== undefined) return known
    let config = configs.get(r.config)
    if (config === undefined) {
      config = parse(r.config) ?? {}
      if (configs.size > 256) configs.clear()
      configs.set(r.config, config)
    }
    const fresh: PipelineInfo = {
      threadId: r.thread_id,
      workflowId: r.workflow_id,
      workflowVersion: r.workflow_version,
      executionId: r.execution_id,
      retryStrategy: r.retry_strategy,
      config
    }
    if (pipelineInfo.size > 4096) pipelineInfo.clear()
    pipelineInfo.set(r.pipeline_id, fresh)
    return fresh
  }

  const pipelineRow = (tx: Db.Tx, pipelineId: string) =>
    Effect.map(tx.all(Q.pipelineOf, [pipelineId]), (rows) => rows[0] as any | undefined)

  const transitionIn = (
    tx: Db.Tx,
    pipelineId: string,
    from: ReadonlyArray<PipelineStatus>,
    to: PipelineStatus,
    patch: { readonly pauseReason?: "interrupt" | "requested" | null; readonly error?: string; readonly snapshotId?: string; readonly now: number }
  ) =>
    Effect.gen(function*() {
      const rows = yield* tx.all(
        Q.transition(from.length),
        [
          to,
          patch.now,
          "pauseReason" in patch ? 1 : 0,
          patch.pauseReason ?? null,
          patch.error ?? null,
          patch.snapshotId ?? null,
          terminal.includes(to) ? 1 : 0,
          patch.now,
          pipelineId,
          ...from
        ]
      )
      if (rows.length === 0) return false
      if (to === "cancelled" || to === "failed") yield* tx.all(Q.cancelPending, [patch.now, pipelineId])
      return true
    })

  const store: PipelineStore = {
    createPipeline: (p, jobs) =>
      db.write("createPipeline", (tx) =>
        Effect.gen(function*() {
          yield* tx.all(
            Q.insertPipeline,
            [
              p.id,
              p.workflowId,
              p.workflowVersion,
              p.threadId,
              p.executionId,
              p.orchestrator,
              p.status,
              p.priority,
              p.maxConcurrentJobs,
              p.maxAttempts,
              p.retryStrategy,
              p.orderByStep ? 1 : 0,
              JSON.stringify(p.config ?? {}),
              p.snapshotId,
              p.now,
              p.now,
              terminal.includes(p.status) ? p.now : null
            ]
          )
          yield* tx.all(
            Q.putExecution,
            [p.executionId, p.threadId, p.orchestrator, p.id]
          )
          const created: Array<Job> = []
          for (const j of jobs) {
            for (const r of yield* tx.all(Q.insertJob, jobParams(p.id, j, p.now, p.now))) created.push(toJob(r))
          }
          return created
        })),

    get: (pipelineId) =>
      db.read("getPipeline", (tx) =>
        Effect.gen(function*() {
          const row = yield* pipelineRow(tx, pipelineId)
          if (row === undefined) return Option.none()
          const counts = toCounts(yield* tx.all(Q.countsOf, [pipelineId]))
          return Option.some(toPipeline(row, counts))
        })),

    jobs: (pipelineId) =>
      Effect.map(
        db.once("jobs", Q.jobsOf, [pipelineId]),
        (rows) => rows.map(toJob)
      ),

    byThread: (threadId, statuses) =>
      db.read("pipelineByThread", (tx) =>
        Effect.gen(function*() {
          const rows = yield* tx.all(
            Q.byThread,
            [threadId, statuses === undefined ? null : 1, JSON.stringify(statuses ?? [])]
          )
          if (rows.length === 0) return Option.none()
          const row = yield* pipelineRow(tx, rows[0].pipeline_id)
          const counts = toCounts(yield* tx.all(Q.countsOf, [rows[0].pipeline_id]))
          return Option.some(toPipeline(row, counts))
        })),

    recordExecution: (executionId, threadId, orchestrator, pipelineId) =>
      Effect.asVoid(db.once(
        "recordExecution",
        Q.putExecution,
        [executionId, threadId, orchestrator, pipelineId ?? null]
      )),

    execution: (executionId) =>
      Effect.map(
        db.once("execution", Q.execution, [executionId]),
        (rows) =>
          rows.length === 0
            ? Option.none()
            : Option.some({ threadId: rows[0].thread_id as string, pipelineId: opt(rows[0].pipeline_id) as string | undefined })
      ),

    transition: (pipelineId, from, to, patch) =>
      db.write("transition", (tx) => transitionIn(tx, pipelineId, from, to, patch ?? { now: Date.now() })).pipe(
        Effect.tap((moved) => (moved && to === "running" ? signal : Effect.void))
      ),

    putJob: (pipelineId, job, fields) =>
      db.write("putJob", (tx) =>
        Effect.gen(function*() {
          const now = fields.startedAt ?? 0
          yield* tx.all(Q.insertJob, jobParams(pipelineId, job, now, now))
          yield* updateIn(tx, job.id, fields)
        })),

    updateJob: (jobId, fields) => db.write("updateJob", (tx) => updateIn(tx, jobId, fields)),

    setSnapshot: (pipelineId, snapshotId, now) =>
      Effect.asVoid(db.once(
        "setSnapshot",
        Q.setSnapshot,
        [snapshotId, now, pipelineId]
      )),

    enqueue: (pipelineId, jobs, now) =>
      db.write("enqueue", (tx) =>
        Effect.gen(function*() {
          const created: Array<Job> = []
          for (const j of jobs) {
            for (const r of yield* tx.all(Q.insertJob, jobParams(pipelineId, j, now, now))) created.push(toJob(r))
          }
          return created
        })).pipe(Effect.tap((created) => (created.length > 0 ? signal : Effect.void))),

    claim: (workerId, now, leaseUntil, max) =>
      db.write("claim", (tx) =>
        Effect.gen(function*() {
          // in queue order; a pipeline reaching its limit with the jobs taken is left out of the
          // next look, so the claim goes on with the jobs after its own
          const taken: Array<any> = []
          const running = new Map<string, number>()
          const full: Array<string> = []
          while (taken.length < max) {
            const wanted = max - taken.length
            const candidates = yield* (taken.length === 0
              ? tx.all(Q.readyFirst, [now, wanted])
              : tx.all(Q.readyExcept, [now, JSON.stringify(full), JSON.stringify(taken.map((c) => c.seq)), wanted]))
            for (const c of candidates) {
              const n = running.get(c.pipeline_id) ?? c.running
              if (n >= c.max_concurrent) continue
              running.set(c.pipeline_id, n + 1)
              taken.push(c)
              if (n + 1 >= c.max_concurrent) full.push(c.pipeline_id)
            }
            if (candidates.length < wanted) break
          }
          if (Q.runningOf !== undefined && taken.length > 0) {
            // once the pipelines are locked their running count is exact; the candidates' may be old
            const pipelineIds = JSON.stringify([...new Set(taken.map((c) => c.pipeline_id))])
            if (Q.lockPipelines !== undefined) yield* tx.all(Q.lockPipelines, [pipelineIds])
            const counts = new Map<string, number>()
            for (const r of yield* tx.all(Q.runningOf, [pipelineIds])) {
              counts.set(r.pipeline_id, r.n)
            }
            const kept = taken.filter((c) => {
              const n = counts.get(c.pipeline_id) ?? 0
              if (n >= c.max_concurrent) return false
              counts.set(c.pipeline_id, n + 1)
              return true
            })
            taken.length = 0
            taken.push(...kept)
          }
          if (taken.length === 0) return []
          // the rows were read pending in this write transaction (and locked): each one is claimed
          yield* tx.all(Q.claimJobs, [workerId, leaseUntil, now, JSON.stringify(taken.map((c) => c.seq))])
          return taken.map((c): Claimed => ({
            job: toJob({ ...c, status: "running", worker_id: workerId, attempts: c.attempts + 1, started_at: now, error: null }),
            ...infoOf(c),
            resume: c.resume === null ? undefined : parse(c.resume) as any
          }))
        })),

    giveBack: (jobIds, workerId, now) =>
      jobIds.length === 0
        ? Effect.succeed(0)
        : Effect.map(db.once("giveBack", Q.giveBackJobs, [now, JSON.stringify(jobIds), workerId]), (rows) => {
          // the signal wakes the other workers: the jobs are ready again
          return rows.filter((r) => r.status === "pending").length
        }).pipe(Effect.tap((n) => (n > 0 ? signal : Effect.void))),

    heartbeat: (jobId, workerId, leaseUntil) =>
      Effect.map(
        db.once(
          "heartbeat",
          Q.heartbeat,
          [leaseUntil, jobId, workerId]
        ),
        (rows) => rows.length > 0
      ),

    isRunning: (pipelineId) =>
      Effect.map(
        db.once("isRunning", Q.isRunning, [pipelineId]),
        (rows) => rows.length > 0
      ),

    finish: (items) =>
      items.length === 0 ? Effect.succeed([]) : db.write("finishJobs", (tx) => Effect.forEach(items, (item) => finishIn(tx, item))).pipe(
        // a job put back for later (a retry's backoff, a durable sleep): idle workers, here and
        // in other processes, learn when it comes due
        Effect.tap(() => (items.some((i) => i.end._tag === "Requeue" || i.end._tag === "Retry") ? signal : Effect.void))
      ),

    reclaim: (now) =>
      Effect.map(
        db.once(
          "reclaim",
          Q.reclaim,
          [now]
        ),
        (rows) => rows.length
      ).pipe(Effect.tap((n) => (n > 0 ? signal : Effect.void))),

    resumeWith: (pipelineId, job, now) =>
      db.write("resumePipeline", (tx) =>
        Effect.gen(function*() {
          const created: Array<Job> = []
          for (const r of yield* tx.all(Q.insertJob, jobParams(pipelineId, job, now, now))) created.push(toJob(r))
          yield* transitionIn(tx, pipelineId, ["paused"], "running", { now, pauseReason: null })
          return created
        })),

    activeThreads: (threadIds) =>
      threadIds.length === 0
        ? Effect.succeed(new Set<string>())
        : Effect.map(
          db.once(
            "activeThreads",
            Q.activeThreads,
            [JSON.stringify(threadIds)]
          ),
          (rows) => new Set(rows.map((r) => r.thread_id as string))
        ),

    signal,

    awaitWork: (millis) =>
      Effect.suspend(() => {
        const seen = wake
        return Effect.raceFirst(
          Deferred.await(seen),
          Effect.sleep(millis).pipe(Effect.withClock(Clock.make()))
        )
      }),

    ticket: Effect.sync(() => version),
    awaitWorkSince: (millis, ticket, now) =>
      Effect.flatMap(untilDue(millis, now), (wait) =>
        Effect.suspend(() => {
          if (version !== ticket || wait <= 0) return Effect.void
          return Effect.raceFirst(Deferred.await(wake), Effect.sleep(wait).pipe(Effect.withClock(Clock.make())))
        }))
  }
  return store

  /** Records how one job ended (see `PipelineStore.finish`), in the caller's transaction. */
  function finishIn(tx: Db.Tx, { claimed, end, options, workerId }: FinishRequest) {
    return Effect.gen(function*() {
      const { job } = claimed
      const now = options.now
      const startedAt = options.startedAt ?? null
      let params: Array<unknown>
      switch (end._tag) {
        case "Completed":
          params = [end.output === undefined ? null : JSON.stringify(end.output), now]
          break
        case "Interrupted":
          params = [now, JSON.stringify(end.interrupts)]
          break
        case "Requeue":
          params = [end.runAt]
          break
        case "Retry":
          params = [end.runAt, end.error]
          break
        case "Failed":
          params = [end.error, now]
          break
      }
      const owned = (yield* tx.all(Q.finish[end._tag], [...params, startedAt, job.id, workerId])).length > 0
      if (!owned && end._tag !== "Completed") return { owned, created: [], pipelineStatus: undefined, cancelled: 0 } satisfies Finished
      // Postgres (read committed): two jobs of a pipeline ending at once would each count the other
      // as still running, and neither would fail the pipeline or give its thread back. The
      // pipeline's lock (the claims' one, taken after the job's row as claims do) puts them in turn.
      if (Q.lockPipelines !== undefined) yield* tx.all(Q.lockPipelines, [JSON.stringify([job.pipelineId])])
      if (end._tag === "Completed" && options.complete === true) {
        // the run's last job: the pipeline completes, its snapshot linked, in one statement
        const patch = options.snapshotId === undefined ? { now } : { now, snapshotId: options.snapshotId }
        if (yield* transitionIn(tx, job.pipelineId, ["running", "paused"], "completed", patch)) {
          return { owned, created: [], pipelineStatus: "completed", cancelled: 0 } satisfies Finished
        }
      }
      // the pipeline's status, linking the new snapshot on the way
      const p = options.snapshotId !== undefined
        ? (yield* tx.all(
          Q.linkSnapshot,
          [options.snapshotId, now, job.pipelineId]
        ))[0]
        : (yield* tx.all(Q.pipelineStatus, [job.pipelineId]))[0]
      const noneRunning = Effect.map(
        tx.all(Q.runningCount, [job.pipelineId]),
        (rows) => (rows[0]?.n ?? 0) === 0
      )
      if (p === undefined) return { owned, created: [], pipelineStatus: undefined, cancelled: 0 }
      if ((p.status === "cancelled" || p.status === "failed") && (end._tag === "Requeue" || end._tag === "Retry")) {
        // the pipeline ended while the job ran: it does not go back to the queue
        yield* tx.all(Q.cancelJob, [
          `the pipeline was ${p.status === "cancelled" ? "cancelled" : "failed by another job"} while this job ran`,
          now,
          job.id
        ])
        const releaseThread = p.status === "failed" && (yield* noneRunning)
        return { owned, created: [], pipelineStatus: undefined, cancelled: 1, releaseThread }
      }
      const created: Array<Job> = []
      if (options.next !== undefined && (p.status === "running" || p.status === "paused")) {
        for (const j of options.next) {
          for (const r of yield* tx.all(Q.insertJob, jobParams(job.pipelineId, j, now, now))) created.push(toJob(r))
        }
      }
      let interrupts: Array<unknown> | undefined
      if (end._tag === "Interrupted") {
        interrupts = []
        const rows = yield* tx.all(
          Q.interruptsOf,
          [job.pipelineId, job.checkpointId]
        )
        for (const r of rows) {
          const list = parse(r.interrupts)
          if (Array.isArray(list)) interrupts.push(...list)
        }
      }
      let pipelineStatus: PipelineStatus | undefined
      if (options.complete === true) {
        if (yield* transitionIn(tx, job.pipelineId, ["running", "paused"], "completed", { now })) pipelineStatus = "completed"
      } else if (end._tag === "Failed" && (end.fatal || claimed.retryStrategy === "stop_on_failure")) {
        if (yield* transitionIn(tx, job.pipelineId, ["running", "paused"], "failed", { now, error: end.error })) {
          pipelineStatus = "failed"
        }
      } else if (end._tag === "Failed" || end._tag === "Completed") {
        // individual strategy: once nothing can run any more, a pipeline with a failed job has failed
        const a = (yield* tx.all(Q.activeOf, [job.pipelineId, job.pipelineId]))[0]
        if ((a?.active ?? 0) === 0 && (a?.failed ?? 0) > 0) {
          const error: string = a?.error ?? (end._tag === "Failed" ? end.error : "a job failed")
          if (yield* transitionIn(tx, job.pipelineId, ["running"], "failed", { now, error })) pipelineStatus = "failed"
        }
      }
      // a failed pipeline's thread is given back by the last of its jobs to end
      const releaseThread = (pipelineStatus === "failed" || p.status === "failed") && (yield* noneRunning)
      return { owned, created, pipelineStatus, cancelled: 0, interrupts, releaseThread } satisfies Finished
    })
  }

  function updateIn(tx: Db.Tx, jobId: string, f: Partial<import("./models.js").JobRecordFields>) {
    return tx.all(
      Q.updateJob,
      [
        f.status ?? null,
        f.attempts ?? null,
        f.startedAt ?? null,
        f.finishedAt ?? null,
        f.output === undefined ? null : JSON.stringify(f.output),
        f.error ?? null,
        jobId
      ]
    )
  }
})

/** @internal */
export type EncodedAnswers = ReadonlyArray<EncodedAnswer>
