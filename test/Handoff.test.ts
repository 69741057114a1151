import { describe, expect, it } from "@effect/vitest"
import { Effect, Schedule, Schema, Stream } from "effect"
import { Channel, Command, Interrupt, Send, Snapshots, SqliteSnapshots, StateGraph, Task } from "effect-stategraph"
import { scopedTempFile } from "./fixtures/tempFile.js"

/**
 * `Command.parent`: a node of a subgraph hands off to a node of its parent graph, writing the
 * parent's channels — the multi-agent handoff — at one and two levels of nesting, with
 * interrupts before and after it, on every store and without one.
 */

const stores: ReadonlyArray<readonly [string, <A, E>(effect: Effect.Effect<A, E, Snapshots.Snapshots>) => Effect.Effect<A, E | unknown>]> = [
  ["memory", (effect) => Effect.provide(effect, Snapshots.layerMemory)],
  ["sqlite", (effect) =>
    Effect.scoped(Effect.flatMap(scopedTempFile("feat2-handoff-", "t.db"), (file) =>
      Effect.provide(effect, SqliteSnapshots.layer({ filename: file }))))]
]

const state = { log: Channel.append(Schema.String), topic: Channel.lastValue(Schema.String, { initial: () => "" }) }

type Agents = "alice" | "bob"

/** alice: thinks, then hands off to bob with a topic (her own log stays in her graph). */
const alice = StateGraph.make({ id: "alice", state }).pipe(
  StateGraph.addNode("think", () => Effect.succeed({ log: ["alice thinks"] })),
  StateGraph.addNode("transfer", () => Effect.succeed(Command.parent<Agents>("bob", { topic: "billing", log: ["alice→bob"] }))),
  StateGraph.addNode("never", () => Effect.succeed({ log: ["alice never"] })),
  StateGraph.addEdge(StateGraph.START, "think"),
  StateGraph.addEdge("think", "transfer"),
  StateGraph.addEdge("transfer", "never"),
  StateGraph.compileSync()
)

const swarm = StateGraph.make({ id: "swarm", state }).pipe(
  StateGraph.addNode("alice", alice, { ends: ["bob"] }),
  StateGraph.addNode("bob", (s) => Effect.succeed({ log: [`bob on ${s.topic}`] })),
  StateGraph.addNode("after-alice", () => Effect.succeed({ log: ["after alice (must not run)"] })),
  StateGraph.addEdge(StateGraph.START, "alice"),
  StateGraph.addEdge("alice", "after-alice"),
  StateGraph.compileSync()
)

