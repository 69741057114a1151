/**
 * The CLI's configuration: `stategraph.config.{js,mjs,ts,mts}` in the working directory (or the
 * file `--config` / STATEGRAPH_CONFIG names) default-exports `{ graphs, store, server, layer }`;
 * `--db` / STATEGRAPH_DB override the store (a SQLite file, or a `postgres://` URL), STATEGRAPH_PORT
 * and STATEGRAPH_HOST the server's address.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as fs from "node:fs"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import type { Snapshots } from "../../Snapshots.js"
import type { AnyKind } from "../../Interrupt.js"
import type { AnyCompiled } from "../../StateGraph.js"
import { CliError } from "./errors.js"

/** What a config file exports. */
export interface Config {
  /**
   * The graphs the CLI and its workers know: compiled graphs, or `"./module.js:exportName"`
   * strings (resolved from the config file's folder; the export defaults to `graph`).
   */
  readonly graphs: ReadonlyArray<AnyCompiled | string>
  /**
   * The store: a SQLite file (default `.data/threads.db`, relative to the config file), or a
   * Postgres database (`postgres: "postgres://user@host/db"`, or `{ url, schema }` for the tables'
   * schema, default `stategraph`). One of the two.
   */
  readonly store?: {
    readonly sqlite?: string | undefined
    readonly postgres?: string | { readonly url: string; readonly schema?: string | undefined } | undefined
  } | undefined
  /** `stategraph serve` / `dev`: the address, whether bearer tokens are required, how many runs at once. */
  readonly server?: {
    readonly port?: number | undefined
    readonly host?: string | undefined
    /** require bearer tokens (default true for `serve`; `dev` runs without unless `--auth`) */
    readonly auth?: boolean | undefined
    /** runs executed at once by a server process (default 4) */
    readonly executors?: number | undefined
    /** at most `requests` per `perMillis` for each token (default: no limit); over it is a 429 */
    readonly rateLimit?: import("../../Server.js").Options["rateLimit"]
    /** double texting `interrupt`: how long a run may take to reach its next step boundary before it is stopped at once (default 30 s; `serve` and `worker`) */
    readonly interruptTimeoutMillis?: number | undefined
  } | undefined
  /** The services the graphs' nodes need (a mailer, a model…), provided to every run the CLI starts. */
  readonly layer?: Layer.Layer<any, any, never> | undefined
}

/** A loaded config: graphs resolved, paths absolute. */
export interface Loaded {
  readonly file: string | undefined
  readonly graphs: ReadonlyArray<AnyCompiled>
  /**
   * Interrupt kinds exported next to each graph (by graph id; "" for the config file's own): a
   * fresh CLI process checks answers with them when the graph did not declare its kinds
   */
  readonly kinds: ReadonlyMap<string, ReadonlyArray<AnyKind>>
  readonly store: Store
  readonly server: NonNullable<Config["server"]>
  readonly layer: Layer.Layer<any, any, never> | undefined
  /** The config file and the graph modules it names (what `stategraph dev` watches). */
  readonly modules: ReadonlyArray<string>
}

/** Where threads are kept. */
export type Store =
  | { readonly _tag: "sqlite"; readonly filename: string }
  | { readonly _tag: "postgres"; readonly url: string; readonly schema: string | undefined }

const isPostgresUrl = (s: string) => /^postgres(ql)?:\/\//.test(s)

/** The store for people: a SQLite path, or a Postgres URL without its password. */
export const describeStore = (store: Store): string => {
  if (store._tag === "sqlite") return store.filename
  try {
    const url = new URL(store.url)
    if (url.password !== "") url.password = "***"
    return `${url.href}${store.schema === undefined ? "" : ` (schema ${store.schema})`}`
  } catch {
    return "postgres (an unparsable URL)"
  }
}

const names = ["stategraph.config.js", "stategraph.config.mjs", "stategraph.config.ts", "stategraph.config.mts"]

const isKind = (u: unknown): u is AnyKind =>
  typeof u === "function" && "kind" in u && "responseSchema" in u && "respondTo" in u

/** The interrupt kinds a module exports. */
const kindsOf = (mod: unknown): Array<AnyKind> =>
  typeof mod === "object" && mod !== null ? Object.values(mod).filter(isKind) : []

const isCompiled = (u: unknown): u is AnyCompiled =>
  typeof u === "object" && u !== null && "id" in u && "version" in u && "invoke" in u && "toMermaid" in u

/** Imports a module; a TypeScript one through tsx's loader when Node cannot load it itself. */
const importModule = (file: string) =>
  Effect.tryPromise({
    try: async () => {
      const url = pathToFileURL(file).href
      try {
        return await import(url)
      } catch (e) {
        if ((e as { code?: string }).code !== "ERR_UNKNOWN_FILE_EXTENSION") throw e
        const tsx: { register: () => unknown } = await import("tsx/esm/api" as string).catch(() => {
          throw new Error(`${path.basename(file)} is TypeScript: install tsx (npm i -D tsx) or write the file in JavaScript`)
        })
        tsx.register()
        return await import(url)
      }
    },
    catch: (e) => new CliError({ reason: "Failed", message: `cannot load ${file}: ${e instanceof Error ? e.message : String(e)}` })
  })

/** A graph of the config, with the interrupt kinds its module exports. */
interface ResolvedGraph {
  readonly graph: AnyCompiled
  readonly kinds: ReadonlyArray<AnyKind>
  /** the module file it was imported from */
  readonly module: string | undefined
}

