/**
 * The memory store's tables, as versioned migrations run by the @effect/sql `Migrator` into their
 * own migrations table (`stategraph_memory_migrations`), on the same client as the snapshot store
 * or on one of their own.
 *
 * `stategraph_memory_items`: one row per item; `namespace` is the namespace's JSON text (so a
 * namespace prefix is a text prefix, served by the primary key), `value` the encoded value's JSON
 * text, times in ms since the epoch, `ttl_ms` / `expires_at` null for an item that never expires.
 *
 * @internal
 */
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"

/** @internal */
export const MIGRATIONS_TABLE = "stategraph_memory_migrations"

/** @internal */
export const ITEMS_TABLE = "stategraph_memory_items"

const m0001 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE IF NOT EXISTS stategraph_memory_items (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    ttl_ms BIGINT,
    expires_at BIGINT,
    PRIMARY KEY (namespace, key)
  )`
  yield* sql`CREATE INDEX IF NOT EXISTS stategraph_memory_items_expiry ON stategraph_memory_items (expires_at)
    WHERE expires_at IS NOT NULL`
})

/** @internal */
export const migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  "1_create_items": m0001
}

/**
 * Another connection's write in the way (SQLite's SQLITE_BUSY*): the snapshot store migrating the
 * same file at the same moment, say. A read-then-write transaction that lost the race cannot wait
 * for the lock, so it is tried again.
 */
const isBusy = (cause: unknown): boolean => {
  const code = (cause as { readonly code?: unknown } | null | undefined)?.code
  return typeof code === "string" && code.startsWith("SQLITE_BUSY")
}

const LATEST = Math.max(...Object.keys(migrations).map((k) => Number(k.split("_")[0])))

/**
 * Runs the migrations. Several processes may start at once on one database: the Migrator lets one
 * run a migration and the others skip it ("locked"), possibly before the winner committed; so
 * each process then waits until the table shows the latest migration. A busy database (another
 * connection writing) is tried again too.
 *
 * @internal
 */
export const migrate: Effect.Effect<void, Migrator.MigrationError | SqlError, SqlClient.SqlClient> = Effect.gen(
  function*() {
    const sql = yield* SqlClient.SqlClient
    const run = Migrator.make({})({ loader: Migrator.fromRecord(migrations), table: MIGRATIONS_TABLE })
    const once = Effect.gen(function*() {
      yield* run
      const rows = yield* sql<{ readonly id: number | null }>`SELECT max(migration_id) AS id FROM ${sql(MIGRATIONS_TABLE)}`
        .withoutTransform
      if ((rows[0]?.id ?? 0) < LATEST) {
        return yield* new Migrator.MigrationError({ reason: "locked", message: "migrations are running elsewhere" })
      }
    })
    yield* once.pipe(
      Effect.retry({
        schedule: Schedule.spaced("50 millis"),
        times: 200,
        while: (e) => (e._tag === "MigrationError" && e.reason === "locked") || (e._tag === "SqlError" && isBusy(e.cause))
      }),
      // a wall-clock wait, even under a TestClock: the other process is real
      Effect.withClock(Clock.make())
    )
  }
)
