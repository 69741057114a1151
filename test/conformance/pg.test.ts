/**
 * The store contract on PostgreSQL (a real server: the run's throwaway cluster), each test in a
 * schema of its own; plus what only a SQL store has: tampered rows, incremental storage, a run
 * continued by another process's store, the schema option.
 */
import { Context, Effect, Layer } from "effect"
import { Snapshots } from "effect-stategraph"
import * as PgSnapshots from "effect-stategraph/PgSnapshots"
import { admin, cluster, scopedSchema } from "../pg/fixtures.js"
import { snapshotsContract } from "./snapshotsContract.js"

/** The schema of the store under test. */
class Schema_ extends Context.Tag("test/PgSchema")<Schema_, string>() {}

/** A store in a fresh schema, dropped after the test. */
const fresh = (options: PgSnapshots.Options = {}) =>
  Layer.unwrapScoped(Effect.gen(function*() {
    const schema = yield* scopedSchema("conf")
    return Layer.merge(PgSnapshots.layer({ url: cluster().url, schema, ...options }), Layer.succeed(Schema_, schema))
  }))

/** Another store on the same schema with a pool of its own (as another process would have). */
const sibling = Effect.flatMap(Schema_, (schema) =>
  Effect.map(Layer.build(PgSnapshots.layer({ url: cluster().url, schema })), (ctx) => Context.get(ctx, Snapshots.Snapshots)))

/** Raw SQL on the schema through a separate client, behind the store's back. */
export const exec = (statement: string, params: ReadonlyArray<unknown> = []) =>
  Effect.flatMap(Schema_, (schema) =>
    admin((sql) => sql.unsafe(statement.replaceAll("S.", `"${schema}".stategraph_`), params as Array<any>)))

const tamper = (threadId: string, checkpointId: string, kind: "json" | "shape" | "value" | "lineage") => {
  switch (kind) {
    case "json":
      return exec(`UPDATE S.checkpoints SET node_states = '{"a": [' WHERE thread_id = $1 AND checkpoint_id = $2`, [threadId, checkpointId])
    case "shape":
      return exec(`UPDATE S.checkpoints SET status = 'exploded' WHERE thread_id = $1 AND checkpoint_id = $2`, [threadId, checkpointId])
    case "value":
      return exec(`UPDATE S.blobs SET data = 'function () { throw 1 }' WHERE thread_id = $1 AND blob_id = $2`, [threadId, checkpointId])
    case "lineage":
      return exec(
        `DELETE FROM S.blobs WHERE thread_id = $1 AND channel = 'log' AND blob_id = (SELECT min(blob_id COLLATE "C") FROM S.blobs WHERE thread_id = $2 AND channel = 'log')`,
        [threadId, threadId]
      )
  }
}

snapshotsContract("PgSnapshots.layer", fresh(), { sibling, tamper })

// tiny fan-out: merges of every level happen within a few dozen appends
snapshotsContract("PgSnapshots.layer (appendFanout 2)", fresh({ appendFanout: 2 }), { sibling, tamper })
