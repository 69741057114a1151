/**
 * Bad requests are typed 4xx with a useful body — never a 500, never a partial write.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { chain, post } from "./graphs.js"
import { type Running, start } from "./harness.js"

let server: Running
beforeAll(async () => {
  server = await start([post, chain], { maxBodyBytes: 64 * 1024, maxJsonDepth: 32 })
})
afterAll(() => server.close())

const send = async (method: string, path: string, body: string | undefined, contentType = "application/json") => {
  const res = await fetch(server.url + path, {
    method,
    headers: { authorization: `Bearer ${server.token}`, ...(body !== undefined ? { "content-type": contentType } : {}) },
    ...(body !== undefined ? { body } : {})
  })
  const text = await res.text()
  return { status: res.status, text, json: (() => { try { return JSON.parse(text) } catch { return undefined } })() }
}

const threadCount = async () => (await send("POST", "/threads/count", "{}")).json as number
const runCount = async (threadId: string) => ((await send("GET", `/threads/${threadId}/runs?limit=1000`, undefined)).json as Array<unknown>).length

describe("bad input", () => {
  it("too large, not JSON, too deep, wrong shapes: 413 / 400 with a reason, nothing written", async () => {
    const before = await threadCount()
    const big = await send("POST", "/threads", JSON.stringify({ metadata: { blob: "x".repeat(100 * 1024) } }))
    expect(big.status).toBe(413)
    expect(big.json.detail).toContain("at most")
    const notJson = await send("POST", "/threads", "{ nope")
    expect(notJson.status).toBe(400)
    expect(notJson.json.detail).toContain("not JSON")
    const deep = `{"metadata":${"{\"d\":".repeat(10_000)}1${"}".repeat(10_000)}}`
    const tooDeep = await send("POST", "/threads", deep)
    expect(tooDeep.status).toBe(400)
    expect(tooDeep.json.detail).toContain("deeper than 32")
    const wrongShape = await send("POST", "/threads", JSON.stringify({ metadata: "not an object" }))
    expect(wrongShape.status).toBe(400)
    expect(wrongShape.text).toContain("metadata")
    const wrongArray = await send("POST", "/threads/search", "[1,2]")
    expect(wrongArray.status).toBe(400)
    expect(await threadCount()).toBe(before)
  })

  it("a run with input the graph refuses is a 422 with the schema issue and is not queued", async () => {
    const t = (await send("POST", "/threads", JSON.stringify({ metadata: { graph_id: "chain" } }))).json
    const cases = [
      { assistant_id: "chain", input: { topic: 5 } },
      { assistant_id: "chain", input: { nope: 1 } },
      { assistant_id: "chain", input: [1] },
      { assistant_id: "chain", input: { topic: "x" }, stream_mode: "nope" },
      { assistant_id: "chain", input: { topic: "x" }, interrupt_before: ["zzz"] },
      { assistant_id: "chain", command: { goto: "zzz" } },
      { assistant_id: "chain", checkpoint_id: "no-such-checkpoint" },
      { assistant_id: "post", input: { draft: "x" } }
    ]
    for (const body of cases) {
      const r = await send("POST", `/threads/${t.thread_id}/runs`, JSON.stringify(body))
      expect(r.status, r.text).toBeGreaterThanOrEqual(400)
      expect(r.status, r.text).toBeLessThan(500)
      expect(r.json.detail, r.text).toBeTruthy()
    }
    const issue = await send("POST", `/threads/${t.thread_id}/runs`, JSON.stringify(cases[0]))
    expect(issue.status).toBe(422)
    expect(issue.json.issue).toContain("Expected string")
    expect(await runCount(t.thread_id)).toBe(0)
    const missing = await send("POST", "/threads/no-such-thread/runs", JSON.stringify({ assistant_id: "chain", input: { topic: "x" } }))
    expect(missing.status).toBe(404)
    expect((await send("GET", "/threads/no-such-thread", undefined)).status).toBe(404)
    expect((await send("GET", "/nowhere", undefined)).status).toBe(404)
  })

  it("if_not_exists: create makes the thread for the run", async () => {
    const r = await send("POST", "/threads/made-by-run/runs/wait", JSON.stringify({ assistant_id: "chain", input: { topic: "x" }, if_not_exists: "create" }))
    expect(r.status).toBe(200)
    expect(r.json).toEqual({ topic: "x", steps: ["a", "b", "c"] })
  })
})
