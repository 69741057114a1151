/**
 * The embedded, durable `Snapshots` store: one SQLite file (WAL), on @effect/sql.
 *
 * - Tables are created by the @effect/sql `Migrator` (safe when several processes start at once).
 * - Every write is one transaction; a commit is a compare-and-set on the thread's run owner and
 *   head, so two processes never fork a thread (the loser gets `ThreadBusy`).
 * - Storage is incremental: a checkpoint stores only the channels its step changed, an append
 *   channel only the items the step added; reading a value walks a bounded number of rows.
 * - Rows are decoded with `Schema`; a row that does not decode is a `CorruptSnapshot`.
 *
 * ```ts
 * const main = graph.invoke(input, { threadId: "t-1" }).pipe(
 *   Effect.provide(SqliteSnapshots.layer({ filename: "data/threads.db" }))
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import type * as ConfigError from "effect/ConfigError"
import * as EffectConfig from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as fs from "node:fs"
import * as path from "node:path"
import { StoreError } from "./GraphError.js"
import * as Checkpointer from "./internal/sqlite/checkpointer.js"
import * as Migrations from "./internal/sqlite/migrations.js"
import * as internal from "./internal/sql/store.js"
import { type Backend, Snapshots } from "./Snapshots.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * How many appends of a channel stack up per level before they are merged into one blob
   * (K, default 32). With `d` the number of base-K digits of the number of appends, reading a
   * value walks at most `1 + (K - 1) · d` rows and each item is stored at most `d` times.
   */
  readonly appendFanout?: number | undefined
  /** how long an operation waits while another connection holds the write lock (default 5000 ms) */
  readonly busyTimeoutMillis?: number | undefined
  /**
   * WAL checkpoints: with `layer`, every this many commits a passive checkpoint runs in a
   * background thread (the store never waits for its disk flushes), and when a run releases its
   * thread after as many commits since the last time the WAL file is emptied, so short runs (chat
   * turns) keep the file small; when the background thread falls behind (the WAL over 64 KiB),
   * the store empties it on its own connection. With `layerClient` / `make`, the release's
   * checkpoint runs on the store's connection. Default 8; `0` leaves it all to SQLite's automatic
   * checkpoints.
   */
  readonly walCheckpointAfterCommits?: number | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Config extends Options {
  /** the database file; its directory is created when missing */
  readonly filename: string
  /**
   * When a commit is durable (SQLite's `synchronous`, in WAL mode):
   *
   * - `"normal"` (default): a commit is written to the WAL without a disk flush; it survives the
   *   process being killed (`kill -9`, a crash, an out-of-memory kill), since the operating system
   *   has the data. A power loss or an operating system crash may lose the last commits (never
   *   corrupt the file): the WAL is flushed at checkpoints.
   * - `"full"`: each commit flushes the WAL to disk (one fsync, ~0.1 ms on a fast SSD, more on a
   *   loaded or networked disk) before it returns; it also survives a power loss.
   */
  readonly synchronous?: "normal" | "full" | undefined
  /**
   * The WAL file is truncated back to this size after a checkpoint (default 8 MiB, above the
   * ~4 MB SQLite's automatic checkpoint lets it reach: a long run reuses the file instead of
   * growing it again after every checkpoint, ~10 % of a durable step here). A run that gives its
   * thread back empties the WAL anyway (`walCheckpointAfterCommits`).
   */
  readonly journalSizeLimitBytes?: number | undefined
}

const toStoreError = (operation: string) => (cause: unknown) => new StoreError({ operation, cause })

/**
 * @since 0.1.0
 * @category models
 */
export interface MakeOptions extends Options {
  /**
   * The client is the store's alone: reserve its connection for the store's lifetime instead of
   * for each operation (faster; other users of the client would wait until the scope closes),
   * and wait for other connections' locks in fiber sleeps rather than in SQLite's blocking
   * busy handler. Default false.
   */
  readonly exclusive?: boolean | undefined
}

