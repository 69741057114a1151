/**
 * Type-level tests of `Command.parent`: a subgraph's handoff targets are checked when the parent
 * compiles (as the subgraph node's gotos), its update is not checked against the child's
 * channels, and the handoff marks never show in `invoke`'s error type.
 */
import { describe, expectTypeOf, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Channel, Command, StateGraph } from "effect-stategraph"

const state = { log: Channel.append(Schema.String) }

const child = StateGraph.make({ id: "types-handoff-child", state }).pipe(
  // the update is for the parent: a key the child does not have is not an error here
  StateGraph.addNode("go", () => Effect.succeed(Command.parent<"bob">("bob", { topic: "x" }))),
  StateGraph.addEdge(StateGraph.START, "go"),
  StateGraph.compileSync()
)

describe("Command.parent types", () => {
  it("the parent compiles when it has the target", () => {
    const parent = StateGraph.make({ id: "types-handoff-parent", state }).pipe(
      StateGraph.addNode("alice", child, { ends: ["bob"] }),
      StateGraph.addNode("bob", () => Effect.succeed({ log: ["bob"] })),
      StateGraph.addEdge(StateGraph.START, "alice"),
      StateGraph.compileSync()
    )
    // the handoff mark is not an error of a run
    expectTypeOf<StateGraph.ErrorOf<typeof parent>>().not.toMatchTypeOf<StateGraph.HandoffTo<any>>()
    expectTypeOf<StateGraph.ErrorOf<typeof child>>().not.toMatchTypeOf<StateGraph.HandoffTo<any>>()
    expectTypeOf<StateGraph.HandoffTargets<typeof child extends StateGraph.CompiledGraph<any, any, infer E, any> ? E : never>>()
      .toEqualTypeOf<"bob">()
  })

  it("a parent without the target does not compile", () => {
    StateGraph.make({ id: "types-handoff-wrong", state }).pipe(
      StateGraph.addNode("alice", child),
      StateGraph.addNode("carol", () => Effect.succeed({ log: ["carol"] })),
      StateGraph.addEdge(StateGraph.START, "alice"),
      StateGraph.addEdge("alice", "carol"),
      // @ts-expect-error a Command routes to an undeclared node: "bob"
      StateGraph.compileSync()
    )
  })
})
