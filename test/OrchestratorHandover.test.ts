import { describe, expect, it } from "@effect/vitest"
import { Data, Effect, Ref, Schema } from "effect"
import { Channel, Interrupt, Orchestrator, Pipeline, type Snapshot, StateGraph, Task, Worker } from "effect-stategraph"
import { awaitPipeline, fullLayer, tempDb } from "./fixtures/orchestrator/setup.js"

const makeGraph = (runs: Ref.Ref<ReadonlyArray<string>>) => {
  const node = (name: string) => () => Effect.as(Ref.update(runs, (r) => [...r, name]), { log: [name] })
  return StateGraph.make({ id: "handover", state: { log: Channel.append(Schema.String) } }).pipe(
    StateGraph.addNode("fetch", node("fetch")),
    StateGraph.addNode("parse", node("parse")),
    StateGraph.addNode("enrich", node("enrich")),
    StateGraph.addNode("store", node("store")),
    StateGraph.addEdge(StateGraph.START, "fetch"),
    StateGraph.addEdge("fetch", "parse"),
    StateGraph.addEdge("parse", "enrich"),
    StateGraph.addEdge("enrich", "store"),
    StateGraph.compileSync()
  )
}

describe("handover", () => {
  it.effect("sync → async: the nodes sync ran are injected, not run again", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make<ReadonlyArray<string>>([])
      const graph = makeGraph(runs)
      const first = yield* Orchestrator.orchestrate({ workflowId: "handover", graph, input: {}, options: { stopAfter: { steps: 2 } } }, {
        id: "sync"
      })
      expect(first.status).toBe("running")
      expect(first.snapshot.status).toBe("running")
      expect(Object.entries(first.snapshot.nodeStates).map(([k, v]) => [k, v.status, v.injected])).toEqual([
        ["fetch", "completed", false],
        ["parse", "completed", false]
      ])
      expect(first.snapshot.tasks.map((t) => t.node)).toEqual(["enrich"])
      expect(yield* Ref.get(runs)).toEqual(["fetch", "parse"])

      const second = yield* Orchestrator.orchestrate({
        workflowId: "handover",
        graph,
        input: null,
        initialSnapshot: first.snapshot
      }, { id: "async" })
      expect(second.status).toBe("running")
      // FlowDrop's handover jobs: the pre-loaded nodes are recorded completed and injected
      const queued = yield* Pipeline.jobs(second.pipelineId!)
      expect(queued.map((j) => [j.node, j.status, j.injected])).toEqual([
        ["fetch", "completed", true],
        ["parse", "completed", true],
        ["enrich", "pending", false]
      ])
      yield* Effect.scoped(Effect.zipRight(
        Worker.start({ concurrency: 1, pollInterval: "5 millis" }),
        awaitPipeline(second.pipelineId!, ["completed"])
      ))
      expect(yield* Ref.get(runs)).toEqual(["fetch", "parse", "enrich", "store"])
      const final = yield* graph.getState(second.threadId)
      expect(final.values.log).toEqual(["fetch", "parse", "enrich", "store"])
      expect(Object.entries(final.nodeStates).map(([k, v]) => [k, v.status, v.injected])).toEqual([
        ["fetch", "completed", true],
        ["parse", "completed", true],
        ["enrich", "completed", false],
        ["store", "completed", false]
      ])
    }).pipe(Effect.provide(fullLayer(tempDb()))))

  it.effect("every orchestrator accepts an initial snapshot", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make<ReadonlyArray<string>>([])
      const graph = makeGraph(runs)
      const first = yield* Orchestrator.orchestrate({ workflowId: "handover", graph, input: {}, options: { stopAfter: { nodes: ["parse"] } } }, {
        id: "sync"
      })
      for (const id of ["stategraph", "sync", "pipeline"] as const) {
        yield* Ref.set(runs, [])
        const r = yield* Orchestrator.orchestrate({ workflowId: "handover", graph, input: null, initialSnapshot: first.snapshot }, { id })
        expect(r.status).toBe("completed")
        expect(r.output?.log).toEqual(["fetch", "parse", "enrich", "store"])
        expect(yield* Ref.get(runs)).toEqual(["enrich", "store"])
        expect(r.snapshot.nodeStates["fetch"]?.injected).toBe(true)
        expect(r.snapshot.nodeStates["store"]?.injected).toBe(false)
      }
    }).pipe(Effect.provide(fullLayer(tempDb()))))

  it.effect("a tampered handover snapshot is refused with its code, and nothing runs", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make<ReadonlyArray<string>>([])
      const graph = makeGraph(runs)
      const first = yield* Orchestrator.orchestrate({ workflowId: "handover", graph, input: {}, options: { stopAfter: { steps: 2 } } }, {
        id: "sync"
      })
      const good = first.snapshot
      const node = (n: string, patch: Partial<Snapshot.WorkflowSnapshotEncoded["nodeStates"][string]>) => ({
        ...good.nodeStates[n]!,
        ...patch
      })
      const tampered: ReadonlyArray<readonly [string, Snapshot.WorkflowSnapshotEncoded]> = [
        ["VERSION_MISMATCH", { ...good, workflowVersion: "0123456789ab" }],
        ["UNKNOWN_NODE", {
          ...good,
          nodeStates: { ...good.nodeStates, ghost: { ...node("fetch", {}), nodeId: "ghost" } }
        }],
        ["DEPENDENCY_NOT_MET", { ...good, nodeStates: { ...good.nodeStates, fetch: node("fetch", { status: "pending" }) } }],
        // a channel value the graph's schema does not decode
        ["INVALID_SNAPSHOT", { ...good, channels: { log: 42 } }]
      ]
      yield* Ref.set(runs, [])
      for (const [code, snapshot] of tampered) {
        for (const id of ["sync", "stategraph", "pipeline", "async"] as const) {
          const error = yield* Effect.flip(
            Orchestrator.orchestrate({ workflowId: "handover", graph, input: null, initialSnapshot: snapshot }, { id })
          )
          expect(error._tag).toBe("HandoverRefused")
          if (error._tag === "HandoverRefused") {
            expect(error.code).toBe(code)
            expect(error.errors[0]!.code).toBe(code)
          }
        }
      }
      expect(yield* Ref.get(runs)).toEqual([])
    }).pipe(Effect.provide(fullLayer(tempDb()))))

  class PayOk extends Interrupt.Tag("HandoverPayOk", {
    request: Schema.Struct({ amount: Schema.Number }),
    response: Schema.Struct({ ok: Schema.Boolean })
  }) {}
  class Flaky extends Data.TaggedError("Flaky")<{}> {}

  /** a → (pay: charges, then asks) ∥ side; counts every side effect */
  const pausing = (calls: Ref.Ref<Record<string, number>>) => {
    const count = (k: string) => Ref.update(calls, (c) => ({ ...c, [k]: (c[k] ?? 0) + 1 }))
    return StateGraph.make({ id: "ho-paused", state: { log: Channel.append(Schema.String) } }).pipe(
      StateGraph.addNode("a", () => Effect.as(count("a"), { log: ["a"] })),
      StateGraph.addNode("pay", () =>
        Effect.gen(function*() {
          yield* Task.activity("charge", count("charge"))
          const answer = yield* PayOk.ask({ amount: 5 })
          return { log: [`pay ${answer.ok}`] }
        })),
      StateGraph.addNode("side", () => Effect.as(count("side"), { log: ["side"] })),
      StateGraph.addEdge(StateGraph.START, "a"),
      StateGraph.addEdge("a", "pay"),
      StateGraph.addEdge("a", "side"),
      StateGraph.compileSync()
    )
  }

  it.effect("a paused snapshot handed over stays paused: answered there, nothing that finished runs again", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make<Record<string, number>>({})
      const graph = pausing(calls)
      const first = yield* Orchestrator.orchestrate({ workflowId: graph.id, graph, input: {} }, { id: "sync" })
      expect(first.status).toBe("paused")
      expect(yield* Ref.get(calls)).toEqual({ a: 1, charge: 1, side: 1 })
      // stategraph: handed over and answered in one request
      const sg = yield* Orchestrator.orchestrate({
        workflowId: graph.id,
        graph,
        input: null,
        threadId: "sg",
        initialSnapshot: first.snapshot,
        resume: [PayOk.respond({ ok: true })]
      }, { id: "stategraph" })
      expect(sg.status).toBe("completed")
      expect([...sg.output!.log].sort()).toEqual(["a", "pay true", "side"])
      expect(yield* Ref.get(calls)).toEqual({ a: 1, charge: 1, side: 1 })
      // async: handed over, the pipeline waits paused; answered later through the orchestrator
      const queued = yield* Orchestrator.orchestrate({ workflowId: graph.id, graph, input: null, threadId: "as", initialSnapshot: first.snapshot }, {
        id: "async"
      })
      expect(queued.status).toBe("paused")
      expect(queued.interrupts.map((i) => i.kind)).toEqual(["HandoverPayOk"])
      expect((yield* Pipeline.pipelineStatus(queued.pipelineId!)).status).toBe("paused")
      yield* Orchestrator.orchestrate({
        workflowId: graph.id,
        graph,
        input: null,
        threadId: "as",
        resume: [PayOk.respond({ ok: false })]
      }, { id: "async" })
      yield* Effect.scoped(Effect.zipRight(
        Worker.start({ concurrency: 1, pollInterval: "5 millis" }),
        awaitPipeline(queued.pipelineId!, ["completed"])
      ))
      expect([...(yield* graph.getState("as")).values.log].sort()).toEqual(["a", "pay false", "side"])
      expect(yield* Ref.get(calls)).toEqual({ a: 1, charge: 1, side: 1 })
    }).pipe(Effect.provide(fullLayer(tempDb()))))

  it.effect("a failed snapshot handed over keeps its finished tasks' writes: only the failed task runs again", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make<Record<string, number>>({})
      const count = (k: string) => Ref.updateAndGet(calls, (c) => ({ ...c, [k]: (c[k] ?? 0) + 1 }))
      const graph = StateGraph.make({ id: "ho-failed", state: { log: Channel.append(Schema.String) } }).pipe(
        StateGraph.addNode("ok", () => Effect.as(count("ok"), { log: ["ok"] })),
        StateGraph.addNode("bad", () =>
          Effect.flatMap(count("bad"), (c) => (c["bad"]! < 2 ? Effect.fail(new Flaky()) : Effect.succeed({ log: ["bad"] })))),
        StateGraph.addEdge(StateGraph.START, "ok"),
        StateGraph.addEdge(StateGraph.START, "bad"),
        StateGraph.compileSync()
      )
      const first = yield* Orchestrator.orchestrate({ workflowId: graph.id, graph, input: {} }, { id: "sync" })
      expect(first.status).toBe("failed")
      expect(first.snapshot.pendingWrites.map((w) => [w.node, w.status])).toEqual([["ok", "done"]])
      const done = yield* Orchestrator.orchestrate({ workflowId: graph.id, graph, input: null, initialSnapshot: first.snapshot }, {
        id: "stategraph"
      })
      expect(done.status).toBe("completed")
      expect(done.output?.log).toEqual(["ok", "bad"])
      expect(yield* Ref.get(calls)).toEqual({ ok: 1, bad: 2 })
    }).pipe(Effect.provide(fullLayer(tempDb()))))
})
