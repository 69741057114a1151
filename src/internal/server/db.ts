/**
 * The server's own tables, beside the snapshot store on the same `SqlClient`, created by their
 * own migrations (table `stategraph_server_migrations`):
 *
 * - `stategraph_server_threads`: a thread as the LangGraph API knows it (its graph, metadata),
 *   created before its first run.
 * - `stategraph_server_runs`: the durable run queue: a run waits `pending`, is claimed by one
 *   executor (any process on the database) with a lease, ends `success | error | interrupted`.
 *   Runs of one thread are executed one at a time in `seq` order (double texting `enqueue`).
 * - `stategraph_server_events`: the run-event log the SSE streams read (ids are the SSE ids),
 *   so a client reconnecting to any API process gets what it missed.
 * - `stategraph_server_tokens`: bearer tokens, stored as SHA-256 hashes.
 *
 * Statements are plain SQL common to SQLite and Postgres; the one difference (an auto-increment
 * key) goes through `sql.onDialectOrElse`.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import { migrateOnce } from "../sqlite/migrations.js"

/** @internal */
export const MIGRATIONS_TABLE = "stategraph_server_migrations"

const serial = (sql: SqlClient.SqlClient) =>
  sql.onDialectOrElse({ pg: () => "BIGSERIAL PRIMARY KEY", orElse: () => "INTEGER PRIMARY KEY AUTOINCREMENT" })

const m0001 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE IF NOT EXISTS stategraph_server_threads (
    thread_id TEXT PRIMARY KEY NOT NULL,
    graph_id TEXT,
    metadata TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
  )`
  yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS stategraph_server_runs (
    seq ${serial(sql)},
    run_id TEXT NOT NULL UNIQUE,
    thread_id TEXT NOT NULL,
    assistant_id TEXT NOT NULL,
    status TEXT NOT NULL,
    metadata TEXT NOT NULL,
    kwargs TEXT NOT NULL,
    multitask_strategy TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    worker TEXT,
    lease_until DOUBLE PRECISION NOT NULL DEFAULT 0,
    cancel TEXT,
    error TEXT,
    base_checkpoint TEXT
  )`)
  yield* sql`CREATE INDEX IF NOT EXISTS stategraph_server_runs_thread ON stategraph_server_runs (thread_id, seq)`
  yield* sql`CREATE INDEX IF NOT EXISTS stategraph_server_runs_status ON stategraph_server_runs (status, seq)`
  yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS stategraph_server_events (
    id ${serial(sql)},
    run_id TEXT NOT NULL,
    event TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
  )`)
  yield* sql`CREATE INDEX IF NOT EXISTS stategraph_server_events_run ON stategraph_server_events (run_id, id)`
  yield* sql`CREATE TABLE IF NOT EXISTS stategraph_server_tokens (
    token_id TEXT PRIMARY KEY NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    permissions TEXT NOT NULL,
    graphs TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    revoked_at DOUBLE PRECISION
  )`
})

/** The rate limit's buckets, one per token, shared by every server process on the database. */
const m0002 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE IF NOT EXISTS stategraph_server_rate (
    bucket TEXT PRIMARY KEY NOT NULL,
    tokens DOUBLE PRECISION NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    allowed INTEGER NOT NULL
  )`
})

/** Runs the server's migrations (safe when several processes start at once). @internal */
export const migrate: Effect.Effect<void, unknown, SqlClient.SqlClient> = migrateOnce(
  { "1_server": m0001, "2_rate": m0002 },
  MIGRATIONS_TABLE
)

/**
 * Takes one request from the token bucket `bucket` (`requests` at most, refilled evenly over
 * `perMillis`) in one statement, so concurrent requests of every process agree: the bucket is
 * refilled for the time since its last request, then a request is taken if one is there.
 * Returns whether it was, and what is left (to tell how long to wait).
 *
 * @internal
 */
