/**
 * A bounded loopback load test of the server (SQLite, one process): 200 LangGraph clients
 * streaming runs at once over SSE, then 1,000 background runs created in a burst. Prints p50/p99
 * latencies and runs/s, and checks nothing was lost (every stream saw its three updates, every
 * run ended `success`).
 *
 *   npm run bench:server [-- --streams 200 --runs 1000 --executors 8]
 */
import * as HttpServer from "@effect/platform/HttpServer"
import * as SqlClient from "@effect/sql/SqlClient"
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

/** the socket errors under the client's errors (it drops them) */
const failures: Array<string> = []

const main = async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "esg-bench-server-"))
  const scope = Effect.runSync(Scope.make())
  const layer = Server.layerSqlite({ filename: path.join(dir, "bench.db"), graphs: [chain], port: 0, host: "127.0.0.1", executors, pollMillis: 50 })
  const context = await Effect.runPromise(Layer.buildWithScope(layer as Layer.Layer<HttpServer.HttpServer | SqlClient.SqlClient, unknown>, scope))
  const address = Context.get(context, HttpServer.HttpServer).address
  const url = `http://127.0.0.1:${address._tag === "TcpAddress" ? address.port : 0}`
  const { token } = await Effect.runPromise(Effect.provide(Server.createToken({ name: "bench", permissions: ["administer"] }), context))
  // the client's errors drop the socket error: keep it to print
  const recording = (...args: Parameters<typeof fetch>) =>
    fetch(...args).catch((e) => {
      const c = (e as { cause?: { code?: string; message?: string } }).cause
      failures.push(`${String((args[1] as RequestInit | undefined)?.method ?? "GET")} ${String(args[0]).replace(url, "")}: ${c?.code ?? ""} ${c?.message ?? String(e)}`)
      throw e
    })
  const client = new Client({ apiUrl: url, apiKey: Redacted.value(token), callerOptions: { maxConcurrency: 10_000, maxRetries: 0, fetch: recording } })
  // the burst goes through at most 100 sockets at once: 1,000 sockets opened at once by one
  // process to itself fail to connect (the client and the server share this process's event loop)
  const burstClient = new Client({ apiUrl: url, apiKey: Redacted.value(token), callerOptions: { maxConcurrency: 100, maxRetries: 0, fetch: recording } })
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

  // 2. a burst of background runs. A request whose socket the loopback resets (seen on a loaded
  // machine, the client and the server on one event loop) is counted, not retried: for a POST
  // the client cannot tell whether the run was queued. What the server accepted is checked in
  // its database: every queued run must have ended `success`.
  const settled = <A>(ps: ReadonlyArray<Promise<A>>) =>
    Promise.allSettled(ps).then((rs) => rs.flatMap((r) => (r.status === "fulfilled" ? [r.value] : [])))
  const burst = await settled(Array.from({ length: runs }, () => burstClient.threads.create({ graphId: "chain" })))
  const resetBefore = failures.length
  const t1 = performance.now()
  const created = await settled(burst.map(async (t) => {
    const start = performance.now()
    const run = await burstClient.runs.create(t.thread_id, "chain", { input: { topic: "y" } })
    return { thread: t.thread_id, run: run.run_id, latency: performance.now() - start }
  }))
  const createdWall = performance.now() - t1
  const resetCreates = failures.length - resetBefore
  // joins are GETs: the SDK may send them again on a reset
  const joiner = new Client({ apiUrl: url, apiKey: Redacted.value(token), callerOptions: { maxConcurrency: 100, maxRetries: 3, fetch: recording } })
  await Promise.all(created.map((c) => joiner.runs.join(c.thread, c.run)))
  const burstWall = performance.now() - t1
  const sql = Context.get(context, SqlClient.SqlClient)
  const rows = await Effect.runPromise(sql<{ status: string; n: number }>`SELECT status, COUNT(*) AS n FROM stategraph_server_runs
    WHERE thread_id IN ${sql.in(burst.map((t) => t.thread_id))} GROUP BY status`)
  const byStatus = Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]))
  const ok = byStatus["success"] ?? 0
  if (ok !== rows.reduce((n, r) => n + Number(r.n), 0)) throw new Error(`runs did not all succeed: ${JSON.stringify(byStatus)}`)
  if (ok < created.length) throw new Error(`${created.length - ok} accepted runs are missing`)
  const latency = created.map((c) => c.latency)
  console.log(`${runs} runs created in a burst: create p50 ${ms(quantile(latency, 0.5))}, p99 ${ms(quantile(latency, 0.99))} (all queued in ${ms(createdWall)}); ${created.length} accepted, all ${ok} queued runs succeeded in ${ms(burstWall)}: ${(ok / (burstWall / 1000)).toFixed(0)} runs/s; none lost`)
  console.log(`client-side socket resets: ${failures.length} (${runs - burst.length} thread creates, ${resetCreates} run creates${failures.length > 0 ? `; the first: ${failures[0]}` : ""})`)
  await Effect.runPromise(Scope.close(scope, Exit.void))
  fs.rmSync(dir, { recursive: true, force: true })
}

main().catch((e) => {
  console.error(e)
  console.error(`${failures.length} requests failed; the first: ${failures.slice(0, 5).join("; ")}`)
  process.exit(1)
})
