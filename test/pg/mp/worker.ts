/**
 * A worker process: `node --import tsx worker.ts <url>#<schema> <effectsFile>`. Short leases, so
 * a killed or frozen worker's jobs are taken over quickly. CONCURRENCY sets its fibers (default 4),
 * POLL_MS the idle poll (default 200 ms: wake-ups come by LISTEN/NOTIFY).
 */
import { Effect, Layer } from "effect"
import { Graphs, Pipeline, Worker } from "effect-stategraph"
import { makeGraph, stores } from "./graph.js"

const [db, effects] = [process.argv[2]!, process.argv[3]!]
const graph = makeGraph(effects)

Effect.runPromise(
  Worker.run({
    concurrency: Number(process.env.CONCURRENCY ?? 4),
    pollInterval: `${Number(process.env.POLL_MS ?? 200)} millis`,
    lease: `${Number(process.env.LEASE_MS ?? 2000)} millis`,
    workerId: `pid-${process.pid}`
  }).pipe(Effect.provide(Layer.mergeAll(Pipeline.layerPg({ ...stores(db), maxConnections: 6 }), Graphs.layer([graph]))))
).catch((e) => {
  console.error(e)
  process.exit(1)
})
