/**
 * The chat-agent prebuilt: a tool-calling agent on @effect/ai's `LanguageModel` and `Toolkit`,
 * as a compiled state graph you run, stream, pause and resume like any other.
 *
 * ```ts
 * const agent = Agent.make({ toolkit: MyTools, system: "You are terse.", approve: ["send_email"] })
 * const out = yield* agent.invoke({ messages: [Prompt.userMessage({ content: [Prompt.textPart({ text: "hi" })] })] }, { threadId })
 * ```
 *
 * - node `agent` calls the model (`LanguageModel.streamText`, so `stream(…, { mode: "messages" })`
 *   yields its text deltas tagged with the assistant message's id) with the toolkit and the
 *   thread's messages (after the `system` prompt), and appends the assistant message;
 * - when that message has tool calls, node `tools` runs them in parallel with the toolkit's
 *   handlers, each call journaled (`Task.forEach`: a re-run of the node after a crash or a failed
 *   run replays the calls that finished), appends one tool message with the results, and goes
 *   back to `agent`; otherwise the run ends.
 * - A tool named in `approve` runs only after a human `Interrupt.Confirmation`: the run pauses
 *   with `GraphInterrupted`; `resume` with `Interrupt.Confirmation.respond({ confirmed })`. A
 *   rejected call is not run: the model gets the tool result `"The user rejected this tool call;
 *   it was not run."` (`isFailure: true`). All approvals of a step are asked before any of its
 *   tools runs, so the re-run of `tools` on resume runs each tool once.
 * - Errors stay typed: the model's `AiError`, the tools' failures (tools with
 *   `failureMode: "return"` report failures to the model instead), `Confirmation`, and
 *   `Task.JournalMismatch` (the journal of a re-run no longer matches).
 *
 * @since 0.1.0
 */
import type * as AiError from "@effect/ai/AiError"
import type * as LanguageModel from "@effect/ai/LanguageModel"
import type * as Prompt from "@effect/ai/Prompt"
import type * as Tool from "@effect/ai/Tool"
import type * as Toolkit from "@effect/ai/Toolkit"
import type * as Channel from "./Channel.js"
import * as internal from "./internal/agent.js"
import type * as Interrupt from "./Interrupt.js"
import type * as StateGraph from "./StateGraph.js"
import type * as Task from "./Task.js"

/**
 * The agent's state: one `Channel.messages()` channel of @effect/ai messages.
 *
 * @since 0.1.0
 * @category models
 */
export type State = {
  readonly messages: Channel.Channel<ReadonlyArray<Prompt.Message>, ReadonlyArray<Channel.MessageUpdate>>
}

/**
 * The agent's nodes: `agent` (the model) and `tools` (the toolkit).
 *
 * @since 0.1.0
 * @category models
 */
export type Nodes = {
  readonly agent: Channel.State<State>
  readonly tools: Channel.State<State>
}

/**
 * The errors of the agent's nodes: the model's, the tools' (`failureMode: "error"`), a journal
 * mismatch on re-run, and the approval interrupt when some tool needs one.
 *
 * @since 0.1.0
 * @category type-level
 */
export type Error<Tools extends Record<string, Tool.Any>, Approve extends string> =
  | AiError.AiError
  | Tool.HandlerError<Tools[keyof Tools]>
  | Task.JournalMismatch
  | ([Approve] extends [never] ? never : Interrupt.Confirmation)

/**
 * What running the agent needs: the toolkit's handlers and their requirements, and a
 * `LanguageModel` unless one was given to `make`.
 *
 * @since 0.1.0
 * @category type-level
 */
export type Requirements<Tools extends Record<string, Tool.Any>, Model> =
  | Tool.HandlersFor<Tools>
  | Tool.Requirements<Tools[keyof Tools]>
  | ([Model] extends [undefined] ? LanguageModel.LanguageModel : never)

/**
 * A compiled agent graph.
 *
 * @since 0.1.0
 * @category models
 */
export type Agent<Tools extends Record<string, Tool.Any>, Approve extends string = never, Model = undefined> =
  StateGraph.CompiledGraph<State, keyof Nodes & string, Error<Tools, Approve>, Requirements<Tools, Model>>

/**
 * @since 0.1.0
 * @category models
 */
export interface Options<
  Tools extends Record<string, Tool.Any>,
  Approve extends keyof Tools & string,
  Model extends LanguageModel.Service | undefined
> {
  /** the tools the model may call; their handlers are required when the agent runs */
  readonly toolkit: Toolkit.Toolkit<Tools>
  /** a model service to use instead of the `LanguageModel` in the environment */
  readonly model?: Model
  /** a system prompt sent before the thread's messages (it is not stored in the thread) */
  readonly system?: string
  /** the tools that need a human `Interrupt.Confirmation` before they run */
  readonly approve?: ReadonlyArray<Approve>
  /** the graph id (default `"agent"`): threads are stored under it */
  readonly id?: string
  /** maximum supersteps per run (default 25; each tool round takes two) */
  readonly recursionLimit?: number
}

/**
 * The tool result a rejected call gets.
 *
 * @since 0.1.0
 * @category constants
 */
export const rejectedResult: string = internal.REJECTED

/**
 * Builds the agent graph (see the module documentation).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <
  Tools extends Record<string, Tool.Any>,
  const Approve extends keyof Tools & string = never,
  Model extends LanguageModel.Service | undefined = undefined
>(options: Options<Tools, Approve, Model>): Agent<Tools, Approve, Model> =>
  internal.make(options as unknown as internal.AgentOptions) as Agent<Tools, Approve, Model>

/**
 * The tool calls of the last assistant message that have no result yet: what node `tools`
 * runs next.
 *
 * @since 0.1.0
 * @category getters
 */
export const pendingToolCalls: (messages: ReadonlyArray<Prompt.Message>) => ReadonlyArray<Prompt.ToolCallPart> =
  internal.pendingToolCalls
