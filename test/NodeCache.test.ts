import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema, Stream, TestClock } from "effect"
import { Channel, Send, Snapshots, StateGraph } from "effect-stategraph"

/** Node cache: hit / miss by key, ttl, `clearCache`, across threads, streamed as `tasks` parts. */

const state = { q: Channel.lastValue(Schema.String), answer: Channel.lastValue(Schema.String, { initial: () => "" }) }

const make = (calls: { n: number }, cache: StateGraph.CachePolicy) =>
  StateGraph.make({ id: "cache", state }).pipe(
    StateGraph.addNode("expensive", (s) => Effect.sync(() => (calls.n++, { answer: `answer to ${s.q}` })), { cache }),
    StateGraph.addEdge(StateGraph.START, "expensive"),
    StateGraph.compileSync()
  )

describe("node cache", () => {
  it.effect("the same input runs once; another input runs; shared across threads", () =>
    Effect.gen(function*() {
      const calls = { n: 0 }
      const graph = make(calls, {})
      expect((yield* graph.invoke({ q: "a" })).answer).toBe("answer to a")
      expect((yield* graph.invoke({ q: "a" }, { threadId: "c-1" })).answer).toBe("answer to a")
      expect(calls.n).toBe(1)
      yield* graph.invoke({ q: "b" }, { threadId: "c-2" })
      expect(calls.n).toBe(2)
      // the stored thread has the cached answer like a run's
      expect((yield* graph.getState("c-1")).values.answer).toBe("answer to a")
    }).pipe(Effect.provide(Snapshots.layerMemory)))

  it.effect("a key function decides what counts as the same input", () =>
    Effect.gen(function*() {
      const calls = { n: 0 }
      const graph = make(calls, { key: (s: { q: string }) => s.q.toLowerCase() })
      yield* graph.invoke({ q: "Tea" })
      const out = yield* graph.invoke({ q: "TEA" })
      expect(out.answer).toBe("answer to Tea")
      expect(calls.n).toBe(1)
    }))

  it.effect("entries expire after their ttl", () =>
    Effect.gen(function*() {
      const calls = { n: 0 }
      const graph = make(calls, { ttl: "1 minute" })
      yield* graph.invoke({ q: "a" })
      yield* TestClock.adjust("59 seconds")
      yield* graph.invoke({ q: "a" })
      expect(calls.n).toBe(1)
      yield* TestClock.adjust("2 seconds")
      yield* graph.invoke({ q: "a" })
      expect(calls.n).toBe(2)
    }))

  it.effect("clearCache empties it (all, or some nodes')", () =>
    Effect.gen(function*() {
      const calls = { n: 0 }
      const graph = make(calls, {})
      yield* graph.invoke({ q: "a" })
      yield* graph.clearCache(["expensive"])
      yield* graph.invoke({ q: "a" })
      yield* graph.clearCache()
      yield* graph.invoke({ q: "a" })
      expect(calls.n).toBe(3)
    }))

  it.effect("tasks parts say hit or miss; a failure is not cached", () =>
    Effect.gen(function*() {
      const calls = { n: 0 }
      const graph = make(calls, {})
      const first = [...(yield* Stream.runCollect(graph.stream({ q: "s" }, { mode: "tasks" })))]
      const second = [...(yield* Stream.runCollect(graph.stream({ q: "s" }, { mode: "tasks" })))]
      const finished = (parts: typeof first) => parts.flatMap((p) => (p.event === "finished" ? [p.cache] : []))
      expect(finished(first)).toEqual(["miss"])
      expect(finished(second)).toEqual(["hit"])
      let fails = 0
      const failing = StateGraph.make({ id: "cache-fail", state }).pipe(
        StateGraph.addNode("f", () => Effect.suspend(() => (fails++, Effect.fail("no" as const))), { cache: {} }),
        StateGraph.addEdge(StateGraph.START, "f"),
        StateGraph.compileSync()
      )
      yield* Effect.flip(failing.invoke({ q: "x" }))
      yield* Effect.flip(failing.invoke({ q: "x" }))
      expect(fails).toBe(2)
    }))

  it.effect("Send tasks are cached by their argument", () =>
    Effect.gen(function*() {
      let calls = 0
      const graph = StateGraph.make({ id: "cache-send", state: { items: Channel.lastValue(Schema.Array(Schema.Number)), out: Channel.append(Schema.Number) } }).pipe(
        StateGraph.addNode("square", (x: number) => Effect.sync(() => (calls++, { out: [x * x] })), { cache: {} }),
        StateGraph.addConditionalEdges(StateGraph.START, (s) => s.items.map((x) => Send.make("square", x))),
        StateGraph.compileSync()
      )
      const out = yield* graph.invoke({ items: [1, 2, 2, 3, 1] })
      expect(out.out).toEqual([1, 4, 4, 9, 1])
      // tasks of one step run concurrently: a repeat in the same step may or may not find the entry
      const first = calls
      expect(first).toBeGreaterThanOrEqual(3)
      expect(first).toBeLessThanOrEqual(5)
      const again = yield* graph.invoke({ items: [3, 2, 1] })
      expect(again.out).toEqual([9, 4, 1])
      expect(calls).toBe(first)
    }))
})
