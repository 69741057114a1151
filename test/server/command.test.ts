/**
 * `command` on runs, with the real `@langchain/langgraph-sdk` client against the real server:
 * `resume` with `update` is one checkpoint (answers and update, all or nothing), and
 * `update` / `goto` alone are a `Command` as the run's input (one checkpoint, then the targets).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { chain, vet } from "./graphs.js"
import { collect, type Running, start } from "./harness.js"

let server: Running
beforeAll(async () => {
  server = await start([chain, vet])
})
afterAll(() => server.close())

const statusOf = (e: unknown) => (e as { status?: number }).status
const history = (threadId: string) => server.client().threads.getHistory(threadId, { limit: 100 })

describe("command: { resume, update }", () => {
  it("answers and the update land as one checkpoint; the paused node re-runs on the updated state", async () => {
    const client = server.client()
    const t = await client.threads.create({ graphId: "vet" })
    await client.runs.wait(t.thread_id, "vet", { input: { draft: "tea" } })
    const paused = await client.threads.getState(t.thread_id)
    expect(paused.next).toEqual(["vet"])
    const before = await history(t.thread_id)
    const done = await client.runs.wait(t.thread_id, "vet", { command: { resume: { approved: true }, update: { draft: "coffee" } } })
    expect(done).toEqual({ draft: "coffee", log: ["approved coffee"] })
    const after = await history(t.thread_id)
    // one checkpoint with the answer and the update, then the one the node wrote
    expect(after.length).toBe(before.length + 2)
    const [end, resumed] = after
    expect(resumed!.parent_checkpoint?.checkpoint_id).toBe(paused.checkpoint.checkpoint_id)
    expect(resumed!.values).toEqual({ draft: "coffee" })
    expect(resumed!.next).toEqual(["vet"])
    expect(end!.parent_checkpoint?.checkpoint_id).toBe(resumed!.checkpoint.checkpoint_id)
    expect((await client.threads.get(t.thread_id)).status).toBe("idle")
  })

  it("a wrong update with a right answer (or a wrong answer with a right update) is a 422 with the issue and writes nothing", async () => {
    const client = server.client()
    const t = await client.threads.create({ graphId: "vet" })
    await client.runs.wait(t.thread_id, "vet", { input: { draft: "tea" } })
    const before = await history(t.thread_id)
    const wrongUpdate = await client.runs.wait(t.thread_id, "vet", { command: { resume: { approved: true }, update: { draft: 5 } } }).catch((e) => e)
    expect(statusOf(wrongUpdate)).toBe(422)
    expect(String(wrongUpdate.message)).toContain("Expected string")
    const wrongChannel = await client.runs.wait(t.thread_id, "vet", { command: { resume: { approved: true }, update: { nope: 1 } } }).catch((e) => e)
    expect(statusOf(wrongChannel)).toBe(422)
    const wrongAnswer = await client.runs.wait(t.thread_id, "vet", { command: { resume: { approved: "yes" }, update: { draft: "coffee" } } }).catch((e) => e)
    expect(statusOf(wrongAnswer)).toBe(422)
    expect(String(wrongAnswer.message)).toContain("Expected boolean")
    // goto cannot go with a resume
    const withGoto = await client.runs.wait(t.thread_id, "vet", { command: { resume: { approved: true }, goto: "vet" } }).catch((e) => e)
    expect(statusOf(withGoto)).toBe(422)
    expect(await history(t.thread_id)).toEqual(before)
    expect((await client.threads.get(t.thread_id)).status).toBe("interrupted")
    expect(await client.runs.list(t.thread_id)).toHaveLength(1)
    // then a right one goes through
    expect(await client.runs.wait(t.thread_id, "vet", { command: { resume: { approved: false }, update: { draft: "mate" } } }))
      .toEqual({ draft: "mate", log: ["rejected mate"] })
  })
})

describe("command: { update, goto }", () => {
  it("goto runs the target node, not the entry; with checkpoint_id it forks; on a new thread it starts there", async () => {
    const client = server.client()
    const t = await client.threads.create({ graphId: "chain" })
    await client.runs.wait(t.thread_id, "chain", { input: { topic: "x" } })
    expect(await client.runs.wait(t.thread_id, "chain", { command: { goto: "b" } })).toEqual({ topic: "x", steps: ["a", "b", "c", "b", "c"] })
    // with checkpoint_id: a fork from that checkpoint
    const afterA = (await history(t.thread_id)).find((h) => JSON.stringify((h.values as any).steps) === JSON.stringify(["a"]))!
    expect(await client.runs.wait(t.thread_id, "chain", { command: { goto: "c" }, checkpointId: afterA.checkpoint.checkpoint_id! }))
      .toEqual({ topic: "x", steps: ["a", "c"] })
    const fresh = await client.threads.create({ graphId: "chain" })
    expect(await client.runs.wait(fresh.thread_id, "chain", { command: { update: { topic: "new" }, goto: "c" } })).toEqual({ topic: "new", steps: ["c"] })
  })

  it("update + goto is one checkpoint (the update, next: the target) before the target runs; update alone runs nothing", async () => {
    const client = server.client()
    const t = await client.threads.create({ graphId: "chain" })
    await client.runs.wait(t.thread_id, "chain", { input: { topic: "f" } })
    const head = await client.threads.getState(t.thread_id)
    const before = await history(t.thread_id)
    const events = await collect(client.runs.stream(t.thread_id, "chain", { command: { update: { topic: "g" }, goto: "c" }, streamMode: ["checkpoints", "values"] }))
    expect(events.filter((e) => e.event === "values").at(-1)!.data).toEqual({ topic: "g", steps: ["a", "b", "c", "c"] })
    const after = await history(t.thread_id)
    expect(after.length).toBe(before.length + 2)
    const [end, commanded] = after
    expect(commanded!.parent_checkpoint?.checkpoint_id).toBe(head.checkpoint.checkpoint_id)
    expect(commanded!.values).toEqual({ topic: "g", steps: ["a", "b", "c"] })
    expect(commanded!.next).toEqual(["c"])
    // the run wrote it (its first checkpoint), not a state edit before the run
    const saved = events.filter((e) => e.event === "checkpoints").map((e) => (e.data as any).config.configurable.checkpoint_id)
    expect(saved).toEqual([commanded!.checkpoint.checkpoint_id, end!.checkpoint.checkpoint_id])
    expect(commanded!.metadata).not.toHaveProperty("source", "update")
    expect(end!.parent_checkpoint?.checkpoint_id).toBe(commanded!.checkpoint.checkpoint_id)
    // update alone on a finished thread: written, nothing runs
    expect(await client.runs.wait(t.thread_id, "chain", { command: { update: { steps: ["by hand"] } } }))
      .toEqual({ topic: "g", steps: ["a", "b", "c", "c", "by hand"] })
    expect((await history(t.thread_id)).length).toBe(after.length + 1)
  })

  it("on a paused thread update / goto without resume is a 409 and writes nothing; a wrong goto or update is a 422", async () => {
    const client = server.client()
    const t = await client.threads.create({ graphId: "vet" })
    await client.runs.wait(t.thread_id, "vet", { input: { draft: "tea" } })
    const before = await history(t.thread_id)
    const paused = await client.runs.wait(t.thread_id, "vet", { command: { update: { draft: "coffee" } } }).catch((e) => e)
    expect(statusOf(paused)).toBe(409)
    expect(String(paused.message)).toContain("command.resume")
    const c = await client.threads.create({ graphId: "chain" })
    await client.runs.wait(c.thread_id, "chain", { input: { topic: "x" } })
    const chainBefore = await history(c.thread_id)
    for (const command of [{ goto: "zzz" }, { update: { topic: 1 }, goto: "c" }]) {
      const refused = await client.runs.wait(c.thread_id, "chain", { command }).catch((e) => e)
      expect(statusOf(refused)).toBe(422)
    }
    expect(await history(t.thread_id)).toEqual(before)
    expect(await history(c.thread_id)).toEqual(chainBefore)
    expect((await client.threads.get(t.thread_id)).status).toBe("interrupted")
  })
})
