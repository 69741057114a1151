import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Option, Schema } from "effect"
import { Channel, Interrupt, Snapshots, SqliteSnapshots, StateGraph } from "effect-stategraph"
import * as Migrations from "effect-stategraph/internal/sqlite/migrations"
import * as path from "node:path"
import { scopedTempFile } from "../fixtures/tempFile.js"
import { snapshotsContract } from "./snapshotsContract.js"

/** The database file of the store under test. */
class DbFile extends Context.Tag("test/DbFile")<DbFile, string>() {}

/** A fresh SQLite file in a fresh temporary directory, removed after the test. */
const fresh = (options: SqliteSnapshots.Options) =>
  Layer.unwrapScoped(Effect.gen(function*() {
    const filename = yield* scopedTempFile("stategraph-sqlite-", path.join("nested", "threads.db"))
    return Layer.merge(SqliteSnapshots.layer({ filename, ...options }), Layer.succeed(DbFile, filename))
  }))

/** Another store on the same file, with its own connection (as another process would have). */
const sibling = Effect.flatMap(DbFile, (filename) =>
  Effect.map(Layer.build(SqliteSnapshots.layer({ filename })), (ctx) => Context.get(ctx, Snapshots.Snapshots)))

/** Raw SQL on the file through a separate client, behind the store's back. */
const exec = (statement: string, params: ReadonlyArray<unknown>) =>
  Effect.flatMap(DbFile, (filename) =>
    Effect.scoped(Effect.gen(function*() {
      const ctx = yield* Layer.build(SqliteSnapshots.layerSqlClient({ filename }))
      const sql = Context.get(ctx, SqlClient.SqlClient)
      yield* sql.unsafe(statement, params)
    })))

/** A query on the file through a separate client. */
const exec2 = (statement: string) =>
  Effect.flatMap(DbFile, (filename) =>
    Effect.scoped(Effect.gen(function*() {
      const ctx = yield* Layer.build(SqliteSnapshots.layerSqlClient({ filename }))
      return yield* Context.get(ctx, SqlClient.SqlClient).unsafe(statement)
    })))

const tamper = (threadId: string, checkpointId: string, kind: "json" | "shape" | "value" | "lineage") => {
  switch (kind) {
    case "json":
      return exec(`UPDATE stategraph_checkpoints SET node_states = '{"a": [' WHERE thread_id = ? AND checkpoint_id = ?`, [threadId, checkpointId])
    case "shape":
      return exec(`UPDATE stategraph_checkpoints SET status = 'exploded' WHERE thread_id = ? AND checkpoint_id = ?`, [threadId, checkpointId])
    case "value":
      return exec(`UPDATE stategraph_blobs SET data = 'function () { throw 1 }' WHERE thread_id = ? AND blob_id = ?`, [threadId, checkpointId])
    case "lineage":
      // the oldest blob of the log's chain: every later value needs it
      return exec(
        `DELETE FROM stategraph_blobs WHERE thread_id = ? AND channel = 'log' AND blob_id = (SELECT min(blob_id) FROM stategraph_blobs WHERE thread_id = ? AND channel = 'log')`,
        [threadId, threadId]
      )
  }
}

snapshotsContract("SqliteSnapshots.layer", fresh({}), { sibling, tamper })

// tiny fan-out: merges of every level happen within a few dozen appends
snapshotsContract("SqliteSnapshots.layer (appendFanout 2)", fresh({ appendFanout: 2 }), { sibling, tamper })

