/**
 * Spans and metrics: a run's spans exported through OpenTelemetry (an in-memory exporter) form
 * the tree public operation → superstep → node task, with the graph, thread, checkpoint, step
 * and node on them; the engine's counters move.
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Effect, Layer, Metric, Schema } from "effect"
import { Channel, Interrupt, Orchestrator, Snapshots, StateGraph } from "effect-stategraph"
import * as telemetry from "effect-stategraph/internal/engine/telemetry"
import { describe, expect, it } from "vitest"

class Check extends Interrupt.Tag("ObservedCheck", {
  request: Schema.Struct({ n: Schema.Number }),
  response: Schema.Struct({ ok: Schema.Boolean })
}) {}

const graph = StateGraph.make({ id: "observed", state: { log: Channel.append(Schema.String) } }).pipe(
  StateGraph.addNode("plan", () => Effect.succeed({ log: ["plan"] })),
  StateGraph.addNode("left", () => Effect.succeed({ log: ["left"] })),
  StateGraph.addNode("right", () => Effect.succeed({ log: ["right"] })),
  StateGraph.addNode("review", () => Effect.map(Check.ask({ n: 1 }), () => ({ log: ["reviewed"] }))),
  StateGraph.addEdge(StateGraph.START, "plan"),
  StateGraph.addEdge("plan", "left"),
  StateGraph.addEdge("plan", "right"),
  StateGraph.addEdge(["left", "right"], "review"),
  StateGraph.compileSync()
)

const traced = (exporter: InMemorySpanExporter) =>
  NodeSdk.layer(() => ({ resource: { serviceName: "stategraph-test" }, spanProcessor: new SimpleSpanProcessor(exporter) }))

const childrenOf = (spans: ReadonlyArray<ReadableSpan>, parent: ReadableSpan) =>
  spans.filter((s) => s.parentSpanContext?.spanId === parent.spanContext().spanId)

describe("observability", () => {
  it("invoke and resume: operation → step → task spans with graph, thread, checkpoint, step and node", async () => {
    const exporter = new InMemorySpanExporter()
    // read before the layer closes: shutting the provider down empties the exporter
    const spans = await Effect.runPromise(
      Effect.gen(function*() {
        yield* Effect.ignore(graph.invoke({}, { threadId: "t-1" }))
        yield* graph.resume({ threadId: "t-1" }, Check.respond({ ok: true }))
        yield* graph.getState("t-1")
        return exporter.getFinishedSpans()
      }).pipe(Effect.provide(Layer.merge(Snapshots.layerMemory, traced(exporter))))
    )
    const invoke = spans.find((s) => s.name === "StateGraph.invoke")!
    expect(invoke.attributes).toMatchObject({ "stategraph.graph": "observed", "stategraph.thread": "t-1" })
    const steps = childrenOf(spans, invoke)
    expect(steps.map((s) => s.name)).toEqual(["StateGraph.step", "StateGraph.step", "StateGraph.step"])
    expect(steps.map((s) => s.attributes["stategraph.step"])).toEqual([0, 1, 2])
    for (const s of steps) {
      expect(s.attributes["stategraph.graph"]).toBe("observed")
      expect(s.attributes["stategraph.thread"]).toBe("t-1")
      expect(typeof s.attributes["stategraph.checkpoint"]).toBe("string")
    }
    const tasksOf = (step: ReadableSpan) => childrenOf(spans, step).map((s) => s.attributes["stategraph.node"]).sort()
    expect(tasksOf(steps[0]!)).toEqual(["plan"])
    expect(tasksOf(steps[1]!)).toEqual(["left", "right"])
    expect(tasksOf(steps[2]!)).toEqual(["review"])
    const left = childrenOf(spans, steps[1]!).find((s) => s.attributes["stategraph.node"] === "left")!
    expect(left.name).toBe("StateGraph.task left")
    expect(left.attributes).toMatchObject({ "stategraph.step": 1, "stategraph.checkpoint": steps[1]!.attributes["stategraph.checkpoint"] })
    // the resume: its own operation span, the answered task under its step
    const resume = spans.find((s) => s.name === "StateGraph.resume")!
    const resumed = childrenOf(spans, resume)
    expect(resumed.map((s) => s.attributes["stategraph.step"])).toEqual([2])
    expect(tasksOf(resumed[0]!)).toEqual(["review"])
    expect(spans.find((s) => s.name === "StateGraph.getState")?.attributes["stategraph.thread"]).toBe("t-1")
  })

  it("Orchestrator.orchestrate is a span above the engine's", async () => {
    const exporter = new InMemorySpanExporter()
    const spans = await Effect.runPromise(
      Orchestrator.orchestrate({ workflowId: graph.id, graph, input: {}, threadId: "t-2" }, { id: "stategraph" }).pipe(
        Effect.map(() => exporter.getFinishedSpans()),
        Effect.provide(
          Layer.mergeAll(
            Orchestrator.layer({}, Orchestrator.layerStateGraph).pipe(Layer.provideMerge(Snapshots.layerMemory)),
            traced(exporter)
          )
        )
      )
    )
    const top = spans.find((s) => s.name === "Orchestrator.orchestrate")!
    expect(top.attributes).toMatchObject({ "stategraph.graph": "observed", "stategraph.thread": "t-2", "stategraph.orchestrator": "stategraph" })
    const below = (s: ReadableSpan): Array<ReadableSpan> => childrenOf(spans, s).flatMap((c) => [c, ...below(c)])
    expect(below(top).filter((s) => s.name === "StateGraph.step")).toHaveLength(3)
  })

  it("counts steps, tasks by outcome, interrupts and store latency", async () => {
    const read = Effect.all({
      steps: Metric.value(telemetry.steps),
      done: Metric.value(Metric.tagged(telemetry.tasks, "outcome", "Done")),
      interrupts: Metric.value(telemetry.interrupts)
    })
    const commits = Metric.tagged(telemetry.storeLatency, "operation", "commit")
    const { after, before, latency } = await Effect.runPromise(
      Effect.gen(function*() {
        const before = yield* read
        yield* Effect.ignore(graph.invoke({}, { threadId: "t-3" }))
        const after = yield* read
        return { before, after, latency: yield* Metric.value(commits) }
      }).pipe(Effect.provide(Snapshots.layerMemory))
    )
    expect(after.steps.count - before.steps.count).toBe(3)
    expect(after.done.count - before.done.count).toBe(3)
    expect(after.interrupts.count - before.interrupts.count).toBe(1)
    expect(latency.count).toBeGreaterThan(0)
  })
})
