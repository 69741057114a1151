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
import * as Db from "../sqlite/db.js"
import { migrateOnce } from "../sqlite/migrations.js"
import {
  type Claimed,
  type PipelineInfo,
  type EncodedAnswer,
  type FinishRequest,
  type Finished,
  Job,
  JobCounts,
  type NewJob,
  Pipeline,
  type PipelineStatus,
  type PipelineStore
} from "./models.js"

/** @internal */
export const MIGRATIONS_TABLE = "stategraph_queue_migrations"

const m0001 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE IF NOT EXISTS stategraph_pipelines (
    pipeline_id TEXT PRIMARY KEY NOT NULL,
    workflow_id TEXT NOT NULL,
    workflow_version TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    orchestrator TEXT NOT NULL,
    status TEXT NOT NULL,
    pause_reason TEXT,
    priority INTEGER NOT NULL,
    max_concurrent INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL,
    retry_strategy TEXT NOT NULL,
    order_by_step INTEGER NOT NULL,
    config TEXT NOT NULL,
    snapshot_id TEXT,
    error TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    finished_at REAL
  )`
  yield* sql`CREATE INDEX IF NOT EXISTS stategraph_pipelines_thread ON stategraph_pipelines (thread_id, created_at)`
  yield* sql`CREATE TABLE IF NOT EXISTS stategraph_jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL UNIQUE,
    pipeline_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    checkpoint_id TEXT NOT NULL,
    node TEXT NOT NULL,
    step INTEGER NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    priority INTEGER NOT NULL,
    order_key INTEGER NOT NULL,
    run_at REAL NOT NULL,
    lease_until REAL NOT NULL DEFAULT 0,
    worker_id TEXT,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    output TEXT,
    error TEXT,
    injected INTEGER NOT NULL DEFAULT 0,
    resume TEXT,
    interrupts TEXT,
    UNIQUE (pipeline_id, task_id)
  )`
  yield* sql`CREATE INDEX IF NOT EXISTS stategraph_jobs_ready ON stategraph_jobs (status, priority DESC, order_key, seq)`
  yield* sql`CREATE INDEX IF NOT EXISTS stategraph_jobs_pipeline ON stategraph_jobs (pipeline_id, status)`
  yield* sql`CREATE TABLE IF NOT EXISTS stategraph_pipeline_executions (
    execution_id TEXT PRIMARY KEY NOT NULL,
    thread_id TEXT NOT NULL,
    orchestrator TEXT NOT NULL,
    pipeline_id TEXT
  ) WITHOUT ROWID`
})

const migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  "1_create_queue": m0001
}
/** Runs the migrations; with several processes starting at once, waits until they are done. @internal */
export const migrate = migrateOnce(migrations, MIGRATIONS_TABLE).pipe(
  Effect.mapError((cause) => new StoreError({ operation: "migrate", cause }))
)

// ---------------------------------------------------------------------------------------------
// statements
// ---------------------------------------------------------------------------------------------

const JOB_COLUMNS = `seq, job_id, pipeline_id, task_id, checkpoint_id, node, step, status, attempts, max_attempts,
  run_at, created_at, started_at, finished_at, output, error, injected, worker_id, resume`

const insertJob = `INSERT OR IGNORE INTO stategraph_jobs (job_id, pipeline_id, task_id, checkpoint_id, node, step, status,
  max_attempts, priority, order_key, run_at, created_at, output, injected, resume, finished_at)