describe("SqliteSnapshots storage", () => {
  it.scoped("appends are stored incrementally: ~2× the payload, a short chain for the head", () =>
    Effect.gen(function*() {
      const store = yield* Snapshots.Snapshots
      yield* store.claim("chat", "run", { workflowId: "wf", leaseMillis: 60_000 })
      let head: string | null = null
      let payload = 0
      for (let i = 0; i < 1000; i++) {
        const id = `cp-${String(i).padStart(5, "0")}`
        const message = { role: i % 2 === 0 ? "user" : "assistant", content: `${i} `.padEnd(200, "x") }
        payload += JSON.stringify(message).length
        yield* store.commit({
          threadId: "chat",
          runId: "run",
          expectedHead: head,
          snapshot: {
            executionId: "e",
            workflowId: "wf",
            workflowVersion: "v",
            threadId: "chat",
            checkpointId: id,
            parentCheckpointId: head,
            step: i,
            status: "running",
            createdAt: i,
            channels: {},
            versions: {},
            tasks: [],
            joins: {},
            nodeStates: {},
            interrupts: [],
            pendingWrites: [],
            metadata: {}
          },
          writes: [{ channel: "messages", mode: i === 0 ? "set" : "append", value: [message] }]
        })
        head = id
      }
      const loaded = yield* store.load("chat")
      expect(Option.getOrThrow(loaded).channels.messages).toHaveLength(1000)
      const rows = yield* exec2(
        `SELECT count(*) AS n, sum(length(data)) AS bytes FROM stategraph_blobs WHERE thread_id = 'chat'`
      )
      const { bytes } = rows[0] as { n: number; bytes: number }
      // every item once per level it reached (two levels below 1,024 appends), not once per checkpoint
      expect(bytes).toBeLessThan(2.2 * payload)
      // the head's value is rebuilt from a bounded chain: 1 + 31 · 2 rows at most with K = 32
      const chain = yield* exec2(
        `WITH RECURSIVE chain (id) AS (
           SELECT json_extract(channels, '$.messages[0]') FROM stategraph_checkpoints WHERE checkpoint_id = 'cp-00999'
           UNION ALL
           SELECT b.prev FROM chain c JOIN stategraph_blobs b ON b.thread_id = 'chat' AND b.channel = 'messages' AND b.blob_id = c.id
           WHERE b.prev IS NOT NULL
         ) SELECT count(*) AS n FROM chain`
      )
      expect((chain[0] as { n: number }).n).toBeLessThanOrEqual(63)
    }).pipe(Effect.provide(fresh({}))))
})

describe("SqliteSnapshots schema upgrades", () => {
  it.scoped("a file at schema version 1 is upgraded when opened, its threads kept and continued", () =>
    Effect.gen(function*() {
      const filename = yield* scopedTempFile("stategraph-upgrade-", "v1.db")
      // version 1 of the schema, and a thread written with version 1's commit statement
      yield* Effect.scoped(Effect.gen(function*() {
        const ctx = yield* Layer.build(SqliteSnapshots.layerSqlClient({ filename }))
        const sql = Context.get(ctx, SqlClient.SqlClient)
        yield* Effect.provideService(
          Migrations.migrateOnce({ "1_create_tables": Migrations.migrations["1_create_tables"]! }, Migrations.MIGRATIONS_TABLE),
          SqlClient.SqlClient,
          sql
        )
        yield* sql.unsafe(`INSERT INTO stategraph_threads (thread_id, workflow_id, head, status, updated_at, run_id, lease_until)
          VALUES ('old', 'upgrade', NULL, 'pending', 0, 'r1', 9e15)`)
        yield* sql.unsafe(`INSERT INTO stategraph_commit (thread_id, run_id, expected_head, checkpoint_id, parent_id,
          execution_id, workflow_id, workflow_version, step, status, created_at, wake_at, pause_reason, error, interrupts,
          node_states, channels, body, blobs, release, initial_input, note_execution)
          VALUES ('old', 'r1', NULL, 'cp1', NULL, 'e1', 'upgrade', 'v', 0, 'completed', 1, NULL, NULL, NULL, '[]', '{}',
            '{"n":{"v":41}}', '{"versions":{"n":1},"tasks":[],"joins":{},"metadata":{}}', '[]', 1, NULL, 1)`)
      }))
      const graph = yield* StateGraph.make({ id: "upgrade", state: { n: Channel.lastValue(Schema.Number) } }).pipe(
        StateGraph.addNode("inc", (s) => Effect.succeed({ n: s.n + 1 })),
        StateGraph.addEdge(StateGraph.START, "inc"),
        StateGraph.compile()
      )
      const out = yield* Effect.gen(function*() {
        // the old thread reads back and continues; a new thread works
        expect((yield* graph.getState("old", { checkpointId: "cp1" })).values).toEqual({ n: 41 })
        const old = yield* graph.invoke({ n: 1 }, { threadId: "old", allowVersionChange: true })
        const fresh = yield* graph.invoke({ n: 1 }, { threadId: "new" })
        return { old, fresh }
      }).pipe(Effect.provide(SqliteSnapshots.layer({ filename })))
      expect(out.fresh.n).toBe(2)
      expect(out.old.n).toBe(2)
      const migrations = yield* Effect.scoped(Effect.gen(function*() {
        const ctx = yield* Layer.build(SqliteSnapshots.layerSqlClient({ filename }))
        return yield* Context.get(ctx, SqlClient.SqlClient).unsafe(`SELECT migration_id FROM stategraph_migrations ORDER BY 1`)
      }))
      expect(migrations).toEqual([{ migration_id: 1 }, { migration_id: 2 }, { migration_id: 3 }, { migration_id: 4 }, { migration_id: 5 }, { migration_id: 6 }, { migration_id: 7 }])
    }))
})

