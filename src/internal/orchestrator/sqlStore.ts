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
  type PipelineInfo,
  type EncodedAnswer,
  type Job,
  type PipelineStore
} from "./models.js"
import type { QueueStatements, Wakeups } from "../sql/queueStatements.js"
import { jobMethods } from "./sqlQueueJobs.js"
import { makeInfoOf, pipelineRow, transitionIn, updateIn } from "./sqlQueueTx.js"
import { jobParams, opt, terminal, toCounts, toJob, toPipeline } from "../sql/queueRows.js"

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

  const infoOf = makeInfoOf()
  const ctx: QueueContext = { db, Q, signal, infoOf }
  const store: PipelineStore = {
    ...pipelineMethods(ctx),
    ...jobMethods(ctx),
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
})

/** What the queue store's methods share. @internal */
export interface QueueContext {
  readonly db: Db.Db
  readonly Q: QueueStatements
  readonly signal: Effect.Effect<void>
  readonly infoOf: (row: any) => PipelineInfo
}

/** The pipeline methods: create, read, list by thread, executions, transitions, job fields. */
const pipelineMethods = ({ db, Q, signal }: QueueContext) => ({
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
          const row = yield* pipelineRow(Q, tx, pipelineId)
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
          const row = yield* pipelineRow(Q, tx, rows[0].pipeline_id)
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
      db.write("transition", (tx) => transitionIn(Q, tx, pipelineId, from, to, patch ?? { now: Date.now() })).pipe(
        Effect.tap((moved) => (moved && to === "running" ? signal : Effect.void))
      ),

    putJob: (pipelineId, job, fields) =>
      db.write("putJob", (tx) =>
        Effect.gen(function*() {
          const now = fields.startedAt ?? 0
          yield* tx.all(Q.insertJob, jobParams(pipelineId, job, now, now))
          yield* updateIn(Q, tx, job.id, fields)
        })),

    updateJob: (jobId, fields) => db.write("updateJob", (tx) => updateIn(Q, tx, jobId, fields)),

    setSnapshot: (pipelineId, snapshotId, now) =>
      Effect.asVoid(db.once(
        "setSnapshot",
        Q.setSnapshot,
        [snapshotId, now, pipelineId]
      ))
}) satisfies Partial<PipelineStore>

/** @internal */
export type EncodedAnswers = ReadonlyArray<EncodedAnswer>
