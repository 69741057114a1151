/**
 * Type-level tests of a `Command` as a run's input and of a resume with an update: the goto
 * targets are the graph's nodes (or END), the update's keys and values the state's channels.
 * Each `@ts-expect-error` is a compile error `tsc` checks (unused, it fails).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Channel, Command, Interrupt, Send, StateGraph } from "effect-stategraph"

const graph = StateGraph.make({
  id: "types-command",
  state: { n: Channel.lastValue(Schema.Number, { initial: () => 0 }), log: Channel.append(Schema.String) }
}).pipe(
  StateGraph.addNode("a", (s) => Effect.map(Interrupt.Text.ask({ prompt: `${s.n}?` }), (t) => ({ log: [t] }))),
  StateGraph.addNode("b", () => Effect.succeed({ n: 1 })),
  StateGraph.addEdge(StateGraph.START, "a"),
  StateGraph.addEdge("a", "b"),
  StateGraph.compileSync()
)

describe("Command as run input (types)", () => {
  it("goto names a node of the graph (or END); update names its channels with their types", () => {
    const ok = [
      graph.invoke(Command.goto("b"), { threadId: "t" }),
      graph.invoke(Command.goto(["a", "b"], { n: 2 }), { threadId: "t" }),
      graph.invoke(Command.goto(StateGraph.END), { threadId: "t" }),
      graph.invoke(Command.goto(Send.make("b", { n: 1, log: [] })), { threadId: "t" }),
      graph.invoke(Command.update({ n: 3, log: ["x"] }), { threadId: "t" }),
      graph.stream(Command.update({ n: 3 }), { threadId: "t", mode: "values" })
    ]
    // @ts-expect-error "nope" is not a node of the graph
    graph.invoke(Command.goto("nope"), { threadId: "t" })
    // @ts-expect-error n is a number
    graph.invoke(Command.update({ n: "3" }), { threadId: "t" })
    // @ts-expect-error "nope" is not a channel
    graph.invoke(Command.update({ nope: 1 }), { threadId: "t" })
    // @ts-expect-error a parent command is a subgraph node's output, not a run's input
    graph.invoke(Command.parent("b"), { threadId: "t" })
    expect(ok).toHaveLength(6)
  })

  it("resume's update is an update of the state", () => {
    const ok = graph.resume({ threadId: "t", update: { n: 2 } }, Interrupt.Text.respond("yes"))
    graph.streamResume({ threadId: "t", update: { log: ["a"] }, mode: "updates" }, Interrupt.Text.respond("yes"))
    // @ts-expect-error n is a number
    graph.resume({ threadId: "t", update: { n: "2" } }, Interrupt.Text.respond("yes"))
    // @ts-expect-error "nope" is not a channel
    graph.resume({ threadId: "t", update: { nope: 1 } }, Interrupt.Text.respond("yes"))
    expect(Effect.isEffect(ok)).toBe(true)
  })
})

describe("a list of updates (types)", () => {
  it("each item of a node's list is checked as an update or a command", () => {
    const base = StateGraph.make({
      id: "types-list",
      state: { n: Channel.lastValue(Schema.Number), log: Channel.append(Schema.String) }
    })
    const ok = base.pipe(
      StateGraph.addNode("a", () => Effect.succeed([{ log: ["x"] }, { log: ["y"] }, Command.goto("b", { n: 1 })])),
      StateGraph.addNode("b", () => Effect.succeed({ n: 2 })),
      StateGraph.addEdge(StateGraph.START, "a"),
      StateGraph.compile()
    )
    base.pipe(
      StateGraph.addNode("a", () =>
        // @ts-expect-error WrongUpdate<"log", readonly string[]>
        Effect.succeed([{ log: ["x"] }, { log: "y" }]))
    )
    base.pipe(
      StateGraph.addNode("a", () =>
        // @ts-expect-error NotAChannel<"nope">
        Effect.succeed([{ log: ["x"] }, { nope: 1 }]))
    )
    // a goto in the list names a node: "c" is not one
    base.pipe(
      StateGraph.addNode("a", () => Effect.succeed([Command.goto("c")])),
      StateGraph.addEdge(StateGraph.START, "a"),
      // @ts-expect-error a Command routes to an undeclared node: "c"
      StateGraph.compile()
    )
    expect(Effect.isEffect(ok)).toBe(true)
  })
})
