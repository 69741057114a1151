import { describe, expect, it } from "@effect/vitest"
import { Clock, Deferred, Effect, Either, Fiber, FiberRef, Layer, Option, Ref, Schedule, Schema } from "effect"
import {
  Channel,
  Interrupt,
  Orchestrator,
  Pipeline,
  Snapshots,
  StateGraph,
  Worker
} from "effect-stategraph"
import { awaitPipeline, eventually, fullLayer, liveSleep, tempDb } from "./fixtures/orchestrator/setup.js"

class OrchApproval extends Interrupt.Tag("OrchApproval", {
  request: Schema.Struct({ draft: Schema.String }),
  response: Schema.Struct({ approved: Schema.Boolean })
}) {}

const Log = { log: Channel.append(Schema.String) }

const chain = StateGraph.make({ id: "chain", state: Log }).pipe(
  StateGraph.addNode("a", () => Effect.succeed({ log: ["a"] })),
  StateGraph.addNode("b", () => Effect.succeed({ log: ["b"] })),
  StateGraph.addEdge(StateGraph.START, "a"),
  StateGraph.addEdge("a", "b"),
  StateGraph.compileSync()
)

const approvalGraph = StateGraph.make({ id: "approval", state: Log }).pipe(
  StateGraph.addNode("write", () => Effect.succeed({ log: ["draft"] })),
  StateGraph.addNode("review", () =>
    Effect.map(OrchApproval.ask({ draft: "draft" }), (a) => ({ log: [a.approved ? "approved" : "rejected"] }))),
  StateGraph.addNode("publish", () => Effect.succeed({ log: ["published"] })),
  StateGraph.addEdge(StateGraph.START, "write"),
  StateGraph.addEdge("write", "review"),
  StateGraph.addEdge("review", "publish"),
  StateGraph.compileSync()
)

/** Answers the approval graph's pending question on `threadId` through orchestrator `id`. */
const resumeApproval = (
  id: "stategraph" | "async",
  threadId: string,
  approved: boolean,
  graph: StateGraph.AnyCompiled = approvalGraph
) =>
  Orchestrator.orchestrate({ workflowId: "approval", graph, input: null, threadId, resume: [OrchApproval.respond({ approved })] }, {
    id
  })

const sync = ["stategraph", "sync", "pipeline"] as const

/** Runs a request on the async orchestrator with a worker pool and returns the final state. */
const runAsync = <S extends Channel.Channels>(
  graph: StateGraph.CompiledGraph<S, any, any, any>,
  input: Channel.Update<S>,
  options: Record<string, unknown> = {},
  workers = 2
) =>
  Effect.scoped(Effect.gen(function*() {
    yield* Worker.start({ concurrency: workers, pollInterval: "5 millis" })
    const response = yield* Orchestrator.orchestrate({ workflowId: graph.id, graph, input, options }, { id: "async" })
    const pipeline = yield* awaitPipeline(response.pipelineId!, ["completed", "failed", "paused", "cancelled"])
    const state = yield* graph.getState(response.threadId)
    return { response, pipeline, state }
  }))

