/**
 * Sync → async handover (FlowDrop's canonical case): the `sync` orchestrator runs the first two
 * steps inline for a fast answer and returns a `running` snapshot; the `async` orchestrator takes
 * it over — the nodes sync ran are injected, not run again — and a worker pool finishes the rest.
 *
 *   npm run example:handover
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Console, Effect, Layer, Schema } from "effect"
import { Channel, Graphs, Orchestrator, Pipeline, RunEvent, StateGraph, Worker } from "effect-stategraph"

const runs: Array<string> = []
const step = (name: string) => () =>
  Effect.sync(() => {
    runs.push(name)
    return { log: [`${name} (pid ${process.pid})`] }
  })

export const graph = StateGraph.make({ id: "report", state: { log: Channel.append(Schema.String) } }).pipe(
  StateGraph.addNode("fetch", step("fetch")),
  StateGraph.addNode("parse", step("parse")),
  StateGraph.addNode("summarize", step("summarize")),
  StateGraph.addNode("publish", step("publish")),
  StateGraph.addEdge(StateGraph.START, "fetch"),
  StateGraph.addEdge("fetch", "parse"),
  StateGraph.addEdge("parse", "summarize"),
  StateGraph.addEdge("summarize", "publish"),
  StateGraph.compileSync()
)

export const program = Effect.gen(function*() {
  // 1. sync: two steps inline, then stop with a running snapshot
  const first = yield* Orchestrator.orchestrate(
    { workflowId: graph.id, graph, input: {}, options: { stopAfter: { steps: 2 } } },
    { id: "sync" }
  )
  yield* Console.log(`sync: ${first.status}; completed ${Object.keys(first.snapshot.nodeStates).join(", ")}; next ${first.snapshot.tasks.map((t) => t.node).join(", ")}`)

  // 2. async: hand the snapshot over; returns at once with a pipeline id
  const second = yield* Orchestrator.orchestrate(
    { workflowId: graph.id, graph, input: null, initialSnapshot: first.snapshot, options: { maxConcurrentJobs: 2 } },
    { id: "async" }
  )
  yield* Console.log(`async: ${second.status}, pipeline ${second.pipelineId}`)

  // 3. a worker pool finishes the pipeline
  const done = yield* Effect.scoped(Effect.gen(function*() {
    yield* Worker.start({ concurrency: 2, pollInterval: "10 millis" })
    while (true) {
      const p = yield* Pipeline.pipelineStatus(second.pipelineId!)
      if (p.status === "completed" || p.status === "failed") return p
      yield* Effect.sleep("10 millis")
    }
  }))
  yield* Console.log(`pipeline ${done.status}: ${done.jobCounts.completed} jobs completed`)
  for (const job of yield* Pipeline.jobs(second.pipelineId!)) {
    yield* Console.log(`  job ${job.node.padEnd(10)} ${job.status.padEnd(10)} ${job.injected ? "injected (ran in sync)" : `attempts ${job.attempts}`}`)
  }
  const state = yield* graph.getState(second.threadId)
  for (const [node, s] of Object.entries(state.nodeStates)) {
    yield* Console.log(`  node ${node.padEnd(10)} ${s.status} injected=${s.injected}`)
  }
  yield* Console.log(`each node ran once: ${runs.join(" → ")}`)
  return { runs: [...runs], status: done.status }
})

export const layer = (filename: string) =>
  Orchestrator.layer({ fallback: "sync" }, Orchestrator.layerSync, Orchestrator.layerAsync).pipe(
    Layer.provideMerge(Layer.mergeAll(Pipeline.layerSqlite({ filename }), Graphs.layer([graph]), RunEvent.layer))
  )

if (import.meta.url === `file://${process.argv[1]}`) {
  const filename = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "handover-")), "app.db")
  Effect.runPromise(program.pipe(Effect.provide(layer(filename)))).catch((e) => {
    console.error(e)
    process.exit(1)
  })
}
