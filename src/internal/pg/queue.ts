/**
 * The queue on Postgres: its statements (the parameters of `orchestrator/sqlStore.ts`'s
 * `QueueStatements`, in the same order), its migrations, and the wake-ups between processes.
 *
 * - A claim locks the ready jobs it takes with `FOR UPDATE … SKIP LOCKED`: workers claiming at
 *   the same moment take different jobs and never wait on each other for them. Then it takes the
 *   transaction advisory locks of those jobs' pipelines (in order: claims never deadlock) and
 *   counts their running jobs again, so a pipeline's concurrency limit holds across machines.
 * - `NOTIFY` when jobs may be ready (queued, given back, reclaimed, a pipeline resumed); each
 *   store `LISTEN`s and wakes its idle workers at once. A notice can be lost (the listening
 *   connection dropped with a server restart): the listener checks itself with a ping and
 *   reconnects, and idle workers poll anyway.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"
import { StoreError } from "../../GraphError.js"
import * as sqlStore from "../orchestrator/sqlStore.js"
import type { QueueStatements, Wakeups } from "../sql/queueStatements.js"
import * as PgDb from "./db.js"
import { migrate } from "./migrations.js"
import { DEFAULT_SCHEMA, validSchema } from "./statements.js"

type Migrations = Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>>

/** @internal */
export const MIGRATIONS_TABLE = "stategraph_queue_migrations"

/** @internal */
export const migrations = (schema: string): Migrations => {
  const t = (name: string) => `"${schema}".stategraph_${name}`
  return {
    "1_create_queue": Effect.flatMap(SqlClient.SqlClient, (sql) =>
          Effect.forEach([
            `CREATE TABLE ${t("pipelines")} (
              pipeline_id text PRIMARY KEY,
              workflow_id text NOT NULL,
              workflow_version text NOT NULL,
              thread_id text NOT NULL,
              execution_id text NOT NULL,
              orchestrator text NOT NULL,
              status text NOT NULL,
              pause_reason text,
              priority integer NOT NULL,
              max_concurrent integer NOT NULL,
              max_attempts integer NOT NULL,
              retry_strategy text NOT NULL,
              order_by_step integer NOT NULL,
              config text NOT NULL,
              snapshot_id text,
              error text,
              created_at double precision NOT NULL,
              updated_at double precision NOT NULL,
              finished_at double precision
            )`,
            `CREATE INDEX stategraph_pipelines_thread ON ${t("pipelines")} (thread_id, created_at)`,
            `CREATE TABLE ${t("jobs")} (
              seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
              job_id text NOT NULL UNIQUE,
              pipeline_id text NOT NULL,
              task_id text NOT NULL,
              checkpoint_id text NOT NULL,
              node text NOT NULL,
              step integer NOT NULL,
              status text NOT NULL,
              attempts integer NOT NULL DEFAULT 0,
              max_attempts integer NOT NULL,
              priority integer NOT NULL,
              order_key integer NOT NULL,
              run_at double precision NOT NULL,
              lease_until double precision NOT NULL DEFAULT 0,
              worker_id text,
              created_at double precision NOT NULL,
              started_at double precision,
              finished_at double precision,
              output text,
              error text,
              injected integer NOT NULL DEFAULT 0,
              resume text,
              interrupts text,
              UNIQUE (pipeline_id, task_id)
            )`,
            `CREATE INDEX stategraph_jobs_ready ON ${t("jobs")} (priority DESC, order_key, seq) WHERE status = 'pending'`,
            `CREATE INDEX stategraph_jobs_pipeline ON ${t("jobs")} (pipeline_id, status)`,
            `CREATE INDEX stategraph_jobs_leases ON ${t("jobs")} (lease_until) WHERE status = 'running'`,
            `CREATE TABLE ${t("pipeline_executions")} (
              execution_id text PRIMARY KEY,
              thread_id text NOT NULL,
              orchestrator text NOT NULL,
              pipeline_id text
            )`
          ], (s) => sql.unsafe(s), { discard: true }))
  }
}

const JOB_COLUMNS = `seq, job_id, pipeline_id, task_id, checkpoint_id, node, step, status, attempts, max_attempts,
  run_at, created_at, started_at, finished_at, output, error, injected, worker_id, resume`

