/**
 * A bounded loopback load test of the server (SQLite, one process): 200 LangGraph clients
 * streaming runs at once over SSE, then 1,000 background runs created in a burst. Prints p50/p99
 * latencies and runs/s, and checks nothing was lost (every stream saw its three updates, every
 * run ended `success`).
 *
 *   npm run bench:server [-- --streams 200 --runs 1000 --executors 8]
 */
import * as HttpServer from "@effect/platform/HttpServer"
import type * as SqlClient from "@effect/sql/SqlClient"
import { Client } from "@langchain/langgraph-sdk"
import { Context, Effect, Exit, Layer, Redacted, Schema, Scope } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Channel, Server, StateGraph } from "effect-stategraph"

const argument = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name)
  return i === -1 ? fallback : Number(process.argv[i + 1])
}
const streams = argument("--streams", 200)
const runs = argument("--runs", 1000)
const executors = argument("--executors", 8)

const chain = StateGraph.make({
  id: "chain",
  state: { topic: Channel.lastValue(Schema.String), steps: Channel.append(Schema.String) }
}).pipe(
  StateGraph.addNode("a", () => Effect.succeed({ steps: ["a"] })),
  StateGraph.addNode("b", () => Effect.succeed({ steps: ["b"] })),
  StateGraph.addNode("c", () => Effect.succeed({ steps: ["c"] })),
  StateGraph.addEdge(StateGraph.START, "a"),
  StateGraph.addEdge("a", "b"),
  StateGraph.addEdge("b", "c"),
  StateGraph.compileSync()
)

const quantile = (xs: ReadonlyArray<number>, q: number) => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN
}
const ms = (n: number) => `${n.toFixed(1)} ms`

const main = async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "esg-bench-server-"))
  const scope = Effect.runSync(Scope.make())
  const layer = Server.layerSqlite({ filename: path.join(dir, "bench.db"), graphs: [chain], port: 0, host: "127.0.0.1", executors, pollMillis: 50 })
  const context = await Effect.runPromise(Layer.buildWithScope(layer as Layer.Layer<HttpServer.HttpServer | SqlClient.SqlClient, unknown>, scope))
  const address = Context.get(context, HttpServer.HttpServer).address
  const url = `http://127.0.0.1:${address._tag === "TcpAddress" ? address.port : 0}`
  const { token } = await Effect.runPromise(Effect.provide(Server.createToken({ name: "bench", permissions: ["administer"] }), context))
  const client = new Client({ apiUrl: url, apiKey: Redacted.value(token), callerOptions: { maxConcurrency: 10_000, maxRetries: 0 } })
  // the burst goes through at most 100 sockets at once: 1,000 sockets opened at once by one
  // process to itself fail to connect (the client and the server share this process's event loop)
  const burstClient = new Client({ apiUrl: url, apiKey: Redacted.value(token), callerOptions: { maxConcurrency: 100, maxRetries: 0 } })
  console.log(`server on ${url}, ${executors} executors, SQLite in ${dir}`)

  // 1. concurrent SSE streams
  const threads = await Promise.all(Array.from({ length: streams }, () => client.threads.create({ graphId: "chain" })))
  const t0 = performance.now()
  const latencies = await Promise.all(threads.map(async (t) => {
    const start = performance.now()
    let updates = 0
    for await (const e of client.runs.stream(t.thread_id, "chain", { input: { topic: "x" }, streamMode: "updates" })) {
      if (e.event === "updates") updates++
    }
    if (updates !== 3) throw new Error(`a stream saw ${updates} updates, not 3`)
    return performance.now() - start
  }))
  const streamWall = performance.now() - t0
  console.log(`${streams} concurrent SSE streams (3 steps each): p50 ${ms(quantile(latencies, 0.5))}, p99 ${ms(quantile(latencies, 0.99))}, all done in ${ms(streamWall)} (${(streams / (streamWall / 1000)).toFixed(0)} runs/s); none lost`)

  // 2. a burst of background runs
  const burst = await Promise.all(Array.from({ length: runs }, () => burstClient.threads.create({ graphId: "chain" })))
  const t1 = performance.now()
  const created = await Promise.all(burst.map(async (t) => {
    const start = performance.now()
    const run = await burstClient.runs.create(t.thread_id, "chain", { input: { topic: "y" } })
    return { thread: t.thread_id, run: run.run_id, latency: performance.now() - start }
  }))
  const createdWall = performance.now() - t1
  const results = await Promise.all(created.map(async (c) => {
    await burstClient.runs.join(c.thread, c.run)
    return (await burstClient.runs.get(c.thread, c.run)).status
  }))
  const burstWall = performance.now() - t1
  const ok = results.filter((s) => s === "success").length
  if (ok !== runs) throw new Error(`${runs - ok} runs did not succeed`)
  const latency = created.map((c) => c.latency)
  console.log(`${runs} runs created in a burst: create p50 ${ms(quantile(latency, 0.5))}, p99 ${ms(quantile(latency, 0.99))} (all queued in ${ms(createdWall)}); all ${ok} succeeded in ${ms(burstWall)}: ${(runs / (burstWall / 1000)).toFixed(0)} runs/s`)
  await Effect.runPromise(Scope.close(scope, Exit.void))
  fs.rmSync(dir, { recursive: true, force: true })
}

main().catch((e) => {
  console.error(e, e?.cause, e?.cause?.cause)
  process.exit(1)
})
