import { describe, expect, expectTypeOf, it } from "@effect/vitest"
import { Effect, Schema, Stream } from "effect"
import { Channel, Snapshots, StateGraph } from "effect-stategraph"

/**
 * A graph's input and output channels: `invoke` takes only the input channels and returns only
 * the output ones; the others are private to the nodes (still in `getState`). Typed, and checked
 * at run time for untyped callers; a subgraph gets only its input channels from its parent.
 */

const state = {
  question: Channel.lastValue(Schema.String),
  notes: Channel.append(Schema.String),
  answer: Channel.lastValue(Schema.String, { initial: () => "" })
}

const qa = StateGraph.make({ id: "io-qa", state }).pipe(
  StateGraph.addNode("research", (s) => Effect.succeed({ notes: [`about ${s.question}`] })),
  StateGraph.addNode("write", (s) => Effect.succeed({ answer: `${s.question}: ${s.notes.join("; ")}` })),
  StateGraph.addEdge(StateGraph.START, "research"),
  StateGraph.addEdge("research", "write"),
  StateGraph.compileSync({ input: ["question"], output: ["answer"] })
)

describe("input and output channels", () => {
  it.effect("invoke takes the input channels and returns the output channels; getState shows all", () =>
    Effect.gen(function*() {
      const out = yield* qa.invoke({ question: "tea" }, { threadId: "io-1" })
      expect(out).toEqual({ answer: "tea: about tea" })
      expectTypeOf(out).toEqualTypeOf<{ readonly answer: string }>()
      const st = yield* qa.getState("io-1")
      expect(st.values.notes).toEqual(["about tea"])
      const parts = yield* Stream.runCollect(qa.stream({ question: "cake" }, { mode: "values" }))
      // the input applied first (its output channels: the answer is not written yet), then each step
      expect([...parts].map((p) => p.values)).toEqual([{ answer: "" }, { answer: "" }, { answer: "cake: about cake" }])
    }).pipe(Effect.provide(Snapshots.layerMemory)))

  it.effect("a private channel as input is refused (typed, and at run time)", () =>
    Effect.gen(function*() {
      // @ts-expect-error notes is not an input channel
      const e = yield* Effect.flip(qa.invoke({ question: "x", notes: ["sneaky"] }))
      expect(e._tag).toBe("InvalidUpdate")
      expect(e._tag === "InvalidUpdate" && e.channel).toBe("notes")
    }))

  it.effect("an unknown channel in input/output does not compile, nor build", () =>
    Effect.gen(function*() {
      const builder = StateGraph.make({ id: "io-bad", state }).pipe(
        StateGraph.addNode("a", () => Effect.succeed({ answer: "a" })),
        StateGraph.addEdge(StateGraph.START, "a")
      )
      // @ts-expect-error input or output names a channel the graph does not have
      const e = yield* Effect.flip(StateGraph.compile(builder, { output: ["nope"] }))
      expect(e._tag).toBe("InvalidGraph")
    }))

  it.effect("as a subgraph: it gets its input channels of the parent's, and gives back its output", () =>
    Effect.gen(function*() {
      const parent = StateGraph.make({ id: "io-parent", state }).pipe(
        StateGraph.addNode("seed", () => Effect.succeed({ notes: ["parent note"] })),
        StateGraph.addNode("qa", qa),
        StateGraph.addEdge(StateGraph.START, "seed"),
        StateGraph.addEdge("seed", "qa"),
        StateGraph.compileSync()
      )
      const out = yield* parent.invoke({ question: "jam" }, { threadId: "io-p" })
      // the child did not see the parent's notes (not its input), and gave back its answer only
      expect(out.answer).toBe("jam: about jam")
      expect(out.notes).toEqual(["parent note"])
    }).pipe(Effect.provide(Snapshots.layerMemory)))
})
