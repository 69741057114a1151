/**
 * An agent whose `send_email` tool needs a human's approval: the run pauses with a
 * `Confirmation` interrupt, prints it, and is resumed approved or rejected — a rejection is fed
 * back to the model as the tool's result.
 *
 *   npm run example:tool-approval -- --approve
 *   npm run example:tool-approval -- --reject
 */
import { Prompt } from "@effect/ai"
import { Console, Effect, Layer } from "effect"
import { Agent, Interrupt, ScriptedModel, SqliteSnapshots } from "effect-stategraph"
import { Tools, toolsLayer } from "./tools.js"

export const agent = Agent.make({
  id: "assistant",
  toolkit: Tools,
  system: "You are a helpful assistant.",
  approve: ["send_email"]
})

export const user = (text: string) => Prompt.makeMessage("user", { content: [Prompt.makePart("text", { text })] })

/** What the scripted model says before the approval… */
export const firstScript: ScriptedModel.Script = [{
  text: "I'll e-mail Ada the summary.",
  toolCalls: [{
    id: "call-email-1",
    name: "send_email",
    params: { to: "ada@example.com", subject: "Meeting notes", body: "Ship on Friday." }
  }]
}]

/** …and after it: it reads the tool result to tell what happened. */
export const secondScript: ScriptedModel.Script = [(prompt) => {
  const last = prompt.content[prompt.content.length - 1]
  const rejected = last?.role === "tool" && last.content.some((p) => p.isFailure)
  return rejected ? "OK, I did not send the e-mail." : "Done: Ada has the meeting notes."
}]

export const textOf = (m: Prompt.Message): string =>
  typeof m.content === "string"
    ? m.content
    : m.content.map((p) =>
      p.type === "text"
        ? p.text
        : p.type === "tool-call"
        ? `[call ${p.name} ${JSON.stringify(p.params)}]`
        : p.type === "tool-result"
        ? `[result ${p.name}: ${JSON.stringify(p.result)}]`
        : ""
    ).join(" ")

export const printTranscript = (messages: ReadonlyArray<Prompt.Message>) =>
  Effect.forEach(messages, (m) => Console.log(`  ${m.role.padEnd(9)} ${textOf(m)}`), { discard: true })

/** Asks, pauses at the approval, and returns the pending interrupt. */
export const ask = (threadId: string, text: string) =>
  agent.invoke({ messages: [user(text)] }, { threadId }).pipe(
    Effect.as(undefined),
    Effect.catchTag("GraphInterrupted", (e) => Effect.succeed(e.interrupts[0])),
    Effect.provide(ScriptedModel.layer(firstScript))
  )

/** Answers the approval and lets the agent finish. */
export const answer = (threadId: string, confirmed: boolean) =>
  agent.resume({ threadId }, Interrupt.Confirmation.respond({ confirmed })).pipe(
    Effect.provide(ScriptedModel.layer(secondScript))
  )

if (import.meta.url === `file://${process.argv[1]}`) {
  const confirmed = !process.argv.includes("--reject")
  const threadId = `approval-${Date.now()}`
  const program = Effect.gen(function*() {
    const pending = yield* ask(threadId, "Please e-mail Ada the meeting notes.")
    if (pending === undefined) return yield* Console.log("the agent did not ask")
    yield* Console.log(`paused: ${pending.kind} ${JSON.stringify(pending.request)}`)
    yield* Console.log(confirmed ? "→ approved" : "→ rejected")
    const final = yield* answer(threadId, confirmed)
    yield* printTranscript(final.messages)
  })
  Effect.runPromise(
    program.pipe(Effect.provide(Layer.merge(toolsLayer(), SqliteSnapshots.layer({ filename: ".data/agent.db" }))))
  ).catch((e) => {
    console.error(e)
    process.exit(1)
  })
}
