/**
 * The `Snapshots` store for many machines: PostgreSQL, on @effect/sql-pg. Several API and worker
 * processes on different hosts share threads through it.
 *
 * - Tables live in one schema (`stategraph` by default), created by the @effect/sql `Migrator`
 *   under an advisory lock (safe when many processes start at once).
 * - Single writer per thread across machines: a run claims a thread with a lease (renewed by its
 *   heartbeat); each commit is a compare-and-set on the thread's owner, head and (for new input)
 *   status, in one transaction; a conflict is a refused row (`ThreadBusy`), never a parsed message.
 *   A broken lease (`releaseLease({ force: true })`) fences its holder: its late writes are refused.
 * - Storage is incremental, as on SQLite: a checkpoint stores only the channels its step changed,
 *   an append channel only the items the step added; reading a head walks a bounded number of rows.
 * - Rows are decoded with `Schema`; a row that does not decode is a `CorruptSnapshot`.
 *
 * ```ts no-check
 * const main = graph.invoke(input, { threadId: "t-1" }).pipe(
 *   Effect.provide(PgSnapshots.layer({ url: "postgres://app@db.internal/app" }))
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import type * as ConfigError from "effect/ConfigError"
import * as EffectConfig from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import { StoreError } from "./GraphError.js"
import * as PgDb from "./internal/pg/db.js"
import * as Migrations from "./internal/pg/migrations.js"
import * as Statements from "./internal/pg/statements.js"
import * as internal from "./internal/sql/store.js"
import { type Backend, Snapshots } from "./Snapshots.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** the schema holding the tables (created when missing); a lowercase identifier, default `stategraph` */
  readonly schema?: string | undefined
  /** appends per level before blobs are merged (see `SqliteSnapshots.Options`); default 32 */
  readonly appendFanout?: number | undefined
}

/**
 * The connection (a `url`, or host / port / database / username / password, and the pool's
 * settings) and the store's options.
 *
 * @since 0.1.0
 * @category models
 */
export interface Config extends Options, Omit<PgClient.PgClientConfig, "url"> {
  /** `postgres://user:password@host:port/database` */
  readonly url?: string | Redacted.Redacted | undefined
}

/** The schema used when none is given. @since 0.1.0 @category models */
export const DEFAULT_SCHEMA: string = Statements.DEFAULT_SCHEMA

const toStoreError = (operation: string) => (cause: unknown) => new StoreError({ operation, cause })

/** The schema of `options`, checked. @internal */
export const schemaOf = (options: Options | undefined): Effect.Effect<string, StoreError> => {
  const schema = options?.schema ?? DEFAULT_SCHEMA
  return Statements.validSchema(schema)
    ? Effect.succeed(schema)
    : Effect.fail(new StoreError({
      operation: "open",
      cause: new Error(`schema ${JSON.stringify(schema)} is not a lowercase SQL identifier ([a-z_][a-z0-9_]*, at most 63)`)
    }))
}

/**
 * A store on the `SqlClient` in context (a Postgres client): runs the migrations, then returns
 * the backend.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options?: Options): Effect.Effect<Backend, StoreError, SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql.onDialectOrElse({
      pg: () => Effect.void,
      orElse: () => Effect.dieMessage("PgSnapshots needs a Postgres SqlClient")
    })
    const schema = yield* schemaOf(options)
    yield* Effect.mapError(
      Migrations.migrate(schema, "stategraph_migrations", Migrations.snapshotMigrations(schema)),
      toStoreError("migrate")
    )
    return internal.makeWith(
      PgDb.make(sql),
      {
        name: "PgSnapshots",
        system: "postgresql",
        sql: Statements.make(schema),
        commitOne: Statements.commitOne(schema),
        settleOne: Statements.settleOne(schema)
      },
      { appendFanout: options?.appendFanout, walCheckpointAfterCommits: 0 }
    )
  })

/**
 * The store on a Postgres client provided by the application (`PgClient.layer(...)`), shared
 * with it.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerClient = (options?: Options): Layer.Layer<Snapshots, StoreError, SqlClient.SqlClient> =>
  Layer.scoped(Snapshots, make(options))

/**
 * A Postgres client (a pool) for `config`, its connection failures as `StoreError`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerPgClient = (config: Config): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, StoreError> => {
  const { appendFanout: _f, schema: _s, url, ...rest } = config
  return PgClient.layer({
    ...rest,
    ...(url === undefined ? {} : { url: typeof url === "string" ? Redacted.make(url) : url }),
    applicationName: config.applicationName ?? "effect-stategraph"
  }).pipe(Layer.mapError(toStoreError("open")))
}

/**
 * The store in the Postgres database of `config`, with a pool of its own.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (config: Config): Layer.Layer<Snapshots, StoreError> =>
  layerClient(config).pipe(Layer.provide(layerPgClient(config)))

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
