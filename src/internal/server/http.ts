/**
 * The server assembled: the shared context (migrations, the executor loop, event retention), the
 * authentication middleware, the request limits, the handlers, OpenAPI and the docs page, on
 * `@effect/platform-node`'s HTTP server.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiScalar from "@effect/platform/HttpApiScalar"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import type * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import { createServer } from "node:http"
import { createHash, randomUUID } from "node:crypto"
import { Snapshots } from "../../Snapshots.js"
import type { AnyCompiled } from "../../StateGraph.js"
import { InspectorLive } from "../inspector/handlers.js"
import * as InspectorStatic from "../inspector/static.js"
import { Api, Authentication } from "./api.js"
import { type Resolved, ServerContext, type Shared } from "./context.js"
import * as Db from "./db.js"
import { loop } from "./executor.js"
import { RunsLive } from "./runsHandlers.js"
import { SnapshotsLive } from "./snapshots.js"
import { AssistantsLive, SystemLive, ThreadsLive } from "./threads.js"
import * as Tokens from "./tokens.js"

/** @internal */
export interface Config extends Partial<{ readonly [K in Exclude<keyof Resolved, "rateLimit">]: Resolved[K] | undefined }> {
  readonly rateLimit?: { readonly requests: number; readonly perMillis: number; readonly shared?: boolean | undefined } | undefined
  readonly graphs: ReadonlyArray<AnyCompiled>
  readonly port?: number | undefined
  readonly host?: string | undefined
  readonly cors?: Parameters<typeof HttpApiBuilder.middlewareCors>[0] | false | undefined
}

const defaults: Resolved = {
  executors: 4,
  pollMillis: 100,
  runLeaseMillis: 30_000,
  interruptTimeoutMillis: 30_000,
  eventRetentionMillis: 24 * 60 * 60 * 1000,
  maxBodyBytes: 1024 * 1024,
  maxJsonDepth: 64,
  auth: true,
  rateLimit: undefined
}

/** @internal */
export const resolve = (config: Config): Resolved => ({
  executors: config.executors ?? defaults.executors,
  pollMillis: config.pollMillis ?? defaults.pollMillis,
  runLeaseMillis: config.runLeaseMillis ?? defaults.runLeaseMillis,
  interruptTimeoutMillis: Math.max(0, config.interruptTimeoutMillis ?? defaults.interruptTimeoutMillis),
  eventRetentionMillis: config.eventRetentionMillis ?? defaults.eventRetentionMillis,
  maxBodyBytes: config.maxBodyBytes ?? defaults.maxBodyBytes,
  maxJsonDepth: config.maxJsonDepth ?? defaults.maxJsonDepth,
  auth: config.auth ?? defaults.auth,
  rateLimit: config.rateLimit === undefined || config.rateLimit === null
    ? undefined
    : {
      requests: Math.max(1, Math.floor(config.rateLimit.requests)),
      perMillis: Math.max(1, config.rateLimit.perMillis),
      shared: config.rateLimit.shared ?? true
    }
})

/** The shared context; starts the executors and the event-log retention. @internal */
export const contextLayer = (config: Config) =>
  Layer.scoped(
    ServerContext,
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* Db.migrate
      const store = yield* Snapshots
      const services = yield* Effect.context<never>()
      const options = resolve(config)
      const shared: Shared = {
        db: Db.make(sql),
        store,
        graphs: new Map(config.graphs.map((g) => [g.id, g])),
        services,
        startedAt: Date.now(),
        workerId: randomUUID(),
        options,
        waiters: new Map(),
        wakeups: yield* Queue.sliding<void>(1),
        stops: new Map()
      }
      if (options.executors > 0) yield* Effect.forkScoped(loop(shared))
      const limit = options.rateLimit
      yield* Effect.forkScoped(
        Effect.suspend(() =>
          Effect.ignore(Effect.zip(
            shared.db.deleteEventsBefore(Date.now() - options.eventRetentionMillis),
            limit?.shared === true ? Db.pruneRate(sql, Date.now() - limit.perMillis) : Effect.void
          ))
        ).pipe(Effect.repeat(Schedule.spaced("1 minute")))
      )
      return shared
    })
  )

