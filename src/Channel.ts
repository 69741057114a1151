/**
 * Channels declare a graph's state: one channel per key, each with a schema and a reducer that
 * says how the writes of one step combine with the current value.
 *
 * @since 0.1.0
 */
import type * as Prompt from "@effect/ai/Prompt"
import type * as Schema from "effect/Schema"
import * as internal from "./internal/channel.js"
import * as internalMessages from "./internal/messages.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = internal.TypeId as any

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * A channel holds a value of type `Value` and accepts updates of type `Update`.
 *
 * - `LastValue`: the update replaces the value; two writes in one step are an error.
 * - `Append`: the update is an array of items, concatenated to the value.
 * - `Reduce`: the update is folded into the value with a user reducer.
 *
 * @since 0.1.0
 * @category models
 */
export interface Channel<in out Value, in out Update = Value> {
  readonly [TypeId]: {
    readonly _Value: (_: Value) => Value
    readonly _Update: (_: Update) => Update
  }
  readonly _tag: "LastValue" | "Append" | "Reduce"
  /** The schema of the stored value (used to encode and decode snapshots). */
  readonly schema: Schema.Schema<Value, any>
  /** The schema a node's update is validated with. */
  readonly updateSchema: Schema.Schema<Update, any>
  /** The value before anything was written, when the channel has one. */
  readonly initial: (() => Value) | undefined
  /** Folds one update into the current value (`undefined` when the channel is still empty). */
  readonly reducer: (current: Value | undefined, update: Update) => Value
}

/**
 * @since 0.1.0
 * @category models
 */
export type Any = Channel<any, any>

/**
 * The state declaration of a graph: channel name → channel.
 *
 * @since 0.1.0
 * @category models
 */
export type Channels = { readonly [name: string]: Any }

/**
 * @since 0.1.0
 * @category type-level
 */
export type ValueOf<C> = C extends Channel<infer V, any> ? V : never

/**
 * @since 0.1.0
 * @category type-level
 */
export type UpdateOf<C> = C extends Channel<any, infer U> ? U : never

/**
 * The state a node reads: every channel's current value.
 *
 * @since 0.1.0
 * @category type-level
 */
export type State<S extends Channels> = { readonly [K in keyof S]: ValueOf<S[K]> }

/**
 * A partial update a node returns: any subset of channels, each with its update type.
 *
 * @since 0.1.0
 * @category type-level
 */
export type Update<S extends Channels> = { readonly [K in keyof S]?: UpdateOf<S[K]> }

/**
 * A channel whose value is replaced by each write. Two writes to it in one step are an
 * `InvalidUpdate`. Without `initial`, a new thread's input must provide it unless its schema
 * accepts `undefined`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const lastValue = <A, I>(
  schema: Schema.Schema<A, I, never>,
  options?: { readonly initial?: () => A }
): Channel<A, A> => internal.lastValue(schema, options?.initial)

/**
 * A channel holding an array: each update is an array of items appended to it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const append = <A, I>(item: Schema.Schema<A, I, never>): Channel<ReadonlyArray<A>, ReadonlyArray<A>> =>
  internal.append(item)

/**
 * A channel folded with `reducer`, starting from `initial()`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const reduce = <A, I>(
  schema: Schema.Schema<A, I, never>,
  reducer: (current: A, update: A) => A,
  initial: () => A
): Channel<A, A> => internal.reduce(schema, reducer, initial)

/**
 * An update of a `messages()` channel that removes the message with this id.
 *
 * @since 0.1.0
 * @category models
 */
export interface RemoveMessage {
  readonly _tag: "RemoveMessage"
  readonly id: string
}

/**
 * What a `messages()` channel accepts: @effect/ai messages and removal markers.
 *
 * @since 0.1.0
 * @category models
 */
export type MessageUpdate = Prompt.Message | RemoveMessage

/**
 * The chat-state channel, on @effect/ai's message model: its value is a
 * `ReadonlyArray<Prompt.Message>` you can hand to `LanguageModel.generateText({ prompt })` as is
 * (or wrap with `Prompt.fromMessages`), stored with `Prompt.Message`'s schema.
 *
 * An update is an array of messages and `removeMessage(id)` markers, folded in order:
 * - a message is appended, unless it carries an id (see `withMessageId`) equal to one already in
 *   the list: then it replaces that message in place;
 * - `removeMessage(id)` removes the message with that id (an unknown id is ignored).
 *
 * The id lives in the message's provider options, under the `"effect-stategraph"` key
 * (`message.options["effect-stategraph"].id`), which language-model providers ignore.
 *
 * @since 0.1.0
 * @category constructors
 */
export const messages = (): Channel<ReadonlyArray<Prompt.Message>, ReadonlyArray<MessageUpdate>> =>
  internalMessages.messages()

/**
 * A `messages()` update that removes the message with this id.
 *
 * @since 0.1.0
 * @category constructors
 */
export const removeMessage = (id: string): RemoveMessage => internalMessages.removeMessage(id)

/**
 * The id of a message (from `message.options["effect-stategraph"].id`), if it has one.
 *
 * @since 0.1.0
 * @category getters
 */
export const messageId = (message: Prompt.Message): string | undefined => internalMessages.messageId(message)

/**
 * A copy of the message carrying this id; writing it to a `messages()` channel replaces the
 * message with the same id.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withMessageId = <M extends Prompt.Message>(message: M, id: string): M =>
  internalMessages.withMessageId(message, id)

/**
 * @since 0.1.0
 * @category guards
 */
export const isChannel = (u: unknown): u is Any => typeof u === "object" && u !== null && internal.TypeId in u
