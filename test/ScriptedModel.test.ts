import { LanguageModel, Prompt, Tool, Toolkit } from "@effect/ai"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Schema, Stream } from "effect"
import { ScriptedModel } from "effect-stategraph"

const Add = Tool.make("add", {
  parameters: { a: Schema.Number, b: Schema.Number },
  success: Schema.Number
})
const Tools = Toolkit.make(Add)
const ToolsLive = Tools.toLayer({ add: ({ a, b }) => Effect.succeed(a + b) })

describe("ScriptedModel", () => {
  it.effect("replays text and tool calls in order for generateText", () =>
    Effect.gen(function*() {
      const first = yield* LanguageModel.generateText({ prompt: "hi" })
      expect(first.text).toBe("hello")
      expect(first.finishReason).toBe("stop")
      const second = yield* LanguageModel.generateText({
        prompt: "add",
        toolkit: Tools,
        disableToolCallResolution: true
      })
      expect(second.toolCalls.map((c) => ({ id: c.id, name: c.name, params: c.params }))).toEqual([
        { id: "call_2_1", name: "add", params: { a: 1, b: 2 } },
        { id: "mine", name: "add", params: { a: 3, b: 4 } }
      ])
      expect(second.finishReason).toBe("tool-calls")
      const third = yield* LanguageModel.generateText({ prompt: "again" })
      expect(third.text).toBe("prompt had 1 message")
    }).pipe(Effect.provide(ScriptedModel.layer([
      "hello",
      { toolCalls: [{ name: "add", params: { a: 1, b: 2 } }, { name: "add", params: { a: 3, b: 4 }, id: "mine" }] },
      (prompt) => `prompt had ${prompt.content.length} message`
    ])), Effect.provide(ToolsLive)))

  it.effect("tool calls are resolved by @effect/ai when resolution is on", () =>
    Effect.gen(function*() {
      const response = yield* LanguageModel.generateText({ prompt: "add", toolkit: Tools })
      expect(response.toolResults.map((r) => r.result)).toEqual([3])
    }).pipe(
      Effect.provide(ScriptedModel.layer([{ toolCalls: [{ name: "add", params: { a: 1, b: 2 } }] }])),
      Effect.provide(ToolsLive)
    ))

  it.effect("streamText streams the text as several deltas", () =>
    Effect.gen(function*() {
      const parts = Chunk.toArray(yield* Stream.runCollect(
        LanguageModel.streamText({ prompt: "hi", toolkit: Tools, disableToolCallResolution: true })
      ))
      const deltas = parts.flatMap((p) => (p.type === "text-delta" ? [p.delta] : []))
      expect(deltas.length).toBeGreaterThan(1)
      expect(deltas.join("")).toBe("The quick brown fox.")
      expect(parts.map((p) => p.type)).toEqual([
        "text-start",
        ...deltas.map(() => "text-delta"),
        "text-end",
        "tool-call",
        "finish"
      ])
      // the streamed parts make the same message as a generated answer
      const message = Prompt.fromResponseParts(parts).content[0]
      expect(message?.role).toBe("assistant")
    }).pipe(Effect.provide(ScriptedModel.layer([
      { text: "The quick brown fox.", toolCalls: [{ name: "add", params: { a: 1, b: 1 } }] }
    ])), Effect.provide(ToolsLive)))

  it.effect("fails with a typed AiError when the script runs out", () =>
    Effect.gen(function*() {
      yield* LanguageModel.generateText({ prompt: "one" })
      const error = yield* Effect.flip(LanguageModel.generateText({ prompt: "two" }))
      expect(error._tag).toBe("UnknownError")
      expect(error.message).toBe(
        "ScriptedModel.generateText: the script ran out: it has 1 response and call 2 asked for another"
      )
      const streamed = yield* Effect.flip(Stream.runDrain(LanguageModel.streamText({ prompt: "three" })))
      expect(streamed._tag).toBe("UnknownError")
      expect(streamed.message).toContain("ScriptedModel.streamText: the script ran out")
    }).pipe(Effect.provide(ScriptedModel.layer(["only"]))))
})
