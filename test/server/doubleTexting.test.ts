/**
 * Double texting under real concurrency, through the LangGraph client: reject, enqueue,
 * interrupt, rollback.
 */
import type { Client } from "@langchain/langgraph-sdk"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { gate, gated, hangs, resetGate, slow, stuck } from "./graphs.js"
import { type Running, start } from "./harness.js"

let server: Running
beforeAll(async () => {
  server = await start([slow, gated])
})
afterAll(() => server.close())

const statusOf = (e: unknown) => (e as { status?: number }).status

/** Waits until the run has streamed a state with at least `n` ticks. */
const ticked = async (client: Client, threadId: string, runId: string, n: number) => {
  for await (const e of client.runs.joinStream(threadId, runId)) {
    if (e.event === "values" && (e.data as any).count >= n) return
  }
  throw new Error("the run ended first")
}

describe("double texting", () => {
  it("reject: of five concurrent runs on an idle thread one is queued, four are refused with 409", async () => {
    const client = server.client()
    const t = await client.threads.create({ graphId: "slow" })
    // one client each: a client queues its own requests (four at a time)
    const results = await Promise.allSettled(
      [1, 2, 3, 4, 5].map((i) =>
        server.client().runs.create(t.thread_id, "slow", { input: { until: 3, delayMillis: 200, label: `r${i}` }, multitaskStrategy: "reject" }))
    )
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1)
    const refused = results.filter((r) => r.status === "rejected")
    expect(refused).toHaveLength(4)
    for (const r of refused) expect(statusOf((r as PromiseRejectedResult).reason)).toBe(409)
    const run = (results.find((r) => r.status === "fulfilled") as PromiseFulfilledResult<{ run_id: string }>).value
    await client.runs.join(t.thread_id, run.run_id)
    expect((await client.runs.list(t.thread_id))).toHaveLength(1)
  })

  it("enqueue: runs sent while one runs are executed after it, one at a time, in order", async () => {
    const client = server.client()
    const t = await client.threads.create({ graphId: "slow" })
    const first = await client.runs.create(t.thread_id, "slow", { input: { until: 4, delayMillis: 10, label: "first" } })
    const queued = await Promise.all(
      [8, 12, 16].map((until, i) => client.runs.create(t.thread_id, "slow", { input: { until, delayMillis: 2, label: `q${i}` }, multitaskStrategy: "enqueue" }))
    )
    const last = await client.runs.join(t.thread_id, queued[2]!.run_id)
    expect(last).toMatchObject({ count: 16, label: "q2" })
    const runs = await Promise.all([first, ...queued].map((r) => client.runs.get(t.thread_id, r.run_id)))
    expect(runs.map((r) => r.status)).toEqual(["success", "success", "success", "success"])
    // each ended after the previous one ended
    const ends = runs.map((r) => Date.parse(r.updated_at))
    expect(ends).toEqual([...ends].sort((a, b) => a - b))
    // each run's input is in the history, in order
    const labels = (await client.threads.getHistory(t.thread_id, { limit: 100 })).map((h) => (h.values as any).label).reverse()
    const order = labels.filter((l, i) => l !== labels[i - 1])
    expect(order).toEqual(["first", "q0", "q1", "q2"])
  })

  it("interrupt: the running run stops and keeps its finished steps; the new one runs on them", async () => {
    const client = server.client()
    const t = await client.threads.create({ graphId: "slow" })
    const first = await client.runs.create(t.thread_id, "slow", { input: { until: 100_000, delayMillis: 10, label: "first" }, streamMode: "values" })
    await ticked(client, t.thread_id, first.run_id, 3)
    const second = await client.runs.wait(t.thread_id, "slow", { input: { until: 1, delayMillis: 1, label: "second" }, multitaskStrategy: "interrupt" })
    expect((await client.runs.get(t.thread_id, first.run_id)).status).toBe("interrupted")
    // the first run's ticks were kept: the second started above 3 and stopped after one more step
    expect((second as any).label).toBe("second")
    expect((second as any).count).toBeGreaterThanOrEqual(4)
    expect((second as any).count).toBeLessThan(100_000)
  })

  it("interrupt stops the running run at its next step boundary: the step in flight finishes and is kept, no later one starts", async () => {
    resetGate()
    const client = server.client()
    const t = await client.threads.create({ graphId: "gated" })
    const first = await client.runs.create(t.thread_id, "gated", { input: { label: "held" } })
    // the first run's third step is in flight (held at the gate)
    for (const deadline = Date.now() + 30_000; !gate.held;) {
      if (Date.now() > deadline) throw new Error("the held step did not start")
      await new Promise((r) => setTimeout(r, 10))
    }
    const second = await client.runs.create(t.thread_id, "gated", { input: { label: "second" }, multitaskStrategy: "interrupt" })
    gate.open()
    // the held step ended and was committed (count 3), then the run stopped: the second counts on from 3
    expect(await client.runs.join(t.thread_id, second.run_id)).toMatchObject({ count: 4, label: "second" })
    expect((await client.runs.get(t.thread_id, first.run_id)).status).toBe("interrupted")
    expect(gate.started).toBe(3)
    const history = (await client.threads.getHistory(t.thread_id, { limit: 100 })).map((h) => h.values as any)
    expect(history.some((v) => v.label === "held" && v.count === 3)).toBe(true)
  })

  it("rollback: the running run's work and the run itself are discarded", async () => {
    const client = server.client()
    const t = await client.threads.create({ graphId: "slow" })
    await client.runs.wait(t.thread_id, "slow", { input: { until: 2, delayMillis: 1, label: "base" } })
    const first = await client.runs.create(t.thread_id, "slow", { input: { until: 100_000, delayMillis: 10, label: "first" }, streamMode: "values" })
    await ticked(client, t.thread_id, first.run_id, 5)
    const second = await client.runs.wait(t.thread_id, "slow", { input: { until: 3, delayMillis: 1, label: "second" }, multitaskStrategy: "rollback" })
    // from the state before the first run: 2 ticks, then one more
    expect(second).toMatchObject({ count: 3, label: "second" })
    await expect(client.runs.get(t.thread_id, first.run_id)).rejects.toSatisfy((e) => statusOf(e) === 404)
    // a rollback of a thread's first run starts from nothing
    const u = await client.threads.create({ graphId: "slow" })
    const r1 = await client.runs.create(u.thread_id, "slow", { input: { until: 100_000, delayMillis: 10, label: "first" }, streamMode: "values" })
    await ticked(client, u.thread_id, r1.run_id, 3)
    const r2 = await client.runs.wait(u.thread_id, "slow", { input: { until: 1, delayMillis: 1, label: "second" }, multitaskStrategy: "rollback" })
    expect(r2).toMatchObject({ count: 1, label: "second" })
  })
})

