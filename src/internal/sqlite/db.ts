/**
 * A lean executor over an @effect/sql SQLite client: prepared statements on the client's own
 * connection, write transactions that take the write lock up front (`BEGIN IMMEDIATE`), and
 * `SqlError` translated into our `StoreError` at this boundary.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import type { SqlError } from "@effect/sql/SqlError"
import { Clock, Effect, Exit } from "effect"
import { StoreError } from "../../GraphError.js"

/** Statements of one transaction. @internal */
export interface Tx {
  /** Runs a prepared statement; rows for a query or a `RETURNING` clause, `[]` otherwise. */
  readonly all: (sql: string, params: ReadonlyArray<unknown>) => Effect.Effect<ReadonlyArray<any>, SqlError>
}

/** @internal */
export interface Db {
  readonly client: SqlClient.SqlClient
  /** One write transaction holding SQLite's write lock from its first statement. */
  readonly write: <A, E>(operation: string, body: (tx: Tx) => Effect.Effect<A, E | SqlError>) => Effect.Effect<A, Exclude<E, SqlError> | StoreError>
  /** One read transaction: every statement sees the same snapshot. */
  readonly read: <A, E>(operation: string, body: (tx: Tx) => Effect.Effect<A, E | SqlError>) => Effect.Effect<A, Exclude<E, SqlError> | StoreError>
  /** One statement in its own (implicit) transaction. */
  readonly once: (operation: string, sql: string, params: ReadonlyArray<unknown>) => Effect.Effect<ReadonlyArray<any>, StoreError>
}

const isSqlError = (u: unknown): u is SqlError =>
  typeof u === "object" && u !== null && (u as any)._tag === "SqlError"

/** @internal */
export const storeError = (operation: string) => (cause: unknown) => new StoreError({ operation, cause })

const translate = (operation: string) => <A, E>(self: Effect.Effect<A, E>): Effect.Effect<A, Exclude<E, SqlError> | StoreError> =>
  Effect.mapError(self, (e) => (isSqlError(e) ? storeError(operation)(e) : e)) as any

const isBusy = (e: unknown): boolean => {
  if (!isSqlError(e)) return false
  const code = (e.cause as any)?.code
  return typeof code === "string" && (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED"))
}

/**
 * Retries an operation that found the database locked by another connection, with a growing
 * pause, for up to `timeoutMillis`. The pauses are fiber sleeps on the wall clock (even under a
 * TestClock): the thread stays free, so connections of one process never wait on each other
 * while holding the thread.
 */
const retryBusy = (timeoutMillis: number) => <A, E>(self: Effect.Effect<A, E>): Effect.Effect<A, E> => {
  const attempt = (started: number, delay: number): Effect.Effect<A, E> =>
    Effect.catchIf(self, isBusy, (e) => {
      const now = Date.now()
      if (now - started >= timeoutMillis) return Effect.fail(e)
      return Effect.zipRight(
        Effect.withClock(Effect.sleep(Math.min(delay, Math.max(1, timeoutMillis - (now - started)))), Clock.make()),
        attempt(started, Math.min(delay * 2, 50))
      )
    })
  return Effect.catchIf(self, isBusy, () => attempt(Date.now(), 1))
}

/**
 * `exclusive`: a connection reserved by the caller for the store's lifetime (a client nobody
 * else uses): statements run on it directly, one operation at a time (a mutex of the store),
 * without reserving the client's connection for each operation. Otherwise each operation reserves
 * the client's connection for its duration.
 *
 * An operation that finds the database locked by another connection is retried (rolled back
 * first) for up to `busyTimeoutMillis`.
 *
 * @internal
 */
export const make = (client: SqlClient.SqlClient, exclusive: Connection | undefined, busyTimeoutMillis: number): Db => {
  const tx = (conn: Connection): Tx => ({ all: (sql, params) => conn.execute(sql, params, undefined) })
  const mutex = Effect.unsafeMakeSemaphore(1)
  const withConnection: <A, E>(f: (conn: Connection) => Effect.Effect<A, E>) => Effect.Effect<A, E | SqlError> =
    exclusive !== undefined
      ? (f) => mutex.withPermits(1)(f(exclusive))
      : (f) => Effect.scoped(Effect.flatMap(client.reserve, f))
  const retry = retryBusy(busyTimeoutMillis)

  const transaction = (begin: string) =>
  <A, E>(operation: string, body: (tx: Tx) => Effect.Effect<A, E | SqlError>) =>
    retry(withConnection((conn) =>
      Effect.uninterruptible(
        Effect.flatMap(conn.execute(begin, [], undefined), () =>
          Effect.flatMap(Effect.exit(body(tx(conn))), (exit) =>
            Exit.isSuccess(exit)
              ? Effect.as(
                Effect.tapError(conn.execute("COMMIT", [], undefined), () =>
                  Effect.ignore(conn.execute("ROLLBACK", [], undefined))),
                exit.value
              )
              : Effect.zipRight(Effect.ignore(conn.execute("ROLLBACK", [], undefined)), exit)))
      )
    )).pipe(translate(operation))

  return {
    client,
    write: transaction("BEGIN IMMEDIATE"),
    read: transaction("BEGIN"),
    once: (operation, sql, params) =>
      retry(withConnection((conn) => conn.execute(sql, params, undefined))).pipe(translate(operation))
  }
}
