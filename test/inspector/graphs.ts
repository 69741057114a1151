/** The graph the inspector's browser test serves: an expense asks a Form question, then streams a reply. */
import { Effect, Schema } from "effect"
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