describe("double texting interrupt with a step that never ends", () => {
  let quick: Running
  beforeAll(async () => {
    quick = await start([hangs], { interruptTimeoutMillis: 300 })
  })
  afterAll(() => quick.close())

  it("after interruptTimeoutMillis the run is stopped at once: its finished step stays, the new run goes on from it", async () => {
    const client = quick.client()
    const t = await client.threads.create({ graphId: "hangs" })
    const first = await client.runs.create(t.thread_id, "hangs", { input: { label: "stuck" } })
    for (const deadline = Date.now() + 30_000; !stuck.entered;) {
      if (Date.now() > deadline) throw new Error("the endless step did not start")
      await new Promise((r) => setTimeout(r, 10))
    }
    // the first run's second step never ends, so it never reaches a step boundary: without the
    // time limit the second run would wait for ever
    const second = await client.runs.wait(t.thread_id, "hangs", { input: { label: "after" }, multitaskStrategy: "interrupt" })
    expect(second).toMatchObject({ count: 2, label: "after" })
    expect((await client.runs.get(t.thread_id, first.run_id)).status).toBe("interrupted")
    const history = (await client.threads.getHistory(t.thread_id, { limit: 100 })).map((h) => h.values as any)
    expect(history.some((v) => v.label === "stuck" && v.count === 1)).toBe(true)
  })
})
