/**
 * The queue's SQL for SQLite (the statements of `orchestrator/sqlStore.ts`, see its
 * `QueueStatements` for the parameters) and its migrations. A claim is serialized by SQLite's
 * write lock (`BEGIN IMMEDIATE`): the ready jobs it reads are its own until it commits.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import type { QueueStatements } from "../sql/queueStatements.js"

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

/** @internal */
export const migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  "1_create_queue": m0001
}

const JOB_COLUMNS = `seq, job_id, pipeline_id, task_id, checkpoint_id, node, step, status, attempts, max_attempts,
  run_at, created_at, started_at, finished_at, output, error, injected, worker_id, resume`

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

const finishJob = (set: string) =>
  `UPDATE stategraph_jobs SET ${set}, started_at = coalesce(?, started_at), lease_until = 0
WHERE job_id = ? AND worker_id = ? AND status = 'running' RETURNING 1`

/** @internal */
export const statements: QueueStatements = {
  insertJob: `INSERT OR IGNORE INTO stategraph_jobs (job_id, pipeline_id, task_id, checkpoint_id, node, step, status,
  max_attempts, priority, order_key, run_at, created_at, output, injected, resume, finished_at)
SELECT ?, p.pipeline_id, ?, ?, ?, ?, ?, p.max_attempts, p.priority, CASE WHEN p.order_by_step THEN ? ELSE 0 END, ?, ?, ?, ?, ?, ?
FROM stategraph_pipelines p WHERE p.pipeline_id = ?
RETURNING ${JOB_COLUMNS}`,
  readyFirst: readyJobs(false),
  readyExcept: readyJobs(true),
  nextDue: `SELECT min(j.run_at) AS due FROM stategraph_jobs j JOIN stategraph_pipelines p ON p.pipeline_id = j.pipeline_id
WHERE j.status = 'pending' AND j.run_at > ? AND p.status = 'running' AND p.orchestrator = 'async'`,
  // (no `RETURNING`: the claim knows what it writes; `+status`: the rows are found by key, not by status)
  claimJobs: `UPDATE stategraph_jobs SET status = 'running', worker_id = ?, lease_until = ?, attempts = attempts + 1,
  started_at = ?, error = NULL
WHERE seq IN (SELECT value FROM json_each(?)) AND +status = 'pending'`,
  giveBackJobs: `UPDATE stategraph_jobs SET
  status = CASE WHEN (SELECT p.status FROM stategraph_pipelines p WHERE p.pipeline_id = stategraph_jobs.pipeline_id)
    IN ('cancelled', 'failed') THEN 'cancelled' ELSE 'pending' END,
  finished_at = CASE WHEN (SELECT p.status FROM stategraph_pipelines p WHERE p.pipeline_id = stategraph_jobs.pipeline_id)
    IN ('cancelled', 'failed') THEN ? ELSE finished_at END,
  attempts = max(0, attempts - 1), worker_id = NULL, lease_until = 0
WHERE job_id IN (SELECT value FROM json_each(?)) AND worker_id = ? AND +status = 'running'
RETURNING status`,
  pipelineOf: `SELECT pipeline_id, workflow_id, workflow_version, thread_id, execution_id, orchestrator, status,
  pause_reason, priority, max_concurrent, retry_strategy, snapshot_id, error, config, created_at, updated_at, finished_at
FROM stategraph_pipelines WHERE pipeline_id = ?`,
  countsOf: `SELECT status, count(*) AS n FROM stategraph_jobs WHERE pipeline_id = ? GROUP BY status`,
  activeOf: `SELECT
  sum(CASE WHEN status IN ('pending', 'running') THEN 1 ELSE 0 END) AS active,
  sum(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS failed,
  (SELECT error FROM stategraph_jobs f WHERE f.pipeline_id = ? AND f.status = 'failed' ORDER BY f.finished_at, f.seq LIMIT 1) AS error
FROM stategraph_jobs WHERE pipeline_id = ?`,
  cancelPending: `UPDATE stategraph_jobs SET status = 'cancelled', finished_at = ? WHERE pipeline_id = ? AND status = 'pending'`,
  transition: (from) =>
    `UPDATE stategraph_pipelines SET status = ?, updated_at = ?,
  pause_reason = CASE WHEN ? THEN ? ELSE pause_reason END,
  error = coalesce(?, error),
  snapshot_id = coalesce(?, snapshot_id),
  finished_at = CASE WHEN ? THEN ? ELSE finished_at END
WHERE pipeline_id = ? AND status IN (${Array.from({ length: from }, () => "?").join(", ")})
RETURNING 1`,
  insertPipeline: `INSERT INTO stategraph_pipelines (pipeline_id, workflow_id, workflow_version, thread_id, execution_id, orchestrator,
  status, priority, max_concurrent, max_attempts, retry_strategy, order_by_step, config, snapshot_id, created_at, updated_at,
  finished_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  putExecution:
    `INSERT OR REPLACE INTO stategraph_pipeline_executions (execution_id, thread_id, orchestrator, pipeline_id) VALUES (?, ?, ?, ?)`,
  jobsOf: `SELECT ${JOB_COLUMNS} FROM stategraph_jobs WHERE pipeline_id = ? ORDER BY seq`,
  byThread: `SELECT pipeline_id FROM stategraph_pipelines WHERE thread_id = ?
  AND (? IS NULL OR status IN (SELECT value FROM json_each(?)))
ORDER BY created_at DESC, pipeline_id DESC LIMIT 1`,
  execution: `SELECT thread_id, pipeline_id FROM stategraph_pipeline_executions WHERE execution_id = ?`,
  setSnapshot: `UPDATE stategraph_pipelines SET snapshot_id = ?, updated_at = ? WHERE pipeline_id = ?`,
  heartbeat: `UPDATE stategraph_jobs SET lease_until = ? WHERE job_id = ? AND worker_id = ? AND status = 'running' RETURNING 1`,
  isRunning: `SELECT 1 FROM stategraph_pipelines WHERE pipeline_id = ? AND status = 'running'`,
  reclaim: `UPDATE stategraph_jobs SET status = 'pending', worker_id = NULL, lease_until = 0
WHERE status = 'running' AND lease_until > 0 AND lease_until <= ? RETURNING 1`,
  activeThreads: `SELECT DISTINCT thread_id FROM stategraph_pipelines
WHERE status IN ('pending', 'running', 'paused') AND thread_id IN (SELECT value FROM json_each(?))`,
  finish: {
    Completed: finishJob(`status = 'completed', output = ?, finished_at = ?, error = NULL`),
    Interrupted: finishJob(`status = 'interrupted', finished_at = ?, interrupts = ?`),
    Requeue: finishJob(`status = 'pending', attempts = max(0, attempts - 1), run_at = ?, worker_id = NULL`),
    Retry: finishJob(`status = 'pending', run_at = ?, error = ?, worker_id = NULL`),
    Failed: finishJob(`status = 'failed', error = ?, finished_at = ?`)
  },
  cancelJob: `UPDATE stategraph_jobs SET status = 'cancelled', error = ?, finished_at = ? WHERE job_id = ?`,
  linkSnapshot: `UPDATE stategraph_pipelines SET snapshot_id = ?, updated_at = ? WHERE pipeline_id = ? RETURNING status`,
  pipelineStatus: `SELECT status FROM stategraph_pipelines WHERE pipeline_id = ?`,
  runningCount: `SELECT count(*) AS n FROM stategraph_jobs WHERE pipeline_id = ? AND status = 'running'`,
  interruptsOf: `SELECT interrupts FROM stategraph_jobs WHERE pipeline_id = ? AND checkpoint_id = ? AND status = 'interrupted'
  AND interrupts IS NOT NULL ORDER BY seq`,
  updateJob: `UPDATE stategraph_jobs SET
  status = coalesce(?, status),
  attempts = coalesce(?, attempts),
  started_at = coalesce(?, started_at),
  finished_at = coalesce(?, finished_at),
  output = coalesce(?, output),
  error = coalesce(?, error)
WHERE job_id = ?`
}
