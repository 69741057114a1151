/**
 * The storage core of the SQL stores, SQLite and Postgres being two dialects of it (their
 * statements and executors in `sqlite/` and `pg/`): every write operation is atomic on its own; a
 * commit is a compare-and-set on the thread's run owner and head; channel values are stored
 * incrementally (see `blobs.ts`). On SQLite, the single-statement writes (claim, the common commit,
 * settle, putTask, release) that runs issue at the same moment share one write transaction (group
 * commit, see `sqlite/db.ts`).
 *
 * The parts: `rows` (row schemas and checks), `dialect`, `context` (the shared executor and
 * caches), `commit`, `read`, `settle`, `cleanup`; this module assembles the backend.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { LeaseHeld, ThreadBusy } from "../../GraphError.js"
import type { Backend, Lease } from "../../Snapshots.js"
import * as SqliteDb from "../sqlite/db.js"
import * as Cleanup from "./cleanup.js"
import * as Commit from "./commit.js"
import * as Context from "./context.js"
import type * as Db from "./db.js"
import { type Dialect, type Options, type Statements, sqliteDialect } from "./dialect.js"
import * as Read from "./read.js"
import { filterParams, limitParam, statusParam } from "./rows.js"
import * as Settle from "./settle.js"

export type { Dialect, Options, Statements } from "./dialect.js"
export { sqliteDialect } from "./dialect.js"

/** The SQLite store. @internal */
export const make = (
  client: SqlClient.SqlClient,
  exclusive: Connection | undefined,
  options: Options = {}
): Backend => makeWith(SqliteDb.make(client, exclusive, options.busyTimeoutMillis ?? 5000), sqliteDialect, options)

const toLeases = (rows: ReadonlyArray<any>): ReadonlyArray<Lease> => {
  const now = Date.now()
  return rows.map((r) => ({
    threadId: r.thread_id,
    workflowId: r.workflow_id,
    holder: r.run_id,
    until: Number(r.lease_until),
    alive: Number(r.lease_until) > now
  }))
}

/**
 * A refusal names who holds the thread and until when: read after the refusing statement (never
 * inside its transaction), and only on that path.
 */
const naming = (db: Db.Db, Sql: Statements) =>
  <A extends ReadonlyArray<any>, B, E>(f: (...args: A) => Effect.Effect<B, E>) => (...args: A) =>
    Effect.catchIf(
      f(...args),
      (e): e is E & ThreadBusy => e instanceof ThreadBusy && e.holder === undefined,
      (e) =>
        db.once("leases", Sql.leases, [e.threadId, e.threadId, null, null]).pipe(
          Effect.map(toLeases),
          Effect.orElseSucceed(() => []),
          Effect.flatMap((found) =>
            Effect.fail(found.length === 0 ? e : new ThreadBusy({ threadId: e.threadId, holder: found[0]!.holder, leaseUntil: found[0]!.until }))
          )
        )
    )

/** The backend with its refusals naming the holder and a span on each operation off the hot path. */
const instrument = (backend: Backend, db: Db.Db, dialect: Dialect): Backend => {
  const named = naming(db, dialect.sql)
  // a span for each operation off the hot path (claim, commit, putTask, setStatus and release
  // run once per step or per run and stay lean)
  const spanOptions = { attributes: { "db.system.name": dialect.system }, kind: "client", captureStackTrace: false } as const
  const traced = <A extends ReadonlyArray<any>, B, E>(name: string, f: (...args: A) => Effect.Effect<B, E>) => (...args: A) =>
    Effect.withSpan(f(...args), `${dialect.name}.${name}`, spanOptions)
  return {
    ...backend,
    claim: named(backend.claim),
    commit: named(backend.commit),
    commitAll: named(backend.commitAll),
    settle: named(backend.settle),
    putTask: named(backend.putTask),
    setStatus: named(backend.setStatus),
    leases: traced("leases", backend.leases),
    releaseLease: traced("releaseLease", backend.releaseLease),
    load: traced("load", backend.load),
    history: traced("history", backend.history),
    listByThread: traced("listByThread", backend.listByThread),
    listByWorkflow: traced("listByWorkflow", backend.listByWorkflow),
    listThreads: traced("listThreads", backend.listThreads),
    dueSleepers: traced("dueSleepers", backend.dueSleepers),
    delete: traced("delete", backend.delete),
    deleteThread: traced("deleteThread", backend.deleteThread),
    cleanup: traced("cleanup", backend.cleanup)
  }
}