describe("Orchestrators registry", () => {
  it.effect("resolves by id, by capabilities, with the configured fallback", () =>
    Effect.gen(function*() {
      expect((yield* Orchestrator.resolve({ id: "async" })).id).toBe("async")
      expect((yield* Orchestrator.resolve({ id: "pipeline" })).id).toBe("pipeline")
      // unknown id → the fallback
      expect((yield* Orchestrator.resolve({ id: "flowdrop_runtime:synchronous" })).id).toBe("sync")
      // nothing asked → the fallback
      expect((yield* Orchestrator.resolve()).id).toBe("sync")
      // by capabilities: the fallback when it has them, else the first that has them
      expect((yield* Orchestrator.resolve({ require: ["synchronous_execution"] })).id).toBe("sync")
      expect((yield* Orchestrator.resolve({ require: ["async_execution", "job_tracking"] })).id).toBe("async")
      expect((yield* Orchestrator.resolve({ require: ["interrupt_support", "synchronous_execution"] })).id).toBe("stategraph")
      // an id that lacks a required capability
      const missing = yield* Effect.flip(Orchestrator.resolve({ id: "sync", require: ["interrupt_support"] }))
      expect(missing._tag).toBe("CapabilityMissing")
      if (missing._tag === "CapabilityMissing") {
        expect(missing.orchestrator).toBe("sync")
        expect(missing.missing).toEqual(["interrupt_support"])
      }
      const all = yield* Effect.flatMap(Orchestrator.Orchestrators, (r) => r.all)
      expect(all.map((o) => o.id)).toEqual(["stategraph", "sync", "pipeline", "async"])
    }).pipe(Effect.provide(fullLayer(tempDb()))))

  it.effect("without a fallback an unknown id is OrchestratorNotFound; a capability nobody has is CapabilityMissing", () =>
    Effect.gen(function*() {
      const notFound = yield* Effect.flip(Orchestrator.resolve({ id: "nope" }))
      expect(notFound._tag).toBe("OrchestratorNotFound")
      if (notFound._tag === "OrchestratorNotFound") expect(notFound.available).toEqual(["sync", "stategraph"])
      const missing = yield* Effect.flip(Orchestrator.resolve({ require: ["async_execution"] }))
      expect(missing._tag).toBe("CapabilityMissing")
      if (missing._tag === "CapabilityMissing") {
        expect(missing.orchestrator).toBeUndefined()
        expect(missing.missing).toEqual(["async_execution"])
      }
    }).pipe(Effect.provide(
      Orchestrator.layer({}, Orchestrator.layerSync, Orchestrator.layerStateGraph).pipe(Layer.provide(Snapshots.layerMemory))
    )))

  it.effect("configs are decoded with defaults; a bad config is InvalidConfig naming the field", () =>
    Effect.gen(function*() {
      const async = yield* Orchestrator.resolve({ id: "async" })
      const config = yield* Orchestrator.decodeConfig(async, {})
      expect(config).toEqual({
        priority: 0,
        maxConcurrentJobs: 5,
        retryStrategy: "individual",
        backoff: { baseMillis: 1000, factor: 2, maxDelayMillis: 60_000, maxAttempts: 3 },
        jobPriorityStrategy: "dependency_order"
      })
      const partial = yield* Orchestrator.decodeConfig(async, { backoff: { maxAttempts: 5 } })
      expect(partial.backoff).toEqual({ baseMillis: 1000, factor: 2, maxDelayMillis: 60_000, maxAttempts: 5 })
      const bad = (options: unknown) => Effect.flip(Orchestrator.decodeConfig(async, options))
      expect((yield* bad({ maxConcurrentJobs: 0 })).field).toBe("maxConcurrentJobs")
      expect((yield* bad({ backoff: { factor: 0.5 } })).field).toBe("backoff.factor")
      expect((yield* bad({ retryStrategy: "sometimes" })).field).toBe("retryStrategy")
      expect((yield* bad({ maxConcurentJobs: 2 })).field).toBe("maxConcurentJobs")
      const syncO = yield* Orchestrator.resolve({ id: "sync" })
      expect((yield* Effect.flip(Orchestrator.decodeConfig(syncO, { stopAfter: { steps: 0 } }))).field).toBe("stopAfter.steps")
      // orchestrate refuses it with the same typed error
      const refused = yield* Effect.flip(
        Orchestrator.orchestrate({ workflowId: "chain", graph: chain, input: {}, options: { maxConcurrentJobs: -1 } }, { id: "async" })
      )
      expect(refused._tag).toBe("InvalidConfig")
    }).pipe(Effect.provide(fullLayer(tempDb()))))

  it.effect("supports(graph) gives a reason; orchestrate refuses an unsupported graph", () =>
    Effect.gen(function*() {
      const gated = StateGraph.make({ id: "gated", state: Log }).pipe(
        StateGraph.addNode("a", () => Effect.succeed({ log: ["a"] })),
        StateGraph.addEdge(StateGraph.START, "a"),
        StateGraph.compileSync({ interruptBefore: ["a"] })
      )
      const syncO = yield* Orchestrator.resolve({ id: "sync" })
      const support = syncO.supports(gated)
      expect(support.supported).toBe(false)
      if (!support.supported) expect(support.reason).toContain("breakpoints")
      expect((yield* Orchestrator.resolve({ id: "stategraph" })).supports(gated)).toEqual({ supported: true })
      const error = yield* Effect.flip(Orchestrator.orchestrate({ workflowId: "gated", graph: gated, input: {} }, { id: "pipeline" }))
      expect(error._tag).toBe("UnsupportedGraph")
    }).pipe(Effect.provide(fullLayer(tempDb()))))
})

// ---------------------------------------------------------------------------------------------
// capability claims, proven per orchestrator
// ---------------------------------------------------------------------------------------------

const Caller = FiberRef.unsafeMake("none")

