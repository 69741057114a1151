import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, pipe, Schema } from "effect"
import { Channel, Snapshot, Snapshots, StateGraph, WorkflowState } from "effect-stategraph"

const pipeline = (order: "ab" | "ba") => {
  // the same structure, declared in another order (nodes, edges, channels, struct fields)
  const Item = order === "ab"
    ? Schema.Struct({ id: Schema.String, score: Schema.Number })
    : Schema.Struct({ score: Schema.Number, id: Schema.String })
  const state = order === "ab"
    ? { items: Channel.append(Item), title: Channel.lastValue(Schema.String) }
    : { title: Channel.lastValue(Schema.String), items: Channel.append(Item) }
  const base = StateGraph.make({ id: "pipeline", state })
  return order === "ab"
    ? base.pipe(
      StateGraph.addNode("fetch", () => Effect.void),
      StateGraph.addNode("clean", () => Effect.void),
      StateGraph.addNode("rank", () => Effect.void),
      StateGraph.addNode("store", () => Effect.void),
      StateGraph.addEdge(StateGraph.START, "fetch"),
      StateGraph.addEdge("fetch", "clean"),
      StateGraph.addEdge("fetch", "rank"),
      StateGraph.addEdge(["clean", "rank"], "store"),
      StateGraph.compileSync()
    )
    : base.pipe(
      StateGraph.addNode("store", () => Effect.void),
      StateGraph.addNode("rank", () => Effect.void),
      StateGraph.addNode("clean", () => Effect.void),
      StateGraph.addNode("fetch", () => Effect.void),
      StateGraph.addEdge(["rank", "clean"], "store"),
      StateGraph.addEdge("fetch", "rank"),
      StateGraph.addEdge("fetch", "clean"),
      StateGraph.addEdge(StateGraph.START, "fetch"),
      StateGraph.compileSync()
    )
}

const loop = StateGraph.make({ id: "loop", state: { n: Channel.lastValue(Schema.Number) } }).pipe(
  StateGraph.addNode("a", (s) => Effect.succeed({ n: s.n + 1 })),
  StateGraph.addNode("b", (s) => Effect.succeed({ n: s.n + 1 })),
  StateGraph.addEdge(StateGraph.START, "a"),
  StateGraph.addEdge("a", "b"),
  StateGraph.addConditionalEdges("b", (s) => (s.n < 5 ? "a" : StateGraph.END), ["a", StateGraph.END]),
  StateGraph.compileSync()
)

