/**
 * The HTTP server: the API LangGraph's own client (`@langchain/langgraph-sdk`) talks to —
 * assistants (one per registered graph), threads, runs in the background, waited or streamed
 * over SSE, interrupts answered with `command: { resume }`, double texting — and FlowDrop's
 * snapshot REST API; bearer tokens with FlowDrop's permissions; OpenAPI at `/openapi.json`, a
 * docs page at `/docs`, health at `/ok`.
 *
 * Runs are queued in the database and executed by the executors of any server process sharing
 * it; their events go to a durable log, so a client streaming from one process may reconnect to
 * another with `Last-Event-ID`.
 *
 * ```ts no-check
 * const main = Server.launchSqlite({ filename: ".data/app.db", graphs: [approvalFlow], port: 2024 })
 * NodeRuntime.runMain(main)
 * ```
 *
 * @since 0.1.0
 */
import type * as HttpServer from "@effect/platform/HttpServer"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import type { ServicesOf } from "./Graphs.js"
import * as Db from "./internal/server/db.js"
import * as internal from "./internal/server/http.js"
import type * as Models from "./internal/server/models.js"
import * as Tokens from "./internal/server/tokens.js"
import type { StoreError } from "./GraphError.js"
import type { Snapshots } from "./Snapshots.js"
import * as SqliteSnapshots from "./SqliteSnapshots.js"
import type { AnyCompiled } from "./StateGraph.js"

/**
 * FlowDrop's four permissions: `view` (read), `edit` (create threads, run, resume, update state,
 * save snapshots), `delete`, `administer` (everything).
 *
 * @since 0.1.0
 * @category models
 */
export type Permission = Models.Permission

/**
 * @since 0.1.0
 * @category models
 */
export interface Options<G extends ReadonlyArray<AnyCompiled> = ReadonlyArray<AnyCompiled>> {
  /** the graphs served; each is an assistant whose id is the graph's id */
  readonly graphs: G
  /** default 2024 (LangGraph's); 0 picks a free port */
  readonly port?: number | undefined
  readonly host?: string | undefined
  /** require bearer tokens (default true); false makes every request an administrator (development) */
  readonly auth?: boolean | undefined
  /** runs executed at once by this process (default 4; 0: an API process, runs go to other processes) */
  readonly executors?: number | undefined
  /** how often idle executors and waiting streams look at the database for other processes' work (default 100 ms) */
  readonly pollMillis?: number | undefined
  /** how long a run stays its executor's without a renewal before another process takes it over (default 30 s) */
  readonly runLeaseMillis?: number | undefined
  /**
   * double texting `interrupt` stops the running run at its next step boundary; a run that has
   * not reached one this long after the request (a step that never ends) is stopped at once, as
   * `cancel` and `rollback` stop a run: its step in flight is abandoned, its finished steps stay
   * (default 30 s)
   */
  readonly interruptTimeoutMillis?: number | undefined
  /** how long run events (the SSE log) are kept (default one day) */
  readonly eventRetentionMillis?: number | undefined
  /** the largest request body (default 1 MiB): larger is a 413 */
  readonly maxBodyBytes?: number | undefined
  /** the deepest JSON body (default 64 levels): deeper is a 400 */
  readonly maxJsonDepth?: number | undefined
  /**
   * at most `requests` requests per `perMillis` for each token (default: no limit): a bucket per
   * token, refilled evenly; over it is a 429 with `Retry-After` (seconds). `/ok` is never limited.
   * The bucket is in the database (`shared`, the default): every server process on it shares a
   * token's budget, for one small write per request; `shared: false` keeps a bucket in each
   * process's memory instead (no write, but N processes allow a token N times the limit)
   */
  readonly rateLimit?: {
    readonly requests: number
    readonly perMillis: number
    readonly shared?: boolean | undefined
  } | undefined
  /** CORS for browser front ends (default off) */
  readonly cors?: {
    readonly allowedOrigins?: ReadonlyArray<string> | undefined
    readonly allowedHeaders?: ReadonlyArray<string> | undefined
    readonly credentials?: boolean | undefined
  } | undefined
}

/**
 * The server on the `SqlClient` and the `Snapshots` store in context (they must share the
 * database: the server's tables sit beside the store's). Provides the listening `HttpServer`
 * (its `address` tells the port when `port` is 0).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <const G extends ReadonlyArray<AnyCompiled>>(
  options: Options<G>
): Layer.Layer<HttpServer.HttpServer, unknown, SqlClient.SqlClient | Snapshots | ServicesOf<G[number]>> =>
  internal.layer({ ...options, cors: options.cors ?? false })

/**
 * @since 0.1.0
 * @category models
 */
