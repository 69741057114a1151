/**
 * Fresh places on the run's PostgreSQL cluster (started by `globalSetup.ts`): a schema or a
 * database of a test's own, dropped when its scope closes.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Context, Effect, Layer } from "effect"
import * as PgSnapshots from "effect-stategraph/PgSnapshots"
import { inject } from "vitest"
import type { Cluster } from "./cluster.js"

export const cluster = (): Cluster => inject("pg")

let counter = 0
const uniqueName = (prefix: string) =>
  `${prefix}_${process.pid}_${Date.now().toString(36)}_${(counter++).toString(36)}`.toLowerCase()

/** Runs statements on the cluster's `postgres` database through a short-lived client. */
export const admin = <A, E>(f: (sql: SqlClient.SqlClient) => Effect.Effect<A, E>) =>
  Effect.scoped(Effect.gen(function*() {
    const ctx = yield* Layer.build(PgSnapshots.layerPgClient({ url: cluster().url, maxConnections: 1 }))
    return yield* f(Context.get(ctx, SqlClient.SqlClient))
  }))

/** A new schema name, dropped (with its tables) when the scope closes. */
export const scopedSchema = (prefix = "t") =>
  Effect.acquireRelease(
    Effect.sync(() => uniqueName(prefix)),
    (schema) => Effect.orDie(admin((sql) => sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)))
  )

/** A new database, dropped when the scope closes; its URL. */
export const scopedDatabase = (prefix = "db") =>
  Effect.map(
    Effect.acquireRelease(
      Effect.tap(Effect.sync(() => uniqueName(prefix)), (name) => Effect.orDie(admin((sql) => sql.unsafe(`CREATE DATABASE "${name}"`)))),
      (name) => Effect.orDie(admin((sql) => sql.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)))
    ),
    (name) => cluster().url.replace(/\/postgres$/, `/${name}`)
  )
