import * as SqlClient from "@effect/sql/SqlClient"
import { Context, Effect, Layer } from "effect"
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