describe("capabilities", () => {
  it.effect("each orchestrator declares exactly these capabilities", () =>
    Effect.gen(function*() {
      const all = yield* Effect.flatMap(Orchestrator.Orchestrators, (r) => r.all)
      const claims = Object.fromEntries(all.map((o) => [o.id, [...o.capabilities].sort()]))
      expect(claims).toEqual({
        stategraph: ["checkpointing", "error_recovery", "interrupt_support", "parallel_execution", "retry_support", "stateful", "synchronous_execution"],
        sync: ["checkpointing", "parallel_execution", "retry_support", "synchronous_execution"],
        pipeline: ["checkpointing", "job_tracking", "parallel_execution", "pipeline_based", "retry_support", "synchronous_execution"],
        async: [
          "async_execution",
          "checkpointing",
          "error_recovery",
          "interrupt_support",
          "job_tracking",
          "parallel_execution",
          "pipeline_based",
          "retry_support",
          "stateful"
        ]
      })
      for (const o of all) for (const c of o.capabilities) expect(Orchestrator.capabilities).toContain(c)
    }).pipe(Effect.provide(fullLayer(tempDb()))))

  it.effect("synchronous_execution: stategraph, sync and pipeline run the nodes in the caller's fiber", () =>
    Effect.gen(function*() {
      const graph = StateGraph.make({ id: "where", state: { who: Channel.lastValue(Schema.String, { initial: () => "" }) } }).pipe(
        StateGraph.addNode("read", () => Effect.map(FiberRef.get(Caller), (who) => ({ who }))),
        StateGraph.addEdge(StateGraph.START, "read"),
        StateGraph.compileSync()
      )
      for (const id of sync) {
        const r = yield* Effect.locally(Orchestrator.orchestrate({ workflowId: "where", graph, input: {} }, { id }), Caller, `caller-${id}`)
        expect(r.status).toBe("completed")
        expect(r.output?.who).toBe(`caller-${id}`)
      }
    }).pipe(Effect.provide(fullLayer(tempDb()))))

  it.effect("async_execution: async returns at once with a pipeline id; workers run the jobs later", () =>
    Effect.gen(function*() {
      const r = yield* Orchestrator.orchestrate({ workflowId: "chain", graph: chain, input: {} }, { id: "async" })
      expect(r.status).toBe("running")
      expect(r.output).toBeUndefined()
      const before = yield* Pipeline.pipelineStatus(r.pipelineId!)
      expect(before.status).toBe("running")
      expect(before.jobCounts.pending).toBe(1)
      expect(r.snapshot.tasks.map((t) => t.node)).toEqual(["a"])
      yield* Effect.scoped(Effect.zipRight(Worker.start({ concurrency: 1, pollInterval: "5 millis" }), awaitPipeline(r.pipelineId!, ["completed"])))
      expect((yield* chain.getState(r.threadId)).values.log).toEqual(["a", "b"])
    }).pipe(Effect.provide(fullLayer(tempDb()))))

  /** Two nodes of one step that each wait until both have started: they can only finish together. */
  const rendezvous = Effect.gen(function*() {
    const started = yield* Ref.make(0)
    const both = yield* Deferred.make<void>()
    const node = (name: string) => () =>
      Effect.gen(function*() {
        if ((yield* Ref.updateAndGet(started, (n) => n + 1)) === 2) yield* Deferred.succeed(both, undefined)
        yield* Deferred.await(both).pipe(Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("ran alone") }), Effect.withClock(
          (yield* Effect.clock)
        ))
        return { log: [name] }
      })
    return StateGraph.make({ id: "parallel", state: Log }).pipe(
      StateGraph.addNode("left", node("left")),
      StateGraph.addNode("right", node("right")),
      StateGraph.addEdge(StateGraph.START, "left"),
      StateGraph.addEdge(StateGraph.START, "right"),
      StateGraph.compileSync()
    )
  })

  it.effect("parallel_execution: the tasks of a step overlap on every orchestrator", () =>
    Effect.gen(function*() {
      for (const id of sync) {
        const graph = yield* rendezvous
        const r = yield* Orchestrator.orchestrate({ workflowId: "parallel", graph, input: {} }, { id })
        expect(r.status).toBe("completed")
        expect(r.output?.log).toEqual(["left", "right"])
      }
      const graph = yield* rendezvous
      const { pipeline, state } = yield* runAsync(graph, {}, { maxConcurrentJobs: 2 })
      expect(pipeline.status).toBe("completed")
      expect(state.values.log).toEqual(["left", "right"])
    }).pipe(Effect.provide(fullLayer(tempDb()))))

  const flaky = (failures: number) =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const graph = StateGraph.make({ id: "flaky", state: Log }).pipe(
        StateGraph.addNode("flaky", () =>
          Effect.flatMap(Ref.updateAndGet(calls, (n) => n + 1), (n) =>
            n <= failures ? Effect.fail(new Error(`boom ${n}`)) : Effect.succeed({ log: [`ok after ${n}`] })), {
          retry: Schedule.recurs(failures)
        }),
        StateGraph.addEdge(StateGraph.START, "flaky"),
        StateGraph.compileSync()
      )
      return { graph, calls }
    })

  it.effect("retry_support: node retries in the sync family, job retries with backoff in async", () =>
    Effect.gen(function*() {
      for (const id of sync) {
        const { calls, graph } = yield* flaky(2)
        const r = yield* Orchestrator.orchestrate({ workflowId: "flaky", graph, input: {} }, { id })
        expect(r.status).toBe("completed")
        expect(yield* Ref.get(calls)).toBe(3)
        if (id === "pipeline") {
          const jobs = yield* Pipeline.jobs(r.pipelineId!)
          expect(jobs.map((j) => [j.node, j.status, j.attempts])).toEqual([["flaky", "completed", 3]])
        }
      }
      // async: the job itself is retried (no node-level retry)
      const calls = yield* Ref.make(0)
      const graph = StateGraph.make({ id: "flaky-job", state: Log }).pipe(
        StateGraph.addNode("flaky", () =>
          Effect.flatMap(Ref.updateAndGet(calls, (n) => n + 1), (n) =>
            n <= 2 ? Effect.fail(new Error(`boom ${n}`)) : Effect.succeed({ log: [`ok after ${n}`] }))),
        StateGraph.addEdge(StateGraph.START, "flaky"),
        StateGraph.compileSync()
      )
      const { pipeline, response } = yield* runAsync(graph, {}, { backoff: { baseMillis: 1, maxAttempts: 3 } })
      expect(pipeline.status).toBe("completed")
      const jobs = yield* Pipeline.jobs(response.pipelineId!)
      expect(jobs.map((j) => [j.node, j.status, j.attempts])).toEqual([["flaky", "completed", 3]])
    }).pipe(Effect.provide(fullLayer(tempDb())), Effect.withClock(Clock.make())))

  it.effect("error_recovery: after a failure, stategraph and async go on without re-running finished tasks", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make<ReadonlyArray<string>>([])
      const failOnce = yield* Ref.make(true)
      const graph = StateGraph.make({ id: "recover", state: Log }).pipe(
        StateGraph.addNode("steady", () => Effect.as(Ref.update(runs, (r) => [...r, "steady"]), { log: ["steady"] })),
        StateGraph.addNode("shaky", () =>
          Effect.flatMap(Ref.getAndSet(failOnce, false), (fail) =>
            Effect.as(Ref.update(runs, (r) => [...r, fail ? "shaky failed" : "shaky"]), { log: ["shaky"] }).pipe(
              Effect.zipLeft(fail ? Effect.fail(new Error("transient")) : Effect.void)
            ))),
        StateGraph.addEdge(StateGraph.START, "steady"),
        StateGraph.addEdge(StateGraph.START, "shaky"),
        StateGraph.compileSync()
      )
      const first = yield* Orchestrator.orchestrate({ workflowId: "recover", graph, input: {}, threadId: "rec-1" }, { id: "stategraph" })
      expect(first.status).toBe("failed")
      const second = yield* Orchestrator.orchestrate({ workflowId: "recover", graph, input: null, threadId: "rec-1" }, { id: "stategraph" })
      expect(second.status).toBe("completed")
      expect(second.output?.log).toEqual(["steady", "shaky"])
      expect(yield* Ref.get(runs)).toEqual(["steady", "shaky failed", "shaky"])

      // async: the failed job is retried; the finished sibling is not run again
      yield* Ref.set(runs, [])
      yield* Ref.set(failOnce, true)
      const { pipeline, response, state } = yield* runAsync(graph, {}, { backoff: { baseMillis: 1 } })
      expect(pipeline.status).toBe("completed")
      expect(state.values.log).toEqual(["steady", "shaky"])
      expect([...(yield* Ref.get(runs))].sort()).toEqual(["shaky", "shaky failed", "steady"])
      const jobs = yield* Pipeline.jobs(response.pipelineId!)
      expect(jobs.map((j) => [j.node, j.attempts]).sort()).toEqual([["shaky", 2], ["steady", 1]])
    }).pipe(Effect.provide(fullLayer(tempDb())), Effect.withClock(Clock.make())))

  it.effect("pipeline_based and job_tracking: pipeline and async keep pipeline and job records", () =>
    Effect.gen(function*() {
      const inline = yield* Orchestrator.orchestrate({ workflowId: "chain", graph: chain, input: {} }, { id: "pipeline" })
      const { response: queued } = yield* runAsync(chain, {})
      for (const r of [inline, queued]) {
        const p = yield* Pipeline.pipelineStatus(r.pipelineId!)
        expect(p.status).toBe("completed")
        expect(p.workflowId).toBe("chain")
        expect(p.jobCounts.completed).toBe(2)
        const jobs = yield* Pipeline.jobs(r.pipelineId!)
        expect(jobs.map((j) => [j.node, j.step, j.status, j.attempts])).toEqual([["a", 0, "completed", 1], ["b", 1, "completed", 1]])
        expect(jobs.map((j) => j.output)).toEqual([{ log: ["a"] }, { log: ["b"] }])
        for (const j of jobs) {
          expect(j.startedAt).toBeDefined()
          expect(j.finishedAt).toBeDefined()
        }
      }
    }).pipe(Effect.provide(fullLayer(tempDb()))))

  it.effect("stateful: stategraph and async keep a thread's state across requests", () =>
    Effect.gen(function*() {
      for (const id of ["stategraph", "async"] as const) {
        const threadId = `stateful-${id}`
        for (const word of ["one", "two"]) {
          if (id === "async") {
            yield* Effect.scoped(Effect.gen(function*() {
              yield* Worker.start({ concurrency: 1, pollInterval: "5 millis" })
              const r = yield* Orchestrator.orchestrate({ workflowId: "chain", graph: chain, input: { log: [word] }, threadId }, { id })
              yield* awaitPipeline(r.pipelineId!, ["completed"])
            }))
          } else {
            yield* Orchestrator.orchestrate({ workflowId: "chain", graph: chain, input: { log: [word] }, threadId }, { id })
          }
        }
        expect((yield* chain.getState(threadId)).values.log).toEqual(["one", "a", "b", "two", "a", "b"])
      }
    }).pipe(Effect.provide(fullLayer(tempDb()))))

  it.effect("checkpointing: every orchestrator returns a snapshot that restores the run elsewhere", () =>
    Effect.gen(function*() {
      for (const id of [...sync, "async"] as const) {
        // stop after the first step (async: take the snapshot before any job ran)
        const first = id === "async"
          ? yield* Orchestrator.orchestrate({ workflowId: "chain", graph: chain, input: {} }, { id })
          : id === "stategraph"
          ? yield* Orchestrator.orchestrate({ workflowId: "chain", graph: chain, input: {} }, { id })
          : yield* Orchestrator.orchestrate({ workflowId: "chain", graph: chain, input: {}, options: { stopAfter: { steps: 1 } } }, { id })
        expect(first.snapshot.workflowVersion).toBe(chain.version)
        // the snapshot restores: sync continues it
        const restored = yield* Orchestrator.orchestrate({ workflowId: "chain", graph: chain, input: null, initialSnapshot: first.snapshot }, {
          id: "sync"
        })
        expect(restored.status).toBe("completed")
        expect(restored.output?.log).toEqual(["a", "b"])
        if (first.pipelineId !== undefined) {
          const p = yield* Pipeline.pipelineStatus(first.pipelineId)
          const store = yield* Snapshots.Snapshots
          const linked = yield* store.load(first.threadId, p.snapshotId!)
          expect(Option.isSome(linked)).toBe(true)
          if (id === "async") yield* Pipeline.cancel(first.pipelineId)
        }
      }
      // stategraph keeps a checkpoint per step
      const r = yield* Orchestrator.orchestrate({ workflowId: "chain", graph: chain, input: {}, threadId: "cp" }, { id: "stategraph" })
      expect(r.status).toBe("completed")
      expect((yield* chain.history("cp")).map((s) => s.step)).toEqual([2, 1, 0])
    }).pipe(Effect.provide(fullLayer(tempDb()))))

  it.effect("interrupt_support: stategraph and async pause on an interrupt and resume through the orchestrator", () =>
    Effect.gen(function*() {
      const paused = yield* Orchestrator.orchestrate({ workflowId: "approval", graph: approvalGraph, input: {}, threadId: "ap-1" }, {
        id: "stategraph"
      })
      expect(paused.status).toBe("paused")
      expect(paused.interrupts.map((i) => [i.kind, i.node])).toEqual([["OrchApproval", "review"]])
      expect(paused.interrupts[0]!.request).toEqual({ draft: "draft" })
      const done = yield* resumeApproval("stategraph", "ap-1", true)
      expect(done.status).toBe("completed")
      expect(done.output?.log).toEqual(["draft", "approved", "published"])

      yield* Effect.scoped(Effect.gen(function*() {
        yield* Worker.start({ concurrency: 2, pollInterval: "5 millis" })
        const r = yield* Orchestrator.orchestrate({ workflowId: "approval", graph: approvalGraph, input: {}, threadId: "ap-2" }, { id: "async" })
        const p = yield* awaitPipeline(r.pipelineId!, ["paused", "failed", "completed"])
        expect(p.status).toBe("paused")
        expect(p.pauseReason).toBe("interrupt")
        // a wrong answer is refused before anything is queued
        const invalid = yield* Effect.flip(Orchestrator.orchestrate({
          workflowId: "approval",
          graph: approvalGraph,
          input: null,
          threadId: "ap-2",
          resume: [OrchApproval.respond({ approved: "yes" } as any)]
        }, { id: "async" }))
        expect(invalid._tag).toBe("InvalidResumeValue")
        const resumed = yield* resumeApproval("async", "ap-2", false)
        expect(resumed.pipelineId).toBe(r.pipelineId)
        yield* awaitPipeline(r.pipelineId!, ["completed"])
        expect((yield* approvalGraph.getState("ap-2")).values.log).toEqual(["draft", "rejected", "published"])
        const jobs = yield* Pipeline.jobs(r.pipelineId!)
        expect(jobs.map((j) => [j.node, j.status])).toEqual([
          ["write", "completed"],
          ["review", "interrupted"],
          ["review", "completed"],
          ["publish", "completed"]
        ])
      }))
    }).pipe(Effect.provide(fullLayer(tempDb()))))
})

