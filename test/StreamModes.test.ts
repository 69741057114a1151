import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, Schema, Stream } from "effect"
import { Channel, Interrupt, Snapshots, SqliteSnapshots, StateGraph, Task } from "effect-stategraph"
import { scopedTempFile } from "./fixtures/tempFile.js"

/**
 * The `tasks`, `checkpoints` and `debug` stream modes, several modes at once, and subgraph
 * streaming (`subgraphs: true`) with namespaces, nested two levels, on every store.
 */

const stores: ReadonlyArray<readonly [string, <A, E>(effect: Effect.Effect<A, E, Snapshots.Snapshots>) => Effect.Effect<A, E | unknown>]> = [
  ["memory", (effect) => Effect.provide(effect, Snapshots.layerMemory)],
  ["sqlite", (effect) =>
    Effect.scoped(Effect.flatMap(scopedTempFile("feat2-stream-", "t.db"), (file) =>
      Effect.provide(effect, SqliteSnapshots.layer({ filename: file }))))]
]

const state = { log: Channel.append(Schema.String) }
const step = (name: string) => () => Effect.succeed({ log: [name] })

const inner = StateGraph.make({ id: "s-inner", state }).pipe(
  StateGraph.addNode("i1", () => Effect.zipRight(Task.emit({ mode: "custom", data: "from i1" }), Effect.succeed({ log: ["i1"] }))),
  StateGraph.addEdge(StateGraph.START, "i1"),
  StateGraph.compileSync()
)
const middle = StateGraph.make({ id: "s-middle", state }).pipe(
  StateGraph.addNode("m1", step("m1")),
  StateGraph.addNode("inner", inner),
  StateGraph.addEdge(StateGraph.START, "m1"),
  StateGraph.addEdge("m1", "inner"),
  StateGraph.compileSync()
)
const outer = StateGraph.make({ id: "s-outer", state }).pipe(
  StateGraph.addNode("o1", step("o1")),
  StateGraph.addNode("middle", middle),
  StateGraph.addEdge(StateGraph.START, "o1"),
  StateGraph.addEdge("o1", "middle"),
  StateGraph.compileSync()
)

/** A graph whose one node asks a question (the run pauses). */
const asking = (id: string) =>
  StateGraph.make({ id, state }).pipe(
    StateGraph.addNode("ask", () => Effect.map(Interrupt.Text.ask({ prompt: "name?" }), (t) => ({ log: [t] }))),
    StateGraph.addEdge(StateGraph.START, "ask"),
    StateGraph.compileSync()
  )

/**
 * Runs a stream to its end and gives the parts it streamed, with its failure when it failed (a
 * pause, a node's error): the one way every test here reads a stream.
 */
const collect = <A, E, R>(stream: Stream.Stream<A, E, R>) =>
  Effect.gen(function*() {
    const parts: Array<A> = []
    const exit = yield* Effect.either(Stream.runForEach(stream, (p) => Effect.sync(() => parts.push(p))))
    return { parts, failure: exit._tag === "Left" ? Option.some(exit.left) : Option.none<E>() }
  })

/** The parts of a stream that must end without failing. */
const partsOf = <A, E, R>(stream: Stream.Stream<A, E, R>) =>
  Effect.flatMap(collect(stream), ({ failure, parts }) =>
    Option.isSome(failure) ? Effect.dieMessage(`the stream failed: ${String(failure.value)}`) : Effect.succeed(parts))

/** The parts of a stream that must fail (pause or error), with the failure. */
const partsUntilFailure = <A, E, R>(stream: Stream.Stream<A, E, R>) =>
  Effect.flatMap(collect(stream), ({ failure, parts }) =>
    Option.isNone(failure) ? Effect.dieMessage("the stream did not fail") : Effect.succeed({ parts, failure: failure.value }))

const chain = StateGraph.make({ id: "s-chain", state: { n: Channel.lastValue(Schema.Number) } }).pipe(
  StateGraph.addNode("a", (s) => Effect.succeed({ n: s.n + 1 })),
  StateGraph.addNode("b", (s) => Effect.succeed({ n: s.n * 10 })),
  StateGraph.addEdge(StateGraph.START, "a"),
  StateGraph.addEdge("a", "b"),
  StateGraph.compileSync()
)

