/** Graphs the server tests serve. */
import { Channel, Interrupt, StateGraph, Task } from "effect-stategraph"
import { Effect, Schema } from "effect"

export class Approval extends Interrupt.Tag("Approval", {
  request: Schema.Struct({ draft: Schema.String }),
  response: Schema.Struct({ approved: Schema.Boolean, note: Schema.optional(Schema.String) })
}) {}

/** write → review (asks Approval) → END */
export const post = StateGraph.make({
  id: "post",
  state: { draft: Channel.lastValue(Schema.String), log: Channel.append(Schema.String) }
}).pipe(
  StateGraph.addNode("write", (s) => Effect.succeed({ draft: `${s.draft}!`, log: ["wrote"] })),
  StateGraph.addNode("review", (s) =>
    Effect.map(Approval.ask({ draft: s.draft }), (a) => ({ log: [a.approved ? `approved${a.note ? `: ${a.note}` : ""}` : "rejected"] }))),
  StateGraph.addEdge(StateGraph.START, "write"),
  StateGraph.addEdge("write", "review"),
  StateGraph.compileSync({ interrupts: [Approval] })
)

/** a → b → c, each appending its name and emitting a custom part */
export const chain = StateGraph.make({
  id: "chain",
  state: { topic: Channel.lastValue(Schema.String), steps: Channel.append(Schema.String) }
}).pipe(
  StateGraph.addNode("a", () => Effect.as(Task.emit({ mode: "custom", data: { at: "a" } }), { steps: ["a"] })),
  StateGraph.addNode("b", () => Effect.succeed({ steps: ["b"] })),
  StateGraph.addNode("c", () => Effect.succeed({ steps: ["c"] })),
  StateGraph.addEdge(StateGraph.START, "a"),
  StateGraph.addEdge("a", "b"),
  StateGraph.addEdge("b", "c"),
  StateGraph.compileSync()
)

/** counts up to `until`, one step per `delayMillis` (real time): a run long enough to double-text */
export const slow = StateGraph.make({
  id: "slow",
  state: {
    count: Channel.reduce(Schema.Number, (a, b) => a + b, () => 0),
    until: Channel.lastValue(Schema.Number),
    label: Channel.lastValue(Schema.String),
    delayMillis: Channel.lastValue(Schema.Number)
  }
}).pipe(
  StateGraph.addNode("tick", (s) => Effect.as(Effect.sleep(s.delayMillis), { count: 1 })),
  StateGraph.addEdge(StateGraph.START, "tick"),
  StateGraph.addConditionalEdges("tick", (s) => (s.count >= s.until ? StateGraph.END : "tick"), ["tick", StateGraph.END]),
  StateGraph.compileSync({ recursionLimit: 10_000 })
)

/** one node that streams a message in two deltas */
export const talk = StateGraph.make({
  id: "talk",
  state: { reply: Channel.lastValue(Schema.String, { initial: () => "" }) }
}).pipe(
  StateGraph.addNode("say", () =>
    Effect.gen(function*() {
      yield* Task.emit({ mode: "messages", messageId: "m1", delta: "Hel" })
      yield* Task.emit({ mode: "messages", messageId: "m1", delta: "lo" })
      return { reply: "Hello" }
    })),
  StateGraph.addEdge(StateGraph.START, "say"),
  StateGraph.compileSync()
)

/**
 * Ticks until told otherwise; the tick that starts at count 2 of a "held" run waits for the test
 * to open `gate` (so a double text lands while a step is in flight, every time).
 */
export const gate = { started: 0, held: false, open: () => {}, wait: Promise.resolve() }
export const resetGate = () => {
  gate.started = 0
  gate.held = false
  gate.wait = new Promise<void>((resolve) => (gate.open = resolve))
}
export const gated = StateGraph.make({
  id: "gated",
  state: { count: Channel.reduce(Schema.Number, (a, b) => a + b, () => 0), label: Channel.lastValue(Schema.String) }
}).pipe(
  StateGraph.addNode("tick", (s) =>
    Effect.gen(function*() {
      if (s.label === "held") gate.started++
      if (s.label === "held" && s.count === 2) {
        gate.held = true
        yield* Effect.promise(() => gate.wait)
      }
      yield* Effect.sleep(1)
      return { count: 1 }
    })),
  StateGraph.addEdge(StateGraph.START, "tick"),
  StateGraph.addConditionalEdges("tick", (s) => (s.label === "held" ? "tick" : StateGraph.END), ["tick", StateGraph.END]),
  StateGraph.compileSync({ recursionLimit: 10_000 })
)

/**
 * A "stuck" run ticks once, then its next step never ends (`stuck.entered` tells that it
 * started); any other label ticks once and ends.
 */
export const stuck = { entered: false }
export const hangs = StateGraph.make({
  id: "hangs",
  state: { count: Channel.reduce(Schema.Number, (a, b) => a + b, () => 0), label: Channel.lastValue(Schema.String) }
}).pipe(
  StateGraph.addNode("tick", (s) =>
    s.label === "stuck" && s.count >= 1
      ? Effect.zipRight(Effect.sync(() => void (stuck.entered = true)), Effect.never)
      : Effect.succeed({ count: 1 })),
  StateGraph.addEdge(StateGraph.START, "tick"),
  StateGraph.addConditionalEdges("tick", (s) => (s.label === "stuck" ? "tick" : StateGraph.END), ["tick", StateGraph.END]),
  StateGraph.compileSync()
)

/** nest → (the subgraph `inner`: deep) → END: a run whose parts come from a subgraph too */
const nestedState = { log: Channel.append(Schema.String) }
const inner = StateGraph.make({ id: "inner", state: nestedState }).pipe(
  StateGraph.addNode("deep", () => Effect.succeed({ log: ["deep"] })),
  StateGraph.addEdge(StateGraph.START, "deep"),
  StateGraph.compileSync()
)
export const nested = StateGraph.make({ id: "nested", state: nestedState }).pipe(
  StateGraph.addNode("sub", inner),
  StateGraph.addEdge(StateGraph.START, "sub"),
  StateGraph.compileSync()
)

/** vet (asks Approval about the draft, and logs the verdict with the draft it saw) → END */
export const vet = StateGraph.make({
  id: "vet",
  state: { draft: Channel.lastValue(Schema.String), log: Channel.append(Schema.String) }
}).pipe(
  StateGraph.addNode("vet", (s) => Effect.map(Approval.ask({ draft: s.draft }), (a) => ({ log: [`${a.approved ? "approved" : "rejected"} ${s.draft}`] }))),
  StateGraph.addEdge(StateGraph.START, "vet"),
  StateGraph.compileSync({ interrupts: [Approval] })
)
