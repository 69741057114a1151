/**
 * An API process and a worker process on one database: runs queued by the API are executed by
 * the worker; streams are read from the durable event log, so a client may reconnect to the
 * other process with Last-Event-ID and get exactly what it missed; a cancel sent to the API
 * stops the run in the worker.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { chain, slow } from "./graphs.js"
import { collect, type Running, start } from "./harness.js"

let apiOnly: Running
let worker: Running
beforeAll(async () => {
  apiOnly = await start([chain, slow], { executors: 0 })
  worker = await start([chain, slow], { filename: apiOnly.filename, executors: 2 })
})
afterAll(async () => {
  await apiOnly.close()
  await worker.close()
})

describe("API and worker processes apart", () => {
  it("a run queued by the API is executed by the worker and streamed by the API", async () => {
    const client = apiOnly.client()
    const t = await client.threads.create({ graphId: "chain" })
    const events = await collect(client.runs.stream(t.thread_id, "chain", { input: { topic: "w" }, streamMode: "updates" }))
    expect(events.filter((e) => e.event === "updates").map((e) => Object.keys(e.data as object)[0])).toEqual(["a", "b", "c"])
  })

  it("reconnecting to the other process with Last-Event-ID gets the rest, nothing twice", async () => {
    const client = apiOnly.client()
    const t = await client.threads.create({ graphId: "slow" })
    const run = await client.runs.create(t.thread_id, "slow", { input: { until: 12, delayMillis: 15, label: "r" }, streamMode: "values" })
    const seen: Array<any> = []
    for await (const e of client.runs.joinStream(t.thread_id, run.run_id)) {
      seen.push(e)
      if (e.event === "values" && (e.data as any).count >= 4) break
    }
    const rest: Array<any> = await collect(worker.client(apiOnly.token).runs.joinStream(t.thread_id, run.run_id, { lastEventId: seen.at(-1)!.id }))
    const all: Array<any> = await collect(client.runs.joinStream(t.thread_id, run.run_id))
    expect([...seen, ...rest].map((e) => e.id)).toEqual(all.map((e) => e.id))
    // the input applied (count 0), then each step
    expect(all.filter((e) => e.event === "values").map((e) => e.data.count)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])
  })

  it("a cancel sent to the API stops the run in the worker", async () => {
    const client = apiOnly.client()
    const t = await client.threads.create({ graphId: "slow" })
    const run = await client.runs.create(t.thread_id, "slow", { input: { until: 100_000, delayMillis: 10, label: "c" }, streamMode: "values" })
    for await (const e of client.runs.joinStream(t.thread_id, run.run_id)) {
      if (e.event === "values" && (e.data as any).count >= 2) break
    }
    await client.runs.cancel(t.thread_id, run.run_id, true)
    expect((await client.runs.get(t.thread_id, run.run_id)).status).toBe("interrupted")
    expect(((await client.threads.getState(t.thread_id)).values as any).count).toBeLessThan(100_000)
  })
})

describe("an executor that dies", () => {
  it("its run is taken over when its lease runs out; what it committed is not repeated", async () => {
    const { Effect } = await import("effect")
    const SqlClient = await import("@effect/sql/SqlClient")
    const { SqliteSnapshots } = await import("effect-stategraph")
    const api = await start([slow], { executors: 0 })
    try {
      const client = api.client()
      const t = await client.threads.create({ graphId: "slow" })
      const run = await client.runs.create(t.thread_id, "slow", { input: { until: 3, delayMillis: 1, label: "once" } })
      // a worker claimed it, started it, committed the whole run, and died before recording its end
      await api.run(Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* sql`UPDATE stategraph_server_runs SET status = 'running', worker = 'dead', lease_until = ${Date.now() - 1} WHERE run_id = ${run.run_id}`
        yield* sql`INSERT INTO stategraph_server_events (run_id, event, data, created_at) VALUES (${run.run_id}, 'metadata', '{}', ${Date.now()})`
      }))
      await Effect.runPromise(
        slow.invoke({ until: 3, delayMillis: 1, label: "once" }, { threadId: t.thread_id }).pipe(
          Effect.provide(SqliteSnapshots.layer({ filename: api.filename }))
        )
      )
      const rescuer = await start([slow], { filename: api.filename, executors: 1, runLeaseMillis: 500 })
      try {
        const result = await client.runs.join(t.thread_id, run.run_id)
        expect(result).toMatchObject({ count: 3, label: "once" })
        expect((await client.runs.get(t.thread_id, run.run_id)).status).toBe("success")
        const events: Array<any> = await collect(client.runs.joinStream(t.thread_id, run.run_id))
        expect(events.filter((e) => e.event === "metadata").map((e) => e.data.attempt)).toEqual([undefined, 2])
      } finally {
        await rescuer.close()
      }
    } finally {
      await api.close()
    }
  })
})

describe("workers serving different graphs", () => {
  it("a worker claims only runs of the graphs it serves; the others wait for a worker that has them", async () => {
    const api = await start([chain, slow], { executors: 0 })
    const onlyChain = await start([chain], { filename: api.filename, executors: 1 })
    try {
      const client = api.client()
      const s = await client.threads.create({ graphId: "slow" })
      const slowRun = await client.runs.create(s.thread_id, "slow", { input: { until: 2, delayMillis: 1, label: "s" } })
      const c = await client.threads.create({ graphId: "chain" })
      expect(await client.runs.wait(c.thread_id, "chain", { input: { topic: "c" } })).toMatchObject({ steps: ["a", "b", "c"] })
      // the chain worker executed the later chain run, and left the slow one
      expect((await client.runs.get(s.thread_id, slowRun.run_id)).status).toBe("pending")
      const onlySlow = await start([slow], { filename: api.filename, executors: 1 })
      try {
        expect(await client.runs.join(s.thread_id, slowRun.run_id)).toMatchObject({ count: 2, label: "s" })
        expect((await client.runs.get(s.thread_id, slowRun.run_id)).status).toBe("success")
      } finally {
        await onlySlow.close()
      }
    } finally {
      await onlyChain.close()
      await api.close()
    }
  })
})
