/**
 * The tools the example agents use: a calculator, a notes store and an e-mail sender (the one
 * that needs a human's approval). Shared by chat-agent.ts, tool-approval.ts and the demo.
 */
import { Tool, Toolkit } from "@effect/ai"
import { Effect, Schema } from "effect"

export const Calculate = Tool.make("calculate", {
  description: "Evaluates a + b, a - b, a * b or a / b",
  parameters: { a: Schema.Number, op: Schema.Literal("+", "-", "*", "/"), b: Schema.Number },
  success: Schema.Number
})

export const SaveNote = Tool.make("save_note", {
  description: "Saves a note for later",
  parameters: { text: Schema.String },
  success: Schema.String
})

export const SendEmail = Tool.make("send_email", {
  description: "Sends an e-mail",
  parameters: { to: Schema.String, subject: Schema.String, body: Schema.String },
  success: Schema.String
})

export const Tools = Toolkit.make(Calculate, SaveNote, SendEmail)

/** Handlers that print what they do; `outbox` collects the e-mails really sent. */
export const toolsLayer = (outbox: Array<string> = []) =>
  Tools.toLayer({
    calculate: ({ a, b, op }) =>
      Effect.succeed(op === "+" ? a + b : op === "-" ? a - b : op === "*" ? a * b : a / b),
    save_note: ({ text }) => Effect.sync(() => `saved note: ${text}`),
    send_email: ({ subject, to }) =>
      Effect.sync(() => {
        outbox.push(`${to}: ${subject}`)
        console.log(`  [send_email] e-mail "${subject}" sent to ${to}`)
        return `sent to ${to}`
      })
  })
