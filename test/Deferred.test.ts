import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Channel, Snapshots, StateGraph } from "effect-stategraph"

/** Deferred nodes: run once every other branch has finished (map-reduce over branches of different lengths). */

const state = { log: Channel.append(Schema.String) }
const step = (name: string) => () => Effect.succeed({ log: [name] })

const build = (defer: boolean) =>
  StateGraph.make({ id: `deferred-${defer}`, state }).pipe(
    StateGraph.addNode("a", step("a")),
    StateGraph.addNode("b", step("b")),
    StateGraph.addNode("c", step("c")),
    StateGraph.addNode("x", step("x")),
    StateGraph.addNode("collect", (s) => Effect.succeed({ log: [`collect after ${s.log.join(",")}`] }), { defer }),
    StateGraph.addEdge(StateGraph.START, "a"),
    StateGraph.addEdge(StateGraph.START, "x"),
    StateGraph.addEdge("a", "b"),
    StateGraph.addEdge("b", "c"),
    StateGraph.addEdge("c", "collect"),
    StateGraph.addEdge("x", "collect"),
    StateGraph.compileSync()
  )

describe("deferred nodes", () => {
  it.effect("without defer the short branch's target runs early (and again); with defer once, last", () =>
    Effect.gen(function*() {
      const eager = yield* build(false).invoke({})
      expect(eager.log.filter((l) => l.startsWith("collect")).length).toBe(2)
      const deferred = yield* build(true).invoke({}, { threadId: "d-1" })
      expect(deferred.log).toEqual(["a", "x", "b", "c", "collect after a,x,b,c"])
      // stored: the waiting node is in the checkpoints between (a crash resumes with it)
      const history = yield* build(true).history("d-1")
      expect(history.map((h) => h.next)).toEqual([[], ["collect"], ["c"], ["b"], ["a", "x"]])
    }).pipe(Effect.provide(Snapshots.layerMemory)))

  it.effect("updateState as END drops a waiting deferred node", () =>
    Effect.gen(function*() {
      const graph = build(true)
      yield* graph.updateState("d-2", {}, { asNode: StateGraph.START })
      yield* graph.updateState("d-2", { log: ["x"] }, { asNode: "x" })
      const ended = yield* graph.updateState("d-2", { log: ["stop"] }, { asNode: StateGraph.END })
      expect([ended.status, ended.next]).toEqual(["completed", []])
    }).pipe(Effect.provide(Snapshots.layerMemory)))
})