describe("SqliteSnapshots load of a checkpoint whose values are all inline (one statement)", () => {
  class Approve extends Interrupt.Tag("SqliteLoadApprove", { request: Schema.String, response: Schema.Boolean }) {}
  const approval = StateGraph.make({ id: "sqlite-load", state: { ok: Channel.lastValue(Schema.Boolean, { initial: () => false }) } }).pipe(
    StateGraph.addNode("ask", () => Effect.map(Approve.ask("ship?"), (ok) => ({ ok }))),
    StateGraph.addEdge(StateGraph.START, "ask"),
    StateGraph.addEdge("ask", StateGraph.END),
    StateGraph.compileSync()
  )
  const pauseTwo = Effect.gen(function*() {
    for (const threadId of ["a", "b"]) {
      const paused = yield* Effect.flip(approval.invoke({}, { threadId }))
      expect(paused._tag).toBe("GraphInterrupted")
    }
  })

  it.scoped("a paused thread's task records come with the row; tampered records are a CorruptSnapshot", () =>
    Effect.gen(function*() {
      yield* pauseTwo
      const rows = yield* exec2(`SELECT record FROM stategraph_tasks WHERE thread_id = 'a'`)
      expect(JSON.parse((rows[0] as { record: string }).record)).toMatchObject({ node: "ask", status: "interrupted" })
      expect((yield* approval.getState("a")).interrupts).toHaveLength(1)
      for (const bad of ['{"taskId": [', '{"taskId": 1}']) {
        yield* exec(`UPDATE stategraph_tasks SET record = ? WHERE thread_id = 'a'`, [bad])
        const failure = yield* Effect.flip(approval.getState("a"))
        expect(failure._tag).toBe("CorruptSnapshot")
        if (failure._tag === "CorruptSnapshot") expect(failure.issue).toMatch(/task record|pendingWrites/)
        expect((yield* Effect.flip(approval.resume({ threadId: "a" }, Approve.respond(true))))._tag).toBe("CorruptSnapshot")
      }
      // the untouched thread resumes, its record read the same way
      expect(yield* approval.resume({ threadId: "b" }, Approve.respond(true))).toEqual({ ok: true })
      expect((yield* approval.getState("b")).status).toBe("completed")
    }).pipe(Effect.provide(fresh({}))))
})

