/**
 * The root `stategraph` command and what every subcommand shares: the loaded config and the store.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Pipeline from "../../Pipeline.js"
import * as Config from "./config.js"
import { CliError } from "./errors.js"

export const root = Command.make("stategraph", {
  config: Options.text("config").pipe(
    Options.withDescription("the config file (default: stategraph.config.{js,mjs,ts,mts} here, or STATEGRAPH_CONFIG)"),
    Options.optional
  ),
  db: Options.text("db").pipe(
    Options.withDescription("the store: a SQLite file or a postgres:// URL (default: STATEGRAPH_DB, the config's store, or .data/threads.db)"),
    Options.optional
  )
})

/** `--json`, shared by the commands that print data. */
export const jsonOption = Options.boolean("json").pipe(Options.withDescription("print JSON for scripts"))

/** The loaded config of this invocation. */
export const loadConfig = Effect.flatMap(root, (r) =>
  Config.load({ cwd: process.cwd(), file: Option.getOrUndefined(r.config), db: Option.getOrUndefined(r.db) }))

/** The store (snapshots, the queue, and its SQL client) of the config: a SQLite file or a Postgres database. */
export const storeLayer = (config: Config.Loaded) =>
  (config.store._tag === "sqlite"
    ? Pipeline.layerSqlite({ filename: config.store.filename })
    : Pipeline.layerPg({ url: config.store.url, schema: config.store.schema, applicationName: "stategraph-cli" })).pipe(
      Layer.mapError((e) => new CliError({ reason: "Failed", message: `cannot open ${Config.describeStore(config.store)}: ${e.message}` }))
    )

/** Runs `f` with the config and its store provided. */
export const withStore = <A, E, R>(f: (config: Config.Loaded) => Effect.Effect<A, E, R>) =>
  Effect.flatMap(loadConfig, (config) => Effect.provide(f(config), storeLayer(config)))
