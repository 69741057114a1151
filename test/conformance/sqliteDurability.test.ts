/**
 * The SQLite store's durability settings and its WAL checkpoints off the JavaScript thread, on
 * real files: `synchronous` as configured, and the background checkpointer emptying the WAL that
 * another connection wrote.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Schema } from "effect"
import { Channel, SqliteSnapshots, StateGraph } from "effect-stategraph"
import * as Checkpointer from "effect-stategraph/internal/sqlite/checkpointer"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import { scopedTempFile } from "../fixtures/tempFile.js"

/** better-sqlite3 itself (no type declarations installed): a connection of "another process" */
interface RawDb {
  pragma(source: string): unknown
  exec(source: string): void
  prepare(source: string): { run(...params: Array<unknown>): unknown; get(): unknown; all(): Array<unknown> }
  close(): void
}
const Database = createRequire(import.meta.url)("better-sqlite3") as new(filename: string) => RawDb

const tempFile = scopedTempFile("stategraph-durability-", "store.db")

const synchronousOf = (config: SqliteSnapshots.Config) =>
  Effect.gen(function*() {
    const ctx = yield* Layer.build(SqliteSnapshots.layerSqlClient(config))
    const rows = yield* Context.get(ctx, SqlClient.SqlClient).unsafe<{ synchronous: number }>("PRAGMA synchronous")
    return rows[0]!.synchronous
  })

const walBytes = (file: string) => (fs.existsSync(file + "-wal") ? fs.statSync(file + "-wal").size : 0)

/** Waits (in fiber sleeps, at most ~10 s) until `done` holds; its last value. */
const eventually = (done: () => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 200 && !done(); i++) yield* Effect.sleep("50 millis")
    return done()
  })

describe("SqliteSnapshots durability", () => {
  it.scoped("synchronous: NORMAL by default, FULL when asked", () =>
    Effect.gen(function*() {
      expect(yield* synchronousOf({ filename: yield* tempFile })).toBe(1)
      expect(yield* synchronousOf({ filename: yield* tempFile, synchronous: "normal" })).toBe(1)
      expect(yield* synchronousOf({ filename: yield* tempFile, synchronous: "full" })).toBe(2)
    }))

  it.scopedLive("the background checkpointer empties a WAL that another connection wrote", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      const db = new Database(file)
      yield* Effect.addFinalizer(() => Effect.sync(() => db.close()))
      db.pragma("journal_mode = WAL")
      db.pragma("wal_autocheckpoint = 0")
      db.exec("CREATE TABLE t (v TEXT)")
      const insert = db.prepare("INSERT INTO t (v) VALUES (?)")
      for (let i = 0; i < 5; i++) insert.run("x".repeat(2000))
      const checkpointer = yield* Checkpointer.start(file, "NORMAL", 64 * 1024)
      expect(checkpointer).toBeDefined()
      // a small WAL: the worker checkpoints it and truncates the file to nothing
      expect(walBytes(file)).toBeGreaterThan(0)
      expect(walBytes(file)).toBeLessThanOrEqual(64 * 1024)
      expect(checkpointer!.request(true)).toBe(true)
      expect(yield* eventually(() => walBytes(file) === 0)).toBe(true)
      expect(db.prepare("SELECT count(*) AS n FROM t").get()).toEqual({ n: 5 })
      // over the inline limit: the caller is told to empty it itself
      for (let i = 0; i < 50; i++) insert.run("x".repeat(2000))
      expect(walBytes(file)).toBeGreaterThan(64 * 1024)
      expect(checkpointer!.request(true)).toBe(false)
      // a passive checkpoint copies every frame into the database file
      expect(checkpointer!.request(false)).toBe(true)
      const frames = () => db.pragma("wal_checkpoint(PASSIVE)") as Array<{ log: number; checkpointed: number }>
      const before = fs.statSync(file).size
      expect(yield* eventually(() => fs.statSync(file).size > before)).toBe(true)
      const [r] = frames()
      expect(r!.checkpointed).toBe(r!.log)
    }))

  it.scopedLive("short runs on SqliteSnapshots.layer leave a small WAL: the file stays bounded, every step stored", () =>
    Effect.gen(function*() {
      const file = yield* tempFile
      const graph = StateGraph.make({ id: "durability-chat", state: { log: Channel.append(Schema.String) } }).pipe(
        StateGraph.addNode("reply", () => Effect.succeed({ log: ["y".repeat(500)] })),
        StateGraph.addEdge(StateGraph.START, "reply"),
        StateGraph.addEdge("reply", StateGraph.END),
        StateGraph.compileSync()
      )
      const layer = yield* Layer.build(SqliteSnapshots.layer({ filename: file }))
      const run = (i: number) => Effect.provide(graph.invoke({ log: [`m${i}`] }, { threadId: "chat" }), layer)
      for (let i = 0; i < 100; i++) yield* run(i)
      const state = yield* run(100)
      expect(state.log.length).toBe(202)
      // truncated by the background thread after runs that release, or inline when it fell behind
      expect(yield* eventually(() => walBytes(file) < 256 * 1024)).toBe(true)
    }))
})
