import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Schema, Stream } from "effect"
import { Channel, Command, Snapshots, SqliteSnapshots, StateGraph } from "effect-stategraph"
import * as PgSnapshots from "effect-stategraph/PgSnapshots"
import { scopedTempFile } from "./fixtures/tempFile.js"
import { cluster, scopedSchema } from "./pg/fixtures.js"

/**
 * Several writes to one channel from one node in one step: a node returns a list of updates (or
 * commands), each meets the reducer in order as two tasks' writes do; a last-value channel still
 * refuses two writes with InvalidUpdate. On memory, SQLite and Postgres.
 */
const stores: ReadonlyArray<readonly [string, <A, E>(effect: Effect.Effect<A, E, Snapshots.Snapshots>) => Effect.Effect<A, E | unknown>]> = [
  ["memory", (effect) => Effect.provide(effect, Snapshots.layerMemory)],
  ["sqlite", (effect) =>
    Effect.scoped(Effect.flatMap(scopedTempFile("feat3-many-", "t.db"), (file) =>
      Effect.provide(effect, SqliteSnapshots.layer({ filename: file }))))],
  ["postgres", (effect) =>
    Effect.scoped(Effect.flatMap(scopedSchema("many"), (schema) =>
      Effect.provide(effect, PgSnapshots.layer({ url: cluster().url, schema }))))]
]

const state = {
  log: Channel.append(Schema.String),
  total: Channel.reduce(Schema.Number, (a, b) => a + b, () => 0),
  stack: Channel.reduce(Schema.Array(Schema.String), (a: ReadonlyArray<string>, b: ReadonlyArray<string>) => [...b, ...a], () => []),
  last: Channel.lastValue(Schema.String, { initial: () => "" })
}

const graph = StateGraph.make({ id: "many-writes", state }).pipe(
  StateGraph.addNode("many", () =>
    Effect.succeed([
      { log: ["one"], total: 1, stack: ["a"] },
      { log: ["two"], total: 2, stack: ["b"] },
      Command.goto("after", { total: 4, last: "set once" })
    ]), { ends: ["after"] }),
  StateGraph.addNode("after", (s) => Effect.succeed({ log: [`after ${s.total}`] })),
  StateGraph.addEdge(StateGraph.START, "many"),
  StateGraph.compileSync()
)

const twice = StateGraph.make({ id: "many-writes-last", state }).pipe(
  StateGraph.addNode("twice", () => Effect.succeed([{ last: "a" }, { last: "b" }])),
  StateGraph.addEdge(StateGraph.START, "twice"),
  StateGraph.compileSync()
)

describe("several writes to one channel from one node", () => {
  for (const [name, provide] of stores) {
    it.effect(`on ${name}: a list of updates meets the reducers in order, one checkpoint; gotos of its commands route`, () =>
      provide(Effect.gen(function*() {
        const out = yield* graph.invoke({}, { threadId: "m" })
        expect(out.log).toEqual(["one", "two", "after 7"])
        expect(out.total).toBe(7)
        // the reducer saw b after a: b is pushed on top
        expect(out.stack).toEqual(["b", "a"])
        expect(out.last).toBe("set once")
        // one step for the node (input, many, after)
        expect((yield* graph.history("m")).map((h) => h.step)).toEqual([2, 1, 0])
      })))

    it.effect(`on ${name}: two writes to a last-value channel from one node are InvalidUpdate, nothing written`, () =>
      provide(Effect.gen(function*() {
        const failure = yield* Effect.flip(twice.invoke({}, { threadId: "l" }))
        expect(failure._tag).toBe("InvalidUpdate")
        expect(failure).toMatchObject({ channel: "last" })
        const head = yield* twice.getState("l")
        expect(head.values.last).toBe("")
        expect(head.step).toBe(0)
      })))
  }

  it.effect("the updates stream shows each update of the list; the tasks part its writes together", () =>
    Effect.gen(function*() {
      const parts = Chunk.toReadonlyArray(yield* Stream.runCollect(graph.stream({}, { mode: ["updates", "tasks"] })))
      const updates = parts.filter((p) => p.mode === "updates" && p.node === "many").map((p) => p.mode === "updates" ? p.update : undefined)
      expect(updates).toEqual([
        { log: ["one"], total: 1, stack: ["a"] },
        { log: ["two"], total: 2, stack: ["b"] },
        { total: 4, last: "set once" }
      ])
      const finished = parts.find((p) => p.mode === "tasks" && p.event === "finished" && p.node === "many")
      expect(finished).toMatchObject({ status: "done", result: { log: ["one", "two"], last: "set once" } })
    }))
})