export const takeRate = (
  sql: SqlClient.SqlClient,
  bucket: string,
  limit: { readonly requests: number; readonly perMillis: number },
  now: number
): Effect.Effect<{ readonly allowed: boolean; readonly tokens: number }, SqlError> => {
  const num = (n: number) => sql`CAST(${n} AS DOUBLE PRECISION)`
  const cap = num(limit.requests)
  const rate = num(limit.requests / limit.perMillis)
  const t = num(now)
  // the bucket refilled up to now (a clock behind the last request's refills nothing), at most full
  const refilled = sql`(CASE
    WHEN stategraph_server_rate.tokens + (CASE WHEN ${t} > stategraph_server_rate.at THEN ${t} - stategraph_server_rate.at ELSE 0 END) * ${rate} > ${cap}
    THEN ${cap}
    ELSE stategraph_server_rate.tokens + (CASE WHEN ${t} > stategraph_server_rate.at THEN ${t} - stategraph_server_rate.at ELSE 0 END) * ${rate}
  END)`
  return Effect.map(
    sql<{ tokens: number; allowed: number }>`INSERT INTO stategraph_server_rate (bucket, tokens, at, allowed)
      VALUES (${bucket}, ${num(limit.requests - 1)}, ${t}, 1)
      ON CONFLICT (bucket) DO UPDATE SET
        tokens = CASE WHEN ${refilled} >= 1 THEN ${refilled} - 1 ELSE ${refilled} END,
        at = CASE WHEN ${t} > stategraph_server_rate.at THEN ${t} ELSE stategraph_server_rate.at END,
        allowed = CASE WHEN ${refilled} >= 1 THEN 1 ELSE 0 END
      RETURNING tokens, allowed`.withoutTransform,
    (rows) => ({ allowed: Number(rows[0]?.allowed ?? 1) === 1, tokens: Number(rows[0]?.tokens ?? 0) })
  )
}

/** Forgets buckets untouched for `perMillis`: they are full again, the same as none. @internal */
export const pruneRate = (sql: SqlClient.SqlClient, before: number): Effect.Effect<void, SqlError> =>
  sql`DELETE FROM stategraph_server_rate WHERE at < ${before}`.withoutTransform.pipe(Effect.asVoid)

// ---------------------------------------------------------------------------------------------
// rows
// ---------------------------------------------------------------------------------------------

/** @internal */
export type ThreadRow = {
  readonly thread_id: string
  readonly graph_id: string | null
  readonly metadata: string
  readonly created_at: number
  readonly updated_at: number
}

/** @internal */
export type RunRow = {
  readonly seq: number
  readonly run_id: string
  readonly thread_id: string
  readonly assistant_id: string
  readonly status: string
  readonly metadata: string
  readonly kwargs: string
  readonly multitask_strategy: string | null
  readonly created_at: number
  readonly updated_at: number
  readonly worker: string | null
  readonly lease_until: number
  readonly cancel: string | null
  readonly error: string | null
  readonly base_checkpoint: string | null
}

/** @internal */
export type EventRow = {
  readonly id: number
  readonly run_id: string
  readonly event: string
  readonly data: string
}

/** @internal */
export type TokenRow = {
  readonly token_id: string
  readonly hash: string
  readonly name: string
  readonly permissions: string
  readonly graphs: string | null
  readonly created_at: number
  readonly revoked_at: number | null
}

/** @internal */
export type Db = ReturnType<typeof make>

