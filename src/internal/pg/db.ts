/**
 * The executor of the storage core on an @effect/sql Postgres client: write transactions at READ
 * COMMITTED (each compare-and-set is a row-locking `UPDATE … WHERE` / `INSERT … ON CONFLICT … WHERE`
 * whose row count says whether it won), read transactions at REPEATABLE READ (one snapshot for a
 * checkpoint and its blobs), single statements on the pool; a transaction that lost a deadlock or
 * a serialization check is retried; `SqlError` becomes `StoreError` here.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Core from "../sql/db.js"

/** SQLSTATE of a transaction Postgres rolled back to keep transactions apart: safe to run again. */
const RETRYABLE = new Set(["40001", "40P01"])

/** @internal */
export const isRetryable = (e: unknown): boolean =>
  Core.isSqlError(e) && RETRYABLE.has(String((e.cause as { readonly code?: unknown } | undefined)?.code))

/** @internal */
export const make = (sql: SqlClient.SqlClient): Core.Db => {
  const tx: Core.Tx = { all: (text, params) => sql.unsafe(text, params as ReadonlyArray<any>) }
  // a transaction whose connection died: its ROLLBACK fails too, and @effect/sql dies with that
  // SqlError; it is a store failure like any other (the transaction did not commit)
  const failed = <A, E>(self: Effect.Effect<A, E>): Effect.Effect<A, E | SqlError> =>
    Effect.catchAllDefect(self, (defect) => (Core.isSqlError(defect) ? Effect.fail(defect) : Effect.die(defect)))
  const retry = <A, E>(self: Effect.Effect<A, E>) =>
    Effect.retry(failed(self), { while: isRetryable, schedule: Schedule.jittered(Schedule.exponential("5 millis")), times: 8 })

  const write = <A, E>(operation: string, body: (tx: Core.Tx) => Effect.Effect<A, E | SqlError>) =>
    retry(sql.withTransaction(Effect.suspend(() => body(tx)))).pipe(Core.translate(operation))

  const read = <A, E>(operation: string, body: (tx: Core.Tx) => Effect.Effect<A, E | SqlError>) =>
    retry(sql.withTransaction(
      Effect.zipRight(sql.unsafe("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"), Effect.suspend(() => body(tx)))
    )).pipe(Core.translate(operation))

  const once = (operation: string, text: string, params: ReadonlyArray<unknown>) =>
    retry(tx.all(text, params)).pipe(Core.translate(operation))

  return { client: sql, write, read, once, writeOnce: once }
}
