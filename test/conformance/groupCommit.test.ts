/**
 * Group commit of the SQLite store's single-statement writes (`internal/sqlite/db.ts`), on a real
 * SQLite file: statements that fibers issue at the same moment share one write transaction, each
 * keeps its own outcome, a statement whose fiber stopped waiting in time is not run, and a lone
 * statement runs on its own.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import { describe, expect, it } from "@effect/vitest"
import { Context, Deferred, Effect, Fiber, Layer, Schema } from "effect"
import { Channel, Interrupt, SqliteSnapshots, StateGraph } from "effect-stategraph"
import * as Db from "effect-stategraph/internal/sqlite/db"
import { scopedTempFile } from "../fixtures/tempFile.js"

const tempFile = scopedTempFile("stategraph-group-", "group.db")

/** A `Db` on a fresh file whose connection counts the write transactions it begins. */
const countingDb = Effect.gen(function*() {
  const filename = yield* tempFile
  const ctx = yield* Layer.build(SqliteSnapshots.layerSqlClient({ filename }))
  const sql = Context.get(ctx, SqlClient.SqlClient)
  yield* sql`CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER NOT NULL CHECK (v >= 0))`
  const conn = yield* sql.reserve
  const counts = { begins: 0 }
  const counting: Connection = {
    ...conn,
    execute: (statement, params, transform) => {
      if (statement === "BEGIN IMMEDIATE") counts.begins++
      return conn.execute(statement, params, transform)
    }
  }
  const db = Db.make(sql, counting, 5000)
  // the connection is reserved: queries go through the Db too
  const query = (statement: string) => db.once("query", statement, [])
  return { db, query, counts }
})

