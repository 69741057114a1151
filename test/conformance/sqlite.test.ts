import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Option } from "effect"
import { Snapshots, SqliteSnapshots } from "effect-stategraph"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { snapshotsContract } from "./snapshotsContract.js"

/** The database file of the store under test. */
class DbFile extends Context.Tag("test/DbFile")<DbFile, string>() {}

/** A fresh SQLite file in a fresh temporary directory, removed after the test. */
const fresh = (options: SqliteSnapshots.Options) =>
  Layer.unwrapScoped(Effect.gen(function*() {
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "stategraph-sqlite-"))),
      (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
    )
    const filename = path.join(dir, "nested", "threads.db")
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