describe("SqliteSnapshots: tampered links are a CorruptSnapshot, and a run that wrote nothing leaves no row", () => {
  class Ok extends Interrupt.Tag("SqliteTamperOk", { request: Schema.String, response: Schema.Boolean }) {}
  const graph = StateGraph.make({ id: "sqlite-tamper", state: { n: Channel.lastValue(Schema.Number, { initial: () => 0 }) } }).pipe(
    StateGraph.addNode("inc", (s) => Effect.succeed({ n: s.n + 1 })),
    StateGraph.addNode("ask", () => Effect.map(Ok.ask("go?"), (ok) => ({ n: ok ? 10 : -1 }))),
    StateGraph.addEdge(StateGraph.START, "inc"),
    StateGraph.addEdge("inc", "ask"),
    StateGraph.compileSync()
  )

  it.scoped("a parent_id naming a missing checkpoint: history is a CorruptSnapshot, not a shorter lineage", () =>
    Effect.gen(function*() {
      yield* Effect.flip(graph.invoke({ n: 1 }, { threadId: "p" }))
      const whole = yield* graph.history("p")
      expect(whole.length).toBeGreaterThanOrEqual(2)
      // the link of the second checkpoint to the first
      const middle = whole[whole.length - 2]!.checkpointId
      yield* exec(`UPDATE stategraph_checkpoints SET parent_id = 'cp-gone' WHERE thread_id = 'p' AND checkpoint_id = ?`, [middle])
      const error = yield* Effect.flip(graph.history("p"))
      expect(error._tag).toBe("CorruptSnapshot")
      if (error._tag === "CorruptSnapshot") expect(error.issue).toContain("cp-gone")
      const store = yield* Snapshots.Snapshots
      expect((yield* Effect.flip(store.history("p")))._tag).toBe("CorruptSnapshot")
      // the head alone still reads; an unknown start is still an empty lineage
      expect((yield* graph.getState("p")).status).toBe("paused")
      expect(yield* store.history("p", { checkpointId: "cp-unknown" })).toEqual([])
      expect(yield* store.history("nobody")).toEqual([])
    }).pipe(Effect.provide(fresh({}))))

  it.scoped("a stored interrupt whose taskId was altered: CorruptSnapshot on read and on resume, nothing written", () =>
    Effect.gen(function*() {
      yield* Effect.flip(graph.invoke({ n: 1 }, { threadId: "i" }))
      const before = yield* exec2(`SELECT count(*) AS n FROM stategraph_tasks`)
      yield* exec(
        `UPDATE stategraph_checkpoints SET interrupts = json_set(interrupts, '$[0].taskId', 'not-a-task')
         WHERE thread_id = 'i' AND checkpoint_id = (SELECT head FROM stategraph_threads WHERE thread_id = 'i')`,
        []
      )
      expect((yield* Effect.flip(graph.getState("i")))._tag).toBe("CorruptSnapshot")
      const error = yield* Effect.flip(graph.resume({ threadId: "i" }, Ok.respond(true)))
      expect(error._tag).toBe("CorruptSnapshot")
      expect(yield* exec2(`SELECT count(*) AS n FROM stategraph_tasks`)).toEqual(before)
    }).pipe(Effect.provide(fresh({}))))

  it.scoped("invoke(null) on an unknown thread leaves no thread row", () =>
    Effect.gen(function*() {
      expect((yield* Effect.flip(graph.invoke(null, { threadId: "ghost" })))._tag).toBe("ThreadNotFound")
      expect(yield* exec2(`SELECT count(*) AS n FROM stategraph_threads`)).toEqual([{ n: 0 }])
    }).pipe(Effect.provide(fresh({}))))
})

describe("SqliteSnapshots: a run continued by another store on the file (another process)", () => {
  class Go extends Interrupt.Tag("SqliteContinueGo", { request: Schema.String, response: Schema.Number }) {}
  const Message = Schema.Struct({ text: Schema.String })
  const graph = StateGraph.make({
    id: "sqlite-continue",
    state: {
      n: Channel.lastValue(Schema.Number, { initial: () => 0 }),
      log: Channel.append(Message)
    }
  }).pipe(
    StateGraph.addNode("first", (s) => Effect.succeed({ n: s.n + 1, log: [{ text: "x".repeat(300) }] })),
    StateGraph.addNode("ask", () => Effect.map(Go.ask("how many?"), (k) => ({ n: k }))),
    StateGraph.addNode("last", (s) => Effect.succeed({ n: s.n * 2, log: [{ text: "done" }] })),
    StateGraph.addEdge(StateGraph.START, "first"),
    StateGraph.addEdge("first", "ask"),
    StateGraph.addEdge("ask", "last"),
    StateGraph.compileSync()
  )

  it.scoped("the second store loads the head and commits on top of it: values and history are whole", () =>
    Effect.gen(function*() {
      const filename = yield* scopedTempFile("stategraph-continue-", "threads.db")
      const paused = yield* Effect.flip(graph.invoke({ log: [{ text: "hello" }] }, { threadId: "c" })).pipe(
        Effect.provide(SqliteSnapshots.layer({ filename }))
      )
      expect(paused._tag).toBe("GraphInterrupted")
      // a new store instance: none of the first one's caches
      const { history, out } = yield* Effect.gen(function*() {
        const out = yield* graph.resume({ threadId: "c" }, Go.respond(20))
        return { out, history: yield* graph.history("c") }
      }).pipe(Effect.provide(SqliteSnapshots.layer({ filename })))
      expect(out.n).toBe(40)
      expect(out.log.map((m) => m.text)).toEqual(["hello", "x".repeat(300), "done"])
      // each checkpoint's values read back whole, newest first, each log a prefix of the next
      for (let i = 1; i < history.length; i++) {
        const newer = history[i - 1]!.values.log
        expect(newer.slice(0, history[i]!.values.log.length)).toEqual(history[i]!.values.log)
      }
      expect(history[0]!.values).toEqual(out)
    }))
})
