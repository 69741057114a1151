/**
 * What the storage core asks of a database: statements in a transaction (`Tx`), write and read
 * transactions, single statements; each dialect's executor (`sqlite/db.ts`, `pg/db.ts`) provides
 * it and translates `SqlError` into our `StoreError` at this boundary.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import { StoreError } from "../../GraphError.js"

/** Statements of one transaction. @internal */
export interface Tx {
  /** Runs a statement; rows for a query or a `RETURNING` clause, `[]` otherwise. */
  readonly all: (sql: string, params: ReadonlyArray<unknown>) => Effect.Effect<ReadonlyArray<any>, SqlError>
}

/** @internal */
export interface Db {
  readonly client: SqlClient.SqlClient
  /** One write transaction (on SQLite, holding the write lock from its first statement). */
  readonly write: <A, E>(operation: string, body: (tx: Tx) => Effect.Effect<A, E | SqlError>) => Effect.Effect<A, Exclude<E, SqlError> | StoreError>
  /** One read transaction: every statement sees the same snapshot. */
  readonly read: <A, E>(operation: string, body: (tx: Tx) => Effect.Effect<A, E | SqlError>) => Effect.Effect<A, Exclude<E, SqlError> | StoreError>
  /** One statement in its own (implicit) transaction. */
  readonly once: (operation: string, sql: string, params: ReadonlyArray<unknown>) => Effect.Effect<ReadonlyArray<any>, StoreError>
  /**
   * One write statement, atomic on its own, committed before it returns (on SQLite, statements
   * that fibers of this process issue at the same moment share one write transaction).
   */
  readonly writeOnce: (operation: string, sql: string, params: ReadonlyArray<unknown>) => Effect.Effect<ReadonlyArray<any>, StoreError>
}

/** @internal */
export const isSqlError = (u: unknown): u is SqlError =>
  typeof u === "object" && u !== null && (u as any)._tag === "SqlError"

/** @internal */
export const storeError = (operation: string) => (cause: unknown) => new StoreError({ operation, cause })

/** `SqlError` becomes a `StoreError` naming the operation; other errors pass. @internal */
export const translate = (operation: string) => <A, E>(self: Effect.Effect<A, E>): Effect.Effect<A, Exclude<E, SqlError> | StoreError> =>
  Effect.mapError(self, (e) => (isSqlError(e) ? storeError(operation)(e) : e)) as any
