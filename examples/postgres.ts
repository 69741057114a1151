/**
 * Many machines on one Postgres, in miniature: this program starts a throwaway PostgreSQL server
 * (the system's `initdb` / `pg_ctl`, a temp directory, a free port), two worker processes (this
 * file with `--worker`) and an "API" process (this file with `--api`). The API process queues
 * pipelines on the async orchestrator — a fan-out of reviews, then an approval — and answers each
 * approval; the workers, woken by LISTEN/NOTIFY, run every job. It prints which process ran what,
 * then stops the server.
 *
 *   npm run example:postgres
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Console, Effect, Layer, Schema } from "effect"
import { Channel, Graphs, Interrupt, Orchestrator, Pipeline, RunEvent, Send, Snapshots, StateGraph, Worker } from "effect-stategraph"
import * as Throwaway from "../test/pg/cluster.js"

class Publish extends Interrupt.Tag("Publish", { request: Schema.String, response: Schema.Boolean }) {}

/** Reviews of a release's parts in parallel, then a human approves publishing it. */
export const graph = StateGraph.make({
  id: "release",
  state: {
    parts: Channel.lastValue(Schema.Array(Schema.String)),
    reviews: Channel.append(Schema.String),
    published: Channel.lastValue(Schema.Boolean, { initial: () => false })
  }
}).pipe(
  StateGraph.addNode("plan", () => Effect.void),
  StateGraph.addNode("review", (part: string) => Effect.as(Effect.sleep("10 millis"), { reviews: [`${part} by pid ${process.pid}`] })),
  StateGraph.addNode("approve", (s) => Effect.map(Publish.ask(`publish ${s.parts.length} parts?`), (published) => ({ published }))),
  StateGraph.addEdge(StateGraph.START, "plan"),
  StateGraph.addConditionalEdges("plan", (s) => s.parts.map((p) => Send.make("review", p))),
  StateGraph.addEdge("review", "approve"),
  StateGraph.compileSync()
)

/** What every process needs: snapshots + queue on one pool, and the graphs it can run. */
const stores = (url: string) => Layer.mergeAll(Pipeline.layerPg({ url, schema: "example" }), Graphs.layer([graph]), RunEvent.layer)

const worker = (url: string) =>
  Worker.run({ concurrency: 2, pollInterval: "1 second", lease: "10 seconds", workerId: `pid-${process.pid}` }).pipe(
    Effect.provide(stores(url))
  )

const releases = ["alpha", "beta", "gamma"]

const api = (url: string) =>
  Effect.gen(function*() {
    const ids: Array<string> = []
    for (const name of releases) {
      const r = yield* Orchestrator.orchestrate(
        { workflowId: graph.id, graph, threadId: name, input: { parts: ["docs", "code", "tests"].map((p) => `${name}/${p}`) } },
        { id: "async" }
      )
      ids.push(r.pipelineId!)
    }
    yield* Console.log(`api pid ${process.pid}: queued ${ids.length} pipelines`)
    // answer each approval as it comes (a person would, from the inspector or a form)
    const answered = new Set<string>()
    while (answered.size < releases.length) {
      for (const t of yield* Snapshots.pausedThreads({ workflowId: graph.id })) {
        if (answered.has(t.threadId)) continue
        const answer = yield* Effect.either(Orchestrator.orchestrate(
          { workflowId: graph.id, graph, threadId: t.threadId, input: null, resume: [Publish.respond(true)] },
          { id: "async" }
        ))
        // ThreadBusy: the worker that paused the thread has not given it back yet; next round
        if (answer._tag === "Left") continue
        answered.add(t.threadId)
        yield* Console.log(`api pid ${process.pid}: approved ${t.threadId}`)
      }
      yield* Effect.sleep("50 millis")
    }
    for (const id of ids) {
      while ((yield* Pipeline.pipelineStatus(id)).status !== "completed") yield* Effect.sleep("20 millis")
    }
    const byWorker = new Map<string, number>()
    for (const id of ids) {
      for (const job of yield* Pipeline.jobs(id)) byWorker.set(job.workerId ?? "-", (byWorker.get(job.workerId ?? "-") ?? 0) + 1)
    }
    yield* Console.log(`all ${ids.length} pipelines completed; jobs per worker fiber:`)
    for (const [w, n] of [...byWorker].sort()) yield* Console.log(`  ${w}: ${n}`)
    const state = yield* graph.getState("alpha")
    yield* Console.log(`alpha: published=${state.values.published}, ${state.values.reviews.length} reviews`)
  }).pipe(Effect.provide(Orchestrator.layer({ fallback: "async" }, Orchestrator.layerAsync).pipe(Layer.provideMerge(stores(url)))))

const child = (role: "--worker" | "--api", url: string) =>
  spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), role, url], { stdio: "inherit" })

const main = Effect.gen(function*() {
  const server = yield* Effect.acquireRelease(Effect.promise(() => Throwaway.start()), (c) => Effect.sync(() => Throwaway.stop(c)))
  yield* Console.log(`PostgreSQL on 127.0.0.1:${server.port} (throwaway)`)
  const workers = [0, 1].map(() => child("--worker", server.url))
  yield* Effect.addFinalizer(() => Effect.sync(() => workers.forEach((w) => w.kill("SIGTERM"))))
  const code = yield* Effect.async<number | null>((resume) => {
    child("--api", server.url).once("exit", (c) => resume(Effect.succeed(c)))
  })
  if (code !== 0) return yield* Effect.fail(new Error(`the api process exited with ${code}`))
}).pipe(Effect.scoped)

if (import.meta.url === `file://${process.argv[1]}`) {
  const role = process.argv[2]
  const program = role === "--worker" ? worker(process.argv[3]!) : role === "--api" ? api(process.argv[3]!) : main
  Effect.runPromise(program as Effect.Effect<void, unknown>).then(() => process.exit(0), (e) => {
    console.error(e)
    process.exit(1)
  })
}
