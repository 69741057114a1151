/**
 * `stategraph serve`: the HTTP server (`Server`: the LangGraph API, FlowDrop's snapshot API,
 * bearer tokens) on the config's graphs and store, until SIGINT / SIGTERM.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as HttpServer from "@effect/platform/HttpServer"
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Server from "../../Server.js"
import type { Pipelines } from "../../Pipeline.js"
import type { Snapshots } from "../../Snapshots.js"
import * as Config from "./config.js"
import { CliError } from "./errors.js"
import * as out from "./output.js"
import { jsonOption, loadConfig, storeLayer } from "./root.js"

export const portOption = Options.integer("port").pipe(
  Options.withDescription("the port (default: STATEGRAPH_PORT, the config's server.port, or 2024; 0 picks a free one)"),
  Options.optional
)
export const hostOption = Options.text("host").pipe(
  Options.withDescription("the interface to listen on (default: STATEGRAPH_HOST or the config's server.host)"),
  Options.optional
)

export const executorsOption = Options.integer("executors").pipe(
  Options.withDescription("runs this process executes at once (default: the config's server.executors, or 4); 0: an API process, `stategraph worker` processes execute the runs"),
  Options.optional
)

/** What the config's store provides. */
type Store = SqlClient.SqlClient | Snapshots | Pipelines

export interface Listen {
  readonly port: number
  readonly host: string
  readonly auth: boolean
  readonly executors: number | undefined
}

/** The address from the flag, else the config (STATEGRAPH_PORT / _HOST over it), else the defaults. */
export const listenOf = (
  config: Config.Loaded,
  flags: { readonly port: Option.Option<number>; readonly host: Option.Option<string>; readonly executors?: Option.Option<number> },
  defaults: { readonly host: string; readonly auth: boolean }
) =>
  Effect.gen(function*() {
    const port = Option.getOrElse(flags.port, () => config.server.port ?? 2024)
    if (!(Number.isInteger(port) && port >= 0 && port < 65536)) {
      return yield* new CliError({ reason: "Usage", message: `--port must be a port number (0 picks a free one), not ${port}` })
    }
    if (flags.executors !== undefined && Option.isSome(flags.executors) && !(Number.isInteger(flags.executors.value) && flags.executors.value >= 0)) {
      return yield* new CliError({ reason: "Usage", message: `--executors must be 0 or more, not ${flags.executors.value}` })
    }
    if (config.graphs.length === 0) {
      return yield* new CliError({ reason: "Failed", message: "no graphs to serve: name them in stategraph.config.js (see stategraph init)" })
    }
    return {
      port,
      host: Option.getOrElse(flags.host, () => config.server.host ?? defaults.host),
      auth: defaults.auth,
      executors: flags.executors !== undefined && Option.isSome(flags.executors) ? flags.executors.value : config.server.executors
    } satisfies Listen
  })

/**
 * Runs `f` with the server listening (on the store in context), and prints where it listens;
 * stops the server when interrupted.
 */
export const withServer = <A, E, R extends Store>(
  config: Config.Loaded,
  listen: Listen,
  json: boolean,
  label: string,
  f: Effect.Effect<A, E, R>
): Effect.Effect<A, E | CliError, Store> =>
  Effect.gen(function*() {
    const url = yield* HttpServer.addressFormattedWith(Effect.succeed)
    const active = listen.auth ? (yield* Effect.orDie(Server.listTokens)).filter((t) => t.revokedAt === undefined).length : 0
    const address = yield* HttpServer.HttpServer
    const doc = {
      url,
      port: address.address._tag === "TcpAddress" ? address.address.port : null,
      graphs: config.graphs.map((g) => g.id),
      store: Config.describeStore(config.store),
      auth: listen.auth,
      activeTokens: active,
      executors: listen.executors ?? 4
    }
    yield* out.either(
      json,
      doc,
      Console.log(
        [
          `${label}: listening on ${out.bold(url)}`,
          `  graphs: ${doc.graphs.join(", ")}`,
          `  store:  ${doc.store}`,
          `  runs:   ${doc.executors === 0 ? "queued for worker processes (stategraph worker)" : `executed here, ${doc.executors} at once`}`,
          `  auth:   ${
            listen.auth
              ? `bearer tokens (${active} active${active === 0 ? "; create one: stategraph tokens create --permissions view,edit" : ""})`
              : "off (every request is an administrator)"
          }`,
          `  inspector: ${url}/inspector`,
          `  LangGraph API and FlowDrop snapshots; OpenAPI at ${url}/openapi.json, docs at ${url}/docs, health at ${url}/ok`
        ].join("\n")
      )
    )
    return yield* f
  }).pipe(
    Effect.provide(
      (Server.layer({
        graphs: config.graphs,
        port: listen.port,
        host: listen.host,
        auth: listen.auth,
        executors: listen.executors,
        rateLimit: config.server.rateLimit,
        interruptTimeoutMillis: config.server.interruptTimeoutMillis
      }) as Layer.Layer<HttpServer.HttpServer, unknown, SqlClient.SqlClient | Snapshots>).pipe(
        Layer.mapError((e) =>
          new CliError({
            reason: "Failed",
            message: `cannot serve on ${listen.host}:${listen.port}: ${e instanceof Error ? e.message : String((e as { cause?: unknown }).cause ?? e)}`
          })
        )
      )
    ),
    // the graphs' services, for the server's runs
    (effect) => (config.layer === undefined ? effect : Effect.provide(effect, config.layer)),
    Effect.onInterrupt(() => (json ? Effect.void : Console.log(`${label}: stopped`)))
  ) as Effect.Effect<A, E | CliError, Store>

export const serve = Command.make("serve", { port: portOption, host: hostOption, executors: executorsOption, json: jsonOption }, (o) =>
  Effect.gen(function*() {
    const config = yield* loadConfig
    const listen = yield* listenOf(config, o, { host: "0.0.0.0", auth: config.server.auth ?? true })
    yield* withServer(config, listen, o.json, "stategraph serve", Effect.never).pipe(Effect.provide(storeLayer(config)))
  })).pipe(Command.withDescription("run the HTTP server (LangGraph API, FlowDrop snapshots, tokens) until SIGINT / SIGTERM"))