const AuthenticationLive = Layer.effect(
  Authentication,
  Effect.map(ServerContext, (ctx) => {
    const check = (token: import("effect/Redacted").Redacted<string>) =>
      ctx.options.auth ? Tokens.authenticate(ctx.db, token) : Effect.succeed(Tokens.anonymousAdmin)
    return { bearer: check, apiKey: check }
  })
)

const refuse = (status: number, tag: string, detail: string) => HttpServerResponse.unsafeJson({ _tag: tag, detail }, { status })

const depthOf = (value: unknown, limit: number): boolean => {
  // iterative: a deep body must not overflow the stack of the check itself
  const stack: Array<[unknown, number]> = [[value, 1]]
  while (stack.length > 0) {
    const [v, d] = stack.pop()!
    if (typeof v !== "object" || v === null) continue
    if (d > limit) return false
    for (const child of Object.values(v)) stack.push([child, d + 1])
  }
  return true
}

/** The token a request carries (bearer or x-api-key), hashed: the rate limit's key. */
const tokenKey = (headers: Readonly<Record<string, string | undefined>>) => {
  const auth = headers["authorization"]
  const token = auth !== undefined && /^bearer /i.test(auth) ? auth.slice(7).trim() : headers["x-api-key"]
  return token === undefined || token === "" ? "anonymous" : createHash("sha256").update(token).digest("base64url")
}

type Limit = NonNullable<Resolved["rateLimit"]>

/**
 * A token bucket per token, in this process's memory: `requests` at once, refilled evenly over
 * `perMillis`. Returns how long to wait (ms) when the request is refused, else 0.
 */
const processLimiter = (limit: Limit) => {
  const buckets = new Map<string, { tokens: number; at: number }>()
  const rate = limit.requests / limit.perMillis
  return (key: string, now: number): Effect.Effect<number> =>
    Effect.sync(() => {
      let b = buckets.get(key)
      if (b === undefined) {
        // forget full buckets now and then: they are the same as no bucket
        if (buckets.size >= 10_000) {
          for (const [k, v] of buckets) if (v.tokens + (now - v.at) * rate >= limit.requests) buckets.delete(k)
        }
        buckets.set(key, b = { tokens: limit.requests, at: now })
      } else {
        b.tokens = Math.min(limit.requests, b.tokens + Math.max(0, now - b.at) * rate)
        b.at = Math.max(b.at, now)
      }
      if (b.tokens >= 1) {
        b.tokens -= 1
        return 0
      }
      return Math.ceil((1 - b.tokens) / rate)
    })
}

/**
 * The same bucket in the database (`stategraph_server_rate`), taken from in one statement: every
 * server process on the database shares a token's budget. A database that does not answer is a
 * 503, as for any other request.
 */
const sharedLimiter = (limit: Limit) => {
  const rate = limit.requests / limit.perMillis
  return (key: string, now: number): Effect.Effect<number, string, SqlClient.SqlClient> =>
    Effect.flatMap(SqlClient.SqlClient, (sql) =>
      Db.takeRate(sql, key, limit, now).pipe(
        Effect.map((r) => (r.allowed ? 0 : Math.ceil((1 - r.tokens) / rate))),
        Effect.mapError((e) => `the rate limit: ${e.message}`)
      ))
}

/**
 * Bodies over `maxBodyBytes` are a 413, JSON that does not parse or nests deeper than
 * `maxJsonDepth` a 400 — before any handler runs (the body is read once and cached).
 */
