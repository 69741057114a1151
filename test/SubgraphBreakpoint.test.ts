import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Schema, Stream } from "effect"
import { Channel, Interrupt, Snapshots, SqliteSnapshots, StateGraph } from "effect-stategraph"
import { scopedTempFile } from "./fixtures/tempFile.js"

/**
 * A static breakpoint inside a subgraph: continuing (or answering) it runs the child's next node
 * and then the parent's, at one and two levels of nesting, on every store, streamed and not.
 */

const stores: ReadonlyArray<readonly [string, <A, E>(effect: Effect.Effect<A, E, Snapshots.Snapshots>) => Effect.Effect<A, E | unknown>]> = [
  ["memory", (effect) => Effect.provide(effect, Snapshots.layerMemory)],
  ["sqlite", (effect) =>
    Effect.scoped(Effect.flatMap(scopedTempFile("sg-subbp-", "t.db"), (file) =>
      Effect.provide(effect, SqliteSnapshots.layer({ filename: file }))))]
]

const state = { log: Channel.append(Schema.String) }

const step = (name: string) => () => Effect.succeed({ log: [name] })

/** g1 → g2, paused before g2. */
const inner = StateGraph.make({ id: "inner", state }).pipe(
  StateGraph.addNode("g1", step("g1")),
  StateGraph.addNode("g2", step("g2")),
  StateGraph.addEdge(StateGraph.START, "g1"),
  StateGraph.addEdge("g1", "g2"),
  StateGraph.compileSync({ interruptBefore: ["g2"] })
)

/** m1 → inner → m2: the breakpoint two levels down from `outer`. */
const middle = StateGraph.make({ id: "middle", state }).pipe(
  StateGraph.addNode("m1", step("m1")),
  StateGraph.addNode("inner", inner),
  StateGraph.addNode("m2", step("m2")),
  StateGraph.addEdge(StateGraph.START, "m1"),
  StateGraph.addEdge("m1", "inner"),
  StateGraph.addEdge("inner", "m2"),
  StateGraph.compileSync()
)

/** p1 → inner → p2: one level. */
const parent = StateGraph.make({ id: "parent", state }).pipe(
  StateGraph.addNode("p1", step("p1")),
  StateGraph.addNode("child", inner),
  StateGraph.addNode("p2", step("p2")),
  StateGraph.addEdge(StateGraph.START, "p1"),
  StateGraph.addEdge("p1", "child"),
  StateGraph.addEdge("child", "p2"),
  StateGraph.compileSync()
)

/** o1 → middle → o2: two levels. */
const outer = StateGraph.make({ id: "outer", state }).pipe(
  StateGraph.addNode("o1", step("o1")),
  StateGraph.addNode("middle", middle),
  StateGraph.addNode("o2", step("o2")),
  StateGraph.addEdge(StateGraph.START, "o1"),
  StateGraph.addEdge("o1", "middle"),
  StateGraph.addEdge("middle", "o2"),
  StateGraph.compileSync()
)

const cases = [
  { name: "one level", graph: parent, done: ["p1", "g1", "g2", "p2"] },
  { name: "two levels", graph: outer, done: ["o1", "m1", "g1", "g2", "m2", "o2"] }
] as const

const how = [
  { name: "resume with no answer", answers: [] },
  { name: "resume with Breakpoint.respond(undefined)", answers: [Interrupt.Breakpoint.respond(undefined)] }
] as const

describe("a breakpoint inside a subgraph", () => {
  for (const [store, provide] of stores) {
    for (const c of cases) {
      for (const h of how) {
        it.effect(`${c.name}, ${store}: ${h.name} runs the child's next node, then the parent's`, () =>
          Effect.gen(function*() {
            const graph = c.graph as StateGraph.AnyCompiled
            const paused = yield* Effect.flip(graph.invoke({ log: [] }, { threadId: "t" }))
            if ((paused as { _tag: string })._tag !== "GraphInterrupted") throw new Error(`expected a pause, got ${String(paused)}`)
            const interrupts = (paused as Interrupt.GraphInterrupted<Interrupt.Breakpoint>).interrupts
            expect(interrupts.map((i) => [i.kind, i.request])).toEqual([["Breakpoint", { node: "g2", when: "before" }]])
            const out = yield* graph.resume({ threadId: "t" }, ...h.answers)
            expect(out).toEqual({ log: c.done })
            expect((yield* graph.getState("t")).status).toBe("completed")
          }).pipe(provide))
      }
      it.effect(`${c.name}, ${store}: streamResume continues through the child`, () =>
        Effect.gen(function*() {
          const graph = c.graph as StateGraph.AnyCompiled
          yield* Effect.flip(graph.invoke({ log: [] }, { threadId: "s" }))
          const parts = yield* Stream.runCollect(graph.streamResume({ threadId: "s", mode: "values" }))
          const last = Chunk.last(parts)
          expect(last._tag === "Some" ? (last.value as { values: unknown }).values : undefined).toEqual({ log: c.done })
        }).pipe(provide))
    }
  }
})
