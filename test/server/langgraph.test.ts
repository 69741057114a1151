/**
 * The real `@langchain/langgraph-sdk` client against the real server on a free port.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { chain, post, slow, talk } from "./graphs.js"
import { collect, type Running, start } from "./harness.js"

let server: Running
beforeAll(async () => {
  server = await start([post, chain, slow, talk])
})
afterAll(() => server.close())

const statusOf = (e: unknown) => (e as { status?: number }).status

describe("assistants", () => {
  it("one per registered graph: search, get, graph, schemas", async () => {
    const client = server.client()
    const all = await client.assistants.search({ limit: 10 })
    expect(all.map((a) => a.assistant_id).sort()).toEqual(["chain", "post", "slow", "talk"])
    const a = await client.assistants.get("post")
    expect(a.graph_id).toBe("post")
    const g = await client.assistants.getGraph("chain")
    expect(g.edges).toContainEqual(expect.objectContaining({ source: "__start__", target: "a" }))
    expect(g.edges).toContainEqual(expect.objectContaining({ source: "b", target: "c" }))
    const s = await client.assistants.getSchemas("post")
    expect(Object.keys((s.state_schema as any).properties).sort()).toEqual(["draft", "log"])
    await expect(client.assistants.get("nope")).rejects.toSatisfy((e) => statusOf(e) === 404)
  })
})

describe("threads", () => {
  it("create, get, patch, search by metadata and status, copy, delete", async () => {
    const client = server.client()
    const t1 = await client.threads.create({ metadata: { user: "ada", n: 1 }, graphId: "chain" })
    const t2 = await client.threads.create({ metadata: { user: "bob" } })
    expect((await client.threads.get(t1.thread_id)).metadata).toMatchObject({ user: "ada", n: 1, graph_id: "chain" })
    await client.threads.update(t2.thread_id, { metadata: { team: "x" } })
    expect((await client.threads.get(t2.thread_id)).metadata).toEqual({ user: "bob", team: "x" })
    await expect(client.threads.create({ threadId: t1.thread_id })).rejects.toSatisfy((e) => statusOf(e) === 409)
    expect((await client.threads.create({ threadId: t1.thread_id, ifExists: "do_nothing" })).thread_id).toBe(t1.thread_id)

    const ada = await client.threads.search({ metadata: { user: "ada" } })
    expect(ada.map((t) => t.thread_id)).toEqual([t1.thread_id])

    await client.runs.wait(t1.thread_id, "chain", { input: { topic: "t" } })
    const p = await client.threads.create({ graphId: "post" })
    await client.runs.wait(p.thread_id, "post", { input: { draft: "hi" } })
    const interrupted = await client.threads.search({ status: "interrupted", limit: 100 })
    expect(interrupted.map((t) => t.thread_id)).toContain(p.thread_id)
    expect(interrupted.map((t) => t.thread_id)).not.toContain(t1.thread_id)
    expect(await client.threads.count({ status: "interrupted" })).toBe(interrupted.length)

    const copy = await client.threads.copy(t1.thread_id)
    expect(copy.thread_id).not.toBe(t1.thread_id)
    expect((await client.threads.getState(copy.thread_id)).values).toEqual({ topic: "t", steps: ["a", "b", "c"] })

    await client.threads.delete(t1.thread_id)
    await expect(client.threads.get(t1.thread_id)).rejects.toSatisfy((e) => statusOf(e) === 404)
  })

  it("copy takes the whole history: the same checkpoints (a fork included), a paused head answerable on the copy only", async () => {
    const client = server.client()
    const t = await client.threads.create({ graphId: "post" })
    await client.runs.wait(t.thread_id, "post", { input: { draft: "one" } })
    const first = (await client.threads.getHistory(t.thread_id, { limit: 100 })).at(-1)!
    const otherBranch = await client.threads.getState(t.thread_id)
    // a second branch from the first checkpoint, paused again
    await client.runs.wait(t.thread_id, "post", { input: null, checkpointId: first.checkpoint.checkpoint_id! })
    const original = await client.threads.getHistory(t.thread_id, { limit: 100 })
    expect(original.length).toBeGreaterThanOrEqual(3)
    const copy = await client.threads.copy(t.thread_id)
    const copied = await client.threads.getHistory(copy.thread_id, { limit: 100 })
    const shape = (h: typeof original) => h.map((s) => [s.checkpoint.checkpoint_id, s.parent_checkpoint?.checkpoint_id ?? null, s.values, s.next])
    expect(shape(copied)).toEqual(shape(original))
    expect((await client.threads.getState(copy.thread_id)).checkpoint.checkpoint_id).toBe(original[0]!.checkpoint.checkpoint_id)
    // the branch left by the fork came along too
    const branch = await client.threads.getState(copy.thread_id, otherBranch.checkpoint.checkpoint_id!)
    expect([branch.values, branch.next]).toEqual([otherBranch.values, otherBranch.next])
    // time travel on the copy, from its first checkpoint
    const earlier = await client.threads.getState(copy.thread_id, first.checkpoint.checkpoint_id!)
    expect(earlier.values).toEqual(first.values)
    // the copy's pause is its own: answering it leaves the original paused
    expect(await client.runs.wait(copy.thread_id, "post", { command: { resume: { approved: true } } })).toMatchObject({ log: ["wrote", "approved"] })
    expect((await client.threads.get(t.thread_id)).status).toBe("interrupted")
    expect((await client.threads.getHistory(t.thread_id, { limit: 100 })).length).toBe(original.length)
  })

  it("state, update state (as a node), history, state at a checkpoint", async () => {
    const client = server.client()
    const t = await client.threads.create({ graphId: "chain" })
    await client.runs.wait(t.thread_id, "chain", { input: { topic: "t" } })
    const history = await client.threads.getHistory(t.thread_id, { limit: 10 })
    expect(history.length).toBeGreaterThanOrEqual(4)
    expect(history[0]!.values).toEqual({ topic: "t", steps: ["a", "b", "c"] })
    const afterA = history.find((h) => JSON.stringify((h.values as any).steps) === JSON.stringify(["a"]))!
    expect(afterA.next).toEqual(["b"])
    const at = await client.threads.getState(t.thread_id, (afterA.checkpoint as any).checkpoint_id)
    expect(at.values).toEqual(afterA.values)

    const updated = await client.threads.updateState(t.thread_id, { values: { topic: "changed" } })
    expect(updated.configurable?.checkpoint_id).toBeTruthy()
    expect((await client.threads.getState(t.thread_id)).values).toMatchObject({ topic: "changed" })
    // a value the channel's schema refuses is a 422 carrying the issue, and writes nothing
    const before = await client.threads.getState(t.thread_id)
    const refused = await client.threads.updateState(t.thread_id, { values: { topic: 42 } }).catch((e) => e)
    expect(statusOf(refused)).toBe(422)
    expect(String(refused.message)).toContain("Expected string")
    expect((await client.threads.getState(t.thread_id)).checkpoint.checkpoint_id).toBe(before.checkpoint.checkpoint_id)
  })
})

describe("runs", () => {
  it("background run, join, list, get; wait; stateless wait and stream", async () => {
    const client = server.client()
    const t = await client.threads.create({ graphId: "chain" })
    const run = await client.runs.create(t.thread_id, "chain", { input: { topic: "bg" }, metadata: { why: "test" } })
    expect(run.status).toBe("pending")
    const joined = await client.runs.join(t.thread_id, run.run_id)
    expect(joined).toEqual({ topic: "bg", steps: ["a", "b", "c"] })
    const got = await client.runs.get(t.thread_id, run.run_id)
    expect(got.status).toBe("success")
    expect(got.metadata).toEqual({ why: "test" })
    const waited = await client.runs.wait(t.thread_id, "chain", { input: { topic: "again" } })
    expect(waited).toMatchObject({ topic: "again" })
    const runs = await client.runs.list(t.thread_id)
    expect(runs.map((r) => r.run_id)).toContain(run.run_id)
    expect(runs).toHaveLength(2)

    const stateless = await client.runs.wait(null, "chain", { input: { topic: "s" } })
    expect(stateless).toEqual({ topic: "s", steps: ["a", "b", "c"] })
    const streamed = await collect(client.runs.stream(null, "chain", { input: { topic: "s2" }, streamMode: "updates" }))
    expect(streamed.filter((e) => e.event === "updates").map((e) => Object.keys(e.data as object)[0])).toEqual(["a", "b", "c"])
  })

  it("stream modes values, updates, custom, events; a reconnect with Last-Event-ID gets only what it missed", async () => {
    const client = server.client()
    const t = await client.threads.create({ graphId: "chain" })
    let runId = ""
    const events: Array<any> = await collect(client.runs.stream(t.thread_id, "chain", {
      input: { topic: "m" },
      streamMode: ["values", "updates", "custom", "events"],
      onRunCreated: (m) => void (runId = m.run_id)
    }))
    const kinds = new Set(events.map((e) => e.event))
    expect([...kinds].sort()).toEqual(["custom", "events", "metadata", "updates", "values"])
    expect(events.find((e) => e.event === "custom")!.data).toEqual({ at: "a" })
    expect(runId).not.toBe("")
    const ids = events.map((e) => Number(e.id))
    expect(ids).toEqual([...ids].sort((a, b) => a - b))
    // join the finished run's stream again, from the middle
    const middle = events[Math.floor(events.length / 2)]!
    const rest: Array<any> = await collect(client.runs.joinStream(t.thread_id, runId, { lastEventId: middle.id! }))
    expect(rest.map((e) => e.id)).toEqual(events.slice(events.indexOf(middle) + 1).map((e) => e.id))
    const all: Array<any> = await collect(client.runs.joinStream(t.thread_id, runId))
    expect(all.map((e) => e.id)).toEqual(events.map((e) => e.id))
  })
})

describe("messages", () => {
  it("messages-tuple: a node's message deltas as [chunk, metadata]; messages: the text so far", async () => {
    const client = server.client()
    const tuples: Array<any> = await collect(client.runs.stream(null, "talk", { input: {}, streamMode: "messages-tuple" }))
    const parts = tuples.filter((e) => e.event === "messages")
    expect(parts.map((e) => e.data[0].content)).toEqual(["Hel", "lo"])
    expect(parts[0].data[0]).toMatchObject({ type: "AIMessageChunk", id: "m1" })
    expect(parts[0].data[1]).toMatchObject({ langgraph_node: "say" })
    const messages: Array<any> = await collect(client.runs.stream(null, "talk", { input: {}, streamMode: "messages" }))
    expect(messages.filter((e) => e.event === "messages/metadata")).toHaveLength(1)
    expect(messages.filter((e) => e.event === "messages/partial").map((e) => e.data[0].content)).toEqual(["Hel", "Hello"])
  })
})

describe("interrupts", () => {
  it("a paused thread lists its question; a wrong answer is a 422 and the thread stays paused; command.resume continues", async () => {
    const client = server.client()
    const t = await client.threads.create({ graphId: "post" })
    const events = await collect(client.runs.stream(t.thread_id, "post", { input: { draft: "Hello" }, streamMode: ["values", "updates"] }))
    const last = events.filter((e) => e.event === "values").at(-1)!.data as any
    expect(last.__interrupt__).toEqual([expect.objectContaining({ value: { draft: "Hello!" } })])
    expect(events.filter((e) => e.event === "updates").at(-1)!.data).toHaveProperty("__interrupt__")

    const thread = await client.threads.get(t.thread_id)
    expect(thread.status).toBe("interrupted")
    const state = await client.threads.getState(t.thread_id)
    expect(state.next).toEqual(["review"])
    const pending = state.tasks[0]!.interrupts
    expect(pending).toHaveLength(1)
    expect(pending[0]!.value).toEqual({ draft: "Hello!" })
    expect((pending[0] as any).kind).toBe("Approval")
    expect(Object.values(thread.interrupts).flat()).toHaveLength(1)

    const wrong = await client.runs.wait(t.thread_id, "post", { command: { resume: { approved: "yes" } } }).catch((e) => e)
    expect(statusOf(wrong)).toBe(422)
    expect(String(wrong.message)).toContain("approved")
    expect(String(wrong.message)).toContain("Expected boolean")
    expect((await client.threads.get(t.thread_id)).status).toBe("interrupted")
    expect((await client.threads.getState(t.thread_id)).checkpoint.checkpoint_id).toBe(state.checkpoint.checkpoint_id)

    const done = await client.runs.wait(t.thread_id, "post", { command: { resume: { approved: true, note: "ok" } } })
    expect(done).toEqual({ draft: "Hello!", log: ["wrote", "approved: ok"] })
    expect((await client.threads.get(t.thread_id)).status).toBe("idle")
  })

  it("resume by interrupt id; new input on a paused thread is refused", async () => {
    const client = server.client()
    const t = await client.threads.create({ graphId: "post" })
    await client.runs.wait(t.thread_id, "post", { input: { draft: "x" } })
    const id = (await client.threads.getState(t.thread_id)).tasks[0]!.interrupts[0]!.id!
    const done = await client.runs.wait(t.thread_id, "post", { command: { resume: { [id]: { approved: false } } } })
    expect(done).toMatchObject({ log: ["wrote", "rejected"] })
    await expect(client.runs.wait(t.thread_id, "post", { command: { resume: { approved: true } } }))
      .rejects.toSatisfy((e) => statusOf(e) === 409)
  })

  it("fork from an earlier checkpoint (checkpoint_id); command update + goto; interrupt_before", async () => {
    const client = server.client()
    const t = await client.threads.create({ graphId: "chain" })
    await client.runs.wait(t.thread_id, "chain", { input: { topic: "f" } })
    const history = await client.threads.getHistory(t.thread_id)
    const afterA = history.find((h) => JSON.stringify((h.values as any).steps) === JSON.stringify(["a"]))!
    const forked = await client.runs.wait(t.thread_id, "chain", { input: null, checkpointId: afterA.checkpoint.checkpoint_id! })
    expect(forked).toEqual({ topic: "f", steps: ["a", "b", "c"] })
    const head = await client.threads.getState(t.thread_id)
    expect(head.parent_checkpoint).not.toBeNull()

    // command: update the topic as if "a" wrote it and go to "c"
    const commanded = await client.runs.wait(t.thread_id, "chain", { command: { update: { topic: "g" }, goto: "c" } })
    expect(commanded).toEqual({ topic: "g", steps: ["a", "b", "c", "c"] })

    // a breakpoint for this run only: pauses before b; continuing with no input runs on
    const b = await client.threads.create({ graphId: "chain" })
    await client.runs.wait(b.thread_id, "chain", { input: { topic: "bp" }, interruptBefore: ["b"] })
    const paused = await client.threads.getState(b.thread_id)
    expect(paused.next).toEqual(["b"])
    expect((paused.values as any).steps).toEqual(["a"])
    const resumed = await client.runs.wait(b.thread_id, "chain", { input: null })
    expect(resumed).toEqual({ topic: "bp", steps: ["a", "b", "c"] })
  })

  it("cancel a running run; it ends interrupted and keeps its finished steps", async () => {
    const client = server.client()
    const t = await client.threads.create({ graphId: "slow" })
    const run = await client.runs.create(t.thread_id, "slow", { input: { until: 1000, delayMillis: 20, label: "c" }, streamMode: "values" })
    // wait until it has done a few steps
    for await (const e of client.runs.joinStream(t.thread_id, run.run_id)) {
      if (e.event === "values" && (e.data as any).count >= 3) break
    }
    await client.runs.cancel(t.thread_id, run.run_id, true)
    const ended = await client.runs.get(t.thread_id, run.run_id)
    expect(ended.status).toBe("interrupted")
    const state = await client.threads.getState(t.thread_id)
    expect((state.values as any).count).toBeGreaterThanOrEqual(3)
    expect((state.values as any).count).toBeLessThan(1000)
    expect((await client.threads.get(t.thread_id)).status).not.toBe("busy")
  })
})
