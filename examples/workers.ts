/**
 * Workers in other processes: this program queues pipelines on the async orchestrator in a
 * SQLite file, then starts two worker processes (this same file with `--worker`) that share the
 * queue; it follows the pipelines until they complete and prints which process ran each job.
 *
 *   npm run example:workers
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Console, Effect, Layer, Schema } from "effect"
import { Channel, Graphs, Orchestrator, Pipeline, Send, StateGraph, Worker } from "effect-stategraph"

/** A fan-out: one job per page, then a summary. The same graph is registered in every process. */
export const graph = StateGraph.make({
  id: "crawl",
  state: { pages: Channel.lastValue(Schema.Array(Schema.String)), fetched: Channel.append(Schema.String) }
}).pipe(
  StateGraph.addNode("plan", () => Effect.void),
  StateGraph.addNode("fetch", (page: string) =>
    Effect.as(Effect.sleep("20 millis"), { fetched: [`${page} by pid ${process.pid}`] })),
  StateGraph.addNode("summarize", () => Effect.void),
  StateGraph.addEdge(StateGraph.START, "plan"),
  StateGraph.addConditionalEdges("plan", (s) => s.pages.map((p) => Send.make("fetch", p))),
  StateGraph.addEdge("fetch", "summarize"),
  StateGraph.compileSync()
)

const stores = (filename: string) => Layer.mergeAll(Pipeline.layerSqlite({ filename }), Graphs.layer([graph]))

const worker = (filename: string) =>
  Worker.run({ concurrency: 2, pollInterval: "10 millis", lease: "5 seconds", workerId: `pid-${process.pid}` }).pipe(
    Effect.provide(stores(filename))
  )

const main = (filename: string) =>
  Effect.gen(function*() {
    const ids: Array<string> = []
    for (const site of ["alpha", "beta", "gamma"]) {
      const r = yield* Orchestrator.orchestrate(
        { workflowId: graph.id, graph, input: { pages: [1, 2, 3, 4].map((n) => `${site}/${n}`) }, options: { maxConcurrentJobs: 3 } },
        { id: "async" }
      )
      ids.push(r.pipelineId!)
    }
    yield* Console.log(`queued ${ids.length} pipelines in ${filename}`)
    const script = fileURLToPath(import.meta.url)
    const children = [0, 1].map(() =>
      spawn(process.execPath, [...process.execArgv, script, "--worker", filename], { stdio: "inherit" })
    )
    yield* Effect.addFinalizer(() => Effect.sync(() => children.forEach((c) => c.kill("SIGTERM"))))
    for (const id of ids) {
      while ((yield* Pipeline.pipelineStatus(id)).status !== "completed") yield* Effect.sleep("20 millis")
    }
    const byWorker = new Map<string, number>()
    for (const id of ids) {
      for (const job of yield* Pipeline.jobs(id)) byWorker.set(job.workerId ?? "-", (byWorker.get(job.workerId ?? "-") ?? 0) + 1)
    }
    yield* Console.log(`all ${ids.length} pipelines completed; jobs per worker fiber:`)
    for (const [w, n] of byWorker) yield* Console.log(`  ${w}: ${n}`)
  }).pipe(
    Effect.scoped,
    Effect.provide(
      Orchestrator.layer({ fallback: "async" }, Orchestrator.layerAsync).pipe(Layer.provideMerge(stores(filename)))
    )
  )

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf("--worker")
  const program = i >= 0
    ? worker(process.argv[i + 1]!)
    : main(path.join(fs.mkdtempSync(path.join(os.tmpdir(), "workers-")), "queue.db"))
  Effect.runPromise(program as Effect.Effect<void, unknown>).then(() => process.exit(0), (e) => {
    console.error(e)
    process.exit(1)
  })
}
