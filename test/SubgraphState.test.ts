import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Channel, Interrupt, Snapshots, SqliteSnapshots, StateGraph } from "effect-stategraph"
import { scopedTempFile } from "./fixtures/tempFile.js"

/** `getState(threadId, { subgraphs: true })`: a paused subgraph's state nested under its task, two levels down. */

const stores: ReadonlyArray<readonly [string, <A, E>(effect: Effect.Effect<A, E, Snapshots.Snapshots>) => Effect.Effect<A, E | unknown>]> = [
  ["memory", (effect) => Effect.provide(effect, Snapshots.layerMemory)],
  ["sqlite", (effect) =>
    Effect.scoped(Effect.flatMap(scopedTempFile("feat2-substate-", "t.db"), (file) =>
      Effect.provide(effect, SqliteSnapshots.layer({ filename: file }))))]
]

const state = { log: Channel.append(Schema.String) }
const inner = StateGraph.make({ id: "ss-inner", state }).pipe(
  StateGraph.addNode("i1", () => Effect.succeed({ log: ["i1"] })),
  StateGraph.addNode("ask", () => Effect.map(Interrupt.Text.ask({ prompt: "name?" }), (t) => ({ log: [t] }))),
  StateGraph.addEdge(StateGraph.START, "i1"),
  StateGraph.addEdge("i1", "ask"),
  StateGraph.compileSync()
)
const middle = StateGraph.make({ id: "ss-middle", state }).pipe(
  StateGraph.addNode("m1", () => Effect.succeed({ log: ["m1"] })),
  StateGraph.addNode("inner", inner),
  StateGraph.addEdge(StateGraph.START, "m1"),
  StateGraph.addEdge("m1", "inner"),
  StateGraph.compileSync()
)
const outer = StateGraph.make({ id: "ss-outer", state }).pipe(
  StateGraph.addNode("middle", middle),
  StateGraph.addEdge(StateGraph.START, "middle"),
  StateGraph.compileSync()
)

describe("getState with subgraphs", () => {
  for (const [name, provide] of stores) {
    it.effect(`on ${name}: the paused subgraphs' states are nested under their tasks`, () =>
      provide(Effect.gen(function*() {
        yield* Effect.flip(outer.invoke({}, { threadId: "ss-1" }))
        const flat = yield* outer.getState("ss-1")
        expect(flat.tasks[0]?.state).toBeUndefined()
        const st = yield* outer.getState("ss-1", { subgraphs: true })
        expect(st.status).toBe("paused")
        const mid = st.tasks[0]!.state!
        expect([mid.status, mid.values.log]).toEqual(["paused", ["m1"]])
        const inn = mid.tasks[0]!.state!
        expect([inn.status, inn.next, inn.values.log]).toEqual(["paused", ["ask"], ["m1", "i1"]])
        expect(inn.interrupts.map((i) => [i.kind, i.status])).toEqual([["Text", "pending"]])
        // the child's history is reachable from there
        const childHistory = yield* inner.history(inn.threadId)
        expect(childHistory.length).toBeGreaterThan(1)
        // answered: the graph completes and no task is left
        yield* outer.resume({ threadId: "ss-1" }, Interrupt.Text.respond("Ada"))
        const done = yield* outer.getState("ss-1", { subgraphs: true })
        expect([done.status, done.tasks]).toEqual(["completed", []])
      })))
  }
})