describe("WorkflowState", () => {
  describe("computeWorkflowVersion", () => {
    it("is the graph's version, a short stable hash independent of declaration order", () => {
      const a = pipeline("ab")
      const b = pipeline("ba")
      const version = WorkflowState.computeWorkflowVersion(a)
      expect(version).toMatch(/^[0-9a-f]{12}$/)
      expect(version).toBe(a.version)
      expect(WorkflowState.computeWorkflowVersion(b)).toBe(version)
    })

    it("changes with the structure and the schemas' shape", () => {
      const base = WorkflowState.computeWorkflowVersion(loop)
      const variants = [
        // another edge
        StateGraph.make({ id: "loop", state: { n: Channel.lastValue(Schema.Number) } }).pipe(
          StateGraph.addNode("a", () => Effect.void),
          StateGraph.addNode("b", () => Effect.void),
          StateGraph.addEdge(StateGraph.START, "a"),
          StateGraph.addEdge("a", "b"),
          StateGraph.addEdge("b", StateGraph.END),
          StateGraph.compileSync()
        ),
        // another channel schema
        StateGraph.make({ id: "loop", state: { n: Channel.lastValue(Schema.String) } }).pipe(
          StateGraph.addNode("a", () => Effect.void),
          StateGraph.addNode("b", () => Effect.void),
          StateGraph.addEdge(StateGraph.START, "a"),
          StateGraph.addEdge("a", "b"),
          StateGraph.addConditionalEdges("b", () => StateGraph.END, ["a", StateGraph.END]),
          StateGraph.compileSync()
        )
      ]
      for (const v of variants) expect(WorkflowState.computeWorkflowVersion(v)).not.toBe(base)
      // a class's fields are part of the shape, not only its name
      class Msg1 extends Schema.Class<Msg1>("Msg")({ text: Schema.String }) {}
      class Msg2 extends Schema.Class<Msg2>("Msg")({ text: Schema.String, at: Schema.Number }) {}
      const withClass = (schema: Schema.Schema<any, any>) =>
        StateGraph.make({ id: "c", state: { m: Channel.append(schema) } }).pipe(
          StateGraph.addNode("a", () => Effect.void),
          StateGraph.addEdge(StateGraph.START, "a"),
          StateGraph.compileSync()
        )
      expect(WorkflowState.computeWorkflowVersion(withClass(Msg1))).not.toBe(WorkflowState.computeWorkflowVersion(withClass(Msg2)))
      // implementations are not
      const other = StateGraph.make({ id: "loop", state: { n: Channel.lastValue(Schema.Number) } }).pipe(
        StateGraph.addNode("a", (s) => Effect.succeed({ n: s.n + 2 })),
        StateGraph.addNode("b", () => Effect.void),
        StateGraph.addEdge(StateGraph.START, "a"),
        StateGraph.addEdge("a", "b"),
        StateGraph.addConditionalEdges("b", () => StateGraph.END, ["a", StateGraph.END]),
        StateGraph.compileSync()
      )
      expect(WorkflowState.computeWorkflowVersion(other)).toBe(base)
    })
  })

  describe("snapshots", () => {
    it.effect("createSnapshot: a pending execution", () =>
      Effect.gen(function*() {
        const s = yield* WorkflowState.createSnapshot({
          workflowId: "pipeline",
          workflowVersion: "abc",
          initialInput: { user: 42 },
          threadId: "conv-1",
          nodes: ["fetch", "clean"]
        })
        expect(s).toBeInstanceOf(Snapshot.WorkflowSnapshot)
        expect(s.status).toBe("pending")
        expect(s.threadId).toBe("conv-1")
        expect(s.executionId).toMatch(/^exec_/)
        expect(s.initialInput).toEqual({ user: 42 })
        expect(Object.values(s.nodeStates).map((n) => [n.nodeId, n.status, n.injected])).toEqual([
          ["fetch", "pending", false],
          ["clean", "pending", false]
        ])
        const other = yield* WorkflowState.createSnapshot({ workflowId: "pipeline", workflowVersion: "abc" })
        expect(other.threadId).toBe(other.executionId)
        expect(other.executionId).not.toBe(s.executionId)
      }))

    it.effect("node transitions: running, completed (in order), failed", () =>
      Effect.gen(function*() {
        const s0 = yield* WorkflowState.createSnapshot({ workflowId: "p", workflowVersion: "v" })
        const s1 = WorkflowState.setNodeRunning(s0, "fetch")
        expect(s1.status).toBe("running")
        expect(s1.nodeStates.fetch).toMatchObject({ status: "running", attempts: 1, injected: false })
        const s2 = pipe(s1, WorkflowState.setNodeCompleted("fetch", { rows: 3 }), WorkflowState.setNodeRunning("clean"))
        expect(s2.nodeStates.fetch).toMatchObject({ status: "completed", output: { rows: 3 }, executionOrder: 1 })
        const s3 = WorkflowState.setNodeFailed(s2, "clean", "boom")
        expect(s3.nodeStates.clean).toMatchObject({ status: "failed", error: "boom", attempts: 1 })
        const s4 = WorkflowState.setNodeCompleted(WorkflowState.setNodeRunning(s3, "clean"), "clean")
        expect(s4.nodeStates.clean).toMatchObject({ status: "completed", attempts: 2, executionOrder: 2 })
        expect(s4.nodeStates.clean!.error).toBeUndefined()
        // inputs are never mutated
        expect(s0.nodeStates).toEqual({})
        expect(s1.nodeStates.fetch!.status).toBe("running")
      }))

    it.effect("markNodesCompleted: handover marks nodes injected, in order", () =>
      Effect.gen(function*() {
        const s0 = yield* WorkflowState.createSnapshot({ workflowId: "p", workflowVersion: "v", nodes: ["fetch", "clean", "rank"] })
        const s1 = WorkflowState.markNodesCompleted(s0, { fetch: { output: "data1" }, clean: { output: "data2" } })
        expect(s1.nodeStates.fetch).toMatchObject({ status: "completed", injected: true, executionOrder: 1, output: { output: "data1" } })
        expect(s1.nodeStates.clean).toMatchObject({ status: "completed", injected: true, executionOrder: 2 })
        expect(s1.nodeStates.rank).toMatchObject({ status: "pending", injected: false })
        // an executed node afterwards is not injected
        const s2 = WorkflowState.setNodeCompleted(WorkflowState.setNodeRunning(s1, "rank"), "rank", 1)
        expect(s2.nodeStates.rank).toMatchObject({ injected: false, executionOrder: 3 })
        // the snapshot still encodes with the model's schema
        const encoded = Schema.encodeSync(Snapshot.WorkflowSnapshot)(s2)
        expect(Schema.decodeUnknownSync(Snapshot.WorkflowSnapshot)(encoded)).toEqual(s2)
      }))
  })

  describe("validation", () => {
    const graph = pipeline("ab")
    const fresh = (version = graph.version) => WorkflowState.createSnapshot({ workflowId: "pipeline", workflowVersion: version })

    it.effect("a snapshot of this graph is valid", () =>
      Effect.gen(function*() {
        const s = WorkflowState.markNodesCompleted(yield* fresh(), { fetch: 1, clean: 2 })
        const result = WorkflowState.validateSnapshot(s, graph)
        expect(result).toBeInstanceOf(WorkflowState.ValidationResult)
        expect(result.valid).toBe(true)
        expect(result.errors).toEqual([])
        expect(WorkflowState.validateDependencies(s, graph).valid).toBe(true)
      }))

    it.effect("VERSION_MISMATCH and UNKNOWN_NODE", () =>
      Effect.gen(function*() {
        const s = WorkflowState.markNodesCompleted(yield* fresh("0123456789ab"), { fetch: 1, ghost: 2 })
        const result = WorkflowState.validateSnapshot(s, graph)
        expect(result.valid).toBe(false)
        expect(WorkflowState.hasError(result, "VERSION_MISMATCH")).toBe(true)
        expect(pipe(result, WorkflowState.hasError("UNKNOWN_NODE"))).toBe(true)
        expect(WorkflowState.hasError(result, "DEPENDENCY_NOT_MET")).toBe(false)
        expect(result.errors).toEqual([
          {
            code: "VERSION_MISMATCH",
            expected: graph.version,
            found: "0123456789ab",
            message: `Workflow version mismatch. Expected: ${graph.version}, got: 0123456789ab`
          },
          { code: "UNKNOWN_NODE", nodeId: "ghost", message: "Node 'ghost' does not exist in workflow 'pipeline'" }
        ])
        // the result is data: it encodes
        expect(Schema.encodeSync(WorkflowState.ValidationResult)(result).errors).toHaveLength(2)
      }))

    it.effect("DEPENDENCY_NOT_MET: a completed node whose dependency is not", () =>
      Effect.gen(function*() {
        const s = pipe(
          yield* fresh(),
          WorkflowState.setNodeRunning("fetch"),
          WorkflowState.markNodesCompleted({ clean: 1 })
        )
        const result = WorkflowState.validateDependencies(s, graph)
        expect(result.valid).toBe(false)
        expect(result.errors).toEqual([{
          code: "DEPENDENCY_NOT_MET",
          nodeId: "clean",
          dependencies: [{ nodeId: "fetch", status: "running" }],
          message: "Node 'clean' is completed but dependency 'fetch' is running"
        }])
      }))

    it.effect("a join needs all its sources", () =>
      Effect.gen(function*() {
        const half = WorkflowState.markNodesCompleted(yield* fresh(), { fetch: 1, clean: 1, store: 1 })
        const result = WorkflowState.validateDependencies(half, graph)
        expect(result.errors.map((e) => e.code)).toEqual(["DEPENDENCY_NOT_MET"])
        expect(result.errors[0]).toMatchObject({ nodeId: "store", dependencies: [{ nodeId: "rank", status: "missing" }] })
        const full = WorkflowState.markNodesCompleted(half, { rank: 1 })
        expect(WorkflowState.validateDependencies(full, graph).valid).toBe(true)
      }))

    it.effect("loops: a node after START or after any completed predecessor is fine", () =>
      Effect.gen(function*() {
        const s0 = yield* WorkflowState.createSnapshot({ workflowId: "loop", workflowVersion: loop.version })
        // a ran once, b not yet: a follows START (and b), fine
        const s1 = WorkflowState.markNodesCompleted(s0, { a: 1 })
        expect(WorkflowState.validateDependencies(s1, loop).valid).toBe(true)
        // b completed with a pending: not met
        const s2 = WorkflowState.markNodesCompleted(s0, { b: 1 })
        expect(WorkflowState.validateDependencies(s2, loop).errors.map((e) => e.code === "DEPENDENCY_NOT_MET" && e.nodeId)).toEqual(["b"])
        expect(WorkflowState.merge(WorkflowState.validateSnapshot(s2, loop), WorkflowState.validateDependencies(s2, loop)).valid).toBe(false)
      }))

    it.effect("a real run's snapshot validates against its graph", () =>
      Effect.gen(function*() {
        const store = yield* Snapshots.Snapshots
        yield* loop.invoke({ n: 0 }, { threadId: "t" })
        const head = yield* store.load("t")
        const snapshot = Schema.decodeUnknownSync(Snapshot.WorkflowSnapshot)(Option.getOrThrow(head))
        expect(WorkflowState.validateSnapshot(snapshot, loop).valid).toBe(true)
        expect(WorkflowState.validateDependencies(snapshot, loop).valid).toBe(true)
        expect(Object.values(snapshot.nodeStates).every((n) => n.status === "completed" && !n.injected)).toBe(true)
      }).pipe(Effect.provide(Snapshots.layerMemory)))
  })
})
