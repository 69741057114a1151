// Type-checked by the consumer test under several compiler settings: the public modules by their
// subpaths, and a compile error where a mistake should be one.
import { Effect, Schema } from "effect"
import * as Channel from "effect-stategraph/Channel"
import * as StateGraph from "effect-stategraph/StateGraph"
import { Snapshots } from "effect-stategraph"

const graph = StateGraph.make({ id: "types", state: { n: Channel.lastValue(Schema.Number) } }).pipe(
  StateGraph.addNode("inc", (s) => Effect.succeed({ n: s.n + 1 })),
  StateGraph.addEdge(StateGraph.START, "inc"),
  StateGraph.compileSync()
)

export const run: Effect.Effect<number, unknown> = graph.invoke({ n: 1 }, { threadId: "t" }).pipe(
  Effect.map((s) => s.n),
  Effect.provide(Snapshots.layerMemory)
)

// @ts-expect-error an update key that is not a channel
StateGraph.make({ id: "bad", state: { n: Channel.lastValue(Schema.Number) } }).pipe(StateGraph.addNode("x", () => Effect.succeed({ m: 1 })))
