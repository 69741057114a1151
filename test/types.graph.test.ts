/**
 * Type-level tests of the builder's errors and types: a wrong update is reported at the node's
 * return (each `@ts-expect-error` sits on the line the compiler reports, so a report on `addNode`
 * instead leaves it unused and fails `tsc`), the builder's type names its nodes once, and
 * handlers of `GraphInterrupted` are generic without casts. The messages themselves and the
 * declaration size are measured by types.declarations.test.ts.
 */
import { describe, expectTypeOf, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Channel, Command, Interrupt, Send, StateGraph } from "effect-stategraph"

const state = {
  n: Channel.lastValue(Schema.Number),
  status: Channel.lastValue(Schema.Literal("draft", "done")),
  log: Channel.append(Schema.String)
}
const base = StateGraph.make({ id: "types-graph", state })

class Approval extends Interrupt.Tag("Approval", {
  request: Schema.Struct({ draft: Schema.String }),
  response: Schema.Boolean
}) {}

class Question extends Interrupt.Tag("Question", { request: Schema.String, response: Schema.Number }) {}

describe("builder errors", () => {
  it("a wrong update is reported at the node's return, not at addNode", () => {
    base.pipe(
      StateGraph.addNode("a", (s) =>
        // @ts-expect-error WrongUpdate<"n", number>
        Effect.succeed({ n: `${s.n}` }))
    )
    base.pipe(
      StateGraph.addNode("a", () =>
        // @ts-expect-error NotAChannel<"nope">
        Effect.succeed({ n: 1, nope: 2 }))
    )
    base.pipe(
      StateGraph.addNode("a", (s) =>
        // @ts-expect-error WrongUpdate<"log", readonly string[]>
        Effect.gen(function*() {
          if (s.n > 1) return { n: 1 }
          return { log: "not an array" }
        }))
    )
    base.pipe(
      StateGraph.addNode("a", () =>
        // @ts-expect-error a command's update: NotAChannel<"bad">
        Effect.succeed(Command.goto("a", { bad: 1 })))
    )
    base.pipe(
      StateGraph.addNode("a", () =>
        // @ts-expect-error NotAnUpdate
        Effect.succeed(42))
    )
    // the data-first form and a call with options have two candidate signatures: the compiler
    // reports at the call ("No overload matches"), ending with the same WrongUpdate
    // @ts-expect-error WrongUpdate<"status", "draft" | "done">
    StateGraph.addNode(base, "a", () => Effect.succeed({ status: "sent" as const }))
  })

  it("what is right still compiles, literals keep their types", () => {
    const g = base.pipe(
      StateGraph.addNode("a", () => Effect.succeed({ status: "done" as const })),
      StateGraph.addNode("b", (s) => Effect.succeed(s.n > 1 ? { n: 1 } : undefined)),
      StateGraph.addNode("c", () => Effect.succeed(Command.goto("a", { status: "draft", log: ["x"] }))),
      StateGraph.addNode("d", (s) =>
        Effect.gen(function*() {
          if (s.n > 1) return Command.goto("a")
          return { log: [] }
        })),
      StateGraph.addNode("e", () => Effect.void),
      StateGraph.addNode("f", () => Effect.fail("no" as const), { timeout: "1 second" })
    )
    expectTypeOf(g).toEqualTypeOf<StateGraph.StateGraph<typeof state, "a" | "b" | "c" | "d" | "e" | "f", "no", never, "a", {}>>()
  })
})

