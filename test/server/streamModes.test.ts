/**
 * The stream modes the engine has beyond values / updates / custom / events — `tasks`,
 * `checkpoints`, `debug` — and `stream_subgraphs`, through the LangGraph client.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { chain, nested } from "./graphs.js"
import { collect, type Running, start } from "./harness.js"

let server: Running
beforeAll(async () => {
  server = await start([chain, nested])
})
afterAll(() => server.close())

describe("stream modes tasks, checkpoints, debug", () => {
  it("tasks: each task's start and result; checkpoints: each checkpoint the thread's history has", async () => {
    const client = server.client()
    const t = await client.threads.create({ graphId: "chain" })
    const events: Array<any> = await collect(client.runs.stream(t.thread_id, "chain", { input: { topic: "m" }, streamMode: ["tasks", "checkpoints"] }))
    const tasks = events.filter((e) => e.event === "tasks").map((e) => e.data)
    // a, b, c: each created (with its input), then its result as [channel, value] pairs
    expect(tasks.map((d) => [d.name, "result" in d ? "result" : "created"])).toEqual([
      ["a", "created"], ["a", "result"], ["b", "created"], ["b", "result"], ["c", "created"], ["c", "result"]
    ])
    expect(tasks[0]).toMatchObject({ name: "a", input: { topic: "m" } })
    expect(tasks[1]).toMatchObject({ name: "a", error: null, result: [["steps", ["a"]]], interrupts: [] })
    expect(tasks[1].id).toBe(tasks[0].id)
    const checkpoints = events.filter((e) => e.event === "checkpoints").map((e) => e.data)
    const history = await client.threads.getHistory(t.thread_id, { limit: 100 })
    const ids = checkpoints.map((c) => c.config.configurable.checkpoint_id)
    // every streamed checkpoint is one of the thread's, with its values and next nodes
    for (const c of checkpoints) {
      const h = history.find((x) => x.checkpoint.checkpoint_id === c.config.configurable.checkpoint_id)
      expect(h).toBeDefined()
      expect(c.values).toMatchObject(h!.values)
      expect(c.next).toEqual(h!.next)
    }
    expect(ids.at(-1)).toBe(history[0]!.checkpoint.checkpoint_id)
    expect(checkpoints.at(-1)).toMatchObject({ values: { topic: "m", steps: ["a", "b", "c"] }, next: [] })
  })

  it("debug: checkpoints and tasks as LangGraph's debug events", async () => {
    const client = server.client()
    const t = await client.threads.create({ graphId: "chain" })
    const events: Array<any> = await collect(client.runs.stream(t.thread_id, "chain", { input: { topic: "d" }, streamMode: "debug" }))
    const debug = events.filter((e) => e.event === "debug").map((e) => e.data)
    expect(new Set(debug.map((d) => d.type))).toEqual(new Set(["checkpoint", "task", "task_result"]))
    expect(debug.find((d) => d.type === "task_result" && d.payload.name === "c")).toMatchObject({ payload: { result: [["steps", ["c"]]] } })
    expect(debug.filter((d) => d.type === "checkpoint").at(-1)).toMatchObject({ payload: { values: { steps: ["a", "b", "c"] }, next: [] } })
    // nothing but debug, metadata and the end
    expect(new Set(events.map((e) => e.event))).toEqual(new Set(["metadata", "debug"]))
  })

  it("stream_subgraphs: the subgraph's parts under mode|node:taskId", async () => {
    const client = server.client()
    const t = await client.threads.create({ graphId: "nested" })
    const events: Array<any> = await collect(client.runs.stream(t.thread_id, "nested", { input: {}, streamMode: "updates", streamSubgraphs: true }))
    const names = events.map((e) => e.event as string)
    const inside = events.filter((e) => /^updates\|sub:/.test(e.event))
    expect(inside).toHaveLength(1)
    expect(inside[0].data).toEqual({ deep: { log: ["deep"] } })
    expect(names).toContain("updates")
    // without stream_subgraphs: only the graph's own
    const u = await client.threads.create({ graphId: "nested" })
    const own: Array<any> = await collect(client.runs.stream(u.thread_id, "nested", { input: {}, streamMode: "updates" }))
    expect(own.filter((e) => String(e.event).includes("|"))).toEqual([])
    expect(own.filter((e) => e.event === "updates")).toHaveLength(1)
  })
})
