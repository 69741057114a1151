/**
 * Long-term memory: a store of items shared by every thread (LangGraph's `BaseStore`), for what an
 * agent should remember across conversations — a user's preferences, facts it learned, profiles.
 *
 * - Items live in a namespace (`["users", userId, "prefs"]`) under a key; their value is encoded
 *   with its schema when written and decoded with it when read (stored bytes never revive
 *   classes). `search` lists the items under a namespace prefix, filtered on the stored (encoded)
 *   value's top-level fields, a page at a time; `listNamespaces` lists the namespaces in use.
 * - An item may expire: `ttl` on `put` (or a collection's default); reading it (`get`, `search`)
 *   pushes its expiry back by its ttl unless `refreshTtl: false`. Expired items are never returned
 *   and are removed by the next write to them or by `purgeExpired`.
 * - `Memory` is a Context tag: a node that uses it has it in its requirements, so a graph using it
 *   needs a layer to run — `Memory.layerMemory` (one process) or `SqliteMemory.layer(…)`.
 * - Bad input is a typed error: an odd namespace or key, a bad filter or page
 *   (`InvalidMemoryRequest`), a value its schema rejects (`InvalidMemoryValue`), stored bytes that
 *   are not an item (`CorruptMemoryItem`), a failing database (`StoreError`).
 *
 * ```ts
 * const Preference = Schema.Struct({ language: Schema.String })
 * const prefs = Memory.collection(Preference)
 * yield* prefs.put(["users", "ada"], "language", { language: "fr" })
 * const item = yield* prefs.get(["users", "ada"], "language") // Option<Memory.Item<{ language: string }>>
 * ```
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type { StoreError } from "./GraphError.js"
import { jsonIssue } from "./internal/channel.js"
import * as inMemory from "./internal/memory/inMemory.js"
import * as validate from "./internal/memory/validate.js"

// ---------------------------------------------------------------------------------------------
// models
// ---------------------------------------------------------------------------------------------

/**
 * A path of labels (`["users", "ada", "prefs"]`): each a non-empty string without control
 * characters, at most 64 labels of at most 256 characters each.
 *
 * @since 0.1.0
 * @category models
 */
export type Namespace = ReadonlyArray<string>

/**
 * An item as read back: its value decoded with the collection's schema.
 *
 * @since 0.1.0
 * @category models
 */
export interface Item<A> {
  readonly namespace: Namespace
  readonly key: string
  readonly value: A
  readonly createdAt: Date
  readonly updatedAt: Date
  /** when it expires (after the refresh this read made), if it has a ttl */
  readonly expiresAt: Date | undefined
}

/**
 * A comparison on one field of the stored value: `$eq` and `$ne` take any JSON scalar, the
 * ranges a number or a string (compared with values of the same type only).
 *
 * @since 0.1.0
 * @category models
 */
export interface Operators<V> {
  readonly $eq?: V
  readonly $ne?: V
  readonly $gt?: V
  readonly $gte?: V
  readonly $lt?: V
  readonly $lte?: V
}

type Scalar = string | number | boolean | null

/**
 * A search filter on the encoded value's top-level fields: a field's value (equality) or
 * `Operators`; all conditions must hold. Only fields holding JSON scalars can be compared.
 *
 * @since 0.1.0
 * @category models
 */
export type Filter<I> = [I] extends [object] ? {
    readonly [K in keyof I as I[K] extends Scalar | undefined ? K : never]?:
      | Exclude<I[K], undefined>
      | Operators<Exclude<I[K], undefined>>
  }
  : never

/**
 * @since 0.1.0
 * @category models
 */