/**
 * A store on the `SqlClient` in context (a SQLite client): runs the migrations, then returns the
 * backend, valid for the scope. The client's connection settings (WAL, `synchronous`,
 * `busy_timeout`) are the caller's.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options?: MakeOptions
): Effect.Effect<Backend, StoreError, SqlClient.SqlClient | Scope.Scope> => makeStore(options, undefined)

const makeStore = (
  options: MakeOptions | undefined,
  checkpointer: Checkpointer.Checkpointer | undefined
): Effect.Effect<Backend, StoreError, SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql.onDialectOrElse({
      sqlite: () => Effect.void,
      orElse: () => Effect.dieMessage("SqliteSnapshots needs a SQLite SqlClient")
    })
    yield* Effect.mapError(Migrations.migrate, toStoreError("migrate"))
    let exclusive: Connection | undefined
    if (options?.exclusive === true) {
      exclusive = yield* Effect.mapError(sql.reserve, toStoreError("open"))
      yield* Effect.mapError(exclusive.execute("PRAGMA busy_timeout = 0", [], undefined), toStoreError("open"))
    }
    return internal.make(sql, exclusive, { ...options, requestCheckpoint: checkpointer?.request })
  })

/**
 * The store on a `SqlClient` provided by the application (a SQLite client), shared with it.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerClient = (options?: Options): Layer.Layer<Snapshots, StoreError, SqlClient.SqlClient> =>
  Layer.scoped(Snapshots, make(options))

const synchronousOf = (config: Config): "NORMAL" | "FULL" => (config.synchronous === "full" ? "FULL" : "NORMAL")

const pragmas = (config: Config) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const int = (n: number) => Math.max(0, Math.floor(n))
    yield* sql.unsafe(`PRAGMA busy_timeout = ${int(config.busyTimeoutMillis ?? 5000)}`)
    yield* sql.unsafe(`PRAGMA journal_size_limit = ${Math.floor(config.journalSizeLimitBytes ?? 8 * 1024 * 1024)}`)
    yield* sql.unsafe(`PRAGMA synchronous = ${synchronousOf(config)}`)
    yield* sql`PRAGMA foreign_keys = OFF`
  }).pipe(Effect.mapError(toStoreError("open")))

/**
 * A SQLite client for `filename`, set up for the store: WAL journal, `synchronous` (`NORMAL` by
 * default: a commit survives a process crash, the last ones may be lost on power loss; `FULL`
 * with `synchronous: "full"`), `busy_timeout`, `journal_size_limit`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSqlClient = (
  config: Config
): Layer.Layer<SqliteClient.SqliteClient | SqlClient.SqlClient, StoreError> =>
  Layer.scopedContext(
    Effect.gen(function*() {
      if (config.filename !== ":memory:" && !config.filename.startsWith("file:")) {
        yield* Effect.try({
          try: () => fs.mkdirSync(path.dirname(path.resolve(config.filename)), { recursive: true }),
          catch: toStoreError("open")
        })
      }
      const client = yield* SqliteClient.make({ filename: config.filename }).pipe(
        Effect.catchAllDefect((cause) => Effect.fail(new StoreError({ operation: "open", cause })))
      )
      yield* Effect.provideService(pragmas(config), SqlClient.SqlClient, client)
      return Context.make(SqliteClient.SqliteClient, client).pipe(Context.add(SqlClient.SqlClient, client))
    })
  ).pipe(Layer.provide(Reactivity.layer))

/**
 * The embedded default: a store in the SQLite file `filename` (created with its directory when
 * missing), WAL mode, `synchronous` (default `NORMAL`), `busy_timeout`. The store owns the client's
 * connection; while another process holds the write lock, it waits in fiber sleeps (up to
 * `busyTimeoutMillis`) rather than blocking the thread. Its WAL checkpoints run in a background
 * thread with a connection of its own (see `walCheckpointAfterCommits`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (config: Config): Layer.Layer<Snapshots, StoreError> =>
  Layer.scoped(
    Snapshots,
    Effect.gen(function*() {
      // the store's own file: its WAL checkpoints run in a background thread (see `Options`)
      const ownFile = config.filename !== ":memory:" && !config.filename.startsWith("file:")
      const checkpointer = ownFile && (config.walCheckpointAfterCommits ?? 8) > 0
        ? yield* Checkpointer.start(path.resolve(config.filename), synchronousOf(config), 64 * 1024)
        : undefined
      return yield* makeStore({ ...config, exclusive: true }, checkpointer)
    })
  ).pipe(Layer.provide(layerSqlClient(config)))

/**
 * `layer` with its configuration read from `Config`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: EffectConfig.Config.Wrap<Config>
): Layer.Layer<Snapshots, StoreError | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(EffectConfig.unwrap(config), layer))