describe("Command.parent (handoff)", () => {
  it.effect("without a store: the parent runs the target with the command's update, not the subgraph node's edges", () =>
    Effect.gen(function*() {
      const out = yield* swarm.invoke({})
      expect(out.log).toEqual(["alice→bob", "bob on billing"])
      expect(out.topic).toBe("billing")
    }))

  for (const [name, provide] of stores) {
    it.effect(`on ${name}: the parent thread goes to bob; the child thread is completed with the step it handed off in`, () =>
      provide(Effect.gen(function*() {
        const out = yield* swarm.invoke({}, { threadId: "h1" })
        expect(out.log).toEqual(["alice→bob", "bob on billing"])
        const st = yield* swarm.getState("h1")
        expect(st.status).toBe("completed")
        expect(st.nodeStates["bob"]?.status).toBe("completed")
        expect(st.nodeStates["after-alice"]).toBeUndefined()
        // the parent's history: input, after alice (bob planned), after bob
        const history = yield* swarm.history("h1")
        expect(history.map((h) => h.next)).toEqual([[], ["bob"], ["alice"]])
      })))

    it.effect(`on ${name}: an interrupt before the handoff and one after it, answered through the parent`, () =>
      provide(Effect.gen(function*() {
        const asking = StateGraph.make({ id: "asking-alice", state }).pipe(
          StateGraph.addNode("ask", () =>
            Effect.map(Interrupt.Text.ask({ prompt: "topic?" }), (topic) => Command.parent<"bob">("bob", { topic, log: ["handoff"] }))),
          StateGraph.addEdge(StateGraph.START, "ask"),
          StateGraph.compileSync()
        )
        const graph = StateGraph.make({ id: "asking-swarm", state }).pipe(
          StateGraph.addNode("alice", asking, { ends: ["bob"] }),
          StateGraph.addNode("bob", (s) =>
            Effect.map(Interrupt.Confirmation.ask({ message: `bob on ${s.topic}?` }), (a) => ({ log: [`bob ${a.confirmed ? "yes" : "no"}`] }))),
          StateGraph.addEdge(StateGraph.START, "alice"),
          StateGraph.compileSync()
        )
        const first = yield* Effect.flip(graph.invoke({}, { threadId: "h2" }))
        expect(first._tag).toBe("GraphInterrupted")
        const second = yield* Effect.flip(graph.resume({ threadId: "h2" }, Interrupt.Text.respond("refunds")))
        expect(second._tag).toBe("GraphInterrupted")
        if (second._tag !== "GraphInterrupted") return
        expect(second.interrupts.map((i) => [i.kind, i.node])).toEqual([["Confirmation", "bob"]])
        const done = yield* graph.resume({ threadId: "h2" }, Interrupt.Confirmation.respond({ confirmed: true }))
        expect(done.log).toEqual(["handoff", "bob yes"])
        expect(done.topic).toBe("refunds")
      })))

    it.effect(`on ${name}: two levels down, a handoff goes to the immediate parent only`, () =>
      provide(Effect.gen(function*() {
        const inner = StateGraph.make({ id: "inner-agent", state }).pipe(
          StateGraph.addNode("go", () => Effect.succeed(Command.parent<"right">("right", { log: ["inner→right"] }))),
          StateGraph.addEdge(StateGraph.START, "go"),
          StateGraph.compileSync()
        )
        const team = StateGraph.make({ id: "team", state }).pipe(
          StateGraph.addNode("left", inner, { ends: ["right"] }),
          StateGraph.addNode("right", () => Effect.succeed({ log: ["team right"] })),
          StateGraph.addEdge(StateGraph.START, "left"),
          StateGraph.compileSync()
        )
        const org = StateGraph.make({ id: "org", state }).pipe(
          StateGraph.addNode("team", team),
          StateGraph.addNode("wrap-up", () => Effect.succeed({ log: ["org wrap-up"] })),
          StateGraph.addEdge(StateGraph.START, "team"),
          StateGraph.addEdge("team", "wrap-up"),
          StateGraph.compileSync()
        )
        const out = yield* org.invoke({}, { threadId: "h3" })
        expect(out.log).toEqual(["inner→right", "team right", "org wrap-up"])
      })))
  }

  it.effect("a handoff is not retried by the node's retry schedule", () =>
    Effect.gen(function*() {
      let runs = 0
      const child = StateGraph.make({ id: "retrying", state }).pipe(
        StateGraph.addNode("go", () => Effect.sync(() => (runs++, Command.parent<"next">("next"))), { retry: Schedule.recurs(3) }),
        StateGraph.addEdge(StateGraph.START, "go"),
        StateGraph.compileSync()
      )
      const graph = StateGraph.make({ id: "retrying-parent", state }).pipe(
        StateGraph.addNode("child", child, { ends: ["next"], retry: Schedule.recurs(3) }),
        StateGraph.addNode("next", () => Effect.succeed({ log: ["next"] })),
        StateGraph.addEdge(StateGraph.START, "child"),
        StateGraph.compileSync()
      )
      const out = yield* graph.invoke({})
      expect(out.log).toEqual(["next"])
      expect(runs).toBe(1)
    }))

  it.effect("Command.parent from a graph that runs as no subgraph: InvalidUpdate, the thread failed", () =>
    Effect.gen(function*() {
      const out = yield* Effect.flip(alice.invoke({}, { threadId: "root" }))
      expect(out._tag).toBe("InvalidUpdate")
      expect(String((out as { issue?: string }).issue)).toContain("no parent graph")
      const st = yield* alice.getState("root")
      expect(st.status).toBe("failed")
    }).pipe(Effect.provide(Snapshots.layerMemory)))

  it.effect("a target the parent does not have, or an update it cannot take: InvalidUpdate at run time", () =>
    Effect.gen(function*() {
      const wrongTarget = StateGraph.make({ id: "wrong-target", state }).pipe(
        StateGraph.addNode("go", () => Effect.succeed(Command.parent<string>("carol"))),
        StateGraph.addEdge(StateGraph.START, "go"),
        StateGraph.compileSync()
      )
      const wrongUpdate = StateGraph.make({ id: "wrong-update", state }).pipe(
        StateGraph.addNode("go", () => Effect.succeed(Command.parent<"next">("next", { nope: 1 }))),
        StateGraph.addEdge(StateGraph.START, "go"),
        StateGraph.compileSync()
      )
      // (the compiler refuses both: the target when the parent compiles, the update's key in the
      // parent's state — see test/types.graph.test.ts; here the runtime checks, for untyped code)
      const parentOf = (child: StateGraph.AnyCompiled): StateGraph.AnyCompiled =>
        StateGraph.make({ id: `parent-of-${child.id}`, state }).pipe(
          StateGraph.addNode("child", child as StateGraph.CompiledGraph<typeof state, "go", never, never>, { ends: ["next"] }),
          StateGraph.addNode("next", () => Effect.succeed({ log: ["next"] })),
          StateGraph.addEdge(StateGraph.START, "child"),
          StateGraph.compileSync()
        )
      const e1: { readonly _tag: string } = yield* Effect.flip(parentOf(wrongTarget).invoke({}))
      expect(e1._tag).toBe("InvalidUpdate")
      expect(String((e1 as { issue?: string }).issue)).toContain("carol")
      const e2: { readonly _tag: string } = yield* Effect.flip(parentOf(wrongUpdate).invoke({}))
      expect(e2._tag).toBe("InvalidUpdate")
      expect((e2 as { channel?: string }).channel).toBe("nope")
    }))

  it.effect("a handoff from a child graph run by Task.call in a node: the node's task takes the command", () =>
    Effect.gen(function*() {
      const graph = StateGraph.make({ id: "calls-alice", state }).pipe(
        StateGraph.addNode("caller", () => Effect.map(Task.call(alice, {}), () => ({ log: ["caller done"] })), { ends: ["bob"] }),
        StateGraph.addNode("bob", (s) => Effect.succeed({ log: [`bob on ${s.topic}`] })),
        StateGraph.addEdge(StateGraph.START, "caller"),
        StateGraph.compileSync()
      )
      const out = yield* graph.invoke({}, { threadId: "tc" })
      expect(out.log).toEqual(["alice→bob", "bob on billing"])
    }).pipe(Effect.provide(Snapshots.layerMemory)))

  it.effect("streamed: the parent's updates show the handoff as the subgraph node's update", () =>
    Effect.gen(function*() {
      const parts = yield* Stream.runCollect(swarm.stream({}, { threadId: "hs", mode: "updates" }))
      expect([...parts].map((p) => [p.node, p.update])).toEqual([
        ["alice", { topic: "billing", log: ["alice→bob"] }],
        ["bob", { log: ["bob on billing"] }]
      ])
    }).pipe(Effect.provide(Snapshots.layerMemory)))
})

