/**
 * The long-term `Memory` store in Postgres: its items table in the store's schema (default
 * `stategraph`, beside `PgSnapshots`' tables), migrated under the schema's advisory lock (safe
 * when many processes start at once), on a pool of its own or on the application's client. Like
 * `PgSnapshots`, a subpath (`effect-stategraph/PgMemory`) that needs the optional peer
 * `@effect/sql-pg`.
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { StoreError } from "./GraphError.js"
import * as internal from "./internal/memory/sql.js"
import { migrate } from "./internal/pg/migrations.js"
import { type Backend, Memory } from "./Memory.js"
import * as PgSnapshots from "./PgSnapshots.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** the schema holding the items table (created when missing); a lowercase identifier, default `stategraph` */
  readonly schema?: string | undefined
}

/**
 * The connection (see `PgSnapshots.Config`) and the store's options.
 *
 * @since 0.1.0
 * @category models
 */
export type Config = Options & Omit<PgSnapshots.Config, "appendFanout">

/** The migrations table of the memory store, in its schema. @since 0.1.0 @category models */
export const MIGRATIONS_TABLE = "stategraph_memory_migrations"

const migrations = (schema: string): Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> => ({
  "1_create_items": Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.zipRight(
      // times as double precision: node-postgres reads bigint as text
      sql.unsafe(`CREATE TABLE "${schema}".stategraph_memory_items (
        namespace text NOT NULL,
        key text NOT NULL,
        value text NOT NULL,
        created_at double precision NOT NULL,
        updated_at double precision NOT NULL,
        ttl_ms double precision,
        expires_at double precision,
        PRIMARY KEY (namespace, key)
      )`),
      sql.unsafe(`CREATE INDEX stategraph_memory_items_expiry ON "${schema}".stategraph_memory_items (expires_at)
        WHERE expires_at IS NOT NULL`)
    ))
})

/**
 * The store on the Postgres `SqlClient` in context: runs its migrations, then returns the backend.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options?: Options): Effect.Effect<Backend, StoreError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql.onDialectOrElse({
      pg: () => Effect.void,
      orElse: () => Effect.fail(new StoreError({ operation: "Memory.open", cause: new Error("PgMemory needs a Postgres SqlClient") }))
    })
    const schema = yield* PgSnapshots.schemaOf(options)
    yield* Effect.mapError(migrate(schema, MIGRATIONS_TABLE, migrations(schema)), (cause) => new StoreError({ operation: "Memory.migrate", cause }))
    return yield* internal.make(sql, { schema })
  })

/**
 * The store on a Postgres client provided by the application (shared with `PgSnapshots.layerClient`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerClient = (options?: Options): Layer.Layer<Memory, StoreError, SqlClient.SqlClient> =>
  Layer.effect(Memory, make(options))

/**
 * The store in the Postgres database of `config`, with a pool of its own.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (config: Config): Layer.Layer<Memory, StoreError> =>
  layerClient(config).pipe(Layer.provide(PgSnapshots.layerPgClient(config)))
