/**
 * The long-term `Memory` store on SQLite, on @effect/sql: its own table
 * (`stategraph_memory_items`) created by its own `Migrator` run (migrations table
 * `stategraph_memory_migrations`), so it can share a database file — and a client — with the
 * snapshot store, or have one of its own.
 *
 * ```ts
 * const layer = SqliteMemory.layer({ filename: ".data/memory.db" })
 * ```
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { StoreError } from "./GraphError.js"
import * as Migrations from "./internal/memory/migrations.js"
import * as internal from "./internal/memory/sql.js"
import { type Backend, Memory } from "./Memory.js"
import * as SqliteSnapshots from "./SqliteSnapshots.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Config {
  /** the database file (it may be the snapshot store's); its directory is created when missing */
  readonly filename: string
  /** how long an operation waits while another connection holds the write lock (default 5000 ms) */
  readonly busyTimeoutMillis?: number | undefined
}

/**
 * The store on the `SqlClient` in context (a SQLite client): runs the migrations, then returns
 * the backend.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Backend, StoreError, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* Effect.mapError(Migrations.migrate, (cause) => new StoreError({ operation: "Memory.migrate", cause }))
  return yield* internal.make(sql)
})

/**
 * The store on a SQLite `SqlClient` the application provides — the one under
 * `SqliteSnapshots.layerClient`, say, to keep threads and memories in one file.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerClient: Layer.Layer<Memory, StoreError, SqlClient.SqlClient> = Layer.effect(Memory, make)

/**
 * The store in the SQLite file `filename` (created with its directory when missing), with a
 * client of its own: WAL mode, `synchronous = NORMAL`, `busy_timeout`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (config: Config): Layer.Layer<Memory, StoreError> =>
  layerClient.pipe(Layer.provide(SqliteSnapshots.layerSqlClient(config)))