SELECT ?, p.pipeline_id, ?, ?, ?, ?, ?, p.max_attempts, p.priority, CASE WHEN p.order_by_step THEN ? ELSE 0 END, ?, ?, ?, ?, ?, ?
FROM stategraph_pipelines p WHERE p.pipeline_id = ?
RETURNING ${JOB_COLUMNS}`

/**
 * The next ready jobs of running pipelines under their concurrency limit, in queue order, each
 * with how many jobs of its pipeline run now and what the worker needs of the pipeline.
 */
const readyJobs = (except: boolean) =>
  `SELECT ${JOB_COLUMNS.split(",").map((c) => `j.${c.trim()}`).join(", ")}, p.max_concurrent,
  (SELECT count(*) FROM stategraph_jobs r WHERE r.pipeline_id = j.pipeline_id AND r.status = 'running') AS running,
  p.thread_id, p.workflow_id, p.workflow_version, p.execution_id, p.retry_strategy, p.config
FROM stategraph_jobs j JOIN stategraph_pipelines p ON p.pipeline_id = j.pipeline_id
WHERE j.status = 'pending' AND j.run_at <= ? AND p.status = 'running' AND p.orchestrator = 'async'
  AND running < p.max_concurrent${
    except
      ? `
  AND j.pipeline_id NOT IN (SELECT value FROM json_each(?)) AND j.seq NOT IN (SELECT value FROM json_each(?))`
      : ""
  }
ORDER BY j.priority DESC, j.order_key, j.seq
LIMIT ?`
const readyFirst = readyJobs(false)
/** the same, without the jobs of some pipelines (at their limit with the jobs taken) and some jobs (taken) */
const readyExcept = readyJobs(true)

/** (no `RETURNING`: the claim knows what it writes; `+status`: the rows are found by key, not by status) */
const claimJobs = `UPDATE stategraph_jobs SET status = 'running', worker_id = ?, lease_until = ?, attempts = attempts + 1,
  started_at = ?, error = NULL
WHERE seq IN (SELECT value FROM json_each(?)) AND +status = 'pending'`

/** Claimed jobs not started go back to the queue (cancelled when their pipeline ended meanwhile). */
const giveBackJobs = `UPDATE stategraph_jobs SET
  status = CASE WHEN (SELECT p.status FROM stategraph_pipelines p WHERE p.pipeline_id = stategraph_jobs.pipeline_id)
    IN ('cancelled', 'failed') THEN 'cancelled' ELSE 'pending' END,
  finished_at = CASE WHEN (SELECT p.status FROM stategraph_pipelines p WHERE p.pipeline_id = stategraph_jobs.pipeline_id)
    IN ('cancelled', 'failed') THEN ? ELSE finished_at END,
  attempts = max(0, attempts - 1), worker_id = NULL, lease_until = 0
WHERE job_id IN (SELECT value FROM json_each(?)) AND worker_id = ? AND +status = 'running'
RETURNING status`

const pipelineOf = `SELECT pipeline_id, workflow_id, workflow_version, thread_id, execution_id, orchestrator, status,
  pause_reason, priority, max_concurrent, retry_strategy, snapshot_id, error, config, created_at, updated_at, finished_at
