import * as Prompt from "@effect/ai/Prompt"
import * as Schema from "effect/Schema"
import type { Channel } from "../Channel.js"
import { TypeId } from "./channel.js"

/**
 * The key under `message.options` where effect-stategraph keeps its own metadata. @effect/ai's
 * `options` is a record of provider-namespaced option records (`options.openai`, …); providers
 * read only their own namespace, so ours travels with the message, through storage, and into a
 * `LanguageModel` untouched.
 *
 * @internal
 */
export const OptionsKey = "effect-stategraph"

/** @internal */
export const RemoveMessage = Schema.TaggedStruct("RemoveMessage", { id: Schema.String })

/** @internal */
export type RemoveMessage = typeof RemoveMessage.Type

/** @internal */
export type MessageUpdate = Prompt.Message | RemoveMessage

/** @internal */
export const removeMessage = (id: string): RemoveMessage => RemoveMessage.make({ id })

/** @internal */
export const messageId = (message: Prompt.Message): string | undefined => {
  const own = message.options[OptionsKey]
  const id = own === undefined ? undefined : own["id"]
  return typeof id === "string" ? id : undefined
}

/** @internal */
export const withMessageId = <M extends Prompt.Message>(message: M, id: string): M => ({
  ...message,
  options: { ...message.options, [OptionsKey]: { ...message.options[OptionsKey], id } }
})

const isRemove = (u: MessageUpdate): u is RemoveMessage => (u as { readonly _tag?: unknown })._tag === "RemoveMessage"

/** Whether an update only appends: no removals, and every id it carries is new. @internal */
export const isPlainAppend = (base: ReadonlyArray<Prompt.Message>, update: ReadonlyArray<MessageUpdate>): boolean => {
  let known: Set<string> | undefined
  for (const u of update) {
    if (isRemove(u)) return false
    const id = messageId(u)
    if (id !== undefined) {
      if (known === undefined) {
        known = new Set()
        for (const m of base) {
          const mid = messageId(m)
          if (mid !== undefined) known.add(mid)
        }
      }
      if (known.has(id)) return false
      known.add(id)
    }
  }
  return true
}

/**
 * Folds updates into a message list: appends, replaces in place a message with the same id,
 * removes by id (an unknown id is ignored). Never mutates its inputs.
 *
 * @internal
 */
export const reduceMessages = (
  current: ReadonlyArray<Prompt.Message> | undefined,
  update: ReadonlyArray<MessageUpdate>
): ReadonlyArray<Prompt.Message> => {
  const base = current ?? []
  if (update.length === 0) return base
  if (isPlainAppend(base, update)) return base.length === 0 ? [...update] as Array<Prompt.Message> : base.concat(update as Array<Prompt.Message>)
  const out: Array<Prompt.Message | undefined> = [...base]
  const index = new Map<string, number>()
  out.forEach((m, i) => {
    const id = m === undefined ? undefined : messageId(m)
    if (id !== undefined) index.set(id, i)
  })
  for (const u of update) {
    if (isRemove(u)) {
      const at = index.get(u.id)
      if (at !== undefined) {
        out[at] = undefined
        index.delete(u.id)
      }
      continue
    }
    const id = messageId(u)
    const at = id === undefined ? undefined : index.get(id)
    if (at !== undefined) out[at] = u
    else {
      if (id !== undefined) index.set(id, out.length)
      out.push(u)
    }
  }
  return out.filter((m): m is Prompt.Message => m !== undefined)
}

const variance = { _Value: (_: any) => _, _Update: (_: any) => _ }

/** @internal */
export const messages = (): Channel<ReadonlyArray<Prompt.Message>, ReadonlyArray<MessageUpdate>> => ({
  [TypeId]: variance,
  _tag: "Reduce",
  schema: Schema.Array(Prompt.Message),
  updateSchema: Schema.Array(Schema.Union(Prompt.Message, RemoveMessage)),
  initial: () => [],
  reducer: reduceMessages,
  // stored incrementally like an append channel while updates only append
  item: Prompt.Message,
  isAppend: (current: ReadonlyArray<Prompt.Message> | undefined, update: ReadonlyArray<MessageUpdate>) =>
    isPlainAppend(current ?? [], update)
}) as any
