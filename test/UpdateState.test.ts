import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Channel, Interrupt, Snapshots, SqliteSnapshots, StateGraph } from "effect-stategraph"
import { scopedTempFile } from "./fixtures/tempFile.js"

/**
 * State editing as LangGraph users know it: `updateState` on a thread that does not exist yet
 * (seeding it), `bulkUpdateState` (several supersteps, all or none), and `asNode: END` (ends the
 * thread, withdrawing a pause's questions), on every store.
 */

const stores: ReadonlyArray<readonly [string, <A, E>(effect: Effect.Effect<A, E, Snapshots.Snapshots>) => Effect.Effect<A, E | unknown>]> = [
  ["memory", (effect) => Effect.provide(effect, Snapshots.layerMemory)],
  ["sqlite", (effect) =>
    Effect.scoped(Effect.flatMap(scopedTempFile("feat2-update-", "t.db"), (file) =>
      Effect.provide(effect, SqliteSnapshots.layer({ filename: file }))))]
]

const state = {
  messages: Channel.append(Schema.String),
  topic: Channel.lastValue(Schema.String, { initial: () => "" })
}

const chat = StateGraph.make({ id: "u-chat", state }).pipe(
  StateGraph.addNode("reply", (s) => Effect.succeed({ messages: [`reply to ${s.messages.at(-1)} (${s.topic})`] })),
  StateGraph.addNode("review", () => Effect.map(Interrupt.Text.ask({ prompt: "ok?" }), (t) => ({ messages: [`review ${t}`] }))),
  StateGraph.addEdge(StateGraph.START, "reply"),
  StateGraph.addEdge("reply", "review"),
  StateGraph.compileSync()
)

describe("updateState / bulkUpdateState", () => {
  for (const [name, provide] of stores) {
    it.effect(`on ${name}: updateState on a new thread creates it; invoke(null) runs from START`, () =>
      provide(Effect.gen(function*() {
        const seeded = yield* chat.updateState("u-new", { messages: ["hi"], topic: "tea" })
        expect(seeded.next).toEqual(["reply"])
        expect(seeded.values.messages).toEqual(["hi"])
        expect(seeded.metadata["asNode"]).toBe(StateGraph.START)
        const paused = yield* Effect.flip(chat.invoke(null, { threadId: "u-new" }))
        expect(paused._tag).toBe("GraphInterrupted")
        expect((yield* chat.getState("u-new")).values.messages).toEqual(["hi", "reply to hi (tea)"])
        // seeded as a node: the next step is that node's successor
        const asReply = yield* chat.updateState("u-new-2", { messages: ["pre-written reply"] }, { asNode: "reply" })
        expect(asReply.next).toEqual(["review"])
      })))

    it.effect(`on ${name}: asNode END ends a paused thread: questions withdrawn, completed, nothing next`, () =>
      provide(Effect.gen(function*() {
        yield* Effect.flip(chat.invoke({ messages: ["hello"] }, { threadId: "u-end" }))
        const before = yield* chat.getState("u-end")
        expect(before.status).toBe("paused")
        const ended = yield* chat.updateState("u-end", { messages: ["closed by an operator"] }, { asNode: StateGraph.END })
        expect(ended.status).toBe("completed")
        expect(ended.next).toEqual([])
        expect(ended.interrupts).toEqual([])
        const head = yield* chat.getState("u-end")
        expect(head.status).toBe("completed")
        expect(head.values.messages).toEqual(["hello", "reply to hello ()", "closed by an operator"])
        // nothing to answer any more
        const resumed = yield* Effect.flip(chat.resume({ threadId: "u-end" }, Interrupt.Text.respond("late")))
        expect(resumed._tag).not.toBe("GraphInterrupted")
        // and new input starts a new turn
        const next = yield* Effect.flip(chat.invoke({ messages: ["again"] }, { threadId: "u-end" }))
        expect(next._tag).toBe("GraphInterrupted")
      })))

    it.effect(`on ${name}: bulkUpdateState writes one checkpoint per superstep, several updates meeting in one step`, () =>
      provide(Effect.gen(function*() {
        const last = yield* chat.bulkUpdateState("u-bulk", [
          [{ update: { messages: ["user: hi"], topic: "tea" }, asNode: StateGraph.START }],
          [{ update: { messages: ["a"] }, asNode: "reply" }, { update: { messages: ["b"] }, asNode: "reply" }],
          [{ update: { messages: ["bye"] }, asNode: StateGraph.END }]
        ])
        expect(last.values.messages).toEqual(["user: hi", "a", "b", "bye"])
        expect(last.status).toBe("completed")
        const history = yield* chat.history("u-bulk")
        expect(history.map((h) => h.next)).toEqual([[], ["review"], ["reply"]])
        expect(history[1]!.metadata["asNode"]).toEqual(["reply", "reply"])
      })))

    it.effect(`on ${name}: bulkUpdateState is all or none: a bad superstep writes nothing`, () =>
      provide(Effect.gen(function*() {
        const bad = yield* Effect.flip(chat.bulkUpdateState("u-bulk-bad", [
          [{ update: { messages: ["ok"], topic: "x" }, asNode: StateGraph.START }],
          // two writes to a last-value channel in one superstep
          [{ update: { topic: "a" }, asNode: "reply" }, { update: { topic: "b" }, asNode: "review" }]
        ]))
        expect(bad._tag).toBe("InvalidUpdate")
        const missing = yield* Effect.flip(chat.getState("u-bulk-bad"))
        expect(missing._tag).toBe("ThreadNotFound")
        // on an existing thread: its head stays
        yield* chat.updateState("u-bulk-bad2", { messages: ["first"] })
        const head = (yield* chat.getState("u-bulk-bad2")).checkpointId
        const bad2 = yield* Effect.flip(chat.bulkUpdateState("u-bulk-bad2", [
          [{ update: { messages: ["fine"] }, asNode: "reply" }],
          [{ update: { messages: ["to nowhere"] }, asNode: "nope" as "reply" }]
        ]))
        expect(bad2._tag).toBe("InvalidUpdate")
        expect((yield* chat.getState("u-bulk-bad2")).checkpointId).toBe(head)
      })))
  }

  it.effect("a new thread still needs its required channels", () =>
    Effect.gen(function*() {
      const strict = StateGraph.make({ id: "u-strict", state: { must: Channel.lastValue(Schema.String), log: Channel.append(Schema.String) } }).pipe(
        StateGraph.addNode("a", () => Effect.succeed({ log: ["a"] })),
        StateGraph.addEdge(StateGraph.START, "a"),
        StateGraph.compileSync()
      )
      const e = yield* Effect.flip(strict.updateState("u-s", { log: ["x"] }))
      expect(e._tag).toBe("InvalidUpdate")
      expect(e._tag === "InvalidUpdate" && e.channel).toBe("must")
    }).pipe(Effect.provide(Snapshots.layerMemory)))
})
