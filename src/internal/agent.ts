// deep imports: the package root loads all of @effect/ai (MCP, RPC), ~20 MB of RSS
import * as AiError from "@effect/ai/AiError"
import * as LanguageModel from "@effect/ai/LanguageModel"
import * as Prompt from "@effect/ai/Prompt"
import type * as Response from "@effect/ai/Response"
import type * as Tool from "@effect/ai/Tool"
import type * as Toolkit from "@effect/ai/Toolkit"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Channel from "../Channel.js"
import * as Interrupt from "../Interrupt.js"
import * as StateGraph from "../StateGraph.js"
import * as Task from "../Task.js"
import * as Ids from "./ids.js"

/** @internal */
export const REJECTED = "The user rejected this tool call; it was not run."

/** @internal */
export interface AgentOptions {
  readonly toolkit: Toolkit.Toolkit<Record<string, Tool.Any>>
  readonly model?: LanguageModel.Service | undefined
  readonly system?: string | undefined
  readonly approve?: ReadonlyArray<string> | undefined
  readonly id?: string | undefined
  readonly recursionLimit?: number | undefined
}

type Messages = ReadonlyArray<Prompt.Message>

/**
 * The tool calls of the last assistant message that have no result yet (calls the provider ran
 * itself are not ours to run).
 *
 * @internal
 */
export const pendingToolCalls = (messages: Messages): ReadonlyArray<Prompt.ToolCallPart> => {
  let at = messages.length - 1
  while (at >= 0 && messages[at]!.role !== "assistant") at--
  if (at < 0) return []
  const assistant = messages[at] as Prompt.AssistantMessage
  const answered = new Set<string>()
  for (const part of assistant.content) if (part.type === "tool-result") answered.add(part.id)
  for (let i = at + 1; i < messages.length; i++) {
    const m = messages[i]!
    if (m.role === "tool") for (const part of m.content) answered.add(part.id)
  }
  const calls: Array<Prompt.ToolCallPart> = []
  for (const part of assistant.content) {
    if (part.type === "tool-call" && !part.providerExecuted && !answered.has(part.id)) calls.push(part)
  }
  return calls
}

/**
 * The model's response parts (streamed) as one assistant message with the given id, tool-call
 * parameters in their encoded (JSON) form, so the message stores as is and the tools node
 * decodes them exactly once.
 */
const assistantMessage = (
  tools: Record<string, Tool.Any>,
  parts: ReadonlyArray<Response.AnyPart>,
  id: string
): Effect.Effect<Prompt.AssistantMessage, AiError.AiError> => {
  const messages = Prompt.fromResponseParts(parts).content
  const assistant = messages.find((m): m is Prompt.AssistantMessage => m.role === "assistant")
  const content = assistant?.content ?? []
  return Effect.map(
    Effect.forEach(content, (part): Effect.Effect<Prompt.AssistantMessagePart, AiError.AiError> => {
      const tool = part.type === "tool-call" && !part.providerExecuted ? tools[part.name] : undefined
      if (part.type !== "tool-call" || tool === undefined) return Effect.succeed(part)
      return Effect.mapBoth(
        Schema.encodeUnknown(tool.parametersSchema as Schema.Schema<unknown, unknown>)(part.params),
        {
          onFailure: (cause) =>
            new AiError.MalformedOutput({
              module: "Agent",
              method: "agent",
              description: `cannot encode the parameters of tool call ${part.id} (${part.name})`,
              cause
            }),
          onSuccess: (params) => Prompt.makePart("tool-call", { ...part, params })
        }
      )
    }),
    (content) => Channel.withMessageId(Prompt.makeMessage("assistant", { content }), id)
  )
}

const describeCall = (call: Prompt.ToolCallPart): string => {
  let params: string
  try {
    params = JSON.stringify(call.params) ?? "undefined"
  } catch {
    params = String(call.params)
  }
  return `Run the tool "${call.name}" with ${params}?`
}

/** @internal */
export const make = (options: AgentOptions): StateGraph.AnyCompiled => {
  const toolkit = options.toolkit
  const needsApproval = new Set(options.approve ?? [])
  const system = options.system === undefined ? [] : [Prompt.makeMessage("system", { content: options.system })]
  const withModel = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    options.model === undefined ? effect : Effect.provideService(effect, LanguageModel.LanguageModel, options.model)

  const agent = (state: { readonly messages: Messages }) =>
    withModel(Effect.gen(function*() {
      const prompt = Prompt.fromMessages(system.length === 0 ? state.messages : [...system, ...state.messages])
      const id = Ids.make()
      // streamed, so `stream(…, { mode: "messages" })` sees the text as it arrives, tagged with
      // the id the stored message will have
      const parts: Array<Response.AnyPart> = []
      yield* LanguageModel.streamText({ prompt, toolkit, disableToolCallResolution: true }).pipe(
        Stream.runForEach((part) => {
          parts.push(part)
          return part.type === "text-delta" && part.delta.length > 0
            ? Task.emit({ mode: "messages", messageId: id, delta: part.delta })
            : Effect.void
        })
      )
      return { messages: [yield* assistantMessage(toolkit.tools, parts, id)] }
    }))

  const tools = (state: { readonly messages: Messages }) =>
    Effect.gen(function*() {
      const calls = pendingToolCalls(state.messages)
      // Every approval of the step is asked before any tool runs: a pause never leaves a tool
      // half-way, and the re-run on resume (which replays the answers in order) runs each tool once.
      const approved: Array<boolean> = []
      for (const call of calls) {
        if (!needsApproval.has(call.name)) approved.push(true)
        else approved.push((yield* Interrupt.Confirmation.ask({ message: describeCall(call) })).confirmed)
      }
      const handlers = yield* toolkit
      const handle = handlers.handle as unknown as (
        name: string,
        params: unknown
      ) => Effect.Effect<Tool.HandlerResult<any>, unknown>
      // in parallel, each call journaled: a re-run of this task (a crash, a retry) replays the
      // calls that finished instead of running them again
      const results = yield* Task.forEach(
        calls,
        (call, i) =>
          approved[i]
            ? Effect.map(handle(call.name, call.params), (r) =>
              Prompt.makePart("tool-result", {
                id: call.id,
                name: call.name,
                isFailure: r.isFailure,
                result: r.encodedResult,
                providerExecuted: false
              }))
            : Effect.succeed(Prompt.makePart("tool-result", {
              id: call.id,
              name: call.name,
              isFailure: true,
              result: REJECTED,
              providerExecuted: false
            })),
        { success: Prompt.ToolResultPart }
      ).pipe(
        // only raised with a `timeout` option, which is not given
        Effect.catchIf((e): e is Task.FanOutTimeout => e instanceof Task.FanOutTimeout, Effect.die)
      )
      if (results.length === 0) return {}
      return { messages: [Channel.withMessageId(Prompt.makeMessage("tool", { content: results }), Ids.make())] }
    })

  return StateGraph.make({ id: options.id ?? "agent", state: { messages: Channel.messages() } }).pipe(
    StateGraph.addNode("agent", agent),
    StateGraph.addNode("tools", tools),
    StateGraph.addEdge(StateGraph.START, "agent"),
    StateGraph.addConditionalEdges(
      "agent",
      (s) => (pendingToolCalls(s.messages).length > 0 ? "tools" : StateGraph.END),
      ["tools", StateGraph.END]
    ),
    StateGraph.addEdge("tools", "agent"),
    StateGraph.compileSync(options.recursionLimit === undefined ? {} : { recursionLimit: options.recursionLimit })
  )
}
