/**
 * The server on Postgres: `Server.layer` over `PgSnapshots` and the server's own tables in one
 * schema of the run's server, driven over HTTP with the LangGraph client — a run pauses on its
 * question, a wrong answer is refused and writes nothing, the answer resumes it — and a second
 * server on the same schema (another machine) sees and continues the same thread.
 */
import * as HttpServer from "@effect/platform/HttpServer"
import type * as SqlClient from "@effect/sql/SqlClient"
import { Client } from "@langchain/langgraph-sdk"
import { Context, Effect, Exit, Layer, Redacted, Scope } from "effect"
import { Server } from "effect-stategraph"
import * as PgSnapshots from "effect-stategraph/PgSnapshots"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { post } from "../server/graphs.js"
import { admin, cluster } from "./fixtures.js"

// a database of its own: the server's tables are not in the store's schema (they go in the
// connection's default schema), and the other tests check the shared database's `public`
const schema = "srv"
const database = `srv_${process.pid}_${Date.now().toString(36)}`
const databaseUrl = () => cluster().url.replace(/\/postgres$/, `/${database}`)
const scopes: Array<Scope.CloseableScope> = []
beforeAll(() => Effect.runPromise(admin((sql) => sql.unsafe(`CREATE DATABASE "${database}"`))))
afterAll(async () => {
  for (const scope of scopes) await Effect.runPromise(Scope.close(scope, Exit.void))
  await Effect.runPromise(admin((sql) => sql.unsafe(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`)))
})

/** A server on a free port over the schema, with a pool of its own; its URL and a token. */
const start = async () => {
  const scope = Effect.runSync(Scope.make())
  scopes.push(scope)
  const layer = Server.layer({ port: 0, host: "127.0.0.1", graphs: [post] }).pipe(
    Layer.provideMerge(PgSnapshots.layerClient({ schema })),
    Layer.provideMerge(PgSnapshots.layerPgClient({ url: databaseUrl(), maxConnections: 4 }))
  ) as Layer.Layer<HttpServer.HttpServer | SqlClient.SqlClient, unknown>
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  const address = Context.get(context, HttpServer.HttpServer).address
  const port = address._tag === "TcpAddress" ? address.port : 0
  const { token } = await Effect.runPromise(Effect.provide(Server.createToken({ name: "admin", permissions: ["administer"] }), context))
  const url = `http://127.0.0.1:${port}`
  return new Client({ apiUrl: url, apiKey: Redacted.value(token), callerOptions: { maxRetries: 0 } })
}

describe("Server on Postgres", () => {
  it("a run pauses on its question; a wrong answer is a 422 and writes nothing; the answer, sent to another server, resumes it", async () => {
    const one = await start()
    const t = await one.threads.create({ graphId: "post" })
    const paused = await one.runs.wait(t.thread_id, "post", { input: { draft: "Hello" } }) as any
    expect(paused.__interrupt__).toEqual([expect.objectContaining({ value: { draft: "Hello!" } })])
    expect((await one.threads.get(t.thread_id)).status).toBe("interrupted")
    const state = await one.threads.getState(t.thread_id)
    expect(state.next).toEqual(["review"])

    const wrong = await one.runs.wait(t.thread_id, "post", { command: { resume: { approved: "yes" } } }).catch((e) => e)
    expect(wrong?.status ?? wrong?.response?.status).toBe(422)
    expect((await one.threads.getState(t.thread_id)).checkpoint.checkpoint_id).toBe(state.checkpoint.checkpoint_id)

    // another server process on the same database: the thread, its question, the answer
    const two = await start()
    expect((await two.threads.get(t.thread_id)).status).toBe("interrupted")
    const done = await two.runs.wait(t.thread_id, "post", { command: { resume: { approved: true, note: "ok" } } })
    expect(done).toEqual({ draft: "Hello!", log: ["wrote", "approved: ok"] })
    expect((await one.threads.get(t.thread_id)).status).toBe("idle")
    expect((await one.threads.getState(t.thread_id)).values).toEqual({ draft: "Hello!", log: ["wrote", "approved: ok"] })
  })
})
