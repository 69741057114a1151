/** The graphs the inspector's browser tests serve. */
import { Effect, Schedule, Schema } from "effect"
import { Channel, Interrupt, StateGraph, Task } from "effect-stategraph"

export const ExpenseForm = Interrupt.Form(
  Schema.Struct({
    amount: Schema.Number.pipe(Schema.between(1, 1000)),
    reason: Schema.String
  }),
  { kind: "ExpenseForm" }
)

const Message = Schema.Struct({ role: Schema.String, content: Schema.String })

/** draft → approve (asks ExpenseForm) → notify (streams its message) → END */
export const expense = StateGraph.make({
  id: "expense",
  state: {
    item: Channel.lastValue(Schema.String),
    amount: Channel.lastValue(Schema.Number, { initial: () => 0 }),
    messages: Channel.append(Message)
  }
}).pipe(
  StateGraph.addNode("draft", (s) => Effect.succeed({ messages: [{ role: "user", content: `Please approve: ${s.item}` }] })),
  StateGraph.addNode("approve", () =>
    Effect.map(ExpenseForm.ask({ message: "Approve the expense: amount and reason" }), (a) => ({
      amount: a.amount,
      messages: [{ role: "user", content: `Approved ${a.amount} (${a.reason})` }]
    }))),
  StateGraph.addNode("notify", (s) =>
    Effect.gen(function*() {
      const text = `Expense of ${s.amount} for ${s.item} is booked.`
      for (const word of text.split(" ")) yield* Task.emit({ mode: "messages", messageId: "reply", delta: `${word} ` })
      return { messages: [{ role: "ai", content: text }] }
    })),
  StateGraph.addEdge(StateGraph.START, "draft"),
  StateGraph.addEdge("draft", "approve"),
  StateGraph.addEdge("approve", "notify"),
  StateGraph.addEdge("notify", StateGraph.END),
  StateGraph.compileSync({ interrupts: [ExpenseForm] })
)

/** An answer the inspector has no dedicated form for: it gets the JSON editor. */
export class Budget extends Interrupt.Tag("Budget", {
  request: Schema.Struct({ message: Schema.String }),
  response: Schema.Struct({ limit: Schema.Number.pipe(Schema.positive()), currency: Schema.Literal("EUR", "USD") })
}) {}

/** One question of each prebuilt kind, then a custom one: confirm → choose → describe → budget → END */
export const kinds = StateGraph.make({
  id: "kinds",
  state: {
    confirmed: Channel.lastValue(Schema.Boolean, { initial: () => false }),
    picked: Channel.lastValue(Schema.Array(Schema.String), { initial: () => [] }),
    note: Channel.lastValue(Schema.String, { initial: () => "" }),
    budget: Channel.lastValue(Schema.Number, { initial: () => 0 })
  }
}).pipe(
  StateGraph.addNode("confirm", () =>
    Effect.map(Interrupt.Confirmation.ask({ message: "Ship it?", confirmLabel: "Ship", cancelLabel: "Hold" }), (a) => ({ confirmed: a.confirmed }))),
  StateGraph.addNode("choose", () =>
    Effect.map(
      Interrupt.Choice.ask({ message: "Which regions?", options: [{ value: "eu", label: "Europe" }, { value: "us", label: "America" }, "asia"], multiple: true }),
      (a) => ({ picked: a.selected })
    )),
  StateGraph.addNode("describe", () =>
    Effect.map(Interrupt.Text.ask({ prompt: "Release note", placeholder: "what changed" }), (note) => ({ note }))),
  StateGraph.addNode("budget", () => Effect.map(Budget.ask({ message: "Budget for the launch" }), (a) => ({ budget: a.limit }))),
  StateGraph.addEdge(StateGraph.START, "confirm"),
  StateGraph.addEdge("confirm", "choose"),
  StateGraph.addEdge("choose", "describe"),
  StateGraph.addEdge("describe", "budget"),
  StateGraph.addEdge("budget", StateGraph.END),
  StateGraph.compileSync({ interrupts: [Budget] })
)

