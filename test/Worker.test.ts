import { describe, expect, it } from "@effect/vitest"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Context, Deferred, Effect, Layer, Option, Ref, Schema, TestClock } from "effect"
import { Channel, Graphs, Orchestrator, Pipeline, RunEvent, Send, StateGraph, Task, Worker } from "effect-stategraph"
import { items, makeKillGraph } from "./fixtures/orchestrator/killGraph.js"
import { awaitPipeline, eventually, fullLayer, liveSleep, pipelinesLayer, storeLayer, tempDb, tempDir } from "./fixtures/orchestrator/setup.js"

const here = path.dirname(fileURLToPath(import.meta.url))
const workerScript = path.join(here, "fixtures", "orchestrator", "worker.ts")

/** A worker process, killed (if still alive) when the scope closes. */
const spawnWorker = (db: string, effects: string, env: Record<string, string> = {}) =>
  Effect.acquireRelease(
    Effect.sync(() =>
      spawn(process.execPath, ["--import", "tsx", workerScript, db, effects], {
        env: { ...process.env, ...env },
        stdio: ["ignore", "inherit", "inherit"]
      })
    ),
    (child) => Effect.sync(() => void (child.exitCode === null && child.signalCode === null && child.kill("SIGKILL")))
  )

const exited = (child: ChildProcess) =>
  Effect.async<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    child.once("exit", () => resume(Effect.void))
  })

const Log = { log: Channel.append(Schema.String) }

