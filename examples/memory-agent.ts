/**
 * An agent with long-term memory: what a user tells it in one conversation (thread), it knows in
 * the next one — from another process too. Its tools keep the user's preferences in `Memory`,
 * under `["users", userId, "prefs"]`, in the same SQLite file as the threads (one client).
 *
 *   npx tsx --conditions=stategraph-source examples/memory-agent.ts --user ada --thread ada-1 "I prefer answers in French."
 *   npx tsx --conditions=stategraph-source examples/memory-agent.ts --user ada --thread ada-2 "How do I say thank you?"
 *   npx tsx --conditions=stategraph-source examples/memory-agent.ts --user bob --thread bob-1 "How do I say thank you?"
 *
 * Offline with a scripted model that follows the conversation it is given.
 */
import { Tool, Toolkit } from "@effect/ai"
import { Console, Context, Effect, Layer, Schema } from "effect"
import { Agent, Memory, ScriptedModel, SqliteMemory, SqliteSnapshots } from "effect-stategraph"
import { printTranscript, user } from "./tool-approval.js"

/** Who the agent is talking to: provided per conversation, read by the tools. */
export class CurrentUser extends Context.Tag("examples/CurrentUser")<CurrentUser, string>() {}

/** A preference: one string per key, e.g. language → "French". */
export const Preferences = Memory.collection(Schema.String)

const prefsOf = (userId: string) => ["users", userId, "prefs"]

export const SavePreference = Tool.make("save_preference", {
  description: "Remembers one of the user's preferences for later conversations",
  parameters: { key: Schema.String, value: Schema.String },
  success: Schema.String,
  failure: Schema.String,
  failureMode: "return",
  dependencies: [Memory.Memory, CurrentUser]
})

export const GetPreferences = Tool.make("get_preferences", {
  description: "Reads the user's saved preferences",
  success: Schema.Record({ key: Schema.String, value: Schema.String }),
  failure: Schema.String,
  failureMode: "return",
  dependencies: [Memory.Memory, CurrentUser]
})

export const MemoryTools = Toolkit.make(SavePreference, GetPreferences)

export const toolsLayer = MemoryTools.toLayer({
  save_preference: ({ key, value }) =>
    Effect.flatMap(CurrentUser, (userId) => Preferences.put(prefsOf(userId), key, value)).pipe(
      Effect.as(`saved ${key} = ${value}`),
      Effect.mapError((e) => e.message)
    ),
  get_preferences: () =>
    Effect.flatMap(CurrentUser, (userId) => Preferences.search(prefsOf(userId), { limit: 100 })).pipe(
      Effect.map((items) => Object.fromEntries(items.map((i) => [i.key, i.value]))),
      Effect.mapError((e) => e.message)
    )
})

export const agent = Agent.make({ id: "memory-agent", toolkit: MemoryTools, system: "Remember what the user prefers." })

const translations: Record<string, string> = { French: "merci", German: "danke", Spanish: "gracias" }

/**
 * The scripted model: a stated preference is saved; any other question first reads the saved
 * preferences, then answers in the preferred language when there is one.
 */
export const model = ScriptedModel.layer(Array.from({ length: 20 }, () => (prompt) => {
  const last = prompt.content[prompt.content.length - 1]!
  if (last.role === "tool") {
    const part = last.content[0]!
    if (part.name === "save_preference") return `Noted: ${String(part.result)}. I will remember it.`
    const language = (part.result as Record<string, string> | undefined)?.language
    return language !== undefined && translations[language] !== undefined
      ? `In ${language}, as you prefer: "${translations[language]}".`
      : `"Thank you" (no preferred language saved).`
  }
  const text = last.role === "user" ? last.content.map((p) => (p.type === "text" ? p.text : "")).join("") : ""
  const prefers = /prefer (?:answers in )?(\w+)/i.exec(text)
  if (prefers) return { toolCalls: [{ name: "save_preference", params: { key: "language", value: prefers[1]! } }] }
  return { toolCalls: [{ name: "get_preferences", params: {} }] }
}))

/** One turn of `userId`'s conversation `threadId`. */
export const chat = (userId: string, threadId: string, text: string) =>
  agent.invoke({ messages: [user(text)] }, { threadId }).pipe(
    Effect.map((s) => s.messages),
    Effect.provideService(CurrentUser, userId)
  )

/** Threads and memories in one SQLite file, on one client. */
export const storage = (filename: string) =>
  Layer.merge(SqliteSnapshots.layerClient(), SqliteMemory.layerClient).pipe(
    Layer.provide(SqliteSnapshots.layerSqlClient({ filename }))
  )

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name: string, fallback: string) => {
    const i = process.argv.indexOf(name)
    return i < 0 ? fallback : process.argv[i + 1]!
  }
  const text = process.argv.slice(2).filter((a, i, all) => !a.startsWith("--") && !all[i - 1]?.startsWith("--")).join(" ")
  const userId = arg("--user", "ada")
  const threadId = arg("--thread", `${userId}-1`)
  const program = Effect.gen(function*() {
    yield* Console.log(`user ${userId}, thread ${threadId}`)
    yield* printTranscript(yield* chat(userId, threadId, text || "How do I say thank you?"))
    const saved = yield* Preferences.search(prefsOf(userId))
    yield* Console.log(`memories of ${userId}: ${JSON.stringify(Object.fromEntries(saved.map((i) => [i.key, i.value])))}`)
  })
  Effect.runPromise(
    program.pipe(Effect.provide(Layer.mergeAll(model, toolsLayer, storage(arg("--db", ".data/memory-agent.db")))))
  ).catch((e) => {
    console.error(e)
    process.exit(1)
  })
}
