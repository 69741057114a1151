/**
 * The long-term memory contract on every backend: in process, and SQLite (a fresh file per test,
 * with another connection on it and rows rewritten behind the store's back).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Option, Schema } from "effect"
import { Channel, Memory, SqliteMemory, SqliteSnapshots, StateGraph } from "effect-stategraph"
import * as path from "node:path"
import { memoryContract } from "./conformance/memoryContract.js"
import { scopedTempFile } from "./fixtures/tempFile.js"

class DbFile extends Context.Tag("test/MemoryDbFile")<DbFile, string>() {}

const fresh = Layer.unwrapScoped(Effect.gen(function*() {
  const filename = yield* scopedTempFile("stategraph-memory-", path.join("nested", "memory.db"))
  return Layer.merge(SqliteMemory.layer({ filename }), Layer.succeed(DbFile, filename))
}))

const sibling = Effect.flatMap(DbFile, (filename) =>
  Effect.map(Layer.build(SqliteMemory.layer({ filename })), (ctx) => Context.get(ctx, Memory.Memory)))

const exec = (statement: string, params: ReadonlyArray<unknown>) =>
  Effect.flatMap(DbFile, (filename) =>
    Effect.scoped(Effect.gen(function*() {
      const ctx = yield* Layer.build(SqliteSnapshots.layerSqlClient({ filename }))
      yield* Context.get(ctx, SqlClient.SqlClient).unsafe(statement, params)
    })))

const tamper = (namespace: Memory.Namespace, key: string, kind: "value" | "namespace" | "columns") => {
  const where = [namespace.join("\u001f"), key]
  switch (kind) {
    case "value":
      return exec(`UPDATE stategraph_memory_items SET value = 'function () { throw 1 }' WHERE namespace = ? AND key = ?`, where)
    case "namespace":
      return exec(`UPDATE stategraph_memory_items SET namespace = 'a' || char(31) || char(31) || 'b' WHERE namespace = ? AND key = ?`, where)
    case "columns":
      return exec(`UPDATE stategraph_memory_items SET created_at = 'yesterday' WHERE namespace = ? AND key = ?`, where)
  }
}

memoryContract("Memory.layerMemory", Memory.layerMemory)
memoryContract("SqliteMemory.layer", fresh, { sibling, tamper })

describe("SqliteMemory beside SqliteSnapshots", () => {
  const Seen = Memory.collection(Schema.Number)
  const graph = StateGraph.make({ id: "memory-beside-snapshots", state: { user: Channel.lastValue(Schema.String), visits: Channel.lastValue(Schema.Number, { initial: () => 0 }) } }).pipe(
    StateGraph.addNode("count", (s) =>
      Effect.gen(function*() {
        const before = Option.match(yield* Seen.get(["visits"], s.user), { onNone: () => 0, onSome: (i) => i.value })
        yield* Seen.put(["visits"], s.user, before + 1)
        return { visits: before + 1 }
      })),
    StateGraph.addEdge(StateGraph.START, "count"),
    StateGraph.compileSync()
  )
  const twice = Effect.gen(function*() {
    const a = yield* graph.invoke({ user: "ada" }, { threadId: "t-1" })
    const b = yield* graph.invoke({ user: "ada" }, { threadId: "t-2" })
    return [a.visits, b.visits]
  })

  it.scoped("in the snapshot store's file, with a client of its own", () =>
    Effect.gen(function*() {
      const filename = yield* scopedTempFile("stategraph-memory-", "app.db")
      const layer = Layer.merge(SqliteSnapshots.layer({ filename }), SqliteMemory.layer({ filename }))
      expect(yield* Effect.provide(twice, layer)).toEqual([1, 2])
      // another process opening the file later sees both
      expect(yield* Effect.provide(twice, layer)).toEqual([3, 4])
    }))

  it.scoped("on the snapshot store's client", () =>
    Effect.gen(function*() {
      const filename = yield* scopedTempFile("stategraph-memory-", "app.db")
      const layer = Layer.merge(SqliteSnapshots.layerClient(), SqliteMemory.layerClient).pipe(
        Layer.provide(SqliteSnapshots.layerSqlClient({ filename }))
      )
      expect(yield* Effect.provide(twice, layer)).toEqual([1, 2])
      const tables = yield* Effect.provide(
        Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ readonly name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '%migrations' ORDER BY name`),
        SqliteSnapshots.layerSqlClient({ filename })
      )
      expect(tables.map((t) => t.name)).toEqual(["stategraph_memory_migrations", "stategraph_migrations"])
    }))
})
