import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Schema, Stream } from "effect"
import { Channel, Snapshots, StateGraph, Task } from "effect-stategraph"

/**
 * Per-call settings of `invoke`, `stream` and `resume`: `recursionLimit`, `concurrency`,
 * `durability`, `configurable` values read by nodes (and their subgraphs), and an `AbortSignal`.
 */

const counter = { n: Channel.lastValue(Schema.Number, { initial: () => 0 }) }

/** a ↔ a until n reaches `until` */
const loop = StateGraph.make({ id: "ro-loop", state: { ...counter, until: Channel.lastValue(Schema.Number) } }).pipe(
  StateGraph.addNode("a", (s) => Effect.succeed({ n: s.n + 1 })),
  StateGraph.addEdge(StateGraph.START, "a"),
  StateGraph.addConditionalEdges("a", (s) => (s.n < s.until ? "a" : StateGraph.END)),
  StateGraph.compileSync({ recursionLimit: 10 })
)

describe("per-call settings", () => {
  it.effect("recursionLimit per call, over the graph's default either way", () =>
    Effect.gen(function*() {
      const low = yield* Effect.flip(loop.invoke({ until: 5 }, { recursionLimit: 3 }))
      expect(low._tag).toBe("RecursionLimitExceeded")
      expect(low._tag === "RecursionLimitExceeded" && low.limit).toBe(3)
      const high = yield* loop.invoke({ until: 40 }, { recursionLimit: 50 })
      expect(high.n).toBe(40)
      const byDefault = yield* Effect.flip(loop.invoke({ until: 40 }))
      expect(byDefault._tag === "RecursionLimitExceeded" && byDefault.limit).toBe(10)
      // on a thread, resumed with invoke(null) and a higher limit
      const onThread = yield* Effect.flip(loop.invoke({ until: 15 }, { threadId: "ro-1" }))
      expect(onThread._tag).toBe("RecursionLimitExceeded")
      const continued = yield* loop.invoke(null, { threadId: "ro-1", recursionLimit: 20 })
      expect(continued.n).toBe(15)
    }).pipe(Effect.provide(Snapshots.layerMemory)))

  it.effect("durability per call: exit stores only the last checkpoint of the run", () =>
    Effect.gen(function*() {
      yield* loop.invoke({ until: 5 }, { threadId: "ro-sync" })
      yield* loop.invoke({ until: 5 }, { threadId: "ro-exit", durability: "exit" })
      const sync = yield* loop.history("ro-sync")
      const exit = yield* loop.history("ro-exit")
      expect(sync.length).toBe(6)
      expect(exit.length).toBeLessThan(sync.length)
      expect(exit[0]!.values.n).toBe(5)
    }).pipe(Effect.provide(Snapshots.layerMemory)))

  it.live("concurrency per call bounds a step's tasks", () =>
    Effect.gen(function*() {
      let running = 0
      let most = 0
      const work = (name: string) => () =>
        Effect.gen(function*() {
          running++
          most = Math.max(most, running)
          yield* Effect.sleep("5 millis")
          running--
          return { log: [name] }
        })
      const fan = StateGraph.make({ id: "ro-fan", state: { log: Channel.append(Schema.String) } }).pipe(
        StateGraph.addNode("x", work("x")),
        StateGraph.addNode("y", work("y")),
        StateGraph.addNode("z", work("z")),
        StateGraph.addEdge(StateGraph.START, "x"),
        StateGraph.addEdge(StateGraph.START, "y"),
        StateGraph.addEdge(StateGraph.START, "z"),
        StateGraph.compileSync()
      )
      yield* fan.invoke({}, { concurrency: 1 })
      expect(most).toBe(1)
      most = 0
      yield* fan.invoke({})
      expect(most).toBe(3)
    }), { timeout: 20_000 })

  it.effect("configurable values reach nodes, their subgraphs and routes' nodes; {} without", () =>
    Effect.gen(function*() {
      const state = { seen: Channel.append(Schema.String) }
      const child = StateGraph.make({ id: "ro-child", state }).pipe(
        StateGraph.addNode("c", () => Effect.map(Task.configurable, (c) => ({ seen: [`child:${String(c["userId"])}`] }))),
        StateGraph.addEdge(StateGraph.START, "c"),
        StateGraph.compileSync()
      )
      const graph = StateGraph.make({ id: "ro-config", state }).pipe(
        StateGraph.addNode("p", () => Effect.map(Task.configurable, (c) => ({ seen: [`parent:${String(c["userId"])}`] }))),
        StateGraph.addNode("child", child),
        StateGraph.addEdge(StateGraph.START, "p"),
        StateGraph.addEdge("p", "child"),
        StateGraph.compileSync()
      )
      const out = yield* graph.invoke({}, { threadId: "ro-c", configurable: { userId: "u-1" } })
      expect(out.seen).toEqual(["parent:u-1", "child:u-1"])
      const none = yield* graph.invoke({})
      expect(none.seen).toEqual(["parent:undefined", "child:undefined"])
      const streamed = yield* Stream.runCollect(graph.stream({}, { configurable: { userId: "u-2" } }))
      expect([...streamed].at(-1)!.values.seen).toEqual(["parent:u-2", "child:u-2"])
    }).pipe(Effect.provide(Snapshots.layerMemory)))

  it.effect("an aborted signal interrupts the run; the thread is released and keeps its last checkpoint", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const state = { log: Channel.append(Schema.String) }
      const graph = StateGraph.make({ id: "ro-abort", state }).pipe(
        StateGraph.addNode("fast", () => Effect.succeed({ log: ["fast"] })),
        StateGraph.addNode("slow", () => Effect.zipRight(Deferred.succeed(started, undefined), Effect.never)),
        StateGraph.addEdge(StateGraph.START, "fast"),
        StateGraph.addEdge("fast", "slow"),
        StateGraph.compileSync()
      )
      const controller = new AbortController()
      const fiber = yield* Effect.fork(graph.invoke({}, { threadId: "ro-a", signal: controller.signal }))
      yield* Deferred.await(started)
      controller.abort()
      const exit = yield* Fiber.await(fiber)
      expect(Exit.isInterrupted(exit)).toBe(true)
      const st = yield* graph.getState("ro-a")
      expect(st.values.log).toEqual(["fast"])
      expect(st.next).toEqual(["slow"])
      // released: the thread takes a new run at once (no ThreadBusy)
      const again = yield* Effect.exit(graph.updateState("ro-a", { log: ["edited"] }, { asNode: "slow" }))
      expect(Exit.isSuccess(again)).toBe(true)
      // an already aborted signal: the run does not start
      const aborted = AbortSignal.abort()
      const never = yield* Effect.exit(graph.invoke({}, { threadId: "ro-b", signal: aborted }))
      expect(Exit.isInterrupted(never)).toBe(true)
      const missing = yield* Effect.flip(graph.getState("ro-b"))
      expect(missing._tag).toBe("ThreadNotFound")
    }).pipe(Effect.provide(Snapshots.layerMemory)))
})
