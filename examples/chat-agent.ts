/**
 * A multi-turn chat agent with two tools (a calculator and a notes store) on one thread kept in
 * a SQLite file: run it twice and the second run continues the same conversation.
 *
 *   npm run example:chat            # first run: two turns
 *   npm run example:chat            # second run: the thread remembers the first
 *
 * Offline with a scripted model; with OPENAI_API_KEY set you could provide an @effect/ai-openai
 * `LanguageModel` layer instead (not needed for anything here).
 */
import { Console, Effect, Layer } from "effect"
import { Agent, ScriptedModel, SqliteSnapshots } from "effect-stategraph"
import { printTranscript, user } from "./tool-approval.js"
import { Tools, toolsLayer } from "./tools.js"

export const agent = Agent.make({ id: "chat", toolkit: Tools, system: "You are a terse assistant." })

/** The scripted model answers from the conversation it is given, so it works on any turn. */
export const model = ScriptedModel.layer(Array.from({ length: 40 }, () => (prompt) => {
  const last = prompt.content[prompt.content.length - 1]!
  if (last.role === "tool") {
    const part = last.content[0]!
    return part.name === "calculate" ? `That is ${String(part.result)}.` : "Noted."
  }
  const text = last.role === "user" ? last.content.map((p) => (p.type === "text" ? p.text : "")).join("") : ""
  const sum = /(\d+)\s*\+\s*(\d+)/.exec(text)
  if (sum) return { toolCalls: [{ name: "calculate", params: { a: Number(sum[1]), op: "+", b: Number(sum[2]) } }] }
  if (/remember/i.test(text)) return { toolCalls: [{ name: "save_note", params: { text } }] }
  const turns = prompt.content.filter((m) => m.role === "user").length
  return `You have said ${turns} thing(s) in this conversation.`
}))

export const chat = (threadId: string, text: string) =>
  Effect.map(agent.invoke({ messages: [user(text)] }, { threadId }), (s) => s.messages)

export const program = (threadId: string) =>
  Effect.gen(function*() {
    const before = yield* agent.getState(threadId).pipe(Effect.option)
    const turns = before._tag === "Some"
      ? ["Remember that the launch is on Friday.", "How much have I said?"]
      : ["What is 19 + 23?", "How much have I said?"]
    yield* Console.log(before._tag === "Some" ? `continuing thread ${threadId}` : `new thread ${threadId}`)
    let messages = before._tag === "Some" ? before.value.values.messages : []
    for (const text of turns) messages = yield* chat(threadId, text)
    yield* printTranscript(messages)
    return messages
  })

if (import.meta.url === `file://${process.argv[1]}`) {
  const i = process.argv.indexOf("--db")
  const filename = i < 0 ? ".data/chat.db" : process.argv[i + 1]!
  Effect.runPromise(
    program("chat-1").pipe(Effect.provide(Layer.mergeAll(model, toolsLayer(), SqliteSnapshots.layer({ filename }))))
  ).catch((e) => {
    console.error(e)
    process.exit(1)
  })
}