describe("Worker", () => {
  it.effect("a worker process SIGKILLed mid-job: a second process completes the pipeline, every job's output once", () => {
    const db = tempDb()
    return Effect.gen(function*() {
      const effects = path.join(tempDir(), "effects.log")
      fs.writeFileSync(effects, "")
      const graph = makeKillGraph(effects)
      const lines = () => fs.readFileSync(effects, "utf8").split("\n").filter((l) => l !== "")

      const r = yield* Orchestrator.orchestrate({
        workflowId: graph.id,
        graph,
        input: { items: [...items] },
        options: { maxConcurrentJobs: 4 }
      }, { id: "async" })
      const id = r.pipelineId!

      // process A runs the fan-out; the task of item 3 blocks after its (journaled) side effect
      const first = yield* spawnWorker(db, effects, { BLOCK: "3" })
      yield* eventually(Effect.map(Pipeline.jobs(id), (jobs) => {
        const work = jobs.filter((j) => j.node === "work")
        const done = work.filter((j) => j.status === "completed").length
        const running = work.filter((j) => j.status === "running").length
        return done === 3 && running === 1 && lines().length === 4 ? Option.some(work) : Option.none()
      }), "60 seconds")
      const stuck = (yield* Pipeline.jobs(id)).find((j) => j.node === "work" && j.status === "running")!
      expect(stuck.workerId).toContain(`pid-${first.pid}`)
      first.kill("SIGKILL")
      yield* exited(first)

      // process B reclaims the job once its lease has expired and finishes the pipeline
      const second = yield* spawnWorker(db, effects)
      const p = yield* awaitPipeline(id, ["completed", "failed"], "60 seconds")
      expect(p.status).toBe("completed")

      // every side effect happened once (the re-run replayed item 3's from its journal)
      expect(lines().map((l) => l.split(" ")[0]).sort()).toEqual([...items])
      expect(lines().every((l) => l.endsWith(` ${first.pid}`))).toBe(true)
      // every job's output once; the reclaimed job ran twice and finished in process B
      const jobs = yield* Pipeline.jobs(id)
      const work = jobs.filter((j) => j.node === "work")
      expect(work).toHaveLength(items.length)
      expect(work.every((j) => j.status === "completed")).toBe(true)
      expect(work.map((j) => (j.output as any).log[0]).sort()).toEqual(items.map((i) => `done ${i}`))
      const rerun = work.find((j) => j.id === stuck.id)!
      // at least once: killed in A, run again (and finished) in B
      expect(rerun.attempts).toBeGreaterThanOrEqual(2)
      expect(rerun.workerId).toContain(`pid-${second.pid}`)
      expect(jobs.filter((j) => j.node === "collect").map((j) => j.status)).toEqual(["completed"])
      const final = yield* graph.getState(r.threadId)
      expect([...final.values.log].sort()).toEqual(["collected", ...items.map((i) => `done ${i}`)])
    }).pipe(Effect.scoped, Effect.provide(fullLayer(db)))
  }, 120_000)

  it.effect("a job whose graph version is unknown to the worker fails with SnapshotVersionMismatch", () =>
    Effect.gen(function*() {
      const db = tempDb()
      const v1 = StateGraph.make({ id: "versioned", state: Log }).pipe(
        StateGraph.addNode("a", () => Effect.succeed({ log: ["a"] })),
        StateGraph.addEdge(StateGraph.START, "a"),
        StateGraph.compileSync()
      )
      const v2 = StateGraph.make({ id: "versioned", state: Log }).pipe(
        StateGraph.addNode("a", () => Effect.succeed({ log: ["a"] })),
        StateGraph.addNode("b", () => Effect.succeed({ log: ["b"] })),
        StateGraph.addEdge(StateGraph.START, "a"),
        StateGraph.addEdge("a", "b"),
        StateGraph.compileSync()
      )
      expect(v1.version).not.toBe(v2.version)
      const r = yield* Orchestrator.orchestrate({ workflowId: "versioned", graph: v1, input: {} }, { id: "async" }).pipe(
        Effect.provide(fullLayer(db))
      )
      // a worker (another deployment) that only knows v2
      const p = yield* Effect.scoped(Effect.gen(function*() {
        yield* Worker.start({ concurrency: 1, pollInterval: "5 millis" })
        return yield* awaitPipeline(r.pipelineId!, ["failed", "completed"])
      })).pipe(Effect.provide(storeLayer(db, [v2])))
      expect(p.status).toBe("failed")
      expect(p.error).toContain("SnapshotVersionMismatch")
      expect(p.error).toContain(v1.version)
      const jobs = yield* Pipeline.jobs(r.pipelineId!).pipe(Effect.provide(storeLayer(db)))
      expect(jobs.map((j) => [j.node, j.status])).toEqual([["a", "failed"]])
    }))

  it.effect("a graph's services come with its registry: a worker runs a node that needs a Mailer given to Graphs.layer", () =>
    Effect.gen(function*() {
      const db = tempDb()
      class Mailer extends Context.Tag("test/Mailer")<Mailer, { readonly send: (to: string) => Effect.Effect<void> }>() {}
      const sent: Array<string> = []
      const graph = StateGraph.make({ id: "mailing", state: Log }).pipe(
        StateGraph.addNode("mail", () => Effect.as(Effect.flatMap(Mailer, (m) => m.send("ada@example.com")), { log: ["mailed"] })),
        StateGraph.addEdge(StateGraph.START, "mail"),
        StateGraph.compileSync()
      )
      // enqueueing runs no node (its Mailer would say so)
      const r = yield* Orchestrator.orchestrate({ workflowId: "mailing", graph, input: {} }, { id: "async" }).pipe(
        Effect.provide(fullLayer(db)),
        Effect.provideService(Mailer, { send: () => Effect.sync(() => void sent.push("enqueuer")) })
      )
      // the Mailer is given to the registry only, as a worker process would be set up
      const graphs = Graphs.layer([graph]).pipe(Layer.provide(Layer.succeed(Mailer, { send: (to) => Effect.sync(() => void sent.push(to)) })))
      const p = yield* Effect.scoped(Effect.gen(function*() {
        yield* Worker.start({ concurrency: 1, pollInterval: "5 millis" })
        return yield* awaitPipeline(r.pipelineId!, ["failed", "completed"])
      })).pipe(Effect.provide(Layer.mergeAll(pipelinesLayer(db), graphs, RunEvent.layer)))
      expect(p.error).toBeUndefined()
      expect(p.status).toBe("completed")
      expect(sent).toEqual(["ada@example.com"])
    }))

  it.effect("workers wake durable sleepers when due: a stategraph thread and a pipeline job", () =>
    Effect.gen(function*() {
      const graph = StateGraph.make({ id: "sleepy", state: Log }).pipe(
        StateGraph.addNode("before", () => Effect.succeed({ log: ["before"] })),
        StateGraph.addNode("nap", () => Effect.as(Task.sleep("1 hour"), { log: ["woke"] })),
        StateGraph.addEdge(StateGraph.START, "before"),
        StateGraph.addEdge("before", "nap"),
        StateGraph.compileSync()
      )
      yield* Worker.start({ concurrency: 1, pollInterval: "5 millis", maintenanceInterval: "10 millis" })
      const r = yield* Orchestrator.orchestrate({ workflowId: "sleepy", graph, input: {}, threadId: "sleeper" }, { id: "stategraph" })
      expect(r.status).toBe("paused")
      expect(r.snapshot.pauseReason).toBe("sleeping")
      expect(r.snapshot.wakeAt).toBe(3_600_000)
      const queued = yield* Orchestrator.orchestrate({ workflowId: "sleepy", graph, input: {} }, { id: "async" })
      yield* eventually(Effect.map(Pipeline.jobs(queued.pipelineId!), (jobs) => {
        const nap = jobs.find((j) => j.node === "nap")
        return nap !== undefined && nap.status === "pending" && nap.runAt === 3_600_000 ? Option.some(nap) : Option.none()
      }))
      yield* TestClock.adjust("1 hour")
      yield* eventually(Effect.map(graph.getState("sleeper"), (s) => (s.status === "completed" ? Option.some(s) : Option.none())))
      expect((yield* graph.getState("sleeper")).values.log).toEqual(["before", "woke"])
      yield* awaitPipeline(queued.pipelineId!, ["completed"])
      expect((yield* graph.getState(queued.threadId)).values.log).toEqual(["before", "woke"])
    }).pipe(Effect.scoped, Effect.provide(fullLayer(tempDb()))))

  /** three tasks in the first step: three jobs at once */
  const threeAtOnce = (id: string) =>
    StateGraph.make({ id, state: Log }).pipe(
      StateGraph.addNode("a", () => Effect.succeed({ log: ["a"] })),
      StateGraph.addNode("b", () => Effect.succeed({ log: ["b"] })),
      StateGraph.addNode("c", () => Effect.succeed({ log: ["c"] })),
      StateGraph.addEdge(StateGraph.START, "a"),
      StateGraph.addEdge(StateGraph.START, "b"),
      StateGraph.addEdge(StateGraph.START, "c"),
      StateGraph.compileSync()
    )

  it.effect("a claim takes several ready jobs in queue order, never past a pipeline's concurrency limit; jobs given back are ready again", () =>
    Effect.gen(function*() {
      const graph = threeAtOnce("three")
      const queue = (maxConcurrentJobs: number) =>
        Effect.map(
          Orchestrator.orchestrate({ workflowId: "three", graph, input: {}, options: { maxConcurrentJobs } }, { id: "async" }),
          (r) => r.pipelineId!
        )
      const first = yield* queue(2)
      const second = yield* queue(5)
      const store = yield* Pipeline.Pipelines
      const claim = (max: number) => store.claim("w", 0, Date.now() + 60_000, max)

      // the first pipeline gives two (its limit), then the queue goes on with the second's
      const batch = yield* claim(4)
      expect(batch.map((c) => c.job.pipelineId)).toEqual([first, first, second, second])
      expect(batch.every((c) => c.job.status === "running" && c.job.attempts === 1 && c.job.workerId === "w")).toBe(true)
      expect(batch.map((c) => c.threadId)).toEqual([first, first, second, second])
      expect((yield* claim(4)).map((c) => c.job.pipelineId)).toEqual([second])
      expect(yield* claim(4)).toEqual([])

      // given back: ready again, the attempt not counted; a cancelled pipeline's job is cancelled
      expect(yield* store.giveBack([batch[0]!.job.id, batch[2]!.job.id], "someone else", 0)).toBe(0)
      yield* Pipeline.cancel(second)
      expect(yield* store.giveBack([batch[0]!.job.id, batch[2]!.job.id], "w", 0)).toBe(1)
      const again = yield* claim(4)
      expect(again.map((c) => [c.job.id, c.job.attempts])).toEqual([[batch[0]!.job.id, 1]])
      const jobs = yield* Pipeline.jobs(second)
      expect(jobs.find((j) => j.id === batch[2]!.job.id)?.status).toBe("cancelled")
    }).pipe(Effect.provide(fullLayer(tempDb()))))

  it.effect("jobs of a failed pipeline ending at the same moment: exactly one of them gives the thread back", () =>
    Effect.gen(function*() {
      const graph = threeAtOnce("three-ends")
      const store = yield* Pipeline.Pipelines
      // (on Postgres each job's transaction would count the other as running, unless they take turns)
      for (let round = 0; round < 15; round++) {
        const r = yield* Orchestrator.orchestrate({
          workflowId: "three-ends",
          graph,
          input: {},
          options: { retryStrategy: "stop_on_failure", maxConcurrentJobs: 3 }
        }, { id: "async" })
        const claimed = (yield* store.claim(`w${round}`, 0, Date.now() + 60_000, 3)).filter((c) => c.job.pipelineId === r.pipelineId)
        expect(claimed.length).toBe(3)
        const end = (c: (typeof claimed)[number], e: Parameters<typeof store.finish>[0][number]["end"]) =>
          store.finish([{ claimed: c, workerId: `w${round}`, end: e, options: { now: Date.now() } }])
        const [failed] = yield* end(claimed[0]!, { _tag: "Failed", error: "boom", fatal: false })
        expect(failed!.pipelineStatus).toBe("failed")
        expect(failed!.releaseThread).toBe(false)
        const ends = yield* Effect.all(claimed.slice(1).map((c) => end(c, { _tag: "Completed", output: undefined })), {
          concurrency: "unbounded"
        })
        expect(ends.map(([f]) => f!.releaseThread === true).filter(Boolean).length).toBe(1)
      }
    }).pipe(Effect.provide(fullLayer(tempDb()))))

  it.effect("a job still running at the end of its batch's window: the batch's other jobs go back to the queue, another worker runs them once each", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make<ReadonlyArray<string>>([])
      const items = ["block", "1", "2", "3", "4"]
      const graph = StateGraph.make({ id: "held", state: { ...Log, items: Channel.lastValue(Schema.Array(Schema.String)) } }).pipe(
        StateGraph.addNode("split", () => Effect.void),
        StateGraph.addNode("work", (item: string) =>
          Effect.gen(function*() {
            yield* Ref.update(runs, (r) => [...r, item])
            if (item === "block") yield* Effect.never
            return { log: [item] }
          })),
        StateGraph.addEdge(StateGraph.START, "split"),
        StateGraph.addConditionalEdges("split", (s) => s.items.map((i) => Send.make("work", i))),
        StateGraph.compileSync()
      )
      // one fiber whose batches may hold 16 jobs: after `split`, it claims every `work` job at once
      yield* Worker.start({ concurrency: 1, pollInterval: "5 millis", maxBatch: 16, batchWindow: "1 second", workerId: "first" })
      const r = yield* Orchestrator.orchestrate({ workflowId: "held", graph, input: { items }, options: { maxConcurrentJobs: 10 } }, {
        id: "async"
      })
      // claimed jobs are "running" before their fiber reaches the node: wait for both
      const held = yield* eventually(Effect.zipWith(Pipeline.jobs(r.pipelineId!), Ref.get(runs), (jobs, ran) => {
        const work = jobs.filter((j) => j.node === "work")
        return work.length === items.length && work.every((j) => j.status === "running") && ran.length > 0
          ? Option.some(work)
          : Option.none()
      }))
      expect(held.every((j) => j.workerId === "first/0")).toBe(true)
      expect(yield* Ref.get(runs)).toEqual(["block"])

      // a second pool: it gets the jobs the first one gave back
      yield* Worker.start({ concurrency: 1, pollInterval: "5 millis", workerId: "second" })
      const work = yield* eventually(Effect.map(Pipeline.jobs(r.pipelineId!), (jobs) => {
        const done = jobs.filter((j) => j.node === "work" && j.status === "completed")
        return done.length === items.length - 1 ? Option.some(jobs.filter((j) => j.node === "work")) : Option.none()
      }))
      expect(work.filter((j) => j.status === "completed").every((j) => j.workerId === "second/0" && j.attempts === 1)).toBe(true)
      expect(work.find((j) => j.status === "running")?.workerId).toBe("first/0")
      yield* liveSleep(50)
      expect([...(yield* Ref.get(runs))].sort()).toEqual([...items].sort())
    }).pipe(Effect.scoped, Effect.provide(fullLayer(tempDb()))))

  it.effect("a pool whose scope closes mid-job gives that job back at once (not after its lease); the next pool runs it once", () =>
    Effect.gen(function*() {
      const starts = yield* Ref.make(0)
      const ends = yield* Ref.make(0)
      const firstRun = yield* Deferred.make<void>()
      const graph = StateGraph.make({ id: "slow-job", state: Log }).pipe(
        StateGraph.addNode("slow", () =>
          Effect.gen(function*() {
            // the first run never ends on its own: only the scope's close stops it
            if ((yield* Ref.getAndUpdate(starts, (n) => n + 1)) === 0) {
              yield* Deferred.succeed(firstRun, undefined)
              yield* Effect.never
            }
            yield* Ref.update(ends, (n) => n + 1)
            return { log: ["done"] }
          })),
        StateGraph.addEdge(StateGraph.START, "slow"),
        StateGraph.compileSync()
      )
      const r = yield* Orchestrator.orchestrate({ workflowId: "slow-job", graph, input: {} }, { id: "async" })
      yield* Effect.scoped(Effect.zipRight(
        Worker.start({ concurrency: 1, pollInterval: "5 millis", workerId: "closing" }),
        Deferred.await(firstRun)
      ))
      // the scope closed: the job is ready again at once, its attempt not counted (the default lease is 30 s)
      const [job] = yield* Pipeline.jobs(r.pipelineId!)
      expect([job!.status, job!.attempts]).toEqual(["pending", 0])
      yield* Effect.scoped(Effect.zipRight(
        Worker.start({ concurrency: 1, pollInterval: "5 millis", workerId: "next" }),
        awaitPipeline(r.pipelineId!, ["completed"])
      ))
      expect([yield* Ref.get(starts), yield* Ref.get(ends)]).toEqual([2, 1])
      expect((yield* graph.getState(r.threadId)).values.log).toEqual(["done"])
    }).pipe(Effect.scoped, Effect.provide(fullLayer(tempDb()))))

  it.effect("a pipeline paused while a worker's batch holds its jobs: the jobs not started do not run until it is resumed", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make<ReadonlyArray<string>>([])
      const gate = yield* Deferred.make<void>()
      const items = ["gate", "1", "2"]
      const graph = StateGraph.make({ id: "paused-batch", state: { ...Log, items: Channel.lastValue(Schema.Array(Schema.String)) } }).pipe(
        StateGraph.addNode("split", () => Effect.void),
        StateGraph.addNode("work", (item: string) =>
          Effect.gen(function*() {
            yield* Ref.update(runs, (r) => [...r, item])
            if (item === "gate") yield* Deferred.await(gate)
            return { log: [item] }
          })),
        StateGraph.addEdge(StateGraph.START, "split"),
        StateGraph.addConditionalEdges("split", (s) => s.items.map((i) => Send.make("work", i))),
        StateGraph.compileSync()
      )
      // one fiber whose batch (after `split`) holds every `work` job, for longer than the test needs
      yield* Worker.start({ concurrency: 1, pollInterval: "5 millis", maxBatch: 16, batchWindow: "5 seconds" })
      const r = yield* Orchestrator.orchestrate({ workflowId: "paused-batch", graph, input: { items }, options: { maxConcurrentJobs: 10 } }, {
        id: "async"
      })
      const id = r.pipelineId!
      // (the batch's claim commits before its first job starts: wait for that start too)
      yield* eventually(Effect.map(Effect.zip(Pipeline.jobs(id), Ref.get(runs)), ([jobs, started]) => {
        const work = jobs.filter((j) => j.node === "work")
        return started.length > 0 && work.length === items.length && work.every((j) => j.status === "running")
          ? Option.some(work)
          : Option.none()
      }))
      expect(yield* Ref.get(runs)).toEqual(["gate"])

      yield* Pipeline.pause(id)
      yield* Deferred.succeed(gate, undefined)
      // the running job finishes; the two held ones go back to the queue instead of starting
      const held = yield* eventually(Effect.map(Pipeline.jobs(id), (jobs) => {
        const work = jobs.filter((j) => j.node === "work")
        const done = work.filter((j) => j.status === "completed")
        const pending = work.filter((j) => j.status === "pending")
        return done.length === 1 && pending.length === 2 ? Option.some(pending) : Option.none()
      }))
      expect(held.every((j) => j.attempts === 0)).toBe(true)
      yield* liveSleep(50)
      expect(yield* Ref.get(runs)).toEqual(["gate"])

      yield* Pipeline.resume(id)
      const p = yield* awaitPipeline(id, ["completed", "failed"])
      expect(p.status).toBe("completed")
      expect([...(yield* Ref.get(runs))].sort()).toEqual([...items].sort())
      expect([...(yield* graph.getState(r.threadId)).values.log].sort()).toEqual([...items].sort())
    }).pipe(Effect.scoped, Effect.provide(fullLayer(tempDb()))))
})
