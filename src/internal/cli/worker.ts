/**
 * `stategraph worker`: a worker pool on the config's store, logging one line per job and a
 * periodic summary (pretty on a TTY, JSON lines otherwise).
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as Graphs from "../../Graphs.js"
import * as RunEvent from "../../RunEvent.js"
import * as Server from "../../Server.js"
import * as Worker from "../../Worker.js"
import * as Config from "./config.js"
import { CliError } from "./errors.js"
import { parseAge } from "./snapshots.js"
import { loadConfig, storeLayer } from "./root.js"

interface Tally {
  completed: number
  failed: number
  retried: number
}

/** Logs each job's end (pipeline, node, attempt, duration, outcome); counts them for the summary. */
const logJobs = (tally: Tally) =>
  Effect.gen(function*() {
    const bus = yield* RunEvent.EventBus
    const events = yield* PubSub.subscribe(bus.pubsub)
    const started = new Map<string, number>()
    const line = (e: { readonly pipelineId?: string | undefined; readonly jobId: string; readonly node: string; readonly attempt: number; readonly timestamp: number }, outcome: string) => {
      const began = started.get(e.jobId)
      started.delete(e.jobId)
      return Effect.annotateLogs(Effect.log(`job ${outcome}`), {
        pipeline: e.pipelineId ?? "",
        job: e.jobId,
        node: e.node,
        attempt: e.attempt,
        durationMs: began === undefined ? null : e.timestamp - began,
        outcome
      })
    }
    return yield* Effect.forever(Effect.flatMap(Queue.take(events), (e) => {
      switch (e._tag) {
        case "JobStarted":
          return Effect.sync(() => void started.set(e.jobId, e.timestamp))
        case "JobCompleted":
          tally.completed++
          return line(e, "completed")
        case "JobFailed":
          tally.failed++
          return Effect.zipRight(line(e, "failed"), Effect.annotateLogs(Effect.logWarning(e.error), { job: e.jobId }))
        case "JobRetrying":
          tally.retried++
          return line(e, `retrying at ${new Date(e.runAt).toISOString()}`)
        default:
          return Effect.void
      }
    }))
  })

/** The logger of long-running commands: pretty on a TTY, JSON lines otherwise. */
export const logger = () => (process.stdout.isTTY === true ? Logger.pretty : Logger.json)

/**
 * A worker pool on the store in context, logging each job and a summary every `every` ms until
 * interrupted (then "worker stopped" with the counts). Also `stategraph dev`'s pool.
 */
export const pool = (config: Config.Loaded, options: { readonly concurrency: number; readonly every: number }) => {
  const tally: Tally = { completed: 0, failed: 0, retried: 0 }
  const program = Effect.gen(function*() {
    yield* Effect.forkScoped(logJobs(tally))
    yield* Worker.start({ concurrency: options.concurrency })
    yield* Effect.annotateLogs(Effect.log("worker started"), {
      graphs: config.graphs.map((g) => `${g.id}@${g.version}`).join(", "),
      store: Config.describeStore(config.store),
      concurrency: options.concurrency
    })
    return yield* Effect.schedule(
      Effect.suspend(() => Effect.annotateLogs(Effect.log("summary"), { ...tally })),
      Schedule.spaced(Duration.millis(options.every))
    )
  })
  return Effect.scoped(program).pipe(
    Effect.onInterrupt(() => Effect.annotateLogs(Effect.log("worker stopped"), { ...tally })),
    Effect.provide(Layer.mergeAll(Graphs.layer(config.graphs), RunEvent.layer, config.layer ?? Layer.empty))
  )
}

export const concurrencyOption = Options.integer("concurrency").pipe(
  Options.withDescription("worker fibers in this process"),
  Options.withDefault(4)
)

export const worker = Command.make("worker", {
  concurrency: concurrencyOption,
  summaryEvery: Options.text("summary-every").pipe(Options.withDescription("how often to log a summary (e.g. 60s, 5m)"), Options.withDefault("60s"))
}, (o) =>
  Effect.gen(function*() {
    const config = yield* loadConfig
    if (config.graphs.length === 0) {
      return yield* new CliError({ reason: "Failed", message: "no graphs to run: name them in stategraph.config.js (see stategraph init)" })
    }
    if (o.concurrency < 1) return yield* new CliError({ reason: "Usage", message: "--concurrency must be at least 1" })
    const every = yield* parseAge(o.summaryEvery)
    // the server's runs too: API processes (`serve --executors 0`) queue them on this database
    const runs = Server.layerExecutor({
      graphs: config.graphs,
      executors: o.concurrency,
      interruptTimeoutMillis: config.server.interruptTimeoutMillis
    }) as Layer.Layer<never, unknown, Store>
    yield* pool(config, { concurrency: o.concurrency, every }).pipe(
      Effect.provide(config.layer === undefined ? runs : Layer.provide(runs, config.layer as Layer.Layer<any>)),
      Effect.provide(Layer.merge(logger(), storeLayer(config)))
    )
  })).pipe(Command.withDescription("run queued jobs of the config's graphs (async orchestrator) and the server's queued runs until stopped"))

type Store = import("@effect/sql/SqlClient").SqlClient | import("../../Snapshots.js").Snapshots