const resolveGraph = (entry: AnyCompiled | string, dir: string): Effect.Effect<ResolvedGraph, CliError> => {
  if (isCompiled(entry)) return Effect.succeed({ graph: entry, kinds: [], module: undefined })
  const [modulePath, exportName = "graph"] = entry.split(":")
  const file = path.resolve(dir, modulePath!)
  return Effect.flatMap(importModule(file), (mod) => {
    const value = (mod as Record<string, unknown>)[exportName]
    return isCompiled(value)
      ? Effect.succeed({ graph: value, kinds: kindsOf(mod), module: file })
      : Effect.fail(new CliError({ reason: "Failed", message: `${entry}: the export '${exportName}' is not a compiled graph` }))
  })
}

/** Finds and loads the config; without a file, no graphs and the default SQLite file. */
export const load = (options: { readonly cwd: string; readonly file?: string | undefined; readonly db?: string | undefined }) =>
  Effect.gen(function*() {
    const named = options.file ?? process.env["STATEGRAPH_CONFIG"]
    const file = named !== undefined
      ? path.resolve(options.cwd, named)
      : names.map((n) => path.join(options.cwd, n)).find((f) => fs.existsSync(f))
    if (named !== undefined && !fs.existsSync(file!)) {
      return yield* new CliError({ reason: "NotFound", message: `no config file ${file}` })
    }
    const dir = file === undefined ? options.cwd : path.dirname(file)
    const mod: unknown = file === undefined ? { default: { graphs: [] } } : yield* importModule(file)
    const config: Config = (mod as { default?: Config }).default ?? (mod as Config)
    if (!Array.isArray(config.graphs)) {
      return yield* new CliError({ reason: "Failed", message: `${file}: 'graphs' must be an array of graphs or "module:export" strings` })
    }
    const resolved = yield* Effect.forEach(config.graphs, (g) => resolveGraph(g, dir))
    const graphs = resolved.map((r) => r.graph)
    const kinds = new Map<string, ReadonlyArray<AnyKind>>([["", kindsOf(mod)], ...resolved.map((r) => [r.graph.id, r.kinds] as const)])
    if (config.layer !== undefined && !Layer.isLayer(config.layer)) {
      return yield* new CliError({ reason: "Failed", message: `${file}: 'layer' must be an Effect Layer` })
    }
    const store = yield* storeOf(config, file, options.db !== undefined ? { value: options.db, base: options.cwd } : undefined, dir)
    const server = yield* serverOf(config, file)
    const modules = [...(file === undefined ? [] : [file]), ...resolved.flatMap((r) => (r.module === undefined ? [] : [r.module]))]
    return { file, graphs, kinds, store, server, layer: config.layer, modules } satisfies Loaded
  })

/**
 * The store: `--db`, else STATEGRAPH_DB (a SQLite file or a `postgres://` URL), else the config's
 * `store`, else `.data/threads.db`. Relative SQLite paths are the config folder's (`--db`'s: the
 * working directory's).
 */
const storeOf = (config: Config, file: string | undefined, flag: { readonly value: string; readonly base: string } | undefined, dir: string) =>
  Effect.gen(function*() {
    const override = flag ?? (process.env["STATEGRAPH_DB"] ? { value: process.env["STATEGRAPH_DB"], base: dir } : undefined)
    const pgSchema = typeof config.store?.postgres === "object" ? config.store.postgres.schema : undefined
    if (override !== undefined) {
      return isPostgresUrl(override.value)
        ? { _tag: "postgres", url: override.value, schema: pgSchema } as const
        : { _tag: "sqlite", filename: path.resolve(override.base, override.value) } as const
    }
    const { postgres, sqlite } = config.store ?? {}
    if (postgres !== undefined && sqlite !== undefined) {
      return yield* new CliError({ reason: "Failed", message: `${file}: 'store' names both sqlite and postgres; keep one` })
    }
    if (postgres !== undefined) {
      const url = typeof postgres === "string" ? postgres : postgres.url
      if (typeof url !== "string" || !isPostgresUrl(url)) {
        return yield* new CliError({ reason: "Failed", message: `${file}: 'store.postgres' must be a postgres:// URL (or { url, schema })` })
      }
      return { _tag: "postgres", url, schema: pgSchema } as const
    }
    return { _tag: "sqlite", filename: path.resolve(dir, sqlite ?? ".data/threads.db") } as const
  })

/** The config's server settings with STATEGRAPH_PORT / STATEGRAPH_HOST over them. */
const serverOf = (config: Config, file: string | undefined) =>
  Effect.gen(function*() {
    const server = config.server ?? {}
    const envPort = process.env["STATEGRAPH_PORT"]
    const port = envPort !== undefined && envPort !== "" ? Number(envPort) : server.port
    if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port < 65536)) {
      return yield* new CliError({
        reason: "Usage",
        message: `${envPort !== undefined ? "STATEGRAPH_PORT" : `${file}: server.port`} must be a port number (0 picks a free one), not ${envPort ?? port}`
      })
    }
    const host = process.env["STATEGRAPH_HOST"] || server.host
    return { ...server, port, host }
  })

/**
 * Provides the config's services to a run of one of its graphs. The graphs' requirements are only
 * known at run time (they come from the config file), so this is where they are discharged: a
 * service the layer lacks fails the run with Effect's "Service not found".
 */
export const provideServices = <A, E>(config: Loaded, run: Effect.Effect<A, E, any>) =>
  (config.layer === undefined ? run : Effect.provide(run, config.layer)) as Effect.Effect<A, E, Snapshots>

/** The configured graph with this id. */
export const graphById = (config: Loaded, id: string) => {
  const graph = config.graphs.find((g) => g.id === id)
  return graph !== undefined
    ? Effect.succeed(graph)
    : Effect.fail(
      new CliError({
        reason: "NotFound",
        message: `no graph '${id}' in ${config.file ?? "the config (there is no stategraph.config.js here)"}; known: ${
          config.graphs.map((g) => g.id).join(", ") || "none"
        }`
      })
    )
}
