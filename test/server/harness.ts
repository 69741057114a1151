/**
 * A real server on a free loopback port over a fresh SQLite file, and the real LangGraph client.
 */
import * as HttpServer from "@effect/platform/HttpServer"
import type * as SqlClient from "@effect/sql/SqlClient"
import { Client } from "@langchain/langgraph-sdk"
import { Context, Effect, Exit, Layer, Redacted, Scope } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Server, type StateGraph } from "effect-stategraph"

export interface Running {
  readonly url: string
  readonly token: string
  readonly filename: string
  readonly client: (token?: string) => Client
  readonly run: <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient>) => Promise<A>
  readonly close: () => Promise<void>
}

export const start = async (
  graphs: ReadonlyArray<StateGraph.AnyCompiled>,
  options: Partial<Server.Options> & { readonly filename?: string } = {}
): Promise<Running> => {
  const filename = options.filename ?? path.join(fs.mkdtempSync(path.join(os.tmpdir(), "esg-server-")), "server.db")
  const scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(
    Layer.buildWithScope(Server.layerSqlite({ port: 0, host: "127.0.0.1", ...options, graphs, filename }) as Layer.Layer<HttpServer.HttpServer | SqlClient.SqlClient, unknown>, scope)
  )
  const address = Context.get(context, HttpServer.HttpServer).address
  const port = address._tag === "TcpAddress" ? address.port : 0
  const run = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient>) => Effect.runPromise(Effect.provide(effect, context))
  const { token } = await run(Server.createToken({ name: "admin", permissions: ["administer"] }))
  const url = `http://127.0.0.1:${port}`
  return {
    url,
    token: Redacted.value(token),
    filename,
    client: (t?: string) => new Client({ apiUrl: url, apiKey: t ?? Redacted.value(token), callerOptions: { maxRetries: 0 } }),
    run,
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

/** Collects a streamed run's events. */
export const collect = async <T>(stream: AsyncIterable<T>): Promise<Array<T>> => {
  const out: Array<T> = []
  for await (const e of stream) out.push(e)
  return out
}
