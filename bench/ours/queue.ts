/**
 * Queue throughput of the async orchestrator on SQLite: trivial jobs per second with 1 and 2
 * worker fibers in this process and with 2 worker processes, and the latency from `orchestrate`
 * to the first job starting.
 *
 *   npx tsx bench/ours/queue.ts [jobs=2000] [chain=1]
 *
 * Each pipeline is a chain of `chain` trivial nodes (one job each); `jobs / chain` pipelines are
 * queued first, then the workers drain them.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { Channel, Graphs, Orchestrator, Pipeline, RunEvent, StateGraph, Worker } from "../../src/index.js"

const here = path.dirname(fileURLToPath(import.meta.url))
// under tsx the worker is the .ts source; in the benchmark's transpiled build, its .js sibling
const workerArgs = import.meta.url.endsWith(".ts")
  ? ["--import", "tsx", path.join(here, "queueWorker.ts")]
  : [path.join(here, "queueWorker.js")]

export const makeGraph = (length: number) => {
  let g: any = StateGraph.make({ id: `bench-chain-${length}`, state: { n: Channel.lastValue(Schema.Number) } })
  const add: any = StateGraph.addNode
  const edge: any = StateGraph.addEdge
  for (let i = 0; i < length; i++) g = add(g, `n${i}`, (s: { n: number }) => Effect.succeed({ n: s.n + 1 }))
  g = edge(g, StateGraph.START, "n0")
  for (let i = 1; i < length; i++) g = edge(g, `n${i - 1}`, `n${i}`)
  return (StateGraph.compileSync as any)(g) as StateGraph.AnyCompiled
}

const tempDirs: Array<string> = []
process.on("exit", () => {
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true })
})
const tempDb = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sg-queue-bench-"))
  tempDirs.push(dir)
  return path.join(dir, "queue.db")
}

/**
 * Where the queue lives: a SQLite file, or a Postgres database (`postgres://…`, the tables in the
 * `stategraph` schema). The worker processes get the same string.
 */
export const queueLayer = (target: string) =>
  target.startsWith("postgres://") ? Pipeline.layerPg({ url: target }) : Pipeline.layerSqlite({ filename: target })

const pipelinesTable = (target: string) =>
  target.startsWith("postgres://") ? "stategraph.stategraph_pipelines" : "stategraph_pipelines"

const layerFor = (target: string, graph: StateGraph.AnyCompiled) =>
  Orchestrator.layer({ fallback: "async" }, Orchestrator.layerAsync).pipe(
    Layer.provideMerge(Layer.mergeAll(queueLayer(target), Graphs.layer([graph]), RunEvent.layer))
  )

const enqueue = (graph: StateGraph.AnyCompiled, pipelines: number) =>
  Effect.gen(function*() {
    const ids: Array<string> = []
    const t0 = performance.now()
    for (let i = 0; i < pipelines; i++) {
      const r = yield* Orchestrator.orchestrate({ workflowId: graph.id, graph, input: { n: 0 }, options: { maxConcurrentJobs: 4 } })
      ids.push(r.pipelineId!)
    }
    return { ids, millis: performance.now() - t0 }
  })

/**
 * Waits until every pipeline has ended. They end about in queue order: the last one is polled,
 * then all are counted at once (one cheap look every 2 ms, not one per pipeline).
 */
const awaitAll = (ids: ReadonlyArray<string>, target: string) =>
  Effect.gen(function*() {
    const store = yield* Pipeline.Pipelines
    const sql = yield* SqlClient.SqlClient
    const last = ids[ids.length - 1]!
    while (true) {
      const p = yield* store.get(last)
      if (Option.isSome(p) && (p.value.status === "completed" || p.value.status === "failed")) {
        const rows = yield* sql.unsafe<{ status: string; n: number | string }>(
          `SELECT status, count(*) AS n FROM ${pipelinesTable(target)} GROUP BY status`
        )
        const count = (status: string) => Number(rows.find((r) => r.status === status)?.n ?? 0)
        if (count("failed") > 0) throw new Error(`${count("failed")} pipeline(s) failed`)
        if (count("completed") === ids.length) return
      }
      yield* Effect.sleep("2 millis")
    }
  })

const inProcess = (jobs: number, chain: number, fibers: number) =>
  Effect.gen(function*() {
    const graph = makeGraph(chain)
    const filename = tempDb()
    return yield* Effect.gen(function*() {
      const { ids, millis: enqueueMillis } = yield* enqueue(graph, Math.ceil(jobs / chain))
      const t0 = performance.now()
      yield* Effect.scoped(Effect.zipRight(Worker.start({ concurrency: fibers, pollInterval: "2 millis" }), awaitAll(ids, filename)))
      const millis = performance.now() - t0
      return { fibers, jobs: ids.length * chain, millis, perSecond: (ids.length * chain) / (millis / 1000), enqueuePerSecond: ids.length / (enqueueMillis / 1000) }
    }).pipe(Effect.provide(layerFor(filename, graph)))
  })