export interface SearchOptions<I> {
  readonly filter?: Filter<I>
  /** at most this many items (default 10) */
  readonly limit?: number
  /** skip this many items first (default 0); items come ordered by namespace, then key */
  readonly offset?: number
  /** push back the expiry of the items read (default true) */
  readonly refreshTtl?: boolean
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ListNamespacesOptions {
  /** only namespaces starting with these labels */
  readonly prefix?: Namespace
  /** only namespaces ending with these labels */
  readonly suffix?: Namespace
  /** cut namespaces to this many labels (duplicates merged) */
  readonly maxDepth?: number
  /** default 100 */
  readonly limit?: number
  readonly offset?: number
}

// ---------------------------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------------------------

/**
 * A namespace, key, filter, page or ttl that is not valid; nothing was read or written.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidMemoryRequest extends Schema.TaggedError<InvalidMemoryRequest>()("InvalidMemoryRequest", {
  operation: Schema.String,
  reason: Schema.Literal("namespace", "key", "filter", "page", "ttl"),
  issue: Schema.String
}) {
  override get message() {
    return `Memory.${this.operation}: invalid ${this.reason}: ${this.issue}`
  }
}

/**
 * A value its schema rejects: on `put` (nothing was written), or a stored value that does not
 * decode with the schema it is read with.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidMemoryValue extends Schema.TaggedError<InvalidMemoryValue>()("InvalidMemoryValue", {
  operation: Schema.String,
  namespace: Schema.Array(Schema.String),
  key: Schema.String,
  issue: Schema.String
}) {
  override get message() {
    return `Memory.${this.operation}: the value of ${JSON.stringify([...this.namespace, this.key])} does not fit its schema: ${this.issue}`
  }
}

/**
 * Stored bytes that are not an item (a value that is not JSON, a namespace that does not parse):
 * the row was written or changed behind the store's back.
 *
 * @since 0.1.0
 * @category errors
 */
export class CorruptMemoryItem extends Schema.TaggedError<CorruptMemoryItem>()("CorruptMemoryItem", {
  namespace: Schema.String,
  key: Schema.String,
  issue: Schema.String
}) {
  override get message() {
    return `corrupt memory item ${this.namespace} / ${JSON.stringify(this.key)}: ${this.issue}`
  }
}

/**
 * @since 0.1.0
 * @category errors
 */
export type MemoryError = InvalidMemoryRequest | InvalidMemoryValue | CorruptMemoryItem | StoreError

// ---------------------------------------------------------------------------------------------
// the service: an encoded backend
// ---------------------------------------------------------------------------------------------

/**
 * An item as a backend stores it: the value encoded (JSON), times in ms since the epoch.
 *
 * @since 0.1.0
 * @category models
 */
export interface StoredItem {
  readonly namespace: Namespace
  readonly key: string
  readonly value: unknown
  readonly createdAt: number
  readonly updatedAt: number
  readonly expiresAt: number | undefined
}

/**
 * What a backend implements. Requests arrive validated (namespaces, keys, filters, pages), with
 * the current time; values are JSON. A backend decodes nothing with user schemas.
 *
 * @since 0.1.0
 * @category models
 */
export interface Backend {
  readonly put: (
    item: { readonly namespace: Namespace; readonly key: string; readonly value: unknown; readonly ttlMillis: number | undefined },
    now: number
  ) => Effect.Effect<void, StoreError>
  readonly get: (
    namespace: Namespace,
    key: string,
    options: { readonly refresh: boolean; readonly now: number }
  ) => Effect.Effect<Option.Option<StoredItem>, StoreError | CorruptMemoryItem>
  /** true when a live item was removed */
  readonly delete: (namespace: Namespace, key: string, now: number) => Effect.Effect<boolean, StoreError>
  readonly search: (
    prefix: Namespace,
    options: {
      readonly filter: ReadonlyArray<validate.Condition>
      readonly limit: number
      readonly offset: number
      readonly refresh: boolean
      readonly now: number
    }
  ) => Effect.Effect<ReadonlyArray<StoredItem>, StoreError | CorruptMemoryItem>
  /** every distinct namespace holding a live item under `prefix`, in order */
  readonly namespaces: (prefix: Namespace, now: number) => Effect.Effect<ReadonlyArray<Namespace>, StoreError | CorruptMemoryItem>
  /** removes the expired items; how many */
  readonly purgeExpired: (now: number) => Effect.Effect<number, StoreError>
}

/**
 * The long-term memory store, shared by every thread and graph.
 *
 * @since 0.1.0
 * @category tags
 */
export class Memory extends Context.Tag("effect-stategraph/Memory")<Memory, Backend>() {}

/**
 * An in-process store: for tests, scripts and one process; gone when the process ends. Values
 * are held as JSON text, like a database holds them.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<Memory> = Layer.sync(Memory, inMemory.make)

// ---------------------------------------------------------------------------------------------
// the typed facade
// ---------------------------------------------------------------------------------------------

/** A check's refusal as the typed error of `operation`. */
const check = <A>(operation: string, checked: Either.Either<A, validate.Issue>): Effect.Effect<A, InvalidMemoryRequest> =>
  Either.isRight(checked)
    ? Effect.succeed(checked.right)
    : Effect.fail(new InvalidMemoryRequest({ operation, reason: checked.left.reason, issue: checked.left.issue }))

/**
 * Typed access to the items of one schema, wherever they live.
 *
 * @since 0.1.0
 * @category models
 */
export interface Collection<A, I> {
  readonly schema: Schema.Schema<A, I, never>
  /** Writes (or replaces) the item; `ttl` overrides the collection's default (`null`: none). */
  readonly put: (
    namespace: Namespace,
    key: string,
    value: NoInfer<A>,
    options?: { readonly ttl?: Duration.DurationInput | null }
  ) => Effect.Effect<void, MemoryError, Memory>
  readonly get: (
    namespace: Namespace,
    key: string,
    options?: { readonly refreshTtl?: boolean }
  ) => Effect.Effect<Option.Option<Item<A>>, MemoryError, Memory>
  /** The items under `prefix` (`[]`: everywhere), decoded with this collection's schema. */
  readonly search: (prefix: Namespace, options?: SearchOptions<I>) => Effect.Effect<ReadonlyArray<Item<A>>, MemoryError, Memory>
}

/**
 * Typed access to items whose values have this schema. `ttl`: the default expiry of the items
 * it writes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const collection = <A, I>(
  schema: Schema.Schema<A, I, never>,
  options?: { readonly ttl?: Duration.DurationInput }
): Collection<A, I> => {
  const encode = ParseResult.encodeUnknownEither(schema)
  const decode = ParseResult.decodeUnknownEither(schema)
  const defaultTtl = options?.ttl
  const decodeItem = (operation: string) => (item: StoredItem): Effect.Effect<Item<A>, InvalidMemoryValue> => {
    const value = decode(item.value, { onExcessProperty: "ignore" })
    if (value._tag === "Left") {
      return Effect.fail(
        new InvalidMemoryValue({ operation, namespace: [...item.namespace], key: item.key, issue: ParseResult.TreeFormatter.formatIssueSync(value.left) })
      )
    }
    return Effect.succeed({
      namespace: item.namespace,
      key: item.key,
      value: value.right,
      createdAt: new Date(item.createdAt),
      updatedAt: new Date(item.updatedAt),
      expiresAt: item.expiresAt === undefined ? undefined : new Date(item.expiresAt)
    })
  }
  return {
    schema,
    put: Effect.fn("Memory.put")(function*(namespace, key, value, putOptions) {
      const ns = yield* check("put", validate.namespace(namespace, false))
      const k = yield* check("put", validate.key(key))
      const ttl = putOptions?.ttl === undefined ? defaultTtl : putOptions.ttl ?? undefined
      const ttlMillis = ttl === undefined ? undefined : yield* check("put", validate.ttl(ttl))
      const encoded = encode(value)
      if (encoded._tag === "Left") {
        return yield* new InvalidMemoryValue({ operation: "put", namespace: [...ns], key: k, issue: ParseResult.TreeFormatter.formatIssueSync(encoded.left) })
      }
      const issue = jsonIssue(encoded.right)
      if (issue !== undefined) return yield* new InvalidMemoryValue({ operation: "put", namespace: [...ns], key: k, issue })
      const backend = yield* Memory
      yield* backend.put({ namespace: ns, key: k, value: encoded.right, ttlMillis }, yield* Clock.currentTimeMillis)
    }),
    get: Effect.fn("Memory.get")(function*(namespace, key, getOptions) {
      const ns = yield* check("get", validate.namespace(namespace, false))
      const k = yield* check("get", validate.key(key))
      const backend = yield* Memory
      const stored = yield* backend.get(ns, k, { refresh: getOptions?.refreshTtl ?? true, now: yield* Clock.currentTimeMillis })
      if (Option.isNone(stored)) return Option.none()
      return Option.some(yield* decodeItem("get")(stored.value))
    }),
    search: Effect.fn("Memory.search")(function*(prefix, searchOptions) {
      const ns = yield* check("search", validate.namespace(prefix, true))
      const filter = yield* check("search", validate.filter(searchOptions?.filter))
      const limit = yield* check("search", validate.page("limit", searchOptions?.limit, 10))
      const offset = yield* check("search", validate.page("offset", searchOptions?.offset, 0))
      const backend = yield* Memory
      const rows = yield* backend.search(ns, {
        filter,
        limit,
        offset,
        refresh: searchOptions?.refreshTtl ?? true,
        now: yield* Clock.currentTimeMillis
      })
      return yield* Effect.forEach(rows, decodeItem("search"))
    })
  }
}

/**
 * Removes an item, whatever its schema; true when there was one.
 *
 * @since 0.1.0
 * @category operations
 */
export const remove: (namespace: Namespace, key: string) => Effect.Effect<boolean, MemoryError, Memory> = Effect.fn(
  "Memory.delete"
)(function*(namespace: Namespace, key: string) {
  const ns = yield* check("delete", validate.namespace(namespace, false))
  const k = yield* check("delete", validate.key(key))
  const backend = yield* Memory
  return yield* backend.delete(ns, k, yield* Clock.currentTimeMillis)
})

export {
  /**
   * `remove`, under LangGraph's name.
   *
   * @since 0.1.0
   * @category operations
   */
  remove as delete
}

/**
 * The namespaces holding live items, in order: under `prefix`, ending with `suffix`, cut to
 * `maxDepth` labels.
 *
 * @since 0.1.0
 * @category operations
 */
export const listNamespaces: (options?: ListNamespacesOptions) => Effect.Effect<ReadonlyArray<Namespace>, MemoryError, Memory> =
  Effect.fn("Memory.listNamespaces")(function*(options?: ListNamespacesOptions) {
    const prefix = yield* check("listNamespaces", validate.namespace(options?.prefix ?? [], true))
    const suffix = yield* check("listNamespaces", validate.namespace(options?.suffix ?? [], true))
    const limit = yield* check("listNamespaces", validate.page("limit", options?.limit, 100))
    const offset = yield* check("listNamespaces", validate.page("offset", options?.offset, 0))
    const maxDepth = options?.maxDepth === undefined
      ? undefined
      : yield* check("listNamespaces", validate.page("maxDepth", options.maxDepth, 0))
    const backend = yield* Memory
    const all = yield* backend.namespaces(prefix, yield* Clock.currentTimeMillis)
    return validate.shapeNamespaces(all, { suffix, maxDepth }).slice(offset, offset + limit)
  })

/**
 * Removes every expired item now (reads skip them anyway); how many were removed.
 *
 * @since 0.1.0
 * @category operations
 */
export const purgeExpired: Effect.Effect<number, StoreError, Memory> = Effect.gen(function*() {
  const backend = yield* Memory
  return yield* backend.purgeExpired(yield* Clock.currentTimeMillis)
}).pipe(Effect.withSpan("Memory.purgeExpired"))