describe("builder types", () => {
  it("names each node once; only Send targets with their own input are recorded", () => {
    const g = base.pipe(
      StateGraph.addNode("fan", () => Effect.void),
      StateGraph.addNode("work", (arg: { readonly i: number }) => Effect.succeed({ n: arg.i })),
      StateGraph.addNode("join", () => Effect.void)
    )
    expectTypeOf(g).toEqualTypeOf<
      StateGraph.StateGraph<typeof state, "fan" | "work" | "join", never, never, never, { readonly work: { readonly i: number } }>
    >()
    g.pipe(StateGraph.addConditionalEdges("fan", () => [Send.make("work", { i: 1 }), Send.make("join", { n: 1, status: "draft", log: [] })]))
    // @ts-expect-error the Send's argument is work's input
    g.pipe(StateGraph.addConditionalEdges("fan", () => [Send.make("work", { n: 1 })]))
    const compiled = g.pipe(
      StateGraph.addEdge(StateGraph.START, "fan"),
      StateGraph.addEdge("work", "join"),
      StateGraph.addConditionalEdges("fan", () => [Send.make("work", { i: 1 })]),
      StateGraph.compileSync()
    )
    expectTypeOf(compiled).toEqualTypeOf<StateGraph.CompiledGraph<typeof state, "fan" | "work" | "join", never, never>>()
    expectTypeOf<StateGraph.NodesOf<typeof compiled>>().toEqualTypeOf<"fan" | "work" | "join">()
    expectTypeOf(compiled.nodes).toEqualTypeOf<ReadonlyArray<"fan" | "work" | "join">>()
    // @ts-expect-error asNode is one of the nodes
    compiled.updateState("t", {}, { asNode: "nope" })
  })

  it("a subgraph node adds the child's call errors and requirements", () => {
    const child = StateGraph.make({ id: "child", state: { log: Channel.append(Schema.String) } }).pipe(
      StateGraph.addNode("ask", () => Effect.map(Question.ask("?"), () => ({}))),
      StateGraph.addEdge(StateGraph.START, "ask"),
      StateGraph.compileSync()
    )
    const parent = base.pipe(StateGraph.addNode("child", child), StateGraph.addEdge(StateGraph.START, "child"), StateGraph.compileSync())
    expectTypeOf<StateGraph.InterruptedOf<typeof parent>>().toEqualTypeOf<Interrupt.GraphInterrupted<Question>>()
  })
})

describe("GraphInterrupted handlers", () => {
  const withApproval = base.pipe(
    StateGraph.addNode("a", () => Effect.map(Approval.ask({ draft: "d" }), () => ({}))),
    StateGraph.addEdge(StateGraph.START, "a"),
    StateGraph.compileSync()
  )
  const withQuestion = base.pipe(
    StateGraph.addNode("q", () => Effect.map(Question.ask("how many?"), (n) => ({ n }))),
    StateGraph.addEdge(StateGraph.START, "q"),
    StateGraph.compileSync({ interruptBefore: ["q"] })
  )

  it("one generic handler serves every graph, typed per graph, without casts", () => {
    // the pending interrupts of whichever graph failed: their kinds and requests stay typed
    const pending = <I extends Interrupt.Any>(e: Interrupt.GraphInterrupted<I>): Effect.Effect<ReadonlyArray<Interrupt.Pending<I>>> =>
      Effect.succeed(e.interrupts)
    const a = withApproval.invoke({ n: 1, status: "draft" }).pipe(Effect.catchTag("GraphInterrupted", pending))
    const q = withQuestion.invoke({ n: 1, status: "draft" }).pipe(Effect.catchTag("GraphInterrupted", pending))
    type PendingA = Exclude<Effect.Effect.Success<typeof a>, StateGraph.StateOf<typeof withApproval>>[number]
    expectTypeOf<PendingA["kind"]>().toEqualTypeOf<"Approval">()
    expectTypeOf<PendingA["request"]>().toEqualTypeOf<{ readonly draft: string }>()
    type PendingQ = Exclude<Effect.Effect.Success<typeof q>, StateGraph.StateOf<typeof withQuestion>>[number]["kind"]
    expectTypeOf<PendingQ>().toEqualTypeOf<"Question" | "Breakpoint">()
    // a generic handler reads every pending interrupt's common fields
    const where = <I extends Interrupt.Any>(e: Interrupt.GraphInterrupted<I>) => e.interrupts.map((i) => `${i.kind} at ${i.node} (${i.id})`)
    withQuestion.invoke({ n: 1, status: "draft" }).pipe(Effect.catchTag("GraphInterrupted", (e) => Effect.succeed(where(e))))
  })

  it("a handler of any graph's GraphInterrupted takes every graph's", () => {
    const log = (e: Interrupt.GraphInterrupted) => Effect.succeed(e.interrupts.map((i) => `${i.kind} at ${i.node}`))
    withApproval.invoke({ n: 1, status: "draft" }).pipe(Effect.catchTag("GraphInterrupted", log))
    withQuestion.invoke({ n: 1, status: "draft" }).pipe(Effect.catchTag("GraphInterrupted", log))
    // over graphs whose type was erased
    const untilPause = (graph: StateGraph.AnyCompiled, threadId: string) =>
      graph.invoke(null, { threadId }).pipe(Effect.catchTag("GraphInterrupted", log))
    void untilPause
    expectTypeOf<StateGraph.InterruptedOf<typeof withApproval>>().toEqualTypeOf<Interrupt.GraphInterrupted<Approval>>()
    const quiet = base.pipe(StateGraph.addNode("a", () => Effect.void), StateGraph.addEdge(StateGraph.START, "a"), StateGraph.compileSync())
    expectTypeOf<StateGraph.InterruptedOf<typeof quiet>>().toEqualTypeOf<never>()
  })
})