// gates a test opens: a node waits on its topic's gate (never opened: the run stays running)
const gates = new Map<string, { readonly promise: Promise<void>; readonly open: () => void }>()
const gateOf = (topic: string) => {
  let g = gates.get(topic)
  if (g === undefined) {
    let open = () => {}
    const promise = new Promise<void>((resolve) => (open = resolve))
    g = { promise, open }
    gates.set(topic, g)
  }
  return g
}
/** Lets the `chat` run on `topic` go on past its first words. */
export const openGate = (topic: string) => gateOf(topic).open()

/** greet → reply (streams "Hello", waits for the test's gate, streams the rest) → END */
export const chat = StateGraph.make({
  id: "chat",
  state: {
    topic: Channel.lastValue(Schema.String, { initial: () => "" }),
    messages: Channel.append(Message)
  }
}).pipe(
  StateGraph.addNode("greet", (s) => Effect.succeed({ messages: [{ role: "user", content: `Tell me about ${s.topic}` }] })),
  StateGraph.addNode("reply", (s) =>
    Effect.gen(function*() {
      yield* Task.emit({ mode: "messages", messageId: "answer", delta: "Hello " })
      yield* Effect.promise(() => gateOf(s.topic).promise)
      yield* Task.emit({ mode: "messages", messageId: "answer", delta: `about ${s.topic}.` })
      return { messages: [{ role: "ai", content: `Hello about ${s.topic}.` }] }
    })),
  StateGraph.addEdge(StateGraph.START, "greet"),
  StateGraph.addEdge("greet", "reply"),
  StateGraph.addEdge("reply", StateGraph.END),
  StateGraph.compileSync()
)

const failures = new Map<string, number>()

/** prep → flaky (fails its first attempt, retried) → boom (fails when `fail`) → END */
export const flaky = StateGraph.make({
  id: "flaky",
  state: {
    key: Channel.lastValue(Schema.String, { initial: () => "" }),
    fail: Channel.lastValue(Schema.Boolean, { initial: () => false }),
    log: Channel.append(Schema.String)
  }
}).pipe(
  StateGraph.addNode("prep", () => Effect.succeed({ log: ["prep"] })),
  StateGraph.addNode("flaky", (s) =>
    Effect.suspend(() => {
      const n = (failures.get(s.key) ?? 0) + 1
      failures.set(s.key, n)
      return n === 1 ? Effect.fail(new Error("first attempt fails")) : Effect.succeed({ log: [`flaky after ${n}`] })
    }), { retry: Schedule.recurs(2) }),
  StateGraph.addNode("boom", (s) => (s.fail ? Effect.fail(new Error("boom: the disk is full")) : Effect.succeed({ log: ["boom"] }))),
  StateGraph.addEdge(StateGraph.START, "prep"),
  StateGraph.addEdge("prep", "flaky"),
  StateGraph.addEdge("flaky", "boom"),
  StateGraph.addEdge("boom", StateGraph.END),
  StateGraph.compileSync()
)

/** fetch → parse → store → END, each noting itself: run in part by `sync`, handed over to `async` */
export const crawl = StateGraph.make({
  id: "crawl",
  state: { log: Channel.append(Schema.String) }
}).pipe(
  StateGraph.addNode("fetch", () => Effect.succeed({ log: ["fetch"] })),
  StateGraph.addNode("parse", () => Effect.succeed({ log: ["parse"] })),
  StateGraph.addNode("store", () => Effect.succeed({ log: ["store"] })),
  StateGraph.addEdge(StateGraph.START, "fetch"),
  StateGraph.addEdge("fetch", "parse"),
  StateGraph.addEdge("parse", "store"),
  StateGraph.addEdge("store", StateGraph.END),
  StateGraph.compileSync()
)