/** @internal */
export const statements = (schema: string): QueueStatements => {
  const t = (name: string) => `"${schema}".stategraph_${name}`
  const jobs = t("jobs")
  const pipelines = t("pipelines")
  const running = `(SELECT count(*)::int FROM ${jobs} r WHERE r.pipeline_id = j.pipeline_id AND r.status = 'running')`
  const ready = (except: boolean) =>
    `SELECT ${JOB_COLUMNS.split(",").map((c) => `j.${c.trim()}`).join(", ")}, p.max_concurrent, ${running} AS running,
  p.thread_id, p.workflow_id, p.workflow_version, p.execution_id, p.retry_strategy, p.config
FROM ${jobs} j JOIN ${pipelines} p ON p.pipeline_id = j.pipeline_id
WHERE j.status = 'pending' AND j.run_at <= $1::double precision AND p.status = 'running' AND p.orchestrator = 'async'
  AND ${running} < p.max_concurrent${
      except
        ? `
  AND j.pipeline_id NOT IN (SELECT jsonb_array_elements_text($2::jsonb))
  AND j.seq NOT IN (SELECT (jsonb_array_elements_text($3::jsonb))::bigint)`
        : ""
    }
ORDER BY j.priority DESC, j.order_key, j.seq
LIMIT $${except ? 4 : 2}::int
FOR UPDATE OF j SKIP LOCKED`
  const finishJob = (set: string, n: number) =>
    `UPDATE ${jobs} SET ${set}, started_at = coalesce($${n + 1}::double precision, started_at), lease_until = 0
WHERE job_id = $${n + 2} AND worker_id = $${n + 3} AND status = 'running' RETURNING 1 AS owned`
  const ended = `(SELECT p.status FROM ${pipelines} p WHERE p.pipeline_id = j.pipeline_id) IN ('cancelled', 'failed')`
  return {
    insertJob: `INSERT INTO ${jobs} (job_id, pipeline_id, task_id, checkpoint_id, node, step, status,
  max_attempts, priority, order_key, run_at, created_at, output, injected, resume, finished_at)
SELECT $1::text, p.pipeline_id, $2::text, $3::text, $4::text, $5::int, $6::text, p.max_attempts, p.priority,
  CASE WHEN p.order_by_step = 1 THEN $7::int ELSE 0 END, $8::double precision, $9::double precision, $10::text, $11::int,
  $12::text, $13::double precision
FROM ${pipelines} p WHERE p.pipeline_id = $14
ON CONFLICT DO NOTHING
RETURNING ${JOB_COLUMNS}`,
    readyFirst: ready(false),
    readyExcept: ready(true),
    nextDue: `SELECT min(j.run_at)::double precision AS due FROM ${jobs} j JOIN ${pipelines} p ON p.pipeline_id = j.pipeline_id
WHERE j.status = 'pending' AND j.run_at > $1::double precision AND p.status = 'running' AND p.orchestrator = 'async'`,
    claimJobs: `UPDATE ${jobs} SET status = 'running', worker_id = $1, lease_until = $2, attempts = attempts + 1,
  started_at = $3, error = NULL
WHERE seq IN (SELECT (jsonb_array_elements_text($4::jsonb))::bigint) AND status = 'pending'`,
    lockPipelines: `SELECT count(pg_advisory_xact_lock(hashtext('${t("claim")}:' || id)))::int AS locked
FROM (SELECT DISTINCT jsonb_array_elements_text($1::jsonb) AS id ORDER BY 1) ids`,
    runningOf: `SELECT pipeline_id, count(*)::int AS n FROM ${jobs}
WHERE status = 'running' AND pipeline_id IN (SELECT jsonb_array_elements_text($1::jsonb)) GROUP BY pipeline_id`,
    giveBackJobs: `UPDATE ${jobs} j SET
  status = CASE WHEN ${ended} THEN 'cancelled' ELSE 'pending' END,
  finished_at = CASE WHEN ${ended} THEN $1::double precision ELSE finished_at END,
  attempts = greatest(0, attempts - 1), worker_id = NULL, lease_until = 0
WHERE job_id IN (SELECT jsonb_array_elements_text($2::jsonb)) AND worker_id = $3 AND status = 'running'
RETURNING status`,
    pipelineOf: `SELECT pipeline_id, workflow_id, workflow_version, thread_id, execution_id, orchestrator, status,
  pause_reason, priority, max_concurrent, retry_strategy, snapshot_id, error, config, created_at, updated_at, finished_at
FROM ${pipelines} WHERE pipeline_id = $1`,
    countsOf: `SELECT status, count(*)::int AS n FROM ${jobs} WHERE pipeline_id = $1 GROUP BY status`,
    activeOf: `SELECT
  coalesce(sum(CASE WHEN status IN ('pending', 'running') THEN 1 ELSE 0 END), 0)::int AS active,
  coalesce(sum(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0)::int AS failed,
  (SELECT error FROM ${jobs} f WHERE f.pipeline_id = $1 AND f.status = 'failed' ORDER BY f.finished_at, f.seq LIMIT 1) AS error
FROM ${jobs} WHERE pipeline_id = $2`,
    cancelPending: `UPDATE ${jobs} SET status = 'cancelled', finished_at = $1 WHERE pipeline_id = $2 AND status = 'pending'`,
    transition: (from) =>
      `UPDATE ${pipelines} SET status = $1, updated_at = $2,
  pause_reason = CASE WHEN $3::int = 1 THEN $4::text ELSE pause_reason END,
  error = coalesce($5::text, error),
  snapshot_id = coalesce($6::text, snapshot_id),
  finished_at = CASE WHEN $7::int = 1 THEN $8::double precision ELSE finished_at END
WHERE pipeline_id = $9 AND status IN (${Array.from({ length: from }, (_, i) => `$${10 + i}`).join(", ")})
RETURNING 1 AS moved`,
    insertPipeline: `INSERT INTO ${pipelines} (pipeline_id, workflow_id, workflow_version, thread_id, execution_id, orchestrator,
  status, priority, max_concurrent, max_attempts, retry_strategy, order_by_step, config, snapshot_id, created_at, updated_at,
  finished_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
    putExecution: `INSERT INTO ${t("pipeline_executions")} (execution_id, thread_id, orchestrator, pipeline_id) VALUES ($1, $2, $3, $4)
ON CONFLICT (execution_id) DO UPDATE SET thread_id = excluded.thread_id, orchestrator = excluded.orchestrator,
  pipeline_id = excluded.pipeline_id`,
    jobsOf: `SELECT ${JOB_COLUMNS} FROM ${jobs} WHERE pipeline_id = $1 ORDER BY seq`,
    byThread: `SELECT pipeline_id FROM ${pipelines} WHERE thread_id = $1
  AND ($2::int IS NULL OR status IN (SELECT jsonb_array_elements_text($3::jsonb)))
ORDER BY created_at DESC, pipeline_id COLLATE "C" DESC LIMIT 1`,
    execution: `SELECT thread_id, pipeline_id FROM ${t("pipeline_executions")} WHERE execution_id = $1`,
    setSnapshot: `UPDATE ${pipelines} SET snapshot_id = $1, updated_at = $2 WHERE pipeline_id = $3`,
    heartbeat: `UPDATE ${jobs} SET lease_until = $1 WHERE job_id = $2 AND worker_id = $3 AND status = 'running' RETURNING 1 AS alive`,
    isRunning: `SELECT 1 AS running FROM ${pipelines} WHERE pipeline_id = $1 AND status = 'running'`,
    reclaim: `UPDATE ${jobs} SET status = 'pending', worker_id = NULL, lease_until = 0
WHERE status = 'running' AND lease_until > 0 AND lease_until <= $1::double precision RETURNING 1 AS reclaimed`,
    activeThreads: `SELECT DISTINCT thread_id FROM ${pipelines}
WHERE status IN ('pending', 'running', 'paused') AND thread_id IN (SELECT jsonb_array_elements_text($1::jsonb))`,
    finish: {
      Completed: finishJob(`status = 'completed', output = $1::text, finished_at = $2::double precision, error = NULL`, 2),
      Interrupted: finishJob(`status = 'interrupted', finished_at = $1::double precision, interrupts = $2::text`, 2),
      Requeue: finishJob(`status = 'pending', attempts = greatest(0, attempts - 1), run_at = $1::double precision, worker_id = NULL`, 1),
      Retry: finishJob(`status = 'pending', run_at = $1::double precision, error = $2::text, worker_id = NULL`, 2),
      Failed: finishJob(`status = 'failed', error = $1::text, finished_at = $2::double precision`, 2)
    },
    cancelJob: `UPDATE ${jobs} SET status = 'cancelled', error = $1, finished_at = $2 WHERE job_id = $3`,
    linkSnapshot: `UPDATE ${pipelines} SET snapshot_id = $1, updated_at = $2 WHERE pipeline_id = $3 RETURNING status`,
    pipelineStatus: `SELECT status FROM ${pipelines} WHERE pipeline_id = $1`,
    runningCount: `SELECT count(*)::int AS n FROM ${jobs} WHERE pipeline_id = $1 AND status = 'running'`,
    interruptsOf: `SELECT interrupts FROM ${jobs} WHERE pipeline_id = $1 AND checkpoint_id = $2 AND status = 'interrupted'
  AND interrupts IS NOT NULL ORDER BY seq`,
    updateJob: `UPDATE ${jobs} SET
  status = coalesce($1::text, status),
  attempts = coalesce($2::int, attempts),
  started_at = coalesce($3::double precision, started_at),
  finished_at = coalesce($4::double precision, finished_at),
  output = coalesce($5::text, output),
  error = coalesce($6::text, error)
WHERE job_id = $7`
  }
}

/** The channel a schema's queue notices travel on. @internal */
export const channelOf = (schema: string) => `stategraph_${schema}_jobs`

const PING_MILLIS = 5_000

/** The part of a node-postgres client the listener uses. */
interface ListeningClient {
  readonly query: (text: string) => Promise<unknown>
  readonly on: (event: string, f: (...args: ReadonlyArray<any>) => void) => unknown
  readonly off: (event: string, f: (...args: ReadonlyArray<any>) => void) => unknown
  readonly end: () => Promise<void>
}

/**
 * Wake-ups through LISTEN/NOTIFY on the schema's channel, heard on a connection of the pool held
 * for it. The listener pings itself every few seconds; when the connection fails or a ping does
 * not come back (the server restarted, the network cut it), the connection is dropped from the
 * pool and another one listens, and the workers are woken once (a notice may have been missed).
 *
 * @internal
 */
export const wakeups = (sql: SqlClient.SqlClient, schema: string): Wakeups => {
  const channel = channelOf(schema)
  const notifyText = `SELECT pg_notify('${channel}', $1)`
  const notify = Effect.ignore(sql.unsafe(notifyText, ["jobs"]))
  const ping = Effect.ignore(sql.unsafe(notifyText, ["ping"]))
  const listen = (wake: Effect.Effect<void>) =>
    Effect.gen(function*() {
      const runtime = yield* Effect.runtime<never>()
      const session = Effect.scoped(Effect.gen(function*() {
        const connection = yield* sql.reserve
        const client = (connection as unknown as { readonly pg?: ListeningClient }).pg
        if (client === undefined) return yield* Effect.fail(new Error("the Postgres client exposes no connection to listen on"))
        let heard = Date.now()
        const hear = Effect.async<never, unknown>((resume) => {
          const onNotice = (message: { readonly channel: string; readonly payload?: string }) => {
            if (message.channel !== channel) return
            heard = Date.now()
            if (message.payload !== "ping") Runtime.runFork(runtime)(wake)
          }
          const onError = (cause: unknown) => resume(Effect.fail(cause))
          const onEnd = () => resume(Effect.fail(new Error("the listening connection ended")))
          client.on("notification", onNotice)
          client.on("error", onError)
          client.on("end", onEnd)
          client.query(`LISTEN "${channel}"`).catch(onError)
          return Effect.sync(() => {
            client.off("notification", onNotice)
            client.off("error", onError)
            client.off("end", onEnd)
          })
        })
        const watchdog = Effect.gen(function*() {
          while (true) {
            yield* ping
            yield* Effect.sleep(Duration.millis(PING_MILLIS))
            if (Date.now() - heard > 3 * PING_MILLIS) return yield* Effect.fail(new Error("the listening connection is silent"))
          }
        })
        // whatever ends the session, the connection does not go back to the pool
        yield* Effect.addFinalizer(() => Effect.promise(() => client.end().catch(() => undefined)).pipe(Effect.timeout("1 second"), Effect.ignore))
        yield* Effect.forkScoped(Effect.delay(wake, Duration.millis(100)))
        return yield* Effect.raceFirst(hear, watchdog)
      }))
      yield* Effect.catchAllCause(session, () => Effect.void).pipe(
        Effect.zipRight(Effect.sleep(Duration.seconds(1))),
        Effect.forever,
        Effect.withClock(Clock.make()),
        Effect.forkScoped
      )
    })
  return { notify, listen }
}

/**
 * The queue on the Postgres `SqlClient` in context, in `schema`: runs its migrations, listens for
 * notices for the scope.
 *
 * @internal
 */
export const make = (options?: { readonly schema?: string | undefined }) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql.onDialectOrElse({
      pg: () => Effect.void,
      orElse: () => Effect.dieMessage("Pipeline.layerPgClient needs a Postgres SqlClient")
    })
    const schema = options?.schema ?? DEFAULT_SCHEMA
    if (!validSchema(schema)) {
      return yield* new StoreError({ operation: "open", cause: new Error(`schema ${JSON.stringify(schema)} is not a lowercase SQL identifier`) })
    }
    yield* Effect.mapError(migrate(schema, MIGRATIONS_TABLE, migrations(schema)), (cause) => new StoreError({ operation: "migrate", cause }))
    return yield* sqlStore.makeWith(PgDb.make(sql), statements(schema), wakeups(sql, schema))
  })
