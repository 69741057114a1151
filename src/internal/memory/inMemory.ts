/**
 * The in-process memory backend: items in a map keyed by namespace text and key, values held as
 * JSON text (so a caller mutating a value after `put` changes nothing, and reads decode fresh
 * copies, as from a database).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { Backend, Namespace, StoredItem } from "../../Memory.js"
import { compareStrings, holds, nsText, startsWith } from "./validate.js"

interface Entry {
  readonly namespace: Namespace
  readonly key: string
  readonly json: string
  readonly createdAt: number
  readonly updatedAt: number
  readonly ttlMillis: number | undefined
  expiresAt: number | undefined
}

const live = (e: Entry, now: number) => e.expiresAt === undefined || e.expiresAt > now

/** @internal */
export const make = (): Backend => {
  const items = new Map<string, Entry>()
  const id = (ns: Namespace, key: string) => `${nsText(ns)}\u0000${key}`

  const read = (e: Entry, refresh: boolean, now: number): StoredItem => {
    if (refresh && e.ttlMillis !== undefined) e.expiresAt = now + e.ttlMillis
    return {
      namespace: e.namespace,
      key: e.key,
      value: JSON.parse(e.json),
      createdAt: e.createdAt,
      updatedAt: e.updatedAt,
      expiresAt: e.expiresAt
    }
  }

  /** The live entries under `prefix`, ordered by namespace, then key. */
  const under = (prefix: Namespace, now: number) =>
    [...items.values()]
      .filter((e) => live(e, now) && startsWith(e.namespace, prefix))
      .sort((a, b) => compareStrings(nsText(a.namespace), nsText(b.namespace)) || compareStrings(a.key, b.key))

  return {
    put: (item, now) =>
      Effect.sync(() => {
        const k = id(item.namespace, item.key)
        const before = items.get(k)
        items.set(k, {
          namespace: [...item.namespace],
          key: item.key,
          json: JSON.stringify(item.value),
          createdAt: before !== undefined && live(before, now) ? before.createdAt : now,
          updatedAt: now,
          ttlMillis: item.ttlMillis,
          expiresAt: item.ttlMillis === undefined ? undefined : now + item.ttlMillis
        })
      }),
    get: (namespace, key, { now, refresh }) =>
      Effect.sync(() => {
        const e = items.get(id(namespace, key))
        return e === undefined || !live(e, now) ? Option.none() : Option.some(read(e, refresh, now))
      }),
    delete: (namespace, key, now) =>
      Effect.sync(() => {
        const k = id(namespace, key)
        const e = items.get(k)
        items.delete(k)
        return e !== undefined && live(e, now)
      }),
    search: (prefix, { filter, limit, now, offset, refresh }) =>
      Effect.sync(() => {
        const found: Array<Entry> = []
        let skipped = 0
        for (const e of under(prefix, now)) {
          if (found.length >= limit) break
          if (filter.length > 0) {
            const value: unknown = JSON.parse(e.json)
            if (!filter.every((c) => holds(value, c))) continue
          }
          if (skipped < offset) {
            skipped++
            continue
          }
          found.push(e)
        }
        return found.map((e) => read(e, refresh, now))
      }),
    namespaces: (prefix, now) =>
      Effect.sync(() => {
        const seen = new Map<string, Namespace>()
        for (const e of under(prefix, now)) seen.set(nsText(e.namespace), e.namespace)
        return [...seen.values()]
      }),
    purgeExpired: (now) =>
      Effect.sync(() => {
        let n = 0
        for (const [k, e] of items) {
          if (!live(e, now)) {
            items.delete(k)
            n++
          }
        }
        return n
      })
  }
}
