import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Channel, Interrupt, Orchestrator, Snapshots, StateGraph, Worker } from "effect-stategraph"
import { awaitPipeline, fullLayer, tempDb } from "./fixtures/orchestrator/setup.js"

/**
 * Interrupt kinds belong to the graphs that ask them, not to a process-wide table keyed by kind
 * name: two kinds with one name (two graphs' own, or two unnamed `Interrupt.Form`s in one graph)
 * do not collide, on the engine and through async workers.
 */

// declared in this order on purpose: a table by name would keep the last one for both
const Dup1 = Interrupt.Tag("Dup", {
  request: Schema.Struct({ when: Schema.Date }),
  response: Schema.Struct({ ok: Schema.Boolean })
})
const Dup2 = Interrupt.Tag("Dup", {
  request: Schema.Struct({ when: Schema.String }),
  response: Schema.Struct({ n: Schema.NumberFromString })
})

const Log = { log: Channel.append(Schema.String) }

const first = StateGraph.make({ id: "dup-first", state: Log }).pipe(
  StateGraph.addNode("ask", () => Effect.map(Dup1.ask({ when: new Date(0) }), (a) => ({ log: [`ok:${a.ok}`] }))),
  StateGraph.addEdge(StateGraph.START, "ask"),
  StateGraph.compileSync()
)

const second = StateGraph.make({ id: "dup-second", state: Log }).pipe(
  StateGraph.addNode("ask", () => Effect.map(Dup2.ask({ when: "noon" }), (a) => ({ log: [`n:${a.n + 1}`] }))),
  StateGraph.addEdge(StateGraph.START, "ask"),
  StateGraph.compileSync()
)

// two unnamed forms: both of kind "Form"
const AgeForm = Interrupt.Form(Schema.Struct({ age: Schema.NumberFromString }))
const NameForm = Interrupt.Form(Schema.Struct({ name: Schema.String }))

const forms = StateGraph.make({ id: "two-forms", state: Log }).pipe(
  StateGraph.addNode("age", () => Effect.map(AgeForm.ask({ message: "age?" }), (a) => ({ log: [`age:${a.age + 1}`] }))),
  StateGraph.addNode("name", () => Effect.map(NameForm.ask({ message: "name?" }), (a) => ({ log: [`name:${a.name}`] }))),
  StateGraph.addEdge(StateGraph.START, "age"),
  StateGraph.addEdge("age", "name"),
  StateGraph.compileSync()
)

describe("interrupt kinds with one name", () => {
  it.effect("engine: two graphs' kinds named alike decode their own requests and answers", () =>
    Effect.gen(function*() {
      const paused = yield* Effect.flip(first.invoke({}, { threadId: "d1" }))
      if (paused._tag !== "GraphInterrupted") throw new Error("expected a pause")
      expect(paused.interrupts[0]!.request.when).toBeInstanceOf(Date)
      yield* Effect.flip(second.invoke({}, { threadId: "d2" }))
      expect((yield* first.getState("d1")).interrupts[0]!.request).toEqual({ when: new Date(0) })
      expect((yield* second.getState("d2")).interrupts[0]!.request).toEqual({ when: "noon" })
      expect((yield* first.resume({ threadId: "d1" }, Dup1.respond({ ok: true }))).log).toEqual(["ok:true"])
      expect((yield* second.resume({ threadId: "d2" }, Dup2.respond({ n: 4 }))).log).toEqual(["n:5"])
    }).pipe(Effect.provide(Snapshots.layerMemory)))

  it.effect("a graph decodes stored requests with the kinds declared at compile time (a process that never asked)", () =>
    Effect.gen(function*() {
      yield* Effect.flip(first.invoke({}, { threadId: "r" }))
      // the same graph compiled again, as in a process that only reads threads
      const build = (options: StateGraph.CompileOptions<"ask">) =>
        StateGraph.make({ id: "dup-first", state: Log }).pipe(
          StateGraph.addNode("ask", () => Effect.map(Dup1.ask({ when: new Date(0) }), (a) => ({ log: [`ok:${a.ok}`] }))),
          StateGraph.addEdge(StateGraph.START, "ask"),
          StateGraph.compileSync(options)
        )
      expect((yield* build({ interrupts: [Dup1] }).getState("r")).interrupts[0]!.request).toEqual({ when: new Date(0) })
      // undeclared and never asked here: the request as stored
      expect((yield* build({}).getState("r")).interrupts[0]!.request).toEqual({ when: "1970-01-01T00:00:00.000Z" })
    }).pipe(Effect.provide(Snapshots.layerMemory)))

  it.effect("engine: two unnamed Interrupt.Form in one graph are answered each with its own schema", () =>
    Effect.gen(function*() {
      yield* Effect.flip(forms.invoke({}, { threadId: "f" }))
      yield* Effect.flip(forms.resume({ threadId: "f" }, AgeForm.respond({ age: 41 })))
      expect((yield* forms.resume({ threadId: "f" }, NameForm.respond({ name: "Ada" }))).log).toEqual(["age:42", "name:Ada"])
    }).pipe(Effect.provide(Snapshots.layerMemory)))

  /** Runs `graph` on the async orchestrator to its pause, answers, and waits for the end. */
  const throughAsync = (graph: StateGraph.AnyCompiled, threadId: string, answers: ReadonlyArray<Interrupt.Answer<string, unknown>>) =>
    Effect.scoped(Effect.gen(function*() {
      yield* Worker.start({ concurrency: 1, pollInterval: "5 millis" })
      const r = yield* Orchestrator.orchestrate({ workflowId: graph.id, graph, input: {}, threadId }, { id: "async" })
      for (const answer of answers) {
        yield* awaitPipeline(r.pipelineId!, ["paused"])
        yield* Orchestrator.orchestrate({ workflowId: graph.id, graph, input: null, threadId, resume: [answer] as any }, { id: "async" })
      }
      const p = yield* awaitPipeline(r.pipelineId!, ["completed", "failed"])
      expect(p.status).toBe("completed")
      return (yield* graph.getState(threadId)).values.log
    }))

  it.effect("async workers: two graphs' kinds named alike, and two unnamed forms, are answered", () =>
    Effect.gen(function*() {
      expect(yield* throughAsync(first, "a1", [Dup1.respond({ ok: true })])).toEqual(["ok:true"])
      expect(yield* throughAsync(second, "a2", [Dup2.respond({ n: 4 })])).toEqual(["n:5"])
      expect(yield* throughAsync(forms, "a3", [AgeForm.respond({ age: 41 }), NameForm.respond({ name: "Ada" })]))
        .toEqual(["age:42", "name:Ada"])
    }).pipe(Effect.provide(fullLayer(tempDb()))))
})
