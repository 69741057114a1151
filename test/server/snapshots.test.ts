/**
 * FlowDrop's snapshot REST API, as FlowDrop documents it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { chain, post } from "./graphs.js"
import { type Running, start } from "./harness.js"

let server: Running
beforeAll(async () => {
  server = await start([post, chain])
})
afterAll(() => server.close())

const api = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(server.url + path, {
    method,
    headers: { authorization: `Bearer ${server.token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {})
  })
  return { status: res.status, body: await res.json() as any }
}

describe("FlowDrop snapshots", () => {
  it("lists, gets and deletes the snapshots of runs, in FlowDrop's shape", async () => {
    const client = server.client()
    const t = await client.threads.create({ graphId: "chain" })
    await client.runs.wait(t.thread_id, "chain", { input: { topic: "s" } })
    const listed = await api("GET", `/api/snapshots?workflowId=chain&limit=50`)
    expect(listed.status).toBe(200)
    expect(listed.body.success).toBe(true)
    const mine = listed.body.snapshots.find((s: any) => s.threadId === t.thread_id)
    expect(mine).toMatchObject({ workflowId: "chain", status: "completed" })
    expect(mine.nodeStates.a).toMatchObject({ nodeId: "a", status: "completed", injected: false, executionOrder: 1 })
    expect(mine.nodeStates.c.executionOrder).toBe(3)

    expect((await api("GET", `/api/snapshots?workflow_id=chain`)).body.snapshots.map((s: any) => s.executionId)).toContain(mine.executionId)
    const byThread = await api("GET", `/api/snapshots?threadId=${t.thread_id}&limit=2`)
    expect(byThread.body.snapshots).toHaveLength(2)
    expect(byThread.body.snapshots.every((s: any) => s.threadId === t.thread_id)).toBe(true)

    const got = await api("GET", `/api/snapshots/${mine.executionId}`)
    expect(got.status).toBe(200)
    expect(got.body).toEqual({ success: true, snapshot: expect.objectContaining({ executionId: mine.executionId, workflowId: "chain", status: "completed", nodeStates: mine.nodeStates }) })

    const deleted = await api("DELETE", `/api/snapshots/${mine.executionId}`)
    expect(deleted.status).toBe(200)
    expect(deleted.body.success).toBe(true)
    expect(deleted.body.deleted).toBeGreaterThan(0)
    expect((await api("GET", `/api/snapshots/${mine.executionId}`)).status).toBe(404)
    expect((await api("DELETE", `/api/snapshots/${mine.executionId}`)).status).toBe(404)
  })

  it("saves a valid snapshot: completed nodes are injected and not run again", async () => {
    const saved = await api("POST", "/api/snapshots", {
      workflowId: "chain",
      workflowVersion: chain.version,
      threadId: "handed-over",
      status: "running",
      nodeStates: { a: { status: "completed", output: { steps: ["a"] }, executionOrder: 1 } },
      initialInput: { topic: "h" }
    })
    expect(saved.status).toBe(201)
    expect(saved.body.success).toBe(true)
    expect(saved.body.snapshot.nodeStates.a).toMatchObject({ status: "completed", injected: true })
    // the thread continues from b: a is not run again
    const client = server.client()
    const state = await client.threads.getState("handed-over")
    expect(state.next).toEqual(["b"])
    const done = await client.runs.wait("handed-over", "chain", { input: null })
    expect((done as any).steps).toEqual(["b", "c"])
  })

  it("refuses a snapshot with FlowDrop's codes: version mismatch, unknown node, dependency not met; nothing is written", async () => {
    const version = await api("POST", "/api/snapshots", { workflowId: "chain", workflowVersion: "not-it", threadId: "r1" })
    expect(version.status).toBe(422)
    expect(version.body).toMatchObject({ success: false, code: "VERSION_MISMATCH" })
    expect(version.body.error).toContain("Workflow version mismatch")
    const unknown = await api("POST", "/api/snapshots", {
      workflowId: "chain",
      workflowVersion: chain.version,
      threadId: "r2",
      nodeStates: { zzz: { status: "completed" } }
    })
    expect(unknown.status).toBe(422)
    expect(unknown.body).toMatchObject({ success: false, code: "UNKNOWN_NODE" })
    const dependency = await api("POST", "/api/snapshots", {
      workflowId: "chain",
      workflowVersion: chain.version,
      threadId: "r3",
      nodeStates: { a: { status: "pending" }, c: { status: "completed" } }
    })
    expect(dependency.status).toBe(422)
    expect(dependency.body).toMatchObject({ success: false, code: "DEPENDENCY_NOT_MET" })
    expect(dependency.body.errors[0].nodeId).toBe("c")
    for (const id of ["r1", "r2", "r3"]) expect((await api("GET", `/api/snapshots?threadId=${id}`)).body.snapshots).toEqual([])
    const noGraph = await api("POST", "/api/snapshots", { workflowId: "nope", workflowVersion: "x" })
    expect(noGraph.status).toBe(404)
    const bad = await api("POST", "/api/snapshots", { workflowId: 1 })
    expect(bad.status).toBe(400)
  })
})