const limits = (options: Resolved) => {
  const limit = options.rateLimit
  const limited = limit === undefined ? undefined : limit.shared ? sharedLimiter(limit) : processLimiter(limit)
  return HttpMiddleware.make((app) =>
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      if (limited !== undefined && request.url !== "/ok") {
        const wait = yield* Effect.either(limited(tokenKey(request.headers), Date.now()))
        if (Either.isLeft(wait)) return refuse(503, "Unavailable", wait.left)
        if (wait.right > 0) {
          const seconds = Math.max(1, Math.ceil(wait.right / 1000))
          return HttpServerResponse.unsafeJson(
            { _tag: "TooManyRequests", detail: `more than ${options.rateLimit!.requests} requests in ${options.rateLimit!.perMillis} ms with this token; retry in ${seconds} s` },
            { status: 429, headers: { "retry-after": String(seconds) } }
          )
        }
      }
      if (request.method === "GET" || request.method === "HEAD" || request.method === "OPTIONS") return yield* app
      const length = Number(request.headers["content-length"] ?? "0")
      if (length > options.maxBodyBytes) {
        return refuse(413, "PayloadTooLarge", `the body is ${length} bytes; at most ${options.maxBodyBytes}`)
      }
      const text = yield* Effect.either(
        HttpIncomingMessage.withMaxBodySize(request.text, Option.some(options.maxBodyBytes))
      )
      if (Either.isLeft(text)) return refuse(413, "PayloadTooLarge", `the body could not be read within ${options.maxBodyBytes} bytes`)
      if (text.right !== "" && (request.headers["content-type"] ?? "").includes("json")) {
        let parsed: unknown
        try {
          parsed = JSON.parse(text.right)
        } catch (e) {
          return refuse(400, "BadRequest", `the body is not JSON: ${(e as Error).message}`)
        }
        if (!depthOf(parsed, options.maxJsonDepth)) {
          return refuse(400, "BadRequest", `the body nests deeper than ${options.maxJsonDepth} levels`)
        }
      }
      return yield* app
    })
  )
}

/**
 * Only the run executor (no HTTP): a worker process executing the runs API processes queue on
 * the same database. @internal
 */
export const executorLayer = (config: Config): Layer.Layer<never, unknown, SqlClient.SqlClient | Snapshots> =>
  Layer.provide(Layer.empty, contextLayer({ ...config, executors: Math.max(1, config.executors ?? defaults.executors) }))

/** The HTTP API on the context (no listener). @internal */
export const apiLayer = (config: Config) =>
  HttpApiBuilder.api(Api).pipe(
    Layer.provide([SystemLive, AssistantsLive, ThreadsLive, RunsLive, SnapshotsLive, InspectorLive]),
    Layer.provide(AuthenticationLive)
  )

/** The server listening on `port` (0: a free one), on the SqlClient and the store in context. @internal */
export const layer = (config: Config) => {
  const options = resolve(config)
  const served = HttpApiBuilder.serve((app) => limits(options)(app)).pipe(
    Layer.provide(HttpApiScalar.layer({ path: "/docs" })),
    Layer.provide(InspectorStatic.layer),
    Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" })),
    Layer.provide(config.cors === false || config.cors === undefined ? Layer.empty : HttpApiBuilder.middlewareCors(config.cors)),
    Layer.provide(apiLayer(config))
  )
  // @effect/platform-node is an optional peer: loaded when a server starts, so importing the
  // package without it installed works
  const listener = Layer.unwrapEffect(
    Effect.map(
      Effect.promise(() => import("@effect/platform-node/NodeHttpServer")),
      (NodeHttpServer) => NodeHttpServer.layer(createServer, { port: config.port ?? 2024, ...(config.host !== undefined ? { host: config.host } : {}) })
    )
  )
  return Layer.provideMerge(served, listener)
    .pipe(Layer.provide(contextLayer(config))) as Layer.Layer<
      HttpServer.HttpServer,
      unknown,
      SqlClient.SqlClient | Snapshots
    >
}