describe("refused requests", () => {
  it.effect("an unknown thread is ThreadNotFound on every orchestrator, with or without answers", () =>
    Effect.gen(function*() {
      for (const id of ["stategraph", "sync", "pipeline", "async"] as const) {
        const continued = yield* Effect.flip(
          Orchestrator.orchestrate({ workflowId: "chain", graph: chain, input: null, threadId: `nope-${id}` }, { id })
        )
        expect([id, continued._tag]).toEqual([id, "ThreadNotFound"])
      }
      for (const id of ["stategraph", "async"] as const) {
        const resumed = yield* Effect.flip(resumeApproval(id, `nope-resume-${id}`, true))
        expect([id, resumed._tag]).toEqual([id, "ThreadNotFound"])
      }
    }).pipe(Effect.provide(fullLayer(tempDb()))))

  it.effect("a pipeline (inline) run that pauses does not hold its thread: answered through stategraph, not queued on async", () =>
    Effect.gen(function*() {
      const paused = yield* Orchestrator.orchestrate({ workflowId: "approval", graph: approvalGraph, input: {}, threadId: "inl" }, {
        id: "pipeline"
      })
      expect(paused.status).toBe("paused")
      expect((yield* Pipeline.pipelineStatus(paused.pipelineId!)).status).toBe("paused")
      // async does not queue a job for another orchestrator's pipeline (no worker would take it)
      const viaAsync = yield* Effect.flip(resumeApproval("async", "inl", true))
      expect(viaAsync._tag).toBe("PipelineNotFound")
      const done = yield* resumeApproval("stategraph", "inl", true)
      expect(done.status).toBe("completed")
      expect(done.output?.log).toEqual(["draft", "approved", "published"])
    }).pipe(Effect.provide(fullLayer(tempDb()))))

  it.effect("pause and cancel of an inline pipeline while it runs are refused: only its caller can stop it", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const slow = StateGraph.make({ id: "slow-inline", state: Log }).pipe(
        StateGraph.addNode("wait", () => Effect.as(Deferred.await(gate), { log: ["waited"] })),
        StateGraph.addEdge(StateGraph.START, "wait"),
        StateGraph.compileSync()
      )
      const run = yield* Effect.fork(Orchestrator.orchestrate({ workflowId: "slow-inline", graph: slow, input: {}, threadId: "slow" }, { id: "pipeline" }))
      const pipeline = yield* eventually(Effect.flatMap(Pipeline.Pipelines, (p) => p.byThread("slow", ["running"])))
      // the gate opens whatever happens, so a failed check cannot leave the run waiting
      const refused = yield* Effect.ensuring(
        Effect.all([Effect.either(Pipeline.pause(pipeline.id)), Effect.either(Pipeline.cancel(pipeline.id))]),
        Deferred.succeed(gate, undefined)
      )
      expect(refused.map((e) => Either.isLeft(e) && e.left._tag)).toEqual(["InvalidPipelineTransition", "InvalidPipelineTransition"])
      const done = yield* Fiber.join(run)
      expect(done.status).toBe("completed")
      expect((yield* Pipeline.pipelineStatus(pipeline.id)).status).toBe("completed")
    }).pipe(Effect.provide(fullLayer(tempDb()))))

  it.effect("async resume with another version of the graph is SnapshotVersionMismatch; the pipeline stays paused", () =>
    Effect.scoped(Effect.gen(function*() {
      const changed = StateGraph.make({ id: "approval", state: Log }).pipe(
        StateGraph.addNode("write", () => Effect.succeed({ log: ["draft v2"] })),
        StateGraph.addNode("review", () =>
          Effect.map(OrchApproval.ask({ draft: "draft" }), (a) => ({ log: [a.approved ? "approved v2" : "rejected v2"] }))),
        StateGraph.addEdge(StateGraph.START, "write"),
        StateGraph.addEdge("write", "review"),
        StateGraph.compileSync()
      )
      expect(changed.version).not.toBe(approvalGraph.version)
      const r = yield* Orchestrator.orchestrate({ workflowId: "approval", graph: approvalGraph, input: {}, threadId: "v" }, { id: "async" })
      yield* Effect.scoped(Effect.zipRight(
        Worker.start({ concurrency: 1, pollInterval: "5 millis" }),
        awaitPipeline(r.pipelineId!, ["paused"])
      ))
      const refused = yield* Effect.flip(resumeApproval("async", "v", true, changed))
      expect(refused._tag).toBe("SnapshotVersionMismatch")
      expect((yield* Pipeline.pipelineStatus(r.pipelineId!)).status).toBe("paused")
      // the version that paused it resumes it
      yield* resumeApproval("async", "v", true)
      yield* Effect.scoped(Effect.zipRight(
        Worker.start({ concurrency: 1, pollInterval: "5 millis" }),
        awaitPipeline(r.pipelineId!, ["completed"])
      ))
      expect((yield* approvalGraph.getState("v")).values.log).toEqual(["draft", "approved", "published"])
    })).pipe(Effect.provide(fullLayer(tempDb()))))

  it.effect("async resume: the loser of two concurrent resumes is ThreadBusy; a finished thread is ThreadNotPaused", () =>
    Effect.scoped(Effect.gen(function*() {
      const r = yield* Orchestrator.orchestrate({ workflowId: "approval", graph: approvalGraph, input: {}, threadId: "race" }, {
        id: "async"
      })
      yield* Effect.scoped(Effect.zipRight(
        Worker.start({ concurrency: 1, pollInterval: "5 millis" }),
        awaitPipeline(r.pipelineId!, ["paused"])
      ))
      const resume = (approved: boolean) =>
        Effect.either(resumeApproval("async", "race", approved))
      const outcomes = yield* Effect.all([resume(true), resume(false)], { concurrency: "unbounded" })
      expect(outcomes.filter(Either.isRight)).toHaveLength(1)
      expect(outcomes.filter(Either.isLeft).map((e) => e.left._tag)).toEqual(["ThreadBusy"])
      // no worker yet: the winner's job waits; run it, the thread completes with the winner's answer
      yield* Effect.scoped(Effect.zipRight(
        Worker.start({ concurrency: 1, pollInterval: "5 millis" }),
        awaitPipeline(r.pipelineId!, ["completed"])
      ))
      const log = (yield* approvalGraph.getState("race")).values.log
      expect([["draft", "approved", "published"], ["draft", "rejected", "published"]]).toContainEqual(log)
      const late = yield* Effect.flip(resume(true).pipe(Effect.flatten))
      expect(late._tag).toBe("ThreadNotPaused")
      // a thread paused by the stategraph orchestrator is not the async orchestrator's to resume
      yield* Orchestrator.orchestrate({ workflowId: "approval", graph: approvalGraph, input: {}, threadId: "sg" }, { id: "stategraph" })
      const other = yield* Effect.flip(resumeApproval("async", "sg", true))
      expect(other._tag).toBe("PipelineNotFound")
      expect(other.message).toContain(`thread "sg" is paused, but by no pipeline of this orchestrator`)
    })).pipe(Effect.provide(fullLayer(tempDb()))))
})