describe("SQLite group commit", () => {
  it.scoped("concurrent statements share write transactions; each keeps its own outcome", () =>
    Effect.gen(function*() {
      const { counts, db, query } = yield* countingDb
      // 50 fibers at once: 49 inserts and one that breaks the CHECK constraint
      const results = yield* Effect.forEach(
        Array.from({ length: 50 }, (_, i) => i),
        (i) => Effect.either(db.writeOnce("insert", "INSERT INTO t (k, v) VALUES (?, ?)", [i, i === 17 ? -1 : i])),
        { concurrency: "unbounded" }
      )
      expect(results.filter((r) => r._tag === "Left")).toHaveLength(1)
      expect(results[17]!._tag).toBe("Left")
      if (results[17]!._tag === "Left") expect(results[17]!.left._tag).toBe("StoreError")
      // far fewer transactions than statements
      expect(counts.begins).toBeGreaterThan(0)
      expect(counts.begins).toBeLessThan(10)
      expect(yield* query(`SELECT count(*) AS n FROM t`)).toEqual([{ n: 49 }])
      expect(yield* query(`SELECT * FROM t WHERE k = 17`)).toEqual([])
    }))

  it.scoped("an error other than a constraint's fails the whole group, and none of it is committed", () =>
    Effect.gen(function*() {
      const { counts, db, query } = yield* countingDb
      const results = yield* Effect.all([
        Effect.either(db.writeOnce("insert", "INSERT INTO t (k, v) VALUES (1, 1)", [])),
        Effect.either(db.writeOnce("insert", "INSERT INTO missing_table (k) VALUES (2)", [])),
        Effect.either(db.writeOnce("insert", "INSERT INTO t (k, v) VALUES (3, 3)", []))
      ], { concurrency: "unbounded" })
      expect(results.map((r) => r._tag)).toEqual(["Left", "Left", "Left"])
      expect(results.every((r) => r._tag === "Left" && r.left._tag === "StoreError")).toBe(true)
      expect(counts.begins).toBe(1)
      expect(yield* query(`SELECT k FROM t ORDER BY k`)).toEqual([])
      // the next statement, alone, goes through
      yield* db.writeOnce("insert", "INSERT INTO t (k, v) VALUES (4, 4)", [])
      expect(yield* query(`SELECT k FROM t ORDER BY k`)).toEqual([{ k: 4 }])
    }))

  it.scoped("a lone statement runs on its own, without a transaction of its own", () =>
    Effect.gen(function*() {
      const { counts, db, query } = yield* countingDb
      for (let i = 0; i < 5; i++) yield* db.writeOnce("insert", "INSERT INTO t (k, v) VALUES (?, ?)", [i, i])
      expect(counts.begins).toBe(0)
      expect(yield* query(`SELECT count(*) AS n FROM t`)).toEqual([{ n: 5 }])
    }))

  it.scoped("a statement whose fiber is interrupted while it waits for its group is not run", () =>
    Effect.gen(function*() {
      const { db, query } = yield* countingDb
      // a transaction holds the connection until `go`: the leader's statement waits behind it
      const go = yield* Deferred.make<void>()
      const holder = yield* Effect.fork(db.write("hold", () => Deferred.await(go)))
      yield* Effect.yieldNow()
      const leader = yield* Effect.fork(db.writeOnce("insert", "INSERT INTO t (k, v) VALUES (1, 1)", []))
      yield* Effect.yieldNow()
      // the group is forming: this statement queues, then its fiber stops waiting
      const member = yield* Effect.fork(db.writeOnce("insert", "INSERT INTO t (k, v) VALUES (2, 2)", []))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(member)
      const after = yield* Effect.fork(db.writeOnce("insert", "INSERT INTO t (k, v) VALUES (3, 3)", []))
      yield* Effect.yieldNow()
      yield* Deferred.succeed(go, undefined)
      yield* Fiber.join(holder)
      yield* Fiber.join(leader)
      yield* Fiber.join(after)
      expect(yield* query(`SELECT k FROM t ORDER BY k`)).toEqual([{ k: 1 }, { k: 3 }])
    }))

  it.scoped("many threads paused and resumed at once on one store: every cycle completes, each thread once", () =>
    Effect.gen(function*() {
      class Ok extends Interrupt.Tag("GroupOk", { request: Schema.String, response: Schema.String }) {}
      const graph = StateGraph.make({ id: "group", state: { answer: Channel.lastValue(Schema.String, { initial: () => "" }) } })
        .pipe(
          StateGraph.addNode("ask", () => Effect.map(Ok.ask("ok?"), (answer) => ({ answer }))),
          StateGraph.addEdge(StateGraph.START, "ask"),
          StateGraph.addEdge("ask", StateGraph.END),
          StateGraph.compileSync()
        )
      const filename = yield* tempFile
      const cycle = (threadId: string) =>
        Effect.gen(function*() {
          const paused = yield* Effect.flip(graph.invoke({}, { threadId }))
          expect(paused._tag).toBe("GraphInterrupted")
          return yield* graph.resume({ threadId }, Ok.respond(threadId))
        })
      const ids = Array.from({ length: 100 }, (_, i) => `t-${i}`)
      const out = yield* Effect.forEach(ids, cycle, { concurrency: "unbounded" }).pipe(
        Effect.provide(SqliteSnapshots.layer({ filename }))
      )
      expect(out.map((o) => o.answer)).toEqual(ids)
      // a second resume of a finished thread is refused
      const again = yield* Effect.flip(graph.resume({ threadId: "t-1" }, Ok.respond("x"))).pipe(
        Effect.provide(SqliteSnapshots.layer({ filename }))
      )
      expect(again._tag).toBe("ThreadNotPaused")
      // resumes at once, two of them on one thread: that thread runs once, the other resume is
      // refused; every other thread completes
      const results = yield* Effect.gen(function*() {
        const paused = Array.from({ length: 20 }, (_, i) => `p-${i}`)
        for (const threadId of paused) yield* Effect.flip(graph.invoke({}, { threadId }))
        return yield* Effect.forEach(
          [...paused, "p-0"],
          (threadId, i) => Effect.either(graph.resume({ threadId }, Ok.respond(`${threadId}#${i}`))),
          { concurrency: "unbounded" }
        )
      }).pipe(Effect.provide(SqliteSnapshots.layer({ filename })))
      const onP0 = [results[0]!, results[20]!]
      expect(onP0.filter((r) => r._tag === "Right")).toHaveLength(1)
      const refused = onP0.find((r) => r._tag === "Left")
      expect(refused?._tag === "Left" && ["ThreadBusy", "ThreadNotPaused"].includes(refused.left._tag)).toBe(true)
      expect(results.slice(1, 20).every((r) => r._tag === "Right")).toBe(true)
      const state = yield* graph.getState("p-0").pipe(Effect.provide(SqliteSnapshots.layer({ filename })))
      expect(state.values.answer === "p-0#0" || state.values.answer === "p-0#20").toBe(true)
    }))
})
