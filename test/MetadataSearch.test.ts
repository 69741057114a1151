import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Channel, Interrupt, Snapshots, SqliteSnapshots, StateGraph } from "effect-stategraph"
import { scopedTempFile } from "./fixtures/tempFile.js"

/** Finding threads and checkpoints by metadata, on every store (memory, SQLite). */

const stores: ReadonlyArray<readonly [string, <A, E>(effect: Effect.Effect<A, E, Snapshots.Snapshots>) => Effect.Effect<A, E | unknown>]> = [
  ["memory", (effect) => Effect.provide(effect, Snapshots.layerMemory)],
  ["sqlite", (effect) =>
    Effect.scoped(Effect.flatMap(scopedTempFile("feat2-meta-", "t.db"), (file) =>
      Effect.provide(effect, SqliteSnapshots.layer({ filename: file }))))]
]

const state = { log: Channel.append(Schema.String) }
const graph = StateGraph.make({ id: "meta", state }).pipe(
  StateGraph.addNode("a", () => Effect.succeed({ log: ["a"] })),
  StateGraph.addNode("ask", () => Effect.map(Interrupt.Text.ask({ prompt: "?" }), (t) => ({ log: [t] }))),
  StateGraph.addEdge(StateGraph.START, "a"),
  StateGraph.addEdge("a", "ask"),
  StateGraph.compileSync()
)
const other = StateGraph.make({ id: "meta-other", state }).pipe(
  StateGraph.addNode("a", () => Effect.succeed({ log: ["a"] })),
  StateGraph.addEdge(StateGraph.START, "a"),
  StateGraph.compileSync()
)

describe("metadata search", () => {
  for (const [name, provide] of stores) {
    it.effect(`on ${name}: searchThreads by metadata (several keys), status, limit and before`, () =>
      provide(Effect.gen(function*() {
        const start = (threadId: string, metadata: Record<string, unknown>) =>
          Effect.flip(graph.invoke({}, { threadId, metadata }))
        yield* start("m-1", { user: "ada", tier: "pro" })
        yield* start("m-2", { user: "ada", tier: "free" })
        yield* start("m-3", { user: "bob", tier: "pro" })
        yield* graph.resume({ threadId: "m-2" }, Interrupt.Text.respond("done"))
        // another graph's thread with the same metadata is not this graph's
        yield* other.invoke({}, { threadId: "m-other", metadata: { user: "ada" } })
        const ids = (xs: ReadonlyArray<{ readonly threadId: string }>) => xs.map((x) => x.threadId).sort()
        expect(ids(yield* graph.searchThreads({ metadata: { user: "ada" } }))).toEqual(["m-1", "m-2"])
        expect(ids(yield* graph.searchThreads({ metadata: { user: "ada", tier: "pro" } }))).toEqual(["m-1"])
        expect(ids(yield* graph.searchThreads({ metadata: { tier: "pro" }, status: "paused" }))).toEqual(["m-1", "m-3"])
        expect(ids(yield* graph.searchThreads({ metadata: { user: "ada" }, status: "completed" }))).toEqual(["m-2"])
        expect(yield* graph.searchThreads({ metadata: { user: "carol" } })).toEqual([])
        // pages: newest first, limit, then before the last one seen
        const page1 = yield* graph.searchThreads({ metadata: { tier: "pro" }, limit: 1 })
        expect(page1.length).toBe(1)
        const page2 = yield* graph.searchThreads({ metadata: { tier: "pro" }, limit: 1, before: page1[0]!.checkpointId })
        expect(page2.length).toBe(1)
        expect(ids([...page1, ...page2])).toEqual(["m-1", "m-3"])
        expect(ids(yield* graph.searchThreads())).toEqual(["m-1", "m-2", "m-3"])
      })))

    it.effect(`on ${name}: history by metadata: only the matching checkpoints, limit after the filter`, () =>
      provide(Effect.gen(function*() {
        yield* Effect.flip(graph.invoke({}, { threadId: "h-1", metadata: { run: 1 } }))
        yield* graph.resume({ threadId: "h-1" }, Interrupt.Text.respond("x"))
        yield* graph.updateState("h-1", { log: ["edit"] }, { asNode: StateGraph.END })
        const all = yield* graph.history("h-1")
        const updates = yield* graph.history("h-1", { metadata: { source: "update" } })
        expect(updates.map((h) => h.checkpointId)).toEqual([all[0]!.checkpointId])
        const run1 = yield* graph.history("h-1", { metadata: { run: 1 } })
        expect(run1.length).toBe(all.length)
        const limited = yield* graph.history("h-1", { metadata: { run: 1 }, limit: 2 })
        expect(limited.map((h) => h.checkpointId)).toEqual(all.slice(0, 2).map((h) => h.checkpointId))
        expect(yield* graph.history("h-1", { metadata: { run: 2 } })).toEqual([])
        const missing = yield* Effect.flip(graph.history("nope", { metadata: { run: 1 } }))
        expect(missing._tag).toBe("ThreadNotFound")
      })))
  }
})
