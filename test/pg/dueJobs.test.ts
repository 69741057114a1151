/**
 * Jobs scheduled for later wake an idle worker when they come due, not after its poll interval:
 * a retry's backoff and a durable sleep, on Postgres (the run's server) and on SQLite. The
 * workers poll every 60 s and each test has 20 s: a job run again before the test ends ran
 * before the poll could have found it (no timing assertion).
 */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Layer, Schema, type Scope } from "effect"
import { Channel, type GraphError, Graphs, Orchestrator, Pipeline, RunEvent, type Snapshots, StateGraph, Task, Worker } from "effect-stategraph"
import { awaitPipeline } from "../fixtures/orchestrator/setup.js"
import { cluster, scopedSchema } from "./fixtures.js"

const Log = { log: Channel.append(Schema.String) }

type Queue = Layer.Layer<Pipeline.Pipelines | Snapshots.Snapshots | SqlClient.SqlClient, GraphError.StoreError>

const layerOn = (queue: Queue, graphs: ReadonlyArray<StateGraph.AnyCompiled>) =>
  Orchestrator.layer({ fallback: "async" }, Orchestrator.layerAsync).pipe(
    Layer.provideMerge(Layer.mergeAll(queue, Graphs.layer(graphs), RunEvent.layer))
  )

/** a node that fails on its first attempt and succeeds on the second */
const flaky = () => {
  let attempts = 0
  return StateGraph.make({ id: "flaky", state: Log }).pipe(
    StateGraph.addNode("once", () =>
      Effect.suspend(() => (++attempts === 1 ? Effect.fail(new Error("first attempt fails")) : Effect.succeed({ log: [`attempt ${attempts}`] })))),
    StateGraph.addEdge(StateGraph.START, "once"),
    StateGraph.compileSync()
  )
}

const sleepy = StateGraph.make({ id: "sleepy", state: Log }).pipe(
  StateGraph.addNode("nap", () => Effect.as(Task.sleep("300 millis"), { log: ["woke"] })),
  StateGraph.addEdge(StateGraph.START, "nap"),
  // a durable sleep (not slept in the job) from 50 ms on
  StateGraph.compileSync({ sleepThreshold: "50 millis" })
)

const databases: ReadonlyArray<readonly [string, () => Effect.Effect<Queue, never, Scope.Scope>]> = [
  ["Postgres", () => Effect.map(scopedSchema("due"), (schema) => Pipeline.layerPg({ url: cluster().url, schema, maxConnections: 4 }))],
  [
    "SQLite",
    () =>
      Effect.sync(() =>
        Pipeline.layerSqlite({ filename: path.join(fs.mkdtempSync(path.join(os.tmpdir(), "sg-due-")), "app.db") })
      )
  ]
]

describe.each(databases)("jobs due later wake an idle worker (%s)", (_name, queue) => {
  it.live("a retry after its backoff runs at once when due, with a 60 s poll", () =>
    Effect.gen(function*() {
      const graph = flaky()
      const layer = layerOn(yield* queue(), [graph])
      yield* Effect.gen(function*() {
        yield* Worker.start({ concurrency: 1, pollInterval: "60 seconds" })
        const r = yield* Orchestrator.orchestrate({
          workflowId: "flaky",
          graph,
          input: {},
          options: { backoff: { baseMillis: 300, maxAttempts: 3 } }
        })
        const done = yield* awaitPipeline(r.pipelineId!, ["completed", "failed"], "15 seconds")
        expect(done.status).toBe("completed")
        const [job] = yield* Pipeline.jobs(r.pipelineId!)
        expect(job!.attempts).toBe(2)
        expect((yield* graph.getState(r.threadId)).values.log).toEqual(["attempt 2"])
      }).pipe(Effect.provide(layer))
    }).pipe(Effect.scoped), { timeout: 20_000 })

  it.live("a durable sleep's job runs at once when due, with a 60 s poll", () =>
    Effect.gen(function*() {
      const layer = layerOn(yield* queue(), [sleepy])
      yield* Effect.gen(function*() {
        yield* Worker.start({ concurrency: 1, pollInterval: "60 seconds" })
        const r = yield* Orchestrator.orchestrate({ workflowId: "sleepy", graph: sleepy, input: {} })
        // the job was put back for later at least once (the sleep), then ran to the end
        const done = yield* awaitPipeline(r.pipelineId!, ["completed", "failed"], "15 seconds")
        expect(done.status).toBe("completed")
        expect((yield* sleepy.getState(r.threadId)).values.log).toEqual(["woke"])
        expect(done.finishedAt).toBeDefined()
      }).pipe(Effect.provide(layer))
    }).pipe(Effect.scoped), { timeout: 20_000 })
})