FROM stategraph_pipelines WHERE pipeline_id = ?`

const countsOf = `SELECT status, count(*) AS n FROM stategraph_jobs WHERE pipeline_id = ? GROUP BY status`

const activeOf = `SELECT
  sum(CASE WHEN status IN ('pending', 'running') THEN 1 ELSE 0 END) AS active,
  sum(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS failed,
  (SELECT error FROM stategraph_jobs f WHERE f.pipeline_id = ? AND f.status = 'failed' ORDER BY f.finished_at, f.seq LIMIT 1) AS error
FROM stategraph_jobs WHERE pipeline_id = ?`

const cancelPending = `UPDATE stategraph_jobs SET status = 'cancelled', finished_at = ? WHERE pipeline_id = ? AND status = 'pending'`

// ---------------------------------------------------------------------------------------------
// rows
// ---------------------------------------------------------------------------------------------

const parse = (text: unknown): unknown => {
  if (typeof text !== "string") return undefined
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

const opt = <A>(v: A | null | undefined): A | undefined => (v === null ? undefined : v)

const toJob = (r: any): Job =>
  new Job({
    id: r.job_id,
    pipelineId: r.pipeline_id,
    taskId: r.task_id,
    checkpointId: r.checkpoint_id,
    node: r.node,
    step: r.step,
    status: r.status,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    runAt: r.run_at,
    createdAt: r.created_at,
    startedAt: opt(r.started_at),
    finishedAt: opt(r.finished_at),
    output: r.output === null ? undefined : parse(r.output),
    error: opt(r.error),
    injected: r.injected === 1,
    workerId: opt(r.worker_id)
  }, { disableValidation: true })

const toCounts = (rows: ReadonlyArray<any>): JobCounts => {
  const c: Record<string, number> = { pending: 0, running: 0, completed: 0, failed: 0, interrupted: 0, cancelled: 0 }
  let total = 0
  for (const r of rows) {
    c[r.status] = (c[r.status] ?? 0) + r.n
    total += r.n
  }
  return new JobCounts({
    total,
    pending: c.pending!,
    running: c.running!,
    completed: c.completed!,
    failed: c.failed!,
    interrupted: c.interrupted!,
    cancelled: c.cancelled!
  }, { disableValidation: true })
}

const toPipeline = (r: any, counts: JobCounts): Pipeline =>
  new Pipeline({
    id: r.pipeline_id,
    workflowId: r.workflow_id,
    workflowVersion: r.workflow_version,
    threadId: r.thread_id,
    executionId: r.execution_id,
    orchestrator: r.orchestrator,
    status: r.status,
    pauseReason: opt(r.pause_reason),
    priority: r.priority,
    maxConcurrentJobs: r.max_concurrent,
    retryStrategy: r.retry_strategy,
    snapshotId: r.snapshot_id,
    error: opt(r.error),
    jobCounts: counts,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    finishedAt: opt(r.finished_at)
  }, { disableValidation: true })

const jobParams = (pipelineId: string, j: NewJob, now: number, runAt: number) => [
  j.id,
  j.taskId,
  j.checkpointId,
  j.node,
  j.step,
  j.status ?? "pending",
  j.step,
  runAt,
  now,
  j.output === undefined ? null : JSON.stringify(j.output),
  j.injected ? 1 : 0,
  j.resume === undefined ? null : JSON.stringify(j.resume),
  j.status === "completed" || j.status === "cancelled" ? now : null,
  pipelineId
]

const terminal: ReadonlyArray<PipelineStatus> = ["completed", "failed", "cancelled"]

// ---------------------------------------------------------------------------------------------
// the store
// ---------------------------------------------------------------------------------------------

/** A store on the `SqlClient` in context: runs its migrations first. @internal */
export const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* migrate
  const db = Db.make(sql, undefined, 5000)

  // in-process wake-ups: a version counter and a deferred replaced on each signal
  let version = 0
  let wake = yield* Deferred.make<void>()
  const signal = Effect.suspend(() => {
    version++
    const previous = wake
    wake = Deferred.unsafeMake<void>(FiberId.none)
    return Deferred.succeed(previous, undefined)
  }).pipe(Effect.asVoid)

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
    Effect.map(tx.all(pipelineOf, [pipelineId]), (rows) => rows[0] as any | undefined)

  const transitionIn = (
    tx: Db.Tx,
    pipelineId: string,
    from: ReadonlyArray<PipelineStatus>,
    to: PipelineStatus,
    patch: { readonly pauseReason?: "interrupt" | "requested" | null; readonly error?: string; readonly snapshotId?: string; readonly now: number }
  ) =>
    Effect.gen(function*() {
      const rows = yield* tx.all(
        `UPDATE stategraph_pipelines SET status = ?, updated_at = ?,
           pause_reason = CASE WHEN ? THEN ? ELSE pause_reason END,
           error = coalesce(?, error),
           snapshot_id = coalesce(?, snapshot_id),
           finished_at = CASE WHEN ? THEN ? ELSE finished_at END
         WHERE pipeline_id = ? AND status IN (${from.map(() => "?").join(", ")})
         RETURNING 1`,
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
      if (to === "cancelled" || to === "failed") yield* tx.all(cancelPending, [patch.now, pipelineId])
      return true
    })

  const store: PipelineStore = {
    createPipeline: (p, jobs) =>
      db.write("createPipeline", (tx) =>
        Effect.gen(function*() {
          yield* tx.all(
            `INSERT INTO stategraph_pipelines (pipeline_id, workflow_id, workflow_version, thread_id, execution_id, orchestrator,
               status, priority, max_concurrent, max_attempts, retry_strategy, order_by_step, config, snapshot_id, created_at, updated_at,
               finished_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
            `INSERT OR REPLACE INTO stategraph_pipeline_executions (execution_id, thread_id, orchestrator, pipeline_id) VALUES (?, ?, ?, ?)`,
            [p.executionId, p.threadId, p.orchestrator, p.id]
          )
          const created: Array<Job> = []
          for (const j of jobs) {
            for (const r of yield* tx.all(insertJob, jobParams(p.id, j, p.now, p.now))) created.push(toJob(r))
          }
          return created
        })),

    get: (pipelineId) =>
      db.read("getPipeline", (tx) =>
        Effect.gen(function*() {
          const row = yield* pipelineRow(tx, pipelineId)
          if (row === undefined) return Option.none()
          const counts = toCounts(yield* tx.all(countsOf, [pipelineId]))
          return Option.some(toPipeline(row, counts))
        })),

    jobs: (pipelineId) =>
      Effect.map(
        db.once("jobs", `SELECT ${JOB_COLUMNS} FROM stategraph_jobs WHERE pipeline_id = ? ORDER BY seq`, [pipelineId]),
        (rows) => rows.map(toJob)
      ),

    byThread: (threadId, statuses) =>
      db.read("pipelineByThread", (tx) =>
        Effect.gen(function*() {
          const rows = yield* tx.all(
            `SELECT pipeline_id FROM stategraph_pipelines WHERE thread_id = ?
               AND (? IS NULL OR status IN (SELECT value FROM json_each(?)))
             ORDER BY created_at DESC, pipeline_id DESC LIMIT 1`,
            [threadId, statuses === undefined ? null : 1, JSON.stringify(statuses ?? [])]
          )
          if (rows.length === 0) return Option.none()
          const row = yield* pipelineRow(tx, rows[0].pipeline_id)
          const counts = toCounts(yield* tx.all(countsOf, [rows[0].pipeline_id]))
          return Option.some(toPipeline(row, counts))
        })),

    recordExecution: (executionId, threadId, orchestrator, pipelineId) =>
      Effect.asVoid(db.once(
        "recordExecution",
        `INSERT OR REPLACE INTO stategraph_pipeline_executions (execution_id, thread_id, orchestrator, pipeline_id) VALUES (?, ?, ?, ?)`,
        [executionId, threadId, orchestrator, pipelineId ?? null]
      )),

    execution: (executionId) =>
      Effect.map(
        db.once("execution", `SELECT thread_id, pipeline_id FROM stategraph_pipeline_executions WHERE execution_id = ?`, [executionId]),
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
          yield* tx.all(insertJob, jobParams(pipelineId, job, now, now))
          yield* updateIn(tx, job.id, fields)
        })),

    updateJob: (jobId, fields) => db.write("updateJob", (tx) => updateIn(tx, jobId, fields)),

    setSnapshot: (pipelineId, snapshotId, now) =>
      Effect.asVoid(db.once(
        "setSnapshot",
        `UPDATE stategraph_pipelines SET snapshot_id = ?, updated_at = ? WHERE pipeline_id = ?`,
        [snapshotId, now, pipelineId]
      )),

    enqueue: (pipelineId, jobs, now) =>
      db.write("enqueue", (tx) =>
        Effect.gen(function*() {
          const created: Array<Job> = []
          for (const j of jobs) {
            for (const r of yield* tx.all(insertJob, jobParams(pipelineId, j, now, now))) created.push(toJob(r))
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
              ? tx.all(readyFirst, [now, wanted])
              : tx.all(readyExcept, [now, JSON.stringify(full), JSON.stringify(taken.map((c) => c.seq)), wanted]))
            for (const c of candidates) {
              const n = running.get(c.pipeline_id) ?? c.running
              if (n >= c.max_concurrent) continue
              running.set(c.pipeline_id, n + 1)
              taken.push(c)
              if (n + 1 >= c.max_concurrent) full.push(c.pipeline_id)
            }
            if (candidates.length < wanted) break
          }
          if (taken.length === 0) return []
          // the rows were read pending in this write transaction: each one is claimed
          yield* tx.all(claimJobs, [workerId, leaseUntil, now, JSON.stringify(taken.map((c) => c.seq))])
          return taken.map((c): Claimed => ({
            job: toJob({ ...c, status: "running", worker_id: workerId, attempts: c.attempts + 1, started_at: now, error: null }),
            ...infoOf(c),
            resume: c.resume === null ? undefined : parse(c.resume) as any
          }))
        })),

    giveBack: (jobIds, workerId, now) =>
      jobIds.length === 0
        ? Effect.succeed(0)
        : Effect.map(db.once("giveBack", giveBackJobs, [now, JSON.stringify(jobIds), workerId]), (rows) => {
          // the signal wakes the other workers: the jobs are ready again
          return rows.filter((r) => r.status === "pending").length
        }).pipe(Effect.tap((n) => (n > 0 ? signal : Effect.void))),

    heartbeat: (jobId, workerId, leaseUntil) =>
      Effect.map(
        db.once(
          "heartbeat",
          `UPDATE stategraph_jobs SET lease_until = ? WHERE job_id = ? AND worker_id = ? AND status = 'running' RETURNING 1`,
          [leaseUntil, jobId, workerId]
        ),
        (rows) => rows.length > 0
      ),

    isRunning: (pipelineId) =>
      Effect.map(
        db.once("isRunning", `SELECT 1 FROM stategraph_pipelines WHERE pipeline_id = ? AND status = 'running'`, [pipelineId]),
        (rows) => rows.length > 0
      ),

    finish: (items) =>
      items.length === 0 ? Effect.succeed([]) : db.write("finishJobs", (tx) => Effect.forEach(items, (item) => finishIn(tx, item))),

    reclaim: (now) =>
      Effect.map(
        db.once(
          "reclaim",
          `UPDATE stategraph_jobs SET status = 'pending', worker_id = NULL, lease_until = 0
           WHERE status = 'running' AND lease_until > 0 AND lease_until <= ? RETURNING 1`,
          [now]
        ),
        (rows) => rows.length
      ).pipe(Effect.tap((n) => (n > 0 ? signal : Effect.void))),

    resumeWith: (pipelineId, job, now) =>
      db.write("resumePipeline", (tx) =>
        Effect.gen(function*() {
          const created: Array<Job> = []
          for (const r of yield* tx.all(insertJob, jobParams(pipelineId, job, now, now))) created.push(toJob(r))
          yield* transitionIn(tx, pipelineId, ["paused"], "running", { now, pauseReason: null })
          return created
        })),

    activeThreads: (threadIds) =>
      threadIds.length === 0
        ? Effect.succeed(new Set<string>())
        : Effect.map(
          db.once(
            "activeThreads",
            `SELECT DISTINCT thread_id FROM stategraph_pipelines
             WHERE status IN ('pending', 'running', 'paused') AND thread_id IN (SELECT value FROM json_each(?))`,
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
    awaitWorkSince: (millis, ticket) =>
      Effect.suspend(() => {
        if (version !== ticket) return Effect.void
        return Effect.raceFirst(Deferred.await(wake), Effect.sleep(millis).pipe(Effect.withClock(Clock.make())))
      })
  }
  return store

  /** Records how one job ended (see `PipelineStore.finish`), in the caller's transaction. */
  function finishIn(tx: Db.Tx, { claimed, end, options, workerId }: FinishRequest) {
    return Effect.gen(function*() {
      const { job } = claimed
      const now = options.now
      const startedAt = options.startedAt ?? null
      let update: { sql: string; params: Array<unknown> }
      switch (end._tag) {
        case "Completed":
          update = {
            sql: `status = 'completed', output = ?, finished_at = ?, error = NULL`,
            params: [end.output === undefined ? null : JSON.stringify(end.output), now]
          }
          break
        case "Interrupted":
          update = { sql: `status = 'interrupted', finished_at = ?, interrupts = ?`, params: [now, JSON.stringify(end.interrupts)] }
          break
        case "Requeue":
          update = { sql: `status = 'pending', attempts = max(0, attempts - 1), run_at = ?, worker_id = NULL`, params: [end.runAt] }
          break
        case "Retry":
          update = { sql: `status = 'pending', run_at = ?, error = ?, worker_id = NULL`, params: [end.runAt, end.error] }
          break
        case "Failed":
          update = { sql: `status = 'failed', error = ?, finished_at = ?`, params: [end.error, now] }
          break
      }
      const owned = (yield* tx.all(
        `UPDATE stategraph_jobs SET ${update.sql}, started_at = coalesce(?, started_at), lease_until = 0
         WHERE job_id = ? AND worker_id = ? AND status = 'running' RETURNING 1`,
        [...update.params, startedAt, job.id, workerId]
      )).length > 0
      if (!owned && end._tag !== "Completed") return { owned, created: [], pipelineStatus: undefined, cancelled: 0 } satisfies Finished
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
          `UPDATE stategraph_pipelines SET snapshot_id = ?, updated_at = ? WHERE pipeline_id = ? RETURNING status`,
          [options.snapshotId, now, job.pipelineId]
        ))[0]
        : (yield* tx.all(`SELECT status FROM stategraph_pipelines WHERE pipeline_id = ?`, [job.pipelineId]))[0]
      const noneRunning = Effect.map(
        tx.all(`SELECT count(*) AS n FROM stategraph_jobs WHERE pipeline_id = ? AND status = 'running'`, [job.pipelineId]),
        (rows) => (rows[0]?.n ?? 0) === 0
      )
      if (p === undefined) return { owned, created: [], pipelineStatus: undefined, cancelled: 0 }
      if ((p.status === "cancelled" || p.status === "failed") && (end._tag === "Requeue" || end._tag === "Retry")) {
        // the pipeline ended while the job ran: it does not go back to the queue
        yield* tx.all(`UPDATE stategraph_jobs SET status = 'cancelled', error = ?, finished_at = ? WHERE job_id = ?`, [
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
          for (const r of yield* tx.all(insertJob, jobParams(job.pipelineId, j, now, now))) created.push(toJob(r))
        }
      }
      let interrupts: Array<unknown> | undefined
      if (end._tag === "Interrupted") {
        interrupts = []
        const rows = yield* tx.all(
          `SELECT interrupts FROM stategraph_jobs WHERE pipeline_id = ? AND checkpoint_id = ? AND status = 'interrupted'
             AND interrupts IS NOT NULL ORDER BY seq`,
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
        const a = (yield* tx.all(activeOf, [job.pipelineId, job.pipelineId]))[0]
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
      `UPDATE stategraph_jobs SET
         status = coalesce(?, status),
         attempts = coalesce(?, attempts),
         started_at = coalesce(?, started_at),
         finished_at = coalesce(?, finished_at),
         output = coalesce(?, output),
         error = coalesce(?, error)
       WHERE job_id = ?`,
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