// ---------------------------------------------------------------------------------------------
// sync fail-fast, pipeline records
// ---------------------------------------------------------------------------------------------

class Boom extends Schema.TaggedError<Boom>()("Boom", { reason: Schema.String }) {}

describe("sync and pipeline", () => {
  it.effect("sync fails fast: status failed, the error in the response and the snapshot, later nodes not run", () =>
    Effect.gen(function*() {
      const ran = yield* Ref.make<ReadonlyArray<string>>([])
      const mark = (name: string) => Ref.update(ran, (r) => [...r, name])
      const graph = StateGraph.make({ id: "failing", state: Log }).pipe(
        StateGraph.addNode("first", () => Effect.as(mark("first"), { log: ["first"] })),
        StateGraph.addNode("broken", () => Effect.zipRight(mark("broken"), Effect.fail(new Boom({ reason: "disk full" })))),
        StateGraph.addNode("last", () => Effect.as(mark("last"), { log: ["last"] })),
        StateGraph.addEdge(StateGraph.START, "first"),
        StateGraph.addEdge("first", "broken"),
        StateGraph.addEdge("broken", "last"),
        StateGraph.compileSync()
      )
      const r = yield* Orchestrator.orchestrate({ workflowId: "failing", graph, input: {} }, { id: "sync" })
      expect(r.status).toBe("failed")
      expect(r.error).toBeInstanceOf(Boom)
      expect((r.error as Boom).reason).toBe("disk full")
      expect(r.output).toBeUndefined()
      expect(r.snapshot.status).toBe("failed")
      expect(r.snapshot.error).toContain("disk full")
      expect(r.snapshot.nodeStates["broken"]?.status).toBe("failed")
      expect(r.snapshot.nodeStates["first"]?.status).toBe("completed")
      expect(yield* Ref.get(ran)).toEqual(["first", "broken"])
    }).pipe(Effect.provide(fullLayer(tempDb()))))

  it.effect("sync stopAfter { nodes } returns a running snapshot after that node", () =>
    Effect.gen(function*() {
      const r = yield* Orchestrator.orchestrate({ workflowId: "chain", graph: chain, input: {}, options: { stopAfter: { nodes: ["a"] } } }, {
        id: "sync"
      })
      expect(r.status).toBe("running")
      expect(r.snapshot.status).toBe("running")
      expect(r.snapshot.tasks.map((t) => t.node)).toEqual(["b"])
      expect(r.snapshot.nodeStates["a"]?.status).toBe("completed")
    }).pipe(Effect.provide(fullLayer(tempDb()))))

  it.effect("pipeline: the records after a run are queryable (pipeline, jobs, node status)", () =>
    Effect.gen(function*() {
      const graph = StateGraph.make({ id: "records", state: Log }).pipe(
        StateGraph.addNode("fetch", () => Effect.succeed({ log: ["fetched"] })),
        StateGraph.addNode("left", () => Effect.succeed({ log: ["l"] })),
        StateGraph.addNode("right", () => Effect.fail(new Boom({ reason: "right broke" }))),
        StateGraph.addEdge(StateGraph.START, "fetch"),
        StateGraph.addEdge("fetch", "left"),
        StateGraph.addEdge("fetch", "right"),
        StateGraph.compileSync()
      )
      const r = yield* Orchestrator.orchestrate({ workflowId: "records", graph, input: {}, threadId: "rec-thread" }, { id: "pipeline" })
      expect(r.status).toBe("failed")
      const p = yield* Pipeline.pipelineStatus(r.pipelineId!)
      expect(p.status).toBe("failed")
      expect(p.threadId).toBe("rec-thread")
      expect(p.executionId).toBe(r.executionId)
      expect(p.error).toContain("right broke")
      expect(p.snapshotId).toBe(r.snapshot.checkpointId)
      expect(p.jobCounts).toMatchObject({ total: 3, completed: 2, failed: 1 })
      const jobs = yield* Pipeline.jobs(r.pipelineId!)
      expect(jobs.map((j) => [j.node, j.step, j.status])).toEqual([
        ["fetch", 0, "completed"],
        ["left", 1, "completed"],
        ["right", 1, "failed"]
      ])
      expect(jobs[2]!.error).toContain("right broke")
      expect(jobs[0]!.output).toEqual({ log: ["fetched"] })
      const fetch = yield* Pipeline.nodeStatus(r.executionId, "fetch")
      expect(fetch.status).toBe("completed")
      expect(fetch.output).toEqual({ log: ["fetched"] })
      const right = yield* Pipeline.nodeStatus(r.executionId, "right")
      expect(right.status).toBe("failed")
      expect(right.error).toContain("right broke")
    }).pipe(Effect.provide(fullLayer(tempDb()))))

  it.effect("nodeStatus reads the asked execution, not the thread's latest", () =>
    Effect.gen(function*() {
      const graph = StateGraph.make({ id: "maybe", state: { fail: Channel.lastValue(Schema.Boolean) } }).pipe(
        StateGraph.addNode("b", (s) => (s.fail ? Effect.fail(new Boom({ reason: "asked to" })) : Effect.succeed({}))),
        StateGraph.addEdge(StateGraph.START, "b"),
        StateGraph.compileSync()
      )
      const first = yield* Orchestrator.orchestrate({ workflowId: "maybe", graph, input: { fail: true }, threadId: "ns" }, { id: "stategraph" })
      expect(first.status).toBe("failed")
      const second = yield* Orchestrator.orchestrate({ workflowId: "maybe", graph, input: { fail: false }, threadId: "ns" }, {
        id: "stategraph"
      })
      expect(second.status).toBe("completed")
      expect(second.executionId).not.toBe(first.executionId)
      expect((yield* Pipeline.nodeStatus(first.executionId, "b")).status).toBe("failed")
      expect((yield* Pipeline.nodeStatus(second.executionId, "b")).status).toBe("completed")
      // and each execution's snapshot (FlowDrop's getSnapshot(executionId))
      expect((yield* Pipeline.executionSnapshot(first.executionId)).status).toBe("failed")
      expect((yield* Pipeline.executionSnapshot(second.executionId)).status).toBe("completed")
      expect((yield* Effect.flip(Pipeline.executionSnapshot("nope")))._tag).toBe("PipelineNotFound")
    }).pipe(Effect.provide(fullLayer(tempDb()))))
})

