import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { chain, post } from "./graphs.js"
import { collect, type Running, start } from "./harness.js"

let server: Running
beforeAll(async () => {
  server = await start([post, chain])
})
afterAll(() => server.close())

describe("smoke", () => {
  it("ok, openapi, docs", async () => {
    expect(await (await fetch(`${server.url}/ok`)).json()).toEqual({ ok: true })
    const spec: any = await (await fetch(`${server.url}/openapi.json`)).json()
    expect(spec.paths["/threads/{thread_id}/runs/stream"]).toBeDefined()
    const docs = await fetch(`${server.url}/docs`)
    expect(docs.status).toBe(200)
  })
  it("a streamed run", async () => {
    const client = server.client()
    const thread = await client.threads.create({ graphId: "chain" })
    const events = await collect(client.runs.stream(thread.thread_id, "chain", { input: { topic: "x" }, streamMode: ["values", "updates", "custom"] }))
    expect(events.map((e) => e.event)).toContain("custom")
    const state = await client.threads.getState(thread.thread_id)
    expect(state.values).toEqual({ topic: "x", steps: ["a", "b", "c"] })
  })
})
