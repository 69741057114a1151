/**
 * Names users wrote against 0.1 keep working: `Task.activity(…, { failure })` (now `error`) still
 * revives a journaled failure through its schema on replay.
 */
import { Effect, Ref, Schema } from "effect"
import { Channel, Interrupt, Snapshots, StateGraph, Task } from "effect-stategraph"
import { describe, expect, it } from "vitest"

class Declined extends Schema.TaggedError<Declined>()("CompatDeclined", { code: Schema.Number }) {}
class Go extends Interrupt.Tag("CompatGo", { request: Schema.Number, response: Schema.Boolean }) {}

describe("Task compatibility", () => {
  it("activity's `failure` option (the former name of `error`) replays the failure as its class", async () => {
    const seen: Array<string> = []
    const program = Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const graph = StateGraph.make({ id: "compat", state: { out: Channel.lastValue(Schema.String, { initial: () => "" }) } }).pipe(
        StateGraph.addNode("work", () =>
          Effect.gen(function*() {
            const error = yield* Effect.flip(
              Task.activity("pay", Effect.zipRight(Ref.update(calls, (n) => n + 1), Effect.fail(new Declined({ code: 7 }))), {
                failure: Declined
              })
            )
            seen.push(`${error instanceof Declined} ${error._tag === "CompatDeclined" ? error.code : error._tag}`)
            yield* Go.ask(1)
            return { out: "done" }
          })),
        StateGraph.addEdge(StateGraph.START, "work"),
        StateGraph.compileSync()
      )
      yield* Effect.flip(graph.invoke({}, { threadId: "t" }))
      const out = yield* graph.resume({ threadId: "t" }, Go.respond(true))
      return { out: out.out, calls: yield* Ref.get(calls) }
    })
    const result = await Effect.runPromise(program.pipe(Effect.provide(Snapshots.layerMemory)))
    expect(result).toEqual({ out: "done", calls: 1 })
    expect(seen).toEqual(["true 7", "true 7"])
  })
})
