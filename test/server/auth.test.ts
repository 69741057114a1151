/**
 * Every route × every permission, read from the API definition itself (a new route is walked
 * too): 401 without a token (or with a revoked one), 403 without the permission, never a 500.
 */
import * as HttpApi from "@effect/platform/HttpApi"
import { Client } from "@langchain/langgraph-sdk"
import { Context, Redacted } from "effect"
import { Server } from "effect-stategraph"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Api, RequiredPermission } from "../../src/internal/server/api.js"
import { chain, post } from "./graphs.js"
import { type Running, start } from "./harness.js"

interface Route {
  readonly key: string
  readonly method: string
  readonly path: string
  readonly permission: Server.Permission | "none"
}

const routes: Array<Route> = []
HttpApi.reflect(Api, {
  onGroup: () => {},
  onEndpoint: ({ endpoint, group, mergedAnnotations }) => {
    const permission = Context.getOrElse(mergedAnnotations, RequiredPermission, () => undefined as never)
    routes.push({ key: `${group.identifier}.${endpoint.name}`, method: endpoint.method, path: endpoint.path, permission })
  }
})

const permissions: ReadonlyArray<Server.Permission> = ["view", "edit", "delete", "administer"]

let server: Running
const tokens = new Map<string, string>()
let revoked = ""
let scoped = ""
beforeAll(async () => {
  server = await start([post, chain])
  for (const p of permissions) {
    const { token } = await server.run(Server.createToken({ name: p, permissions: [p] }))
    tokens.set(p, Redacted.value(token))
  }
  const r = await server.run(Server.createToken({ name: "revoked", permissions: ["administer"] }))
  revoked = Redacted.value(r.token)
  expect(await server.run(Server.revokeToken(r.info.tokenId))).toBe(true)
  scoped = Redacted.value((await server.run(Server.createToken({ name: "scoped", permissions: ["administer"], graphs: ["chain"] }))).token)
})
afterAll(() => server.close())

/** A thread of `post` paused at its question, with its run, checkpoint and execution. */
const fixture = async () => {
  const client = new Client({ apiUrl: server.url, apiKey: server.token, callerOptions: { maxRetries: 0 } })
  const thread = await client.threads.create({ graphId: "post" })
  const run = await client.runs.create(thread.thread_id, "post", { input: { draft: "d" } })
  await client.runs.join(thread.thread_id, run.run_id)
  const state = await client.threads.getState(thread.thread_id)
  const snapshot: any = await (await fetch(`${server.url}/api/snapshots?threadId=${thread.thread_id}&limit=1`, { headers: { authorization: `Bearer ${server.token}` } })).json()
  return { thread_id: thread.thread_id, run_id: run.run_id, checkpoint_id: state.checkpoint.checkpoint_id!, assistant_id: "post", executionId: snapshot.snapshots[0].executionId }
}

const bodies = (ids: Awaited<ReturnType<typeof fixture>>): Record<string, unknown> => ({
  "assistants.search": {},
  "assistants.count": {},
  "threads.create": { metadata: { graph_id: "post" } },
  "threads.search": {},
  "threads.count": {},
  "threads.patch": { metadata: { a: 1 } },
  "threads.stateAtCheckpoint": { checkpoint: { checkpoint_id: ids.checkpoint_id } },
  "threads.updateState": { values: { draft: "y" } },
  "threads.history": { limit: 5 },
  "runs.create": { assistant_id: "post", command: { resume: { approved: true } } },
  "runs.stream": { assistant_id: "post", command: { resume: { approved: true } } },
  "runs.wait": { assistant_id: "post", command: { resume: { approved: true } } },
  "runs.createStateless": { assistant_id: "chain", input: { topic: "x" } },
  "runs.streamStateless": { assistant_id: "chain", input: { topic: "x" } },
  "runs.waitStateless": { assistant_id: "chain", input: { topic: "x" } },
  "inspector.threads": {},
  "inspector.cleanup": { older_than_ms: 86_400_000, statuses: ["completed"], dry_run: true },
  "snapshots.save": { workflowId: "post", workflowVersion: post.version, threadId: `snap-${ids.thread_id}`, nodeStates: { write: { status: "completed", executionOrder: 1 } } }
})

const call = async (route: Route, token: string | undefined) => {
  const ids = await fixture()
  const url = server.url + route.path.replace(/:(\w+)/g, (_, name: string) => encodeURIComponent((ids as any)[name]))
  const body = bodies(ids)[route.key]
  const res = await fetch(url, {
    method: route.method,
    headers: { ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {})
  })
  const text = await res.text()
  return { status: res.status, text }
}

describe("every route × every permission", () => {
  it("reads the routes from the API", () => {
    expect(routes.length).toBeGreaterThanOrEqual(35)
    expect(routes.filter((r) => r.permission === undefined)).toEqual([])
  })

  for (const route of routes) {
    it(`${route.method} ${route.path} (${route.permission})`, async () => {
      const results: Array<string> = []
      const none = await call(route, undefined)
      results.push(`none:${none.status}`)
      expect(none.status).toBeLessThan(500)
      if (route.permission === "none") {
        expect(none.status).toBe(200)
        return
      }
      expect(none.status).toBe(401)
      expect((await call(route, revoked)).status).toBe(401)
      expect((await call(route, "not-a-token")).status).toBe(401)
      for (const p of permissions) {
        const r = await call(route, tokens.get(p))
        results.push(`${p}:${r.status}`)
        expect(r.status, `${p}: ${r.text}`).toBeLessThan(500)
        if (p === route.permission || p === "administer") expect([401, 403], `${p}: ${r.text}`).not.toContain(r.status)
        else expect(r.status, `${p}: ${r.text}`).toBe(403)
      }
      // scoped to another graph: the post thread's routes are refused (listings are filtered instead)
      const s = await call(route, scoped)
      expect(s.status).toBeLessThan(500)
      const listing = ["assistants.search", "assistants.count", "threads.search", "threads.count", "snapshots.list", "runs.createStateless", "runs.streamStateless", "runs.waitStateless", "inspector.session", "inspector.threads"]
      if (!listing.includes(route.key)) expect(s.status, s.text).toBe(403)
    })
  }

  it("listings a scoped token sees are its graphs' only", async () => {
    const client = new Client({ apiUrl: server.url, apiKey: scoped, callerOptions: { maxRetries: 0 } })
    expect((await client.assistants.search()).map((a) => a.assistant_id)).toEqual(["chain"])
    const threads = await client.threads.search({ limit: 1000 })
    expect(threads.every((t) => t.metadata?.graph_id === "chain")).toBe(true)
  })
})
