/**
 * LISTEN/NOTIFY between processes: a worker process whose idle poll is a minute long starts a job
 * queued by another process within moments — only a notice can have woken it — and again after
 * the server restarted (its listening connection died; the listener reconnects by itself).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Context, Effect, Layer, Option } from "effect"
import { Graphs, Orchestrator, Pipeline, RunEvent } from "effect-stategraph"
import * as PgSnapshots from "effect-stategraph/PgSnapshots"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { eventually } from "../fixtures/orchestrator/setup.js"
import * as Cluster from "./cluster.js"
import { itemsOf, makeGraph } from "./mp/graph.js"

const here = path.dirname(fileURLToPath(import.meta.url))
const schema = "notify"

/** Listening connections of the schema's channel (their last statement was the LISTEN). */
const listeners = (url: string) =>
  Effect.scoped(Effect.gen(function*() {
    const ctx = yield* Layer.build(PgSnapshots.layerPgClient({ url, maxConnections: 1 }))
    const rows = yield* Context.get(ctx, SqlClient.SqlClient).unsafe(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'LISTEN "stategraph_${schema}_jobs"'`
    )
    return (rows[0] as { n: number }).n
  })).pipe(Effect.orElseSucceed(() => 0))

describe("Postgres LISTEN/NOTIFY", () => {
  it.scoped("a job queued in one process starts in an idle worker process (poll: 60 s) within moments, also after a server restart", () =>
    Effect.gen(function*() {
      const own = yield* Effect.acquireRelease(Effect.promise(() => Cluster.start()), (c) => Effect.sync(() => Cluster.stop(c)))
      const dir = yield* Effect.acquireRelease(
        Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "sg-notify-"))),
        (d) => Effect.sync(() => fs.rmSync(d, { recursive: true, force: true }))
      )
      const effects = path.join(dir, "effects.log")
      fs.writeFileSync(effects, "")
      const graph = makeGraph(effects)
      const db = `${own.url}#${schema}`
      const layer = Orchestrator.layer({ fallback: "async" }, Orchestrator.layerAsync).pipe(
        Layer.provideMerge(Layer.mergeAll(Pipeline.layerPg({ url: own.url, schema }), Graphs.layer([graph]), RunEvent.layer))
      )
      const child = yield* Effect.acquireRelease(
        Effect.sync(() =>
          spawn(process.execPath, ["--import", "tsx", path.join(here, "mp", "worker.ts"), db, effects], {
            // one fiber: when its first claim after the restart fails, nothing else can take the job
            env: { ...process.env, POLL_MS: "60000", CONCURRENCY: "1" },
            stdio: ["ignore", "inherit", "inherit"]
          })
        ),
        (c) => Effect.sync(() => void c.kill("SIGKILL"))
      )
      expect(child.pid).toBeDefined()

      /** Queues a pipeline; resolves to the milliseconds until its first job (split) completed. */
      const queueAndTime = (threadId: string) =>
        Effect.gen(function*() {
          const started = Date.now()
          const r = yield* Orchestrator.orchestrate({ workflowId: graph.id, graph, input: { items: itemsOf(threadId) }, threadId }, { id: "async" })
          yield* eventually(Effect.map(Pipeline.jobs(r.pipelineId!), (jobs) =>
            jobs.some((j) => j.node === "split" && j.status === "completed") ? Option.some(true) : Option.none()), "30 seconds")
          return Date.now() - started
        }).pipe(Effect.provide(layer), Effect.withClock(Clock.make()))

      // the worker listens, then idles (its first claims found nothing)
      yield* eventually(Effect.map(listeners(own.url), (n) => (n > 0 ? Option.some(n) : Option.none())), "30 seconds")
      yield* Effect.sleep("1 second").pipe(Effect.withClock(Clock.make()))
      const first = yield* queueAndTime("n-1")
      expect(first).toBeLessThan(3_000)

      // the server restarts: the listening connection dies; the listener reconnects by itself
      Cluster.restart(own)
      yield* eventually(Effect.map(listeners(own.url), (n) => (n > 0 ? Option.some(n) : Option.none())), "30 seconds")
      yield* Effect.sleep("1 second").pipe(Effect.withClock(Clock.make()))
      const second = yield* queueAndTime("n-2")
      expect(second).toBeLessThan(3_000)
      console.log(`LISTEN/NOTIFY: a job queued in another process started after ${first} ms; after a server restart, ${second} ms (idle poll 60 s)`)
    }), 120_000)
})