describe("Send into a subgraph node", () => {
  it.effect("the Send's argument is the child's input: its own channels included", () =>
    Effect.gen(function*() {
      const worker = StateGraph.make({
        id: "send-worker",
        state: { item: Channel.lastValue(Schema.String), results: Channel.append(Schema.String) }
      }).pipe(
        StateGraph.addNode("work", (s) => Effect.succeed({ results: [`did ${s.item}`] })),
        StateGraph.addEdge(StateGraph.START, "work"),
        StateGraph.compileSync()
      )
      const graph = StateGraph.make({
        id: "send-parent",
        state: { items: Channel.lastValue(Schema.Array(Schema.String)), results: Channel.append(Schema.String) }
      }).pipe(
        StateGraph.addNode("worker", worker),
        // `item` is the child's own channel, not the parent's
        StateGraph.addConditionalEdges(StateGraph.START, (s) => s.items.map((item) => Send.make("worker", { item }))),
        StateGraph.compileSync()
      )
      const out = yield* graph.invoke({ items: ["a", "b"] }, { threadId: "send-sub" })
      expect(out.results).toEqual(["did a", "did b"])
      const inMemory = yield* graph.invoke({ items: ["c"] })
      expect(inMemory.results).toEqual(["did c"])
    }).pipe(Effect.provide(Snapshots.layerMemory)))
})