/** The server's statements on `sql`. @internal */
export const make = (sql: SqlClient.SqlClient) => {
  const one = <A>(rows: ReadonlyArray<A>) => rows[0]
  type E<A> = Effect.Effect<A, SqlError>
  return {
    sql,
    // threads ------------------------------------------------------------------------------
    insertThread: (row: ThreadRow): E<boolean> =>
      Effect.map(
        sql<{ thread_id: string }>`INSERT INTO stategraph_server_threads ${sql.insert(row)}
          ON CONFLICT (thread_id) DO NOTHING RETURNING thread_id`.withoutTransform,
        (rows) => rows.length > 0
      ),
    getThread: (threadId: string): E<ThreadRow | undefined> =>
      Effect.map(sql<ThreadRow>`SELECT * FROM stategraph_server_threads WHERE thread_id = ${threadId}`.withoutTransform, one),
    listThreads: (): E<ReadonlyArray<ThreadRow>> =>
      sql<ThreadRow>`SELECT * FROM stategraph_server_threads ORDER BY created_at DESC`.withoutTransform,
    updateThread: (threadId: string, patch: { readonly metadata?: string; readonly graph_id?: string | null }, now: number) =>
      sql`UPDATE stategraph_server_threads SET ${sql.update({ ...patch, updated_at: now })} WHERE thread_id = ${threadId}`
        .withoutTransform.pipe(Effect.asVoid),
    deleteThread: (threadId: string): E<void> =>
      sql.withTransaction(Effect.gen(function*() {
        yield* sql`DELETE FROM stategraph_server_events WHERE run_id IN (SELECT run_id FROM stategraph_server_runs WHERE thread_id = ${threadId})`
        yield* sql`DELETE FROM stategraph_server_runs WHERE thread_id = ${threadId}`
        yield* sql`DELETE FROM stategraph_server_threads WHERE thread_id = ${threadId}`
      })),
    // runs ---------------------------------------------------------------------------------
    insertRun: (row: Omit<RunRow, "seq">): E<void> =>
      sql`INSERT INTO stategraph_server_runs ${sql.insert(row)}`.withoutTransform.pipe(Effect.asVoid),
    getRun: (runId: string): E<RunRow | undefined> =>
      Effect.map(sql<RunRow>`SELECT * FROM stategraph_server_runs WHERE run_id = ${runId}`.withoutTransform, one),
    listRuns: (threadId: string, limit: number, offset: number, status: string | undefined): E<ReadonlyArray<RunRow>> =>
      status === undefined
        ? sql<RunRow>`SELECT * FROM stategraph_server_runs WHERE thread_id = ${threadId}
            ORDER BY seq DESC LIMIT ${limit} OFFSET ${offset}`.withoutTransform
        : sql<RunRow>`SELECT * FROM stategraph_server_runs WHERE thread_id = ${threadId} AND status = ${status}
            ORDER BY seq DESC LIMIT ${limit} OFFSET ${offset}`.withoutTransform,
    inflight: (threadId: string): E<ReadonlyArray<RunRow>> =>
      sql<RunRow>`SELECT * FROM stategraph_server_runs WHERE thread_id = ${threadId}
        AND status IN ('pending', 'running') ORDER BY seq`.withoutTransform,
    /**
     * Claims the oldest pending run of one of `graphs` whose thread has no run in progress and no
     * older pending run: one executor (of any process) wins it. Runs of graphs this process does
     * not serve are left to the processes that do.
     */
    claimNext: (worker: string, now: number, leaseMillis: number, graphs: ReadonlyArray<string>): E<RunRow | undefined> =>
      Effect.map(
        sql<RunRow>`UPDATE stategraph_server_runs SET status = 'running', worker = ${worker},
            lease_until = ${now + leaseMillis}, updated_at = ${now}
          WHERE run_id = (
            SELECT r.run_id FROM stategraph_server_runs r
            WHERE r.status = 'pending' AND r.assistant_id IN ${sql.in(graphs)}
              AND NOT EXISTS (SELECT 1 FROM stategraph_server_runs x
                WHERE x.thread_id = r.thread_id AND x.status = 'running')
              AND NOT EXISTS (SELECT 1 FROM stategraph_server_runs y
                WHERE y.thread_id = r.thread_id AND y.status = 'pending' AND y.seq < r.seq)
            ORDER BY r.seq LIMIT 1)
          AND status = 'pending'
          RETURNING *`.withoutTransform,
        one
      ),
    /** Runs whose executor stopped renewing its lease (a crashed process): back to pending. */
    reclaimExpired: (now: number): E<void> =>
      sql`UPDATE stategraph_server_runs SET status = 'pending', worker = NULL, updated_at = ${now}
        WHERE status = 'running' AND lease_until < ${now}`.withoutTransform.pipe(Effect.asVoid),
    renew: (runId: string, worker: string, until: number): E<RunRow | undefined> =>
      Effect.map(
        sql<RunRow>`UPDATE stategraph_server_runs SET lease_until = ${until}
          WHERE run_id = ${runId} AND worker = ${worker} RETURNING *`.withoutTransform,
        one
      ),
    setBase: (runId: string, checkpointId: string | null): E<void> =>
      sql`UPDATE stategraph_server_runs SET base_checkpoint = ${checkpointId} WHERE run_id = ${runId}`.withoutTransform
        .pipe(Effect.asVoid),
    finish: (runId: string, status: string, error: string | null, now: number): E<void> =>
      sql`UPDATE stategraph_server_runs SET status = ${status}, error = ${error}, updated_at = ${now}, worker = NULL
        WHERE run_id = ${runId}`.withoutTransform.pipe(Effect.asVoid),
    /** Asks a run to stop: a pending one ends at once, a running one when its executor sees it. */
    requestCancel: (runId: string, action: string, now: number): E<void> =>
      sql.withTransaction(Effect.gen(function*() {
        yield* sql`UPDATE stategraph_server_runs SET cancel = ${action}, updated_at = ${now}
          WHERE run_id = ${runId} AND status IN ('pending', 'running')`
        yield* sql`UPDATE stategraph_server_runs SET status = 'interrupted', updated_at = ${now}
          WHERE run_id = ${runId} AND status = 'pending'`
      })),
    deleteRun: (runId: string): E<void> =>
      sql.withTransaction(Effect.gen(function*() {
        yield* sql`DELETE FROM stategraph_server_events WHERE run_id = ${runId}`
        yield* sql`DELETE FROM stategraph_server_runs WHERE run_id = ${runId}`
      })),
    // events -------------------------------------------------------------------------------
    appendEvents: (rows: ReadonlyArray<{ readonly run_id: string; readonly event: string; readonly data: string; readonly created_at: number }>): E<void> =>
      rows.length === 0 ? Effect.void : sql`INSERT INTO stategraph_server_events ${sql.insert(rows)}`.withoutTransform.pipe(Effect.asVoid),
    eventsAfter: (runId: string, after: number, limit: number): E<ReadonlyArray<EventRow>> =>
      sql<EventRow>`SELECT id, run_id, event, data FROM stategraph_server_events
        WHERE run_id = ${runId} AND id > ${after} ORDER BY id LIMIT ${limit}`.withoutTransform,
    deleteEventsBefore: (before: number): E<void> =>
      sql`DELETE FROM stategraph_server_events WHERE created_at < ${before}`.withoutTransform.pipe(Effect.asVoid),
    // tokens -------------------------------------------------------------------------------
    insertToken: (row: TokenRow): E<void> =>
      sql`INSERT INTO stategraph_server_tokens ${sql.insert(row)}`.withoutTransform.pipe(Effect.asVoid),
    tokenByHash: (hash: string): E<TokenRow | undefined> =>
      Effect.map(sql<TokenRow>`SELECT * FROM stategraph_server_tokens WHERE hash = ${hash}`.withoutTransform, one),
    revokeToken: (tokenId: string, now: number): E<boolean> =>
      Effect.map(
        sql<{ token_id: string }>`UPDATE stategraph_server_tokens SET revoked_at = ${now}
          WHERE token_id = ${tokenId} AND revoked_at IS NULL RETURNING token_id`.withoutTransform,
        (rows) => rows.length > 0
      ),
    listTokens: (): E<ReadonlyArray<TokenRow>> =>
      sql<TokenRow>`SELECT * FROM stategraph_server_tokens ORDER BY created_at`.withoutTransform,
    ping: sql`SELECT 1 AS ok`.withoutTransform.pipe(Effect.asVoid)
  }
}

/** The `__end__` event of a run: its result, written with its final status. @internal */
export const endEvent = (db: Db, runId: string): Effect.Effect<EventRow | undefined, SqlError> =>
  Effect.map(
    db.sql<EventRow>`SELECT id, run_id, event, data FROM stategraph_server_events
      WHERE run_id = ${runId} AND event = '__end__' ORDER BY id LIMIT 1`.withoutTransform,
    (rows) => rows[0]
  )

/** Removes a thread's row only (its runs and their events stay readable until cleanup). @internal */
export const deleteThreadRow = (db: Db, threadId: string): Effect.Effect<void, SqlError> =>
  db.sql`DELETE FROM stategraph_server_threads WHERE thread_id = ${threadId}`.withoutTransform.pipe(Effect.asVoid)
