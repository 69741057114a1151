/**
 * Type-level tests of long-term memory: values typed by their schema, filters by the encoded
 * value's scalar fields, and a graph whose nodes use `Memory` requires it to run.
 */
import { describe, expectTypeOf, it } from "@effect/vitest"
import { Effect, Option, Schema } from "effect"
import { Channel, Memory, StateGraph } from "effect-stategraph"

const Pref = Schema.Struct({ theme: Schema.String, size: Schema.Number, at: Schema.Date, tags: Schema.Array(Schema.String) })
const prefs = Memory.collection(Pref)

describe("Memory types", () => {
  it("values and filters are typed", () => {
    expectTypeOf(prefs.get(["u"], "k")).toEqualTypeOf<
      Effect.Effect<Option.Option<Memory.Item<typeof Pref.Type>>, Memory.MemoryError, Memory.Memory>
    >()
    prefs.put(["u"], "k", { theme: "dark", size: 1, at: new Date(), tags: [] })
    // @ts-expect-error a value its schema does not describe
    prefs.put(["u"], "k", { theme: "dark", size: "1", at: new Date(), tags: [] })
    // the filter is on the encoded value: a Date is its ISO string
    prefs.search(["u"], { filter: { theme: "dark", size: { $gte: 2 }, at: { $lt: "2026-01-01" } } })
    // @ts-expect-error an unknown field
    prefs.search(["u"], { filter: { nope: 1 } })
    // @ts-expect-error a value of the wrong type
    prefs.search(["u"], { filter: { size: "big" } })
    // @ts-expect-error an array field cannot be compared
    prefs.search(["u"], { filter: { tags: "a" } })
  })

  it("a graph whose nodes use Memory needs it to run", () => {
    const graph = StateGraph.make({ id: "m", state: { user: Channel.lastValue(Schema.String) } }).pipe(
      StateGraph.addNode("recall", (s) => Effect.as(prefs.get(["users", s.user], "ui"), {})),
      StateGraph.addEdge(StateGraph.START, "recall"),
      StateGraph.compileSync()
    )
    expectTypeOf<Effect.Effect.Context<ReturnType<typeof graph.invoke>>>().toEqualTypeOf<Memory.Memory>()
    // @ts-expect-error it does not run without the layer
    const bare: Effect.Effect<unknown, unknown, never> = graph.invoke({ user: "ada" })
    const provided: Effect.Effect<unknown, unknown, never> = Effect.provide(graph.invoke({ user: "ada" }), Memory.layerMemory)
    void [bare, provided]
  })
})
