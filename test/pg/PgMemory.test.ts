/**
 * The long-term memory contract (`test/conformance/memoryContract.ts`, the one SQLite and the
 * in-process store pass) on Postgres: a fresh schema of the run's server per test, another pool
 * on it, rows rewritten behind the store's back.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { Memory } from "effect-stategraph"
import * as PgMemory from "effect-stategraph/PgMemory"
import * as PgSnapshots from "effect-stategraph/PgSnapshots"
import { memoryContract } from "../conformance/memoryContract.js"
import { admin, cluster, scopedSchema } from "./fixtures.js"

class Schema_ extends Context.Tag("test/PgMemorySchema")<Schema_, string>() {}

const fresh = Layer.unwrapScoped(Effect.map(scopedSchema("mem"), (schema) =>
  Layer.merge(PgMemory.layer({ url: cluster().url, schema, maxConnections: 4 }), Layer.succeed(Schema_, schema))))

const sibling = Effect.flatMap(Schema_, (schema) =>
  Effect.map(Layer.build(PgMemory.layer({ url: cluster().url, schema, maxConnections: 2 })), (ctx) => Context.get(ctx, Memory.Memory)))

const exec = (statement: (table: string) => string, params: ReadonlyArray<unknown>) =>
  Effect.flatMap(Schema_, (schema) => admin((sql) => sql.unsafe(statement(`"${schema}".stategraph_memory_items`), params)))

const tamper = (namespace: Memory.Namespace, key: string, kind: "value" | "namespace" | "columns") => {
  const where = [namespace.join("\u001f"), key]
  switch (kind) {
    case "value":
      return exec((t) => `UPDATE ${t} SET value = 'function () { throw 1 }' WHERE namespace = $1 AND key = $2`, where)
    case "namespace":
      return exec((t) => `UPDATE ${t} SET namespace = 'a' || chr(31) || chr(31) || 'b' WHERE namespace = $1 AND key = $2`, where)
    case "columns":
      // Postgres keeps a column's type: the column itself is changed behind the store's back
      return Effect.zipRight(
        exec((t) => `ALTER TABLE ${t} ALTER COLUMN created_at TYPE text USING created_at::text`, []),
        exec((t) => `UPDATE ${t} SET created_at = 'yesterday' WHERE namespace = $1 AND key = $2`, where)
      )
  }
}

memoryContract("PgMemory.layer", fresh, { sibling, tamper })

describe("PgMemory", () => {
  it.scoped("shares the snapshot store's client and schema; its own migrations table", () =>
    Effect.gen(function*() {
      const schema = yield* scopedSchema("memsnap")
      const layer = Layer.merge(PgSnapshots.layerClient({ schema }), PgMemory.layerClient({ schema })).pipe(
        Layer.provideMerge(PgSnapshots.layerPgClient({ url: cluster().url, maxConnections: 2 }))
      )
      const tables = yield* Effect.provide(
        Effect.flatMap(SqlClient.SqlClient, (sql) =>
          sql<{ readonly name: string }>`SELECT table_name AS name FROM information_schema.tables
            WHERE table_schema = ${schema} AND table_name LIKE '%migrations' ORDER BY table_name`),
        layer
      )
      expect(tables.map((t) => t.name)).toEqual(["stategraph_memory_migrations", "stategraph_migrations"])
    }))

  it.effect("a schema that is not a lowercase identifier is a StoreError, and nothing is created", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.scoped(Layer.build(PgMemory.layer({ url: cluster().url, schema: "Bad; DROP", maxConnections: 1 }))))
      expect(error._tag).toBe("StoreError")
      const found = yield* admin((sql) => sql<{ readonly n: number }>`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'Bad; DROP'`)
      expect(found[0]!.n).toBe(0)
    }))
})
