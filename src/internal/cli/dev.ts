/**
 * `stategraph dev`: the server and a worker pool in one process, restarted when the config or a
 * graph module changes.
 *
 * Node cannot unload an ES module, so a change cannot be picked up in place: `dev` supervises a
 * child process (the same command line, STATEGRAPH_DEV_CHILD=1) that runs the server and the pool,
 * and on an `fs.watch` change in the folder of the config or of a graph module (a .js/.mjs/.cjs/
 * .ts/.mts/.cts/.json file) stops it with SIGTERM, waits for it to exit, and starts a new one.
 * `--no-watch` runs the server and the pool in this process, without restarts.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import type * as Config from "./config.js"
import { CliError } from "./errors.js"
import { jsonOption, loadConfig, storeLayer } from "./root.js"
import { hostOption, listenOf, portOption, withServer } from "./serve.js"
import { concurrencyOption, logger, pool } from "./worker.js"

const CHILD = "STATEGRAPH_DEV_CHILD"

const sourceFile = /\.(?:[cm]?[jt]s|json)$/

/** The server and the pool in this process until interrupted. */
const runHere = (config: Config.Loaded, o: { readonly port: Option.Option<number>; readonly host: Option.Option<string>; readonly auth: boolean; readonly concurrency: number; readonly json: boolean }) =>
  Effect.gen(function*() {
    if (o.concurrency < 1) return yield* new CliError({ reason: "Usage", message: "--concurrency must be at least 1" })
    const listen = yield* listenOf(config, o, { host: "127.0.0.1", auth: o.auth })
    yield* withServer(config, listen, o.json, "stategraph dev", pool(config, { concurrency: o.concurrency, every: 60_000 })).pipe(
      Effect.provide(Layer.merge(logger(), storeLayer(config)))
    )
  })

/**
 * Runs this command line again as a child process; restarts it when a watched file changes; stops
 * it (SIGTERM, then waits for its exit) when interrupted.
 */
const supervise = (config: Config.Loaded) =>
  Effect.async<never>(() => {
    const dirs = [...new Set(config.modules.map((f) => path.dirname(f)))]
    let child: ChildProcess | undefined
    let restarting = false
    let stopping = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const start = () => {
      restarting = false
      const spawned = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
        stdio: "inherit",
        env: { ...process.env, [CHILD]: "1" }
      })
      child = spawned
      spawned.on("exit", (code, signal) => {
        if (child === spawned) child = undefined
        if (stopping) return
        if (restarting) return start()
        process.stderr.write(`stategraph dev: the server exited (${signal ?? `code ${code}`}); it restarts on the next change\n`)
      })
    }
    const restart = (file: string) => {
      process.stdout.write(`stategraph dev: ${file} changed, restarting\n`)
      if (child === undefined) return start()
      restarting = true
      child.kill("SIGTERM")
    }
    const watchers = dirs.map((dir) =>
      fs.watch(dir, (_event, name) => {
        if (stopping || name === null || !sourceFile.test(name)) return
        // an editor's save is often several events: one restart for them
        if (timer !== undefined) clearTimeout(timer)
        timer = setTimeout(() => restart(path.join(dir, name)), 150)
      })
    )
    process.stdout.write(`stategraph dev: watching ${dirs.join(", ")} (restarts on changes to the config and graph modules)\n`)
    start()
    return Effect.async<void>((done) => {
      stopping = true
      if (timer !== undefined) clearTimeout(timer)
      for (const w of watchers) w.close()
      const running = child
      if (running === undefined || running.exitCode !== null || running.signalCode !== null) return done(Effect.void)
      running.once("exit", () => done(Effect.void))
      running.kill("SIGTERM")
    })
  })

export const dev = Command.make("dev", {
  port: portOption,
  host: hostOption,
  concurrency: concurrencyOption,
  auth: Options.boolean("auth").pipe(Options.withDescription("require bearer tokens (default: off in dev)")),
  noWatch: Options.boolean("no-watch").pipe(Options.withDescription("run in this process, without restarts on changes")),
  json: jsonOption
}, (o) =>
  Effect.gen(function*() {
    const config = yield* loadConfig
    if (o.noWatch || process.env[CHILD] === "1") return yield* runHere(config, o)
    if (config.file === undefined) {
      return yield* new CliError({ reason: "Failed", message: "no stategraph.config.js here: nothing to serve or watch (see stategraph init)" })
    }
    return yield* supervise(config)
  })).pipe(Command.withDescription("the server and a worker pool in one process, restarted when the config or a graph changes"))