const latency = Effect.gen(function*() {
  const graph = makeGraph(1)
  const filename = tempDb()
  return yield* Effect.gen(function*() {
    yield* Worker.start({ concurrency: 1, pollInterval: "2 millis" })
    const samples: Array<number> = []
    for (let i = 0; i < 200; i++) {
      const bus = yield* RunEvent.EventBus
      const sub = yield* Stream.fromPubSub(bus.pubsub).pipe(
        Stream.filter((e) => e._tag === "JobStarted"),
        Stream.take(1),
        Stream.runDrain,
        Effect.fork
      )
      yield* Effect.yieldNow()
      const t0 = performance.now()
      yield* Orchestrator.orchestrate({ workflowId: graph.id, graph, input: { n: 0 } })
      yield* sub.await
      samples.push(performance.now() - t0)
    }
    samples.sort((a, b) => a - b)
    return { p50: samples[Math.floor(samples.length / 2)]!, p95: samples[Math.floor(samples.length * 0.95)]! }
  }).pipe(Effect.scoped, Effect.provide(layerFor(filename, graph)))
})

/** `count` worker processes draining the queue at `target` (a fresh SQLite file when absent). */
const processes = (jobs: number, chain: number, count: number, target: string = tempDb()) =>
  Effect.gen(function*() {
    const graph = makeGraph(chain)
    const filename = target
    const go = target.startsWith("postgres://") ? `${tempDb()}.pg` : filename
    return yield* Effect.gen(function*() {
      const { ids } = yield* enqueue(graph, Math.ceil(jobs / chain))
      const children = Array.from({ length: count }, () =>
        spawn(process.execPath, [...workerArgs, filename, String(chain), go], {
          stdio: ["ignore", "pipe", "inherit"]
        }))
      // start the clock once every process has opened the database
      yield* Effect.promise(() =>
        Promise.all(children.map((c) => new Promise<void>((resolve) => c.stdout!.once("data", () => resolve()))))
      )
      fs.writeFileSync(`${go}.go`, "")
      const t0 = performance.now()
      yield* awaitAll(ids, filename)
      const millis = performance.now() - t0
      for (const c of children) c.kill("SIGKILL")
      return { processes: count, jobs: ids.length * chain, millis, perSecond: (ids.length * chain) / (millis / 1000) }
    }).pipe(Effect.provide(layerFor(filename, graph)))
  })

export interface QueueResult {
  readonly oneFiber: number
  readonly twoFibers: number
  readonly twoProcesses: number
}

/** The benchmark table's scenario: jobs/s with 1 and 2 worker fibers and with 2 worker processes. */
export const queueThroughput = (opts: { readonly jobs?: number; readonly chain?: number } = {}): Promise<QueueResult> => {
  const { chain = 1, jobs = 2000 } = opts
  return Effect.runPromise(
    Effect.gen(function*() {
      const one = yield* inProcess(jobs, chain, 1)
      const two = yield* inProcess(jobs, chain, 2)
      const procs = yield* processes(jobs, chain, 2)
      return { oneFiber: one.perSecond, twoFibers: two.perSecond, twoProcesses: procs.perSecond }
    }) as Effect.Effect<QueueResult, unknown>
  )
}

export interface QueuePgResult {
  readonly oneProcess: number
  readonly twoProcesses: number
  readonly fourProcesses: number
}

/**
 * The Postgres row: `jobs` one-task pipelines queued on `Pipeline.layerPg`, drained by 1, 2 and
 * 4 worker processes (1 fiber each), each drain in a schema of its own (`stategraph` is dropped
 * between them).
 */
export const queueThroughputPg = (opts: { readonly url: string; readonly jobs?: number }): Promise<QueuePgResult> => {
  const { jobs = 2000, url } = opts
  const drain = (count: number) =>
    Effect.zipLeft(
      processes(jobs, 1, count, url),
      Effect.scoped(Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(`DROP SCHEMA IF EXISTS stategraph CASCADE`))).pipe(
        // a bare client: the queue's layer would hold its one connection to LISTEN
        Effect.provide(Layer.unwrapEffect(Effect.map(Effect.promise(() => import("../../src/PgSnapshots.js")), (Pg) => Pg.layerPgClient({ url, maxConnections: 1 }))))
      )
    )
  return Effect.runPromise(
    Effect.gen(function*() {
      const one = yield* drain(1)
      const two = yield* drain(2)
      const four = yield* drain(4)
      return { oneProcess: one.perSecond, twoProcesses: two.perSecond, fourProcesses: four.perSecond }
    }) as Effect.Effect<QueuePgResult, unknown>
  )
}

const main = (jobs: number, chain: number) => Effect.gen(function*() {
  console.log(`queue bench: ${jobs} trivial jobs, chains of ${chain}`)
  for (const fibers of [1, 2]) {
    const r = yield* inProcess(jobs, chain, fibers)
    console.log(
      `  ${fibers} worker fiber(s): ${r.perSecond.toFixed(0)} jobs/s (${r.jobs} jobs in ${r.millis.toFixed(0)} ms); orchestrate ${r.enqueuePerSecond.toFixed(0)} pipelines/s`
    )
  }
  const p = yield* processes(jobs, chain, 2)
  console.log(`  2 worker processes (1 fiber each): ${p.perSecond.toFixed(0)} jobs/s (${p.jobs} jobs in ${p.millis.toFixed(0)} ms)`)
  const l = yield* latency
  console.log(`  orchestrate → first JobStarted: p50 ${l.p50.toFixed(2)} ms, p95 ${l.p95.toFixed(2)} ms`)
})

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const jobs = Number(process.argv[2] ?? 2000)
  const chain = Math.max(1, Number(process.argv[3] ?? 1))
  Effect.runPromise(main(jobs, chain) as Effect.Effect<void, unknown>).catch((e) => {
    console.error(e)
    process.exit(1)
  })
}
