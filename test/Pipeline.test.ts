import { describe, expect, it } from "@effect/vitest"
import { Chunk, Clock, Deferred, Effect, Layer, Option, Ref, Schema, Stream, TestClock } from "effect"
import { Channel, GraphError, Orchestrator, Pipeline, RunEvent, Send, Snapshots, StateGraph, Task, Worker } from "effect-stategraph"
import { awaitPipeline, eventually, fullLayer, liveSleep, storeLayer, tempDb } from "./fixtures/orchestrator/setup.js"

const Log = { log: Channel.append(Schema.String) }

const jobOf = (pipelineId: string, node: string) =>
  Effect.map(Pipeline.jobs(pipelineId), (jobs) => Option.fromNullable(jobs.filter((j) => j.node === node).at(-1)))

const jobWith = (pipelineId: string, node: string, ok: (job: Pipeline.Job) => boolean) =>
  eventually(Effect.map(jobOf(pipelineId, node), Option.filter(ok)))

describe("async queue", () => {
  it.effect("6 independent jobs with maxConcurrentJobs 2: never more than 2 running at once (observed)", () =>
    Effect.gen(function*() {
      const running = yield* Ref.make(0)
      const finished = yield* Ref.make(0)
      const peak = yield* Ref.make(0)
      const items = ["1", "2", "3", "4", "5", "6"]
      // each job waits for a partner (or for being the last one): two run together whenever the
      // limit allows it, so the peak shows the limit, not the timing
      const partnered = Effect.gen(function*() {
        while (true) {
          const [r, f] = [yield* Ref.get(running), yield* Ref.get(finished)]
          if (r >= 2 || r + f === items.length) return
          yield* liveSleep(1)
        }
      })
      const graph = StateGraph.make({ id: "fanout", state: { ...Log, items: Channel.lastValue(Schema.Array(Schema.String)) } }).pipe(
        StateGraph.addNode("split", () => Effect.void),
        StateGraph.addNode("work", (item: string) =>
          Effect.gen(function*() {
            const now = yield* Ref.updateAndGet(running, (n) => n + 1)
            yield* Ref.update(peak, (p) => Math.max(p, now))
            yield* partnered
            yield* liveSleep(5)
            yield* Ref.update(running, (n) => n - 1)
            yield* Ref.update(finished, (n) => n + 1)
            return { log: [item] }
          })),
        StateGraph.addEdge(StateGraph.START, "split"),
        StateGraph.addConditionalEdges("split", (s) => s.items.map((i) => Send.make("work", i))),
        StateGraph.compileSync()
      )
      yield* Worker.start({ concurrency: 4, pollInterval: "5 millis" })
      const r = yield* Orchestrator.orchestrate({ workflowId: "fanout", graph, input: { items }, options: { maxConcurrentJobs: 2 } }, {
        id: "async"
      })
      const p = yield* awaitPipeline(r.pipelineId!, ["completed", "failed"])
      expect(p.status).toBe("completed")
      expect(yield* Ref.get(peak)).toBe(2)
      const jobs = yield* Pipeline.jobs(r.pipelineId!)
      expect(jobs.filter((j) => j.node === "work")).toHaveLength(6)
      expect([...(yield* graph.getState(r.threadId)).values.log].sort()).toEqual(items)
    }).pipe(Effect.scoped, Effect.provide(fullLayer(tempDb()))))

  it.effect("retries with exponential backoff: fails twice, succeeds at the expected (TestClock) times", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make<ReadonlyArray<number>>([])
      const graph = StateGraph.make({ id: "backoff", state: Log }).pipe(
        StateGraph.addNode("call", () =>
          Effect.gen(function*() {
            const now = yield* Clock.currentTimeMillis
            const all = yield* Ref.updateAndGet(attempts, (a) => [...a, now])
            if (all.length <= 2) return yield* Effect.fail(new Error(`unavailable (${all.length})`))
            return { log: ["ok"] }
          })),
        StateGraph.addEdge(StateGraph.START, "call"),
        StateGraph.compileSync()
      )
      yield* Worker.start({ concurrency: 1, pollInterval: "5 millis" })
      const r = yield* Orchestrator.orchestrate({
        workflowId: "backoff",
        graph,
        input: {},
        options: { backoff: { baseMillis: 1000, factor: 2, maxDelayMillis: 60_000, maxAttempts: 3 } }
      }, { id: "async" })
      const id = r.pipelineId!
      const first = yield* jobWith(id, "call", (j) => j.status === "pending" && j.attempts === 1)
      expect(first.runAt).toBe(1000)
      expect(first.error).toContain("unavailable (1)")
      yield* TestClock.adjust("1 second")
      const second = yield* jobWith(id, "call", (j) => j.status === "pending" && j.attempts === 2)
      expect(second.runAt).toBe(3000)
      yield* TestClock.adjust("2 seconds")
      yield* awaitPipeline(id, ["completed"])
      expect(yield* Ref.get(attempts)).toEqual([0, 1000, 3000])
      const job = Option.getOrThrow(yield* jobOf(id, "call"))
      expect([job.status, job.attempts, job.startedAt]).toEqual(["completed", 3, 3000])
    }).pipe(Effect.scoped, Effect.provide(fullLayer(tempDb()))))

  it.effect("job priority: among ready jobs, a higher-priority pipeline's run first", () =>
    Effect.gen(function*() {
      const order = yield* Ref.make<ReadonlyArray<string>>([])
      const graph = StateGraph.make({ id: "prio", state: { name: Channel.lastValue(Schema.String) } }).pipe(
        StateGraph.addNode("run", (s) => Effect.as(Ref.update(order, (o) => [...o, s.name]), {})),
        StateGraph.addEdge(StateGraph.START, "run"),
        StateGraph.compileSync()
      )
      const ids: Array<string> = []
      for (const [name, priority] of [["low-1", 0], ["high", 10], ["low-2", 0], ["mid", 5]] as const) {
        const r = yield* Orchestrator.orchestrate({ workflowId: "prio", graph, input: { name }, options: { priority } }, { id: "async" })
        ids.push(r.pipelineId!)
      }
      yield* Worker.start({ concurrency: 1, pollInterval: "5 millis" })
      for (const id of ids) yield* awaitPipeline(id, ["completed"])
      expect(yield* Ref.get(order)).toEqual(["high", "mid", "low-1", "low-2"])
    }).pipe(Effect.scoped, Effect.provide(fullLayer(tempDb()))))

  it.effect("a thread run by an active pipeline belongs to it: other runs get ThreadBusy", () =>
    Effect.gen(function*() {
      const graph = StateGraph.make({ id: "owned", state: Log }).pipe(
        StateGraph.addNode("a", () => Effect.succeed({ log: ["a"] })),
        StateGraph.addEdge(StateGraph.START, "a"),
        StateGraph.compileSync()
      )
      const r = yield* Orchestrator.orchestrate({ workflowId: "owned", graph, input: {}, threadId: "owned-1" }, { id: "async" })
      for (const id of ["stategraph", "pipeline", "async"] as const) {
        const error = yield* Effect.flip(Orchestrator.orchestrate({ workflowId: "owned", graph, input: {}, threadId: "owned-1" }, { id }))
        expect(error._tag).toBe("ThreadBusy")
      }
      yield* Pipeline.cancel(r.pipelineId!)
      const after = yield* Orchestrator.orchestrate({ workflowId: "owned", graph, input: { log: ["again"] }, threadId: "owned-1" }, {
        id: "stategraph"
      })
      expect(after.status).toBe("completed")
      expect(after.output?.log).toEqual(["again", "a"])
    }).pipe(Effect.provide(fullLayer(tempDb()))))

  it.effect("an async start cut off after it leased the thread, before its pipeline was written: its retry completes that start (not ThreadBusy until the lease ends), the input once", () => {
    // the database connection is lost exactly once, when the start writes its pipeline
    const cutOnce = Layer.effect(
      Pipeline.Pipelines,
      Effect.map(Pipeline.Pipelines, (real) => {
        let cut = true
        return {
          ...real,
          createPipeline: (pipeline, jobs) => {
            if (!cut) return real.createPipeline(pipeline, jobs)
            cut = false
            return Effect.fail(new GraphError.StoreError({ operation: "createPipeline", cause: new Error("connection terminated") }))
          }
        } satisfies typeof real
      })
    )
    const layer = Orchestrator.layer({ fallback: "async" }, Orchestrator.layerAsync).pipe(
      Layer.provideMerge(cutOnce),
      Layer.provideMerge(storeLayer(tempDb()))
    )
    return Effect.gen(function*() {
      const graph = StateGraph.make({ id: "cut-start", state: Log }).pipe(
        StateGraph.addNode("a", () => Effect.succeed({ log: ["a"] })),
        StateGraph.addEdge(StateGraph.START, "a"),
        StateGraph.compileSync()
      )
      const request = { workflowId: "cut-start", graph, input: { log: ["in"] }, threadId: "cut-1" }
      const cut = yield* Effect.flip(Orchestrator.orchestrate(request, { id: "async" }))
      expect(cut._tag).toBe("StoreError")
      // the input checkpoint is written and the thread leased, by a pipeline that does not exist
      const [lease] = yield* Snapshots.leases({ threadId: "cut-1" })
      expect(lease?.alive).toBe(true)
      expect(Option.isNone(yield* Pipeline.Pipelines.pipe(Effect.flatMap((p) => p.get(lease!.holder))))).toBe(true)
      // another start (other input) is still refused while that lease lives
      const other = yield* Effect.flip(Orchestrator.orchestrate({ ...request, input: { log: ["other"] } }, { id: "async" }))
      expect(other._tag).toBe("ThreadBusy")
      // the retry of the same start is that start: it writes its pipeline and runs it
      const retried = yield* Orchestrator.orchestrate(request, { id: "async" })
      expect(retried.status).toBe("running")
      expect(retried.pipelineId).toBe(lease!.holder)
      yield* Worker.start({ concurrency: 1, pollInterval: "5 millis" })
      const p = yield* awaitPipeline(retried.pipelineId!, ["completed", "failed"])
      expect(p.status).toBe("completed")
      const state = yield* graph.getState("cut-1")
      expect(state.values.log).toEqual(["in", "a"])
      expect((yield* graph.history("cut-1")).length).toBe(2)
    }).pipe(Effect.scoped, Effect.provide(layer))
  })

  it.effect("the backoff schedule: exponential, capped at maxDelay, maxAttempts - 1 retries", () =>
    Effect.gen(function*() {
      const schedule = Pipeline.backoffSchedule({ baseMillis: 100, factor: 3, maxDelayMillis: 1000, maxAttempts: 5 })
      const delays: Array<Option.Option<number>> = []
      for (let retry = 1; retry <= 5; retry++) delays.push(yield* Pipeline.retryDelay(schedule, retry))
      expect(delays).toEqual([Option.some(100), Option.some(300), Option.some(900), Option.some(1000), Option.none()])
    }))

  const threeWay = (onRun: (node: string) => Effect.Effect<void>) =>
    StateGraph.make({ id: "three", state: Log }).pipe(
      StateGraph.addNode("ok1", () => Effect.as(onRun("ok1"), { log: ["ok1"] })),
      StateGraph.addNode("bad", () => Effect.zipRight(onRun("bad"), Effect.fail(new Error("bad node")))),
      StateGraph.addNode("ok2", () => Effect.as(onRun("ok2"), { log: ["ok2"] })),
      StateGraph.addEdge(StateGraph.START, "ok1"),
      StateGraph.addEdge(StateGraph.START, "bad"),
      StateGraph.addEdge(StateGraph.START, "ok2"),
      StateGraph.compileSync()
    )

  it.effect("retry strategy individual: a failed job does not stop the others; the pipeline fails at the end", () =>
    Effect.gen(function*() {
      const ran = yield* Ref.make<ReadonlyArray<string>>([])
      const graph = threeWay((n) => Ref.update(ran, (r) => [...r, n]))
      yield* Worker.start({ concurrency: 1, pollInterval: "5 millis" })
      const r = yield* Orchestrator.orchestrate({
        workflowId: "three",
        graph,
        input: {},
        options: { retryStrategy: "individual", maxConcurrentJobs: 1, backoff: { maxAttempts: 1 } }
      }, { id: "async" })
      const p = yield* awaitPipeline(r.pipelineId!, ["completed", "failed"])
      expect(p.status).toBe("failed")
      expect(p.error).toContain("bad node")
      expect(yield* Ref.get(ran)).toEqual(["ok1", "bad", "ok2"])
      const jobs = yield* Pipeline.jobs(r.pipelineId!)
      expect(jobs.map((j) => [j.node, j.status])).toEqual([["ok1", "completed"], ["bad", "failed"], ["ok2", "completed"]])
      expect(p.jobCounts).toMatchObject({ completed: 2, failed: 1, cancelled: 0 })
    }).pipe(Effect.scoped, Effect.provide(fullLayer(tempDb()))))

  it.effect("retry strategy stop_on_failure: no new job starts after a failure; the pipeline fails", () =>
    Effect.gen(function*() {
      const ran = yield* Ref.make<ReadonlyArray<string>>([])
      const graph = threeWay((n) => Ref.update(ran, (r) => [...r, n]))
      yield* Worker.start({ concurrency: 1, pollInterval: "5 millis" })
      const r = yield* Orchestrator.orchestrate({
        workflowId: "three",
        graph,
        input: {},
        options: { retryStrategy: "stop_on_failure", maxConcurrentJobs: 1, backoff: { maxAttempts: 1 } }
      }, { id: "async" })
      const p = yield* awaitPipeline(r.pipelineId!, ["completed", "failed"])
      expect(p.status).toBe("failed")
      expect(yield* Ref.get(ran)).toEqual(["ok1", "bad"])
      const jobs = yield* Pipeline.jobs(r.pipelineId!)
      expect(jobs.map((j) => [j.node, j.status])).toEqual([["ok1", "completed"], ["bad", "failed"], ["ok2", "cancelled"]])
    }).pipe(Effect.scoped, Effect.provide(fullLayer(tempDb()))))

  it.effect("stop_on_failure keeps what running siblings finish: their writes are saved, a continued thread runs only the failed task", () =>
    Effect.gen(function*() {
      const ran = yield* Ref.make<ReadonlyArray<string>>([])
      // the siblings are still running when bad fails
      const graph = threeWay((n) => Effect.zipRight(n === "bad" ? Effect.void : liveSleep(60), Ref.update(ran, (r) => [...r, n])))
      yield* Worker.start({ concurrency: 3, pollInterval: "5 millis" })
      const r = yield* Orchestrator.orchestrate({
        workflowId: "three",
        graph,
        input: {},
        threadId: "stop",
        options: { retryStrategy: "stop_on_failure", maxConcurrentJobs: 3, backoff: { maxAttempts: 1 } }
      }, { id: "async" })
      const p = yield* awaitPipeline(r.pipelineId!, ["completed", "failed"])
      expect(p.status).toBe("failed")
      const jobs = yield* eventually(Effect.map(Pipeline.jobs(r.pipelineId!), (js) =>
        js.every((j) => j.status !== "running") ? Option.some(js) : Option.none()))
      expect(jobs.map((j) => [j.node, j.status]).sort()).toEqual([["bad", "failed"], ["ok1", "completed"], ["ok2", "completed"]])
      expect([...(yield* Ref.get(ran))].sort()).toEqual(["bad", "ok1", "ok2"])
      // the thread is given back once the last sibling ended; continued, only bad runs again
      const state = yield* eventually(Effect.map(Effect.either(graph.invoke(null, { threadId: "stop" })), (e) =>
        e._tag === "Left" && (e.left as any)._tag === "ThreadBusy" ? Option.none() : Option.some(e)))
      expect(state._tag).toBe("Left")
      expect([...(yield* Ref.get(ran))].sort()).toEqual(["bad", "bad", "ok1", "ok2"])
    }).pipe(Effect.scoped, Effect.provide(fullLayer(tempDb()))))

  const gated = (gate: Deferred.Deferred<void>) =>
    StateGraph.make({ id: "gated-chain", state: Log }).pipe(
      StateGraph.addNode("a", () => Effect.as(Deferred.await(gate), { log: ["a"] })),
      StateGraph.addNode("b", () => Effect.succeed({ log: ["b"] })),
      StateGraph.addNode("c", () => Effect.succeed({ log: ["c"] })),
      StateGraph.addEdge(StateGraph.START, "a"),
      StateGraph.addEdge("a", "b"),
      StateGraph.addEdge("b", "c"),
      StateGraph.compileSync()
    )

  it.effect("pause and resume a pipeline: a paused pipeline starts no job", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const graph = gated(gate)
      yield* Worker.start({ concurrency: 2, pollInterval: "5 millis" })
      const r = yield* Orchestrator.orchestrate({ workflowId: "gated-chain", graph, input: {} }, { id: "async" })
      const id = r.pipelineId!
      yield* jobWith(id, "a", (j) => j.status === "running")
      expect((yield* Pipeline.nodeStatus(r.executionId, "a")).status).toBe("running")
      yield* Pipeline.pause(id)
      expect((yield* Pipeline.pipelineStatus(id)).status).toBe("paused")
      yield* Deferred.succeed(gate, undefined)
      // the running job finishes; its successor is queued but does not start while paused
      yield* jobWith(id, "a", (j) => j.status === "completed")
      const b = yield* jobWith(id, "b", () => true)
      expect(b.status).toBe("pending")
      expect((yield* Pipeline.nodeStatus(r.executionId, "b")).status).toBe("queued")
      expect((yield* Pipeline.pipelineStatus(id)).status).toBe("paused")
      const refused = yield* Effect.flip(Pipeline.pause(id))
      expect(refused._tag).toBe("InvalidPipelineTransition")
      yield* Pipeline.resume(id)
      const done = yield* awaitPipeline(id, ["completed"])
      expect(done.jobCounts).toMatchObject({ total: 3, completed: 3 })
      expect((yield* graph.getState(r.threadId)).values.log).toEqual(["a", "b", "c"])
      expect((yield* Pipeline.nodeStatus(r.executionId, "c")).status).toBe("completed")
    }).pipe(Effect.scoped, Effect.provide(fullLayer(tempDb()))))

  it.effect("cancel a pipeline: queued work is dropped, the running job queues nothing more", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const graph = gated(gate)
      yield* Worker.start({ concurrency: 2, pollInterval: "5 millis" })
      const r = yield* Orchestrator.orchestrate({ workflowId: "gated-chain", graph, input: {} }, { id: "async" })
      const id = r.pipelineId!
      yield* jobWith(id, "a", (j) => j.status === "running")
      yield* Pipeline.cancel(id)
      yield* Deferred.succeed(gate, undefined)
      // the thread was released: the running job's step is not committed, the job ends cancelled
      yield* jobWith(id, "a", (j) => j.status === "cancelled")
      const p = yield* Pipeline.pipelineStatus(id)
      expect(p.status).toBe("cancelled")
      expect((yield* Pipeline.jobs(id)).map((j) => j.node)).toEqual(["a"])
      expect((yield* graph.getState(r.threadId)).values.log ?? []).toEqual([])
      expect((yield* Effect.flip(Pipeline.resume(id)))._tag).toBe("InvalidPipelineTransition")
      expect((yield* Effect.flip(Pipeline.cancel(id)))._tag).toBe("InvalidPipelineTransition")
    }).pipe(Effect.scoped, Effect.provide(fullLayer(tempDb()))))

  it.effect("cancel while a job runs: the activity after the cancel does not run, the journaled one is not repeated when the thread continues", () =>
    Effect.gen(function*() {
      const before = yield* Ref.make(0)
      const after = yield* Ref.make(0)
      const started = yield* Deferred.make<void>()
      const cancelled = yield* Deferred.make<void>()
      const graph = StateGraph.make({ id: "cancel-activity", state: Log }).pipe(
        StateGraph.addNode("a", () =>
          Effect.gen(function*() {
            yield* Task.activity("before", Ref.update(before, (n) => n + 1))
            yield* Deferred.succeed(started, undefined)
            yield* Deferred.await(cancelled)
            yield* Task.activity("after", Ref.update(after, (n) => n + 1))
            return { log: ["a"] }
          })),
        StateGraph.addEdge(StateGraph.START, "a"),
        StateGraph.compileSync()
      )
      yield* Worker.start({ concurrency: 1, pollInterval: "5 millis" })
      const r = yield* Orchestrator.orchestrate({ workflowId: "cancel-activity", graph, input: {} }, { id: "async" })
      yield* Deferred.await(started)
      yield* Pipeline.cancel(r.pipelineId!)
      yield* Deferred.succeed(cancelled, undefined)
      const job = yield* jobWith(r.pipelineId!, "a", (j) => j.status === "cancelled")
      // the run lost its lease with the cancel: "after" was refused before it started
      expect([yield* Ref.get(before), yield* Ref.get(after)]).toEqual([1, 0])
      expect(job.error).toBe("the pipeline was cancelled while this job ran")
      // continuing the thread replays "before" from its journal and runs "after" once
      expect(yield* graph.invoke(null, { threadId: r.threadId })).toEqual({ log: ["a"] })
      expect([yield* Ref.get(before), yield* Ref.get(after)]).toEqual([1, 1])
    }).pipe(Effect.scoped, Effect.provide(fullLayer(tempDb()))))

  it.effect("the event sequence of a run", () =>
    Effect.gen(function*() {
      const graph = StateGraph.make({ id: "events", state: Log }).pipe(
        StateGraph.addNode("a", () => Effect.succeed({ log: ["a"] })),
        StateGraph.addNode("b", () => Effect.succeed({ log: ["b"] })),
        StateGraph.addEdge(StateGraph.START, "a"),
        StateGraph.addEdge("a", "b"),
        StateGraph.compileSync()
      )
      const events = yield* RunEvent.EventBus.subscribe("events-thread")
      yield* Worker.start({ concurrency: 1, pollInterval: "5 millis" })
      const r = yield* Orchestrator.orchestrate({ workflowId: "events", graph, input: {}, threadId: "events-thread" }, { id: "async" })
      const seen = Chunk.toReadonlyArray(
        yield* events.pipe(Stream.takeUntil((e) => e._tag === "PipelineCompleted" || e._tag === "PipelineFailed"), Stream.runCollect)
      )
      const describe = (e: RunEvent.RunEvent) => ("node" in e ? `${e._tag}(${e.node})` : e._tag)
      expect(seen.map(describe)).toEqual([
        "PipelineCreated",
        "JobCreated(a)",
        "PipelineStarted",
        "JobStarted(a)",
        "NodeStarted(a)",
        "NodeCompleted(a)",
        "CheckpointSaved",
        "JobCompleted(a)",
        "JobCreated(b)",
        "JobStarted(b)",
        "NodeStarted(b)",
        "NodeCompleted(b)",
        "CheckpointSaved",
        "JobCompleted(b)",
        "PipelineCompleted"
      ])
      for (const e of seen) {
        expect(e.executionId).toBe(r.executionId)
        expect(e.pipelineId).toBe(r.pipelineId)
      }
      // every event encodes (for server-sent events, logs)
      for (const e of seen) expect(Schema.decodeUnknownSync(RunEvent.RunEvent)(Schema.encodeSync(RunEvent.RunEvent)(e))).toEqual(e)

      // the inline pipeline orchestrator publishes the same lifecycle
      const inline = yield* RunEvent.EventBus.subscribe("inline-thread")
      yield* Orchestrator.orchestrate({ workflowId: "events", graph, input: {}, threadId: "inline-thread" }, { id: "pipeline" })
      const inlineSeen = Chunk.toReadonlyArray(
        yield* inline.pipe(Stream.takeUntil((e) => e._tag === "PipelineCompleted"), Stream.runCollect)
      )
      expect(inlineSeen.map(describe)).toEqual([
        "PipelineCreated",
        "PipelineStarted",
        "NodeStarted(a)",
        "JobCreated(a)",
        "JobStarted(a)",
        "NodeCompleted(a)",
        "JobCompleted(a)",
        "CheckpointSaved",
        "NodeStarted(b)",
        "JobCreated(b)",
        "JobStarted(b)",
        "NodeCompleted(b)",
        "JobCompleted(b)",
        "CheckpointSaved",
        "PipelineCompleted"
      ])
    }).pipe(Effect.scoped, Effect.provide(fullLayer(tempDb()))))
})
