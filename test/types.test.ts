/**
 * Type-level tests: `tsc --noEmit` (part of `npm test`) fails when a mistake that should be a
 * compile error compiles, or when an inferred type changes. The runtime part only builds graphs.
 */
import { describe, expectTypeOf, it } from "@effect/vitest"
import { Context, Data, Effect, Layer, Match, Schema } from "effect"
import { Channel, Command, Graphs, Interrupt, Send, StateGraph, Task, Worker } from "effect-stategraph"
import type { GraphError, Pipeline, Snapshots } from "effect-stategraph"

const state = {
  n: Channel.lastValue(Schema.Number),
  log: Channel.append(Schema.String),
  total: Channel.reduce(Schema.Number, (a, b) => a + b, () => 0)
}

class Approval extends Interrupt.Tag("Approval", {
  request: Schema.Struct({ draft: Schema.String }),
  response: Schema.Struct({ approved: Schema.Boolean, note: Schema.optional(Schema.String) })
}) {}

class Question extends Interrupt.Tag("Question", {
  request: Schema.String,
  response: Schema.Number
}) {}

class Oops extends Data.TaggedError("Oops")<{}> {}

const base = StateGraph.make({ id: "types", state })

describe("types", () => {
  it("node state is typed and updates are checked", () => {
    base.pipe(
      StateGraph.addNode("a", (s) => {
        expectTypeOf(s.n).toEqualTypeOf<number>()
        expectTypeOf(s.log).toEqualTypeOf<ReadonlyArray<string>>()
        return Effect.succeed({ n: s.n + 1, log: ["x"] })
      })
    )
    // an update key that is not a channel
    // @ts-expect-error
    base.pipe(StateGraph.addNode("a", () => Effect.succeed({ n: 1, nope: 2 })))
    // a value of the wrong type
    // @ts-expect-error
    base.pipe(StateGraph.addNode("a", () => Effect.succeed({ n: "one" })))
    // an append channel takes an array of items
    // @ts-expect-error
    base.pipe(StateGraph.addNode("a", () => Effect.succeed({ log: "x" })))
    // a command's update is checked too
    // @ts-expect-error
    base.pipe(StateGraph.addNode("a", () => Effect.succeed(Command.goto("a", { bad: 1 }))))
  })

  it("edges and routes only name declared nodes", () => {
    const g = base.pipe(
      StateGraph.addNode("a", () => Effect.void),
      StateGraph.addNode("b", () => Effect.void)
    )
    g.pipe(StateGraph.addEdge(StateGraph.START, "a"), StateGraph.addEdge("a", "b"), StateGraph.addEdge(["a", "b"], StateGraph.END))
    // @ts-expect-error an edge to an undeclared node
    g.pipe(StateGraph.addEdge("a", "c"))
    // @ts-expect-error an edge from an undeclared node
    g.pipe(StateGraph.addEdge("c", "a"))
    // @ts-expect-error a join from an undeclared node
    g.pipe(StateGraph.addEdge(["a", "c"], "b"))
    g.pipe(StateGraph.addConditionalEdges("a", (s) => (s.n > 1 ? "b" : StateGraph.END)))
    // @ts-expect-error a route that can return an undeclared target
    g.pipe(StateGraph.addConditionalEdges("a", (s) => (s.n > 1 ? "b" : "c")))
    // @ts-expect-error a duplicate node name
    g.pipe(StateGraph.addNode("a", () => Effect.void))
  })

  it("a Send's argument must match its node's input", () => {
    const g = base.pipe(
      StateGraph.addNode("work", (arg: { readonly i: number }) => Effect.succeed({ total: arg.i })),
      StateGraph.addNode("fan", () => Effect.void)
    )
    g.pipe(StateGraph.addConditionalEdges("fan", () => [1, 2].map((i) => Send.make("work", { i }))))
    // @ts-expect-error wrong argument
    g.pipe(StateGraph.addConditionalEdges("fan", () => [Send.make("work", { i: "one" })]))
    // @ts-expect-error a Send to an undeclared node
    g.pipe(StateGraph.addConditionalEdges("fan", () => [Send.make("nope", { i: 1 })]))
  })

  it("a Command routing to an undeclared node does not compile", () => {
    const g = base.pipe(
      StateGraph.addNode("a", () => Effect.succeed(Command.goto("ghost"))),
      StateGraph.addEdge(StateGraph.START, "a")
    )
    // @ts-expect-error
    g.pipe(StateGraph.compile())
  })

  it("node errors and interrupt kinds show in the run's error type", () => {
    const graph = base.pipe(
      StateGraph.addNode("a", () => Effect.fail(new Oops())),
      StateGraph.addNode("b", (s) => Effect.map(Approval.ask({ draft: String(s.n) }), (a) => ({ log: [String(a.approved)] }))),
      StateGraph.addEdge(StateGraph.START, "a"),
      StateGraph.addEdge("a", "b"),
      StateGraph.compileSync()
    )
    type E = Effect.Effect.Error<ReturnType<typeof graph.invoke>>
    expectTypeOf<Extract<E, Oops>>().toEqualTypeOf<Oops>()
    expectTypeOf<Extract<E, { _tag: "GraphInterrupted" }>>().toEqualTypeOf<
      Interrupt.GraphInterrupted<Interrupt.Interrupt<"Approval", { readonly draft: string }, { readonly approved: boolean; readonly note?: string }>>
    >()
    expectTypeOf<Extract<E, GraphError.InvalidUpdate>>().toEqualTypeOf<GraphError.InvalidUpdate>()
    // with a thread, the store is required
    expectTypeOf<Effect.Effect.Context<ReturnType<typeof graph.getState>>>().toEqualTypeOf<Snapshots.Snapshots>()

    const quiet = base.pipe(
      StateGraph.addNode("a", () => Effect.void),
      StateGraph.addEdge(StateGraph.START, "a"),
      StateGraph.compileSync()
    )
    type Q = Effect.Effect.Error<ReturnType<typeof quiet.invoke>>
    // a graph that asks nothing cannot fail with GraphInterrupted
    expectTypeOf<Extract<Q, { _tag: "GraphInterrupted" }>>().toEqualTypeOf<never>()
  })

  it("answers are checked against the graph's kinds", () => {
    const graph = base.pipe(
      StateGraph.addNode("b", (s) => Effect.map(Approval.ask({ draft: String(s.n) }), () => ({}))),
      StateGraph.addEdge(StateGraph.START, "b"),
      StateGraph.compileSync()
    )
    graph.resume({ threadId: "t" }, Approval.respond({ approved: true }))
    graph.resume({ threadId: "t" }, Approval.respondTo("id", { approved: false, note: "no" }))
    // @ts-expect-error the wrong answer shape
    Approval.respond({ approved: "yes" })
    // @ts-expect-error a kind this graph cannot raise
    graph.resume({ threadId: "t" }, Question.respond(1))
    // streamResume checks its answers the same way
    graph.streamResume({ threadId: "t", mode: "updates" }, Approval.respond({ approved: true }))
    // @ts-expect-error a kind this graph cannot raise
    graph.streamResume({ threadId: "t" }, Question.respond(1))
    // @ts-expect-error a breakpoint needs interruptBefore / interruptAfter
    graph.resume({ threadId: "t" }, Interrupt.Breakpoint.respond(undefined))

    const withBreakpoints = base.pipe(
      StateGraph.addNode("b", () => Effect.void),
      StateGraph.addEdge(StateGraph.START, "b"),
      StateGraph.compileSync({ interruptBefore: ["b"] })
    )
    withBreakpoints.resume({ threadId: "t" }, Interrupt.Breakpoint.respond(undefined))
    // @ts-expect-error a breakpoint on an undeclared node
    const never = () => base.pipe(StateGraph.addNode("b", () => Effect.void), StateGraph.addEdge(StateGraph.START, "b"), StateGraph.compileSync({ interruptBefore: ["zzz"] }))
    void never
  })

  it("pending interrupts are a union discriminated on kind", () => {
    const graph = base.pipe(
      StateGraph.addNode("a", () => Effect.map(Approval.ask({ draft: "d" }), () => ({}))),
      StateGraph.addNode("b", () => Effect.map(Question.ask("how many?"), (n) => ({ n }))),
      StateGraph.addEdge(StateGraph.START, "a"),
      StateGraph.addEdge(StateGraph.START, "b"),
      StateGraph.compileSync()
    )
    const handle = (e: Effect.Effect.Error<ReturnType<typeof graph.invoke>>) => {
      if (e._tag !== "GraphInterrupted") return
      for (const i of e.interrupts) {
        switch (i.kind) {
          case "Approval":
            expectTypeOf(i.request).toEqualTypeOf<{ readonly draft: string }>()
            break
          case "Question":
            expectTypeOf(i.request).toEqualTypeOf<string>()
            break
        }
        Match.value(i).pipe(
          Match.when({ kind: "Approval" }, (a) => a.request.draft),
          Match.when({ kind: "Question" }, (q) => q.request),
          Match.exhaustive
        )
        Match.value(i).pipe(
          Match.when({ kind: "Approval" }, (a) => a.request.draft),
          // @ts-expect-error a kind left out is not exhaustive
          Match.exhaustive
        )
      }
    }
    void handle
  })

  it("prebuilt kinds", () => {
    expectTypeOf(Interrupt.Confirmation.ask({ message: "Send?" })).toEqualTypeOf<
      Effect.Effect<{ readonly confirmed: boolean }, Interrupt.Confirmation>
    >()
    expectTypeOf(Interrupt.Text.ask({ prompt: "Name?" })).toEqualTypeOf<Effect.Effect<string, Interrupt.Text>>()
    const Profile = Interrupt.Form(Schema.Struct({ age: Schema.Number }), { kind: "Profile" })
    expectTypeOf(Profile.ask({ message: "About you" })).toMatchTypeOf<Effect.Effect<{ readonly age: number }, unknown>>()
    // @ts-expect-error
    Profile.respond({ age: "old" })
  })

  it("an activity whose success or error is not plain JSON needs a schema for it", () => {
    class Declined extends Schema.TaggedError<Declined>()("Declined", { code: Schema.Number }) {}
    const at = Effect.succeed(new Date(0))
    const declined = Effect.fail(new Oops())
    // plain JSON needs nothing
    Task.activity("n", Effect.succeed({ n: 1, tags: ["a"], at: "2026-01-01" }))
    Task.activity("v", Effect.void)
    Task.activity("s", Effect.fail("declined" as const))
    // a Date would replay as a string
    // @ts-expect-error
    Task.activity("at", at)
    // @ts-expect-error
    Task.activity("at", at, { timeout: "1 second" })
    Task.activity("at", at, { success: Schema.Date })
    Task.activity("at", Effect.succeed({ at: new Date(0) }), { success: Schema.Struct({ at: Schema.Date }) })
    // a class failure would replay as a plain object: its schema revives it
    // @ts-expect-error
    Task.activity("pay", declined)
    // @ts-expect-error
    Task.activity("pay", Effect.fail(new Declined({ code: 1 })))
    Task.activity("pay", Effect.fail(new Declined({ code: 1 })), { error: Declined })
    // its 0.1 name still compiles
    Task.activity("pay", Effect.fail(new Declined({ code: 1 })), { failure: Declined })
    // the schema must be the value's
    // @ts-expect-error
    Task.activity("pay", Effect.fail(new Declined({ code: 1 })), { error: Schema.String })
    // unknown and any promise nothing
    Task.activity("u", Effect.succeed(JSON.parse("1") as unknown))
  })

  it("a worker needs the services its graphs' nodes need", () => {
    class Mailer extends Context.Tag("types/Mailer")<Mailer, { readonly send: (to: string) => Effect.Effect<void> }>() {}
    const mailing = base.pipe(
      StateGraph.addNode("mail", () => Effect.as(Effect.flatMap(Mailer, (m) => m.send("a@b.c")), { n: 1 })),
      StateGraph.addEdge(StateGraph.START, "mail"),
      StateGraph.compileSync()
    )
    const plain = base.pipe(
      StateGraph.addNode("a", () => Effect.succeed({ n: 1 })),
      StateGraph.addEdge(StateGraph.START, "a"),
      StateGraph.compileSync()
    )
    const graphs = Graphs.layer([mailing, plain])
    expectTypeOf<Layer.Layer.Context<typeof graphs>>().toEqualTypeOf<Mailer>()
    expectTypeOf<Layer.Layer.Context<ReturnType<typeof Graphs.layer<[typeof plain]>>>>().toEqualTypeOf<never>()
    const workers = Worker.layer({ concurrency: 1 }).pipe(Layer.provide(graphs))
    // @ts-expect-error a worker running the mailing graph does not compile without a Mailer
    const missing: Layer.Layer<never, never, Snapshots.Snapshots | Pipeline.Pipelines> = workers
    const provided: Layer.Layer<never, never, Snapshots.Snapshots | Pipeline.Pipelines> = workers.pipe(
      Layer.provide(Layer.succeed(Mailer, { send: () => Effect.void }))
    )
    // Worker.run too
    // @ts-expect-error
    const run: Effect.Effect<never, never, Snapshots.Snapshots | Pipeline.Pipelines> = Effect.provide(Worker.run({ concurrency: 1 }), graphs)
    void [missing, provided, run]
  })
})
