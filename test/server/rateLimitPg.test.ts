/**
 * The shared rate limit on Postgres: two servers on one database (two machines) share a token's
 * budget; concurrent requests to both let exactly the budget through.
 */
import * as HttpServer from "@effect/platform/HttpServer"
import type * as SqlClient from "@effect/sql/SqlClient"
import { Context, Effect, ExecutionStrategy, Exit, Layer, Redacted, Scope } from "effect"
import { Server } from "effect-stategraph"
import * as PgSnapshots from "effect-stategraph/PgSnapshots"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { scopedDatabase } from "../pg/fixtures.js"
import { chain } from "./graphs.js"

const root = Effect.runSync(Scope.make())
let url = ""
beforeAll(async () => {
  url = await Effect.runPromise(Scope.extend(scopedDatabase("rate"), root))
})
afterAll(() => Effect.runPromise(Scope.close(root, Exit.void)))

/** A server on a free port over the database, with a pool of its own: its URL and its context. */
const start = async () => {
  const scope = Effect.runSync(Scope.fork(root, ExecutionStrategy.sequential))
  const layer = Server.layer({ port: 0, host: "127.0.0.1", graphs: [chain], rateLimit: { requests: 4, perMillis: 60_000 } }).pipe(
    Layer.provideMerge(PgSnapshots.layerClient({ schema: "rate" })),
    Layer.provideMerge(PgSnapshots.layerPgClient({ url, maxConnections: 4 }))
  ) as Layer.Layer<HttpServer.HttpServer | SqlClient.SqlClient, unknown>
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  const address = Context.get(context, HttpServer.HttpServer).address
  return { url: `http://127.0.0.1:${address._tag === "TcpAddress" ? address.port : 0}`, context }
}

describe("rate limit on Postgres", () => {
  it("two servers on one database share a token's budget", async () => {
    const a = await start()
    const b = await start()
    const { token } = await Effect.runPromise(Effect.provide(Server.createToken({ name: "t", permissions: ["view"] }), a.context))
    const search = (on: { readonly url: string }) =>
      fetch(`${on.url}/assistants/search`, {
        method: "POST",
        headers: { authorization: `Bearer ${Redacted.value(token)}`, "content-type": "application/json" },
        body: "{}"
      }).then((r) => r.status)
    const statuses = await Promise.all([a, b, a, b, a, b, a, b].map(search))
    expect(statuses.filter((s) => s === 200)).toHaveLength(4)
    expect(statuses.filter((s) => s === 429)).toHaveLength(4)
    expect(await search(a)).toBe(429)
  })
})