describe("stream modes", () => {
  it.effect("tasks: each task's start (with its input) and end (with its update)", () =>
    Effect.gen(function*() {
      const parts = yield* partsOf(chain.stream({ n: 1 }, { mode: "tasks" }))
      expect(parts.map((p) => [p.event, p.node, p.event === "started" ? p.input : p.result])).toEqual([
        ["started", "a", { n: 1 }],
        ["finished", "a", { n: 2 }],
        ["started", "b", { n: 2 }],
        ["finished", "b", { n: 20 }]
      ])
      expect(parts.every((p) => typeof p.taskId === "string")).toBe(true)
    }))

  it.effect("tasks: a failure and an interrupt say so", () =>
    Effect.gen(function*() {
      const { parts } = yield* partsUntilFailure(asking("s-asks").stream({}, { threadId: "t-asks", mode: "tasks" }))
      const finished = parts.find((p) => p.event === "finished")
      expect(finished?.event === "finished" && finished.status).toBe("interrupted")
      expect(finished?.event === "finished" && finished.interrupts.map((i) => i.kind)).toEqual(["Text"])
      const fails = StateGraph.make({ id: "s-fails", state }).pipe(
        StateGraph.addNode("bad", () => Effect.fail("boom" as const)),
        StateGraph.addEdge(StateGraph.START, "bad"),
        StateGraph.compileSync()
      )
      const { failure, parts: failedParts } = yield* partsUntilFailure(fails.stream({}, { mode: "tasks" }))
      expect(failure).toBe("boom")
      const last = failedParts[failedParts.length - 1]
      expect(last?.event === "finished" && [last.status, last.error]).toEqual(["failed", "\"boom\""])
    }).pipe(Effect.provide(Snapshots.layerMemory)))

  for (const [name, provide] of stores) {
    it.effect(`checkpoints on ${name}: each saved checkpoint as getState returns it, the input's first`, () =>
      provide(Effect.gen(function*() {
        const parts = yield* partsOf(chain.stream({ n: 1 }, { threadId: "t-cp", mode: "checkpoints" }))
        expect(parts.map((p) => [p.checkpoint.values.n, p.checkpoint.next])).toEqual([[1, ["a"]], [2, ["b"]], [20, []]])
        const history = yield* chain.history("t-cp")
        expect(parts.map((p) => p.checkpoint.checkpointId)).toEqual(history.map((h) => h.checkpointId).reverse())
        expect(parts[2]!.checkpoint.status).toBe((yield* chain.getState("t-cp")).status)
      })))
  }

  it.effect("checkpoints: a pause is streamed as the paused checkpoint with its question", () =>
    Effect.gen(function*() {
      const { failure, parts } = yield* partsUntilFailure(asking("s-asks-cp").stream({}, { threadId: "t-pause", mode: "checkpoints" }))
      expect(failure._tag).toBe("GraphInterrupted")
      const last = parts[parts.length - 1]!.checkpoint
      expect(last.status).toBe("paused")
      expect(last.interrupts.map((i) => [i.kind, i.status])).toEqual([["Text", "pending"]])
    }).pipe(Effect.provide(Snapshots.layerMemory)))

  it.effect("debug: tasks and checkpoints as debug parts; several modes at once, in run order", () =>
    Effect.gen(function*() {
      const parts = yield* partsOf(chain.stream({ n: 1 }, { threadId: "t-dbg", mode: "debug" }))
      expect(parts.map((p) => p.type)).toEqual(["checkpoint", "task", "task_result", "checkpoint", "task", "task_result", "checkpoint"])
      expect(parts.every((p) => p.mode === "debug" && !Number.isNaN(Date.parse(p.timestamp)))).toBe(true)
      const mixed = yield* partsOf(chain.stream({ n: 1 }, { threadId: "t-mix", mode: ["updates", "values", "debug", "tasks"] }))
      expect(mixed.map((p) => p.mode === "debug" ? `debug:${p.type}` : p.mode === "tasks" ? `tasks:${p.event}` : p.mode)).toEqual([
        "debug:checkpoint",
        "values",
        "tasks:started",
        "debug:task",
        "tasks:finished",
        "debug:task_result",
        "updates",
        "debug:checkpoint",
        "values",
        "tasks:started",
        "debug:task",
        "tasks:finished",
        "debug:task_result",
        "updates",
        "debug:checkpoint",
        "values"
      ])
    }).pipe(Effect.provide(Snapshots.layerMemory)))
})

describe("subgraph streaming", () => {
  it.effect("without subgraphs: only the graph's own parts", () =>
    Effect.gen(function*() {
      const parts = yield* partsOf(outer.stream({}, { mode: ["updates", "custom"] }))
      expect(parts.map((p) => p.mode === "updates" ? p.node : p.mode)).toEqual(["o1", "middle"])
    }))

  for (const [name, provide] of stores) {
    it.effect(`on ${name}: subgraphs: true streams nested parts with their namespace path, in every mode`, () =>
      provide(Effect.gen(function*() {
        const parts = yield* partsOf(outer.stream({}, { threadId: "t-sub", mode: ["updates", "custom", "values"], subgraphs: true }))
        const seen = parts.map((p) => {
          const ns = "namespace" in p ? p.namespace.map((n) => n.split(":")[0]).join("/") : ""
          return `${ns}|${p.mode}${p.mode === "updates" ? `:${p.node}` : p.mode === "custom" ? `:${String(p.data)}` : `:${(p.values.log as ReadonlyArray<string>).join(",")}`}`
        })
        // each graph's first values part is its input applied
        expect(seen).toEqual([
          "|values:",
          "|updates:o1",
          "|values:o1",
          "middle|values:o1",
          "middle|updates:m1",
          "middle|values:o1,m1",
          "middle/inner|values:o1,m1",
          "middle/inner|custom:from i1",
          "middle/inner|updates:i1",
          "middle/inner|values:o1,m1,i1",
          "middle|updates:inner",
          "middle|values:o1,m1,i1",
          "|updates:middle",
          "|values:o1,m1,i1"
        ])
        // each namespace element is node:taskId of the parent's task
        const nested = parts.find((p) => "namespace" in p && p.namespace.length === 2)!
        const st = yield* outer.getState("t-sub")
        expect(st.values.log).toEqual(["o1", "m1", "i1"])
        expect("namespace" in nested && nested.namespace[0]).toMatch(/^middle:.+\/middle$/)
      })))
  }

  it.effect("subgraphs with tasks and checkpoints modes: the child's checkpoints carry the child's thread", () =>
    Effect.gen(function*() {
      const parts = yield* partsOf(outer.stream({}, { threadId: "t-sub-cp", mode: "checkpoints", subgraphs: true }))
      const threads = new Set(parts.map((p) => p.checkpoint.threadId))
      expect(threads.size).toBe(3)
      expect(parts.filter((p) => !("namespace" in p)).map((p) => p.checkpoint.threadId)).toEqual(["t-sub-cp", "t-sub-cp", "t-sub-cp"])
    }).pipe(Effect.provide(Snapshots.layerMemory)))
})