/** The store on a dialect's executor and statements. @internal */
export const makeWith = (db: Db.Db, dialect: Dialect, options: Options = {}): Backend => {
  const ctx = Context.make(db, dialect, options)
  const { busy, Sql, walCheckpoint } = ctx
  const { commit, commitAll, isBusyRaise } = Commit.make(ctx)
  const { history, load, query, summaries } = Read.make(ctx)
  const { setStatusIn, settle } = Settle.make(ctx, isBusyRaise)
  const { cleanup, delete: deleteExecution, deleteThread } = Cleanup.make(ctx)

  const backend: Backend = {
    leases: (options) =>
      Effect.map(
        db.once("leases", Sql.leases, [
          options?.threadId ?? null,
          options?.threadId ?? null,
          options?.workflowId ?? null,
          options?.workflowId ?? null
        ]),
        toLeases
      ),

    releaseLease: (threadId, options) =>
      db.write("releaseLease", (tx) =>
        Effect.gen(function*() {
          const [lease] = toLeases(yield* tx.all(Sql.leases, [threadId, threadId, null, null]))
          if (lease === undefined) return Option.none()
          if (lease.alive && options?.force !== true) {
            return yield* new LeaseHeld({ threadId, holder: lease.holder, leaseUntil: lease.until })
          }
          yield* tx.all(Sql.fence, [threadId, lease.holder])
          yield* tx.all(Sql.breakLease, [threadId, lease.holder])
          return Option.some(lease)
        })),

    claim: (threadId, runId, { leaseMillis, workflowId }) =>
      Effect.suspend(() => {
        const now = Date.now()
        return Effect.flatMap(
          db.writeOnce("claim", Sql.claim, [threadId, workflowId, now, runId, now + leaseMillis, now]),
          (rows) => (rows.length === 0 ? busy(threadId) : Effect.succeed((rows[0].head ?? null) as string | null))
        )
      }),

    release: (threadId, runId) => Effect.zipRight(db.writeOnce("release", Sql.release, [threadId, runId]), walCheckpoint),

    commit,

    commitAll,


    settle,

    putTask: (threadId, runId, checkpointId, record) =>
      Effect.flatMap(
        db.writeOnce("putTask", Sql.putTask, [
          threadId,
          checkpointId,
          record.taskId,
          JSON.stringify(record),
          threadId,
          runId,
          threadId,
          checkpointId
        ]),
        (rows) => (rows.length === 0 ? busy(threadId) : Effect.void)
      ),

    setStatus: (threadId, runId, checkpointId, patch) =>
      db.write("setStatus", (tx) => setStatusIn(tx, threadId, runId, checkpointId, patch)),

    load,

    history,

    listByThread: (threadId, options) =>
      query("listByThread", threadId, Sql.listByThread, [
        threadId,
        ...filterParams(options)
      ], options),

    listByWorkflow: (workflowId, options) =>
      query("listByWorkflow", undefined, Sql.listByWorkflow, [
        workflowId,
        ...filterParams(options)
      ], options),

    listThreads: (options) =>
      summaries("listThreads", Sql.listThreads, [
        statusParam(options?.status),
        statusParam(options?.status),
        options?.workflowId ?? null,
        options?.workflowId ?? null,
        limitParam(options?.limit)
      ]),

    dueSleepers: (now, limit) => summaries("dueSleepers", Sql.dueSleepers, [now, limitParam(limit)]),

    delete: deleteExecution,

    deleteThread,

    cleanup
  }
  return instrument(backend, db, dialect)
}
