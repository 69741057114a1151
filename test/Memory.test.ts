/**
 * The long-term memory contract on every backend: in process, and SQLite (a fresh file per test,
 * with another connection on it and rows rewritten behind the store's back).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Context, Effect, Layer } from "effect"
import { Memory, SqliteMemory, SqliteSnapshots } from "effect-stategraph"
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