export interface ExecutorOptions<G extends ReadonlyArray<AnyCompiled> = ReadonlyArray<AnyCompiled>> {
  /** the graphs whose runs this process executes (runs of other graphs wait for a process that has them) */
  readonly graphs: G
  /** runs executed at once (default 4) */
  readonly executors?: number | undefined
  /** how often an idle executor looks for queued runs (default 100 ms; runs queued in this process wake it at once) */
  readonly pollMillis?: number | undefined
  /** how long a run stays this process's without a renewal before another takes it over (default 30 s) */
  readonly runLeaseMillis?: number | undefined
  /**
   * double texting `interrupt` stops the running run at its next step boundary; a run that has
   * not reached one this long after the request (a step that never ends) is stopped at once, as
   * `cancel` and `rollback` stop a run: its step in flight is abandoned, its finished steps stay
   * (default 30 s)
   */
  readonly interruptTimeoutMillis?: number | undefined
  /** how long run events (the SSE log) are kept (default one day) */
  readonly eventRetentionMillis?: number | undefined
}

/**
 * The run executor alone, without HTTP: a worker process that executes the runs API processes
 * (`layer` with `executors: 0`) queue on the same database, and writes what they stream to the
 * run-event log those API processes serve. `stategraph worker` runs it beside the `async`
 * orchestrator's worker pool.
 *
 * ```ts no-check
 * const worker = Server.layerExecutor({ graphs: [approvalFlow], executors: 8 }).pipe(
 *   Layer.provide(SqliteSnapshots.layerClient()),
 *   Layer.provide(SqliteSnapshots.layerSqlClient({ filename: "data/app.db" }))
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerExecutor = <const G extends ReadonlyArray<AnyCompiled>>(
  options: ExecutorOptions<G>
): Layer.Layer<never, unknown, SqlClient.SqlClient | Snapshots | ServicesOf<G[number]>> => internal.executorLayer(options)

/**
 * @since 0.1.0
 * @category models
 */
export interface SqliteOptions<G extends ReadonlyArray<AnyCompiled>> extends Options<G> {
  /** the SQLite file of the store and the server's tables */
  readonly filename: string
}

/**
 * The server and its store in one SQLite file: the embedded default, for one machine.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSqlite = <const G extends ReadonlyArray<AnyCompiled>>(
  options: SqliteOptions<G>
): Layer.Layer<HttpServer.HttpServer | SqlClient.SqlClient, unknown, ServicesOf<G[number]>> =>
  layer(options).pipe(
    Layer.provideMerge(SqliteSnapshots.layerClient()),
    Layer.provideMerge(SqliteSnapshots.layerSqlClient({ filename: options.filename }))
  )

/**
 * Runs the SQLite server until interrupted (a runnable entry: `NodeRuntime.runMain(launchSqlite(…))`).
 *
 * @since 0.1.0
 * @category running
 */
export const launchSqlite = <const G extends ReadonlyArray<AnyCompiled>>(
  options: SqliteOptions<G>
): Effect.Effect<never, unknown, ServicesOf<G[number]>> => Layer.launch(layerSqlite(options))

// ---------------------------------------------------------------------------------------------
// tokens
// ---------------------------------------------------------------------------------------------

/**
 * A token as listed (its secret is never stored: only a SHA-256 hash).
 *
 * @since 0.1.0
 * @category models
 */
export type TokenInfo = Tokens.TokenInfo

/**
 * Creates a bearer token on the database in context; the secret is returned once.
 *
 * ```ts no-check
 * const { token } = yield* Server.createToken({ name: "inbox", permissions: ["view", "edit"], graphs: ["approval-flow"] })
 * ```
 *
 * @since 0.1.0
 * @category tokens
 */
export const createToken: (options: {
  readonly name: string
  readonly permissions: ReadonlyArray<Permission>
  /** scope the token to these graphs (default: all) */
  readonly graphs?: ReadonlyArray<string> | undefined
}) => Effect.Effect<{ readonly token: Redacted.Redacted<string>; readonly info: TokenInfo }, SqlError | StoreError, SqlClient.SqlClient> = Effect
  .fn("Server.createToken")(function*(options) {
    const sql = yield* SqlClient.SqlClient
    yield* migrated
    return yield* Tokens.create(Db.make(sql), options)
  })

/**
 * Revokes a token: its requests are refused (401) from now on. Returns whether it was active.
 *
 * @since 0.1.0
 * @category tokens
 */
export const revokeToken: (tokenId: string) => Effect.Effect<boolean, SqlError | StoreError, SqlClient.SqlClient> = Effect.fn(
  "Server.revokeToken"
)(function*(tokenId) {
  const sql = yield* SqlClient.SqlClient
  yield* migrated
  return yield* Tokens.revoke(Db.make(sql), tokenId)
})

/**
 * Every token, revoked ones included.
 *
 * @since 0.1.0
 * @category tokens
 */
export const listTokens: Effect.Effect<ReadonlyArray<TokenInfo>, SqlError | StoreError, SqlClient.SqlClient> = Effect.gen(
  function*() {
    const sql = yield* SqlClient.SqlClient
    yield* migrated
    return yield* Tokens.list(Db.make(sql))
  }
).pipe(Effect.withSpan("Server.listTokens"))

const migrated = Effect.catchAll(Db.migrate, (cause) => Effect.die(cause)) as Effect.Effect<void, never, SqlClient.SqlClient>
