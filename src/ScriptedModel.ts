/**
 * An offline `LanguageModel` for tests and demos: it replays a fixed script of responses (text,
 * reasoning, tool calls) in order, for `generateText` and `streamText` alike, and fails with a
 * typed `AiError` once the script runs out.
 *
 * ```ts
 * const model = ScriptedModel.layer([
 *   { toolCalls: [{ name: "add", params: { a: 1, b: 2 } }] },
 *   "1 + 2 = 3"
 * ])
 * ```
 *
 * @since 0.1.0
 */
// deep imports: the package root loads all of @effect/ai (MCP, RPC), ~20 MB of RSS
import * as AiError from "@effect/ai/AiError"
import * as LanguageModel from "@effect/ai/LanguageModel"
import type * as Prompt from "@effect/ai/Prompt"
import type * as Response from "@effect/ai/Response"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"

/**
 * A tool call the model makes. Without `id`, the call is `call_<turn>_<index>`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ToolCall {
  readonly name: string
  readonly params: unknown
  readonly id?: string
}

/**
 * One response of the model: text, reasoning and tool calls, all optional.
 *
 * @since 0.1.0
 * @category models
 */
export interface Turn {
  readonly text?: string
  readonly reasoning?: string
  readonly toolCalls?: ReadonlyArray<ToolCall>
}

/**
 * An entry of a script: a text answer, a `Turn`, or a function of the prompt the model received
 * (to answer from the conversation, or to assert on it).
 *
 * @since 0.1.0
 * @category models
 */
export type Step = string | Turn | ((prompt: Prompt.Prompt) => string | Turn)

/**
 * @since 0.1.0
 * @category models
 */
export type Script = ReadonlyArray<Step>

const moduleName = "ScriptedModel"

const exhausted = (method: string, length: number, call: number) =>
  new AiError.UnknownError({
    module: moduleName,
    method,
    description: `the script ran out: it has ${length} response${length === 1 ? "" : "s"} and call ${call} asked for another`
  })

const turnOf = (step: Step, prompt: Prompt.Prompt): Turn => {
  const value = typeof step === "function" ? step(prompt) : step
  return typeof value === "string" ? { text: value } : value
}

const toolCallParts = (turn: Turn, call: number): Array<Response.ToolCallPartEncoded> =>
  (turn.toolCalls ?? []).map((c, i) => ({
    type: "tool-call",
    id: c.id ?? `call_${call}_${i + 1}`,
    name: c.name,
    params: c.params,
    providerExecuted: false
  }))

const finish = (turn: Turn, text: string): Response.FinishPartEncoded => ({
  type: "finish",
  reason: (turn.toolCalls?.length ?? 0) > 0 ? "tool-calls" : "stop",
  usage: {
    inputTokens: undefined,
    outputTokens: text.length === 0 ? 0 : text.split(/\s+/).length,
    totalTokens: undefined
  }
})

/** Splits text into word-sized deltas that concatenate back to it. */
const deltas = (text: string): ReadonlyArray<string> => text.match(/\s*\S+\s*/g) ?? (text.length > 0 ? [text] : [])

/**
 * Builds the scripted `LanguageModel` service. Each call (`generateText` or `streamText`) takes
 * the next entry of the script; the position is shared by both and lives as long as the service.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (script: Script): Effect.Effect<LanguageModel.Service> =>
  Effect.suspend(() => {
    let position = 0
    const next = (method: string, prompt: Prompt.Prompt) =>
      Effect.suspend(() => {
        const call = ++position
        const step = script[call - 1]
        return step === undefined ? Effect.fail(exhausted(method, script.length, call)) : Effect.succeed({
          call,
          turn: turnOf(step, prompt)
        })
      })
    return LanguageModel.make({
      generateText: (options) =>
        Effect.map(next("generateText", options.prompt), ({ call, turn }) => {
          const parts: Array<Response.PartEncoded> = []
          if (turn.reasoning !== undefined) parts.push({ type: "reasoning", text: turn.reasoning })
          if (turn.text !== undefined) parts.push({ type: "text", text: turn.text })
          parts.push(...toolCallParts(turn, call))
          parts.push(finish(turn, turn.text ?? ""))
          return parts
        }),
      streamText: (options) =>
        Stream.unwrap(Effect.map(next("streamText", options.prompt), ({ call, turn }) => {
          const parts: Array<Response.StreamPartEncoded> = []
          if (turn.reasoning !== undefined) {
            const id = `reasoning_${call}`
            parts.push({ type: "reasoning-start", id })
            for (const delta of deltas(turn.reasoning)) parts.push({ type: "reasoning-delta", id, delta })
            parts.push({ type: "reasoning-end", id })
          }
          if (turn.text !== undefined) {
            const id = `text_${call}`
            parts.push({ type: "text-start", id })
            for (const delta of deltas(turn.text)) parts.push({ type: "text-delta", id, delta })
            parts.push({ type: "text-end", id })
          }
          parts.push(...toolCallParts(turn, call))
          parts.push(finish(turn, turn.text ?? ""))
          // one part per chunk, so a consumer sees the deltas arrive one by one
          return Stream.rechunk(Stream.fromIterable(parts), 1)
        }))
    })
  })

/**
 * A `LanguageModel` layer replaying `script`. When the script runs out, the call fails with
 * `AiError.UnknownError` (module `"ScriptedModel"`, message `… the script ran out …`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (script: Script): Layer.Layer<LanguageModel.LanguageModel> =>
  Layer.effect(LanguageModel.LanguageModel, make(script))