void liveSleep
void Either

describe("async interrupts", () => {
  it.effect("two tasks of a step ask at once in two jobs: both interrupts stay pending; answered one by one", () =>
    Effect.gen(function*() {
      // both tasks start before either asks (a rendezvous), so both jobs pause the thread
      const started = yield* Ref.make(0)
      const met = yield* Deferred.make<void>()
      const meet = Effect.gen(function*() {
        if ((yield* Ref.updateAndGet(started, (n) => n + 1)) === 2) yield* Deferred.succeed(met, undefined)
        yield* Deferred.await(met)
      })
      const asker = (name: string) => () =>
        Effect.zipRight(meet, Effect.map(OrchApproval.ask({ draft: name }), (a) => ({ log: [`${name} ${a.approved}`] })))
      const graph = StateGraph.make({ id: "two-asks", state: Log }).pipe(
        StateGraph.addNode("left", asker("left")),
        StateGraph.addNode("right", asker("right")),
        StateGraph.addNode("after", () => Effect.succeed({ log: ["after"] })),
        StateGraph.addEdge(StateGraph.START, "left"),
        StateGraph.addEdge(StateGraph.START, "right"),
        StateGraph.addEdge(["left", "right"], "after"),
        StateGraph.compileSync()
      )
      yield* Worker.start({ concurrency: 2, pollInterval: "5 millis" })
      const r = yield* Orchestrator.orchestrate({ workflowId: "two-asks", graph, input: {}, threadId: "asks", options: { maxConcurrentJobs: 2 } }, {
        id: "async"
      })
      const pending = () =>
        eventually(Effect.map(graph.getState("asks"), (s) => {
          const p = s.interrupts.filter((i) => i.status === "pending")
          return s.status === "paused" && p.length > 0 ? Option.some(p) : Option.none()
        }))
      yield* awaitPipeline(r.pipelineId!, ["paused"])
      yield* eventually(Effect.map(Pipeline.jobs(r.pipelineId!), (jobs) =>
        jobs.filter((j) => j.status === "interrupted").length === 2 ? Option.some(jobs) : Option.none()))
      const both = yield* pending()
      expect(both.map((i) => (i.request as { draft: string }).draft).sort()).toEqual(["left", "right"])
      const left = both.find((i) => (i.request as { draft: string }).draft === "left")!
      const right = both.find((i) => (i.request as { draft: string }).draft === "right")!
      const resume = (id: string, approved: boolean) =>
        Orchestrator.orchestrate({
          workflowId: "two-asks",
          graph,
          input: null,
          threadId: "asks",
          resume: [OrchApproval.respondTo(id, { approved })]
        }, { id: "async" })
      yield* resume(left.id, true)
      // the pipeline pauses again on the unanswered one
      yield* eventually(Effect.map(Pipeline.jobs(r.pipelineId!), (jobs) =>
        jobs.filter((j) => j.taskId.startsWith("resume/") && j.status === "completed").length === 1 ? Option.some(jobs) : Option.none()))
      const p = yield* awaitPipeline(r.pipelineId!, ["paused"])
      expect(p.pauseReason).toBe("interrupt")
      expect((yield* pending()).map((i) => i.id)).toEqual([right.id])
      yield* resume(right.id, false)
      yield* awaitPipeline(r.pipelineId!, ["completed"])
      expect((yield* graph.getState("asks")).values.log).toEqual(["left true", "right false", "after"])
    }).pipe(Effect.scoped, Effect.provide(fullLayer(tempDb()))))
})
