/**
 * One contract for every long-term `Memory` backend (memory, SQLite, later Postgres): typed
 * values, namespaces, search with filters and pages, namespace listings, ttl (on the TestClock),
 * bad input as typed errors, and a graph whose nodes share memories across threads.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, type Layer, Option, Schema, type Scope, TestClock } from "effect"
import { Channel, Memory, StateGraph } from "effect-stategraph"

export interface MemoryContractOptions<R> {
  /** Another handle on the same store (another connection, as another process would have). */
  readonly sibling?: Effect.Effect<Memory.Backend, unknown, R | Scope.Scope>
  /**
   * Rewrites the stored row of an item behind the store's back: `value` to bytes that are not
   * JSON, `namespace` to text that is not a namespace, `columns` to a row without an item's types.
   */
  readonly tamper?: (namespace: Memory.Namespace, key: string, kind: "value" | "namespace" | "columns") => Effect.Effect<void, unknown, R>
}

const Pref = Schema.Struct({ theme: Schema.String, size: Schema.Number, beta: Schema.optional(Schema.Boolean) })
const prefs = Memory.collection(Pref)
const anything = Memory.collection(Schema.Unknown)

const failure = <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.map(Effect.either(self), (e) => Either.getLeft(e).pipe(Option.getOrThrow))

export const memoryContract = <R>(name: string, layer: Layer.Layer<Memory.Memory | R, unknown>, options: MemoryContractOptions<R> = {}) =>
  describe(name, () => {
    const run = <A, E>(self: Effect.Effect<A, E, Memory.Memory | R>) => Effect.provide(self, layer)

    it.effect("puts, gets, replaces and deletes typed items", () =>
      run(Effect.gen(function*() {
        expect(Option.isNone(yield* prefs.get(["users", "ada"], "ui"))).toBe(true)
        yield* prefs.put(["users", "ada"], "ui", { theme: "dark", size: 12 })
        yield* TestClock.adjust("1 second")
        yield* prefs.put(["users", "ada"], "ui", { theme: "light", size: 14, beta: true })
        const item = Option.getOrThrow(yield* prefs.get(["users", "ada"], "ui"))
        expect(item).toEqual({
          namespace: ["users", "ada"],
          key: "ui",
          value: { theme: "light", size: 14, beta: true },
          createdAt: new Date(0),
          updatedAt: new Date(1000),
          expiresAt: undefined
        })
        expect(yield* Memory.delete(["users", "ada"], "ui")).toBe(true)
        expect(yield* Memory.remove(["users", "ada"], "ui")).toBe(false)
        expect(Option.isNone(yield* prefs.get(["users", "ada"], "ui"))).toBe(true)
      })))

    it.effect("stores the encoded value and decodes it with the schema it is read with", () =>
      run(Effect.gen(function*() {
        class Visit extends Schema.Class<Visit>("Visit")({ at: Schema.Date, page: Schema.String }) {
          get label() {
            return `${this.page}@${this.at.toISOString()}`
          }
        }
        const visits = Memory.collection(Visit)
        const value = new Visit({ at: new Date(5), page: "/home" })
        yield* visits.put(["visits"], "last", value)
        const back = Option.getOrThrow(yield* visits.get(["visits"], "last")).value
        expect(back).toBeInstanceOf(Visit)
        expect(back.label).toBe("/home@1970-01-01T00:00:00.005Z")
        // what is stored is plain JSON: read without the class schema, no class comes back
        const raw = Option.getOrThrow(yield* anything.get(["visits"], "last")).value
        expect(raw).toEqual({ at: "1970-01-01T00:00:00.005Z", page: "/home" })
        expect(Object.getPrototypeOf(raw)).toBe(Object.prototype)
        // a caller mutating its value after put changes nothing stored
        const mutable = { theme: "dark", size: 1 }
        yield* prefs.put(["m"], "k", mutable)
        mutable.size = 99
        expect(Option.getOrThrow(yield* prefs.get(["m"], "k")).value.size).toBe(1)
      })))

    it.effect("a value its schema rejects is a typed error, on put and on read, and writes nothing", () =>
      run(Effect.gen(function*() {
        const bad = yield* failure(prefs.put(["u"], "k", { theme: 1 } as never))
        expect(bad._tag).toBe("InvalidMemoryValue")
        const nan = yield* failure(prefs.put(["u"], "k", { theme: "x", size: NaN }))
        expect(nan).toMatchObject({ _tag: "InvalidMemoryValue", namespace: ["u"], key: "k" })
        const cyclic: Record<string, unknown> = {}
        cyclic.self = cyclic
        expect((yield* failure(anything.put(["u"], "k", cyclic)))._tag).toBe("InvalidMemoryValue")
        expect(Option.isNone(yield* anything.get(["u"], "k"))).toBe(true)
        // stored under another schema
        yield* anything.put(["u"], "k", { theme: "x" })
        const read = yield* failure(prefs.get(["u"], "k"))
        expect(read).toMatchObject({ _tag: "InvalidMemoryValue", operation: "get", namespace: ["u"], key: "k" })
        expect((yield* failure(prefs.search(["u"])))._tag).toBe("InvalidMemoryValue")
      })))

    it.effect("odd namespaces, keys, filters and pages are typed errors", () =>
      run(Effect.gen(function*() {
        const odd: ReadonlyArray<unknown> = [
          [],
          [""],
          ["a", "b\u0000"],
          ["a\n"],
          ["a\u001fb"],
          ["\uD800"],
          "users",
          ["users", 1],
          null,
          Array.from({ length: 65 }, () => "x"),
          ["x".repeat(257)]
        ]
        for (const ns of odd) {
          const e = yield* failure(prefs.put(ns as Memory.Namespace, "k", { theme: "t", size: 1 }))
          expect(e).toMatchObject({ _tag: "InvalidMemoryRequest", reason: "namespace", operation: "put" })
          expect((yield* failure(prefs.get(ns as Memory.Namespace, "k")))._tag).toBe("InvalidMemoryRequest")
        }
        for (const key of ["", 1, undefined, "\uDC00"]) {
          expect(yield* failure(prefs.put(["a"], key as string, { theme: "t", size: 1 }))).toMatchObject({ reason: "key" })
        }
        expect(yield* failure(prefs.search([""]))).toMatchObject({ reason: "namespace", operation: "search" })
        for (const filter of [{ theme: { $like: "x" } }, { theme: ["a"] }, { size: { $gt: true } }, { size: Infinity }, { size: {} }, "theme"]) {
          expect(yield* failure(prefs.search([], { filter: filter as never }))).toMatchObject({ reason: "filter" })
        }
        for (const page of [{ limit: -1 }, { offset: 1.5 }, { limit: NaN }]) {
          expect(yield* failure(prefs.search([], page))).toMatchObject({ reason: "page" })
        }
        for (const ttl of [0, -5, Infinity]) {
          expect(yield* failure(prefs.put(["a"], "k", { theme: "t", size: 1 }, { ttl }))).toMatchObject({ reason: "ttl" })
        }
        expect(yield* failure(Memory.listNamespaces({ maxDepth: -1 }))).toMatchObject({ reason: "page" })
        // nothing was written
        expect(yield* Memory.listNamespaces()).toEqual([])
      })))

    it.effect("search: under a prefix (labels, not characters), ordered, paged", () =>
      run(Effect.gen(function*() {
        const at = (ns: Memory.Namespace, key: string, size: number) => prefs.put(ns, key, { theme: "t", size })
        yield* at(["users", "bob"], "b", 1)
        yield* at(["users", "ada"], "b", 2)
        yield* at(["users", "ada"], "a", 3)
        yield* at(["users", "ada", "deep"], "a", 4)
        yield* at(["user"], "x", 5)
        yield* at(["users2"], "x", 6)
        yield* at(["users\"", "q"], "x", 7)
        yield* at(["a.b", "c"], "x", 8)
        const sizes = (items: ReadonlyArray<Memory.Item<typeof Pref.Type>>) => items.map((i) => i.value.size)
        expect(sizes(yield* prefs.search(["users"], { limit: 100 })).sort()).toEqual([1, 2, 3, 4])
        expect(sizes(yield* prefs.search(["users", "ada"])).sort()).toEqual([2, 3, 4])
        expect(sizes(yield* prefs.search(["user"]))).toEqual([5])
        expect(sizes(yield* prefs.search(["users\""]))).toEqual([7])
        expect(sizes(yield* prefs.search(["a.b"]))).toEqual([8])
        expect(sizes(yield* prefs.search(["a"]))).toEqual([])
        expect((yield* prefs.search([], { limit: 100 })).length).toBe(8)
        // a namespace comes before the ones under it
        expect((yield* prefs.search([], { limit: 6 })).map((i) => i.namespace.join("/"))).toEqual(["a.b/c", "user", "users/ada", "users/ada", "users/ada/deep", "users/bob"])
        // the default page is 10 items
        for (let i = 0; i < 12; i++) yield* at(["many"], `k${String(i).padStart(2, "0")}`, i)
        expect((yield* prefs.search(["many"])).map((i) => i.key)).toEqual(Array.from({ length: 10 }, (_, i) => `k${String(i).padStart(2, "0")}`))
        expect((yield* prefs.search(["many"], { offset: 10 })).map((i) => i.key)).toEqual(["k10", "k11"])
        expect((yield* prefs.search(["many"], { limit: 3, offset: 4 })).map((i) => i.key)).toEqual(["k04", "k05", "k06"])
        expect(yield* prefs.search(["many"], { limit: 0 })).toEqual([])
        // the same order on every backend: by namespace, then key
        const all = (yield* prefs.search(["users"], { limit: 100 })).map((i) => [...i.namespace, i.key].join("/"))
        expect(all).toEqual(["users/ada/a", "users/ada/b", "users/ada/deep/a", "users/bob/b"])
      })))

    it.effect("search filters on the stored value's fields", () =>
      run(Effect.gen(function*() {
        const Doc = Schema.Struct({
          kind: Schema.String,
          n: Schema.Number,
          ok: Schema.Boolean,
          note: Schema.NullOr(Schema.String),
          tags: Schema.optional(Schema.Array(Schema.String)),
          at: Schema.optional(Schema.Date)
        })
        const docs = Memory.collection(Doc)
        yield* docs.put(["d"], "1", { kind: "a", n: 1, ok: true, note: null })
        yield* docs.put(["d"], "2", { kind: "b", n: 2.5, ok: false, note: "x", tags: ["t"] })
        yield* docs.put(["d"], "3", { kind: "a", n: 3, ok: false, note: "y", at: new Date(0) })
        yield* docs.put(["e"], "4", { kind: "a", n: 4, ok: true, note: null })
        const keys = (filter: Memory.Filter<typeof Doc.Encoded>) => Effect.map(docs.search(["d"], { filter }), (items) => items.map((i) => i.key))
        expect(yield* keys({ kind: "a" })).toEqual(["1", "3"])
        expect(yield* keys({ kind: "a", ok: false })).toEqual(["3"])
        expect(yield* keys({ ok: true })).toEqual(["1"])
        expect(yield* keys({ note: null })).toEqual(["1"])
        expect(yield* keys({ note: { $ne: null } })).toEqual(["2", "3"])
        expect(yield* keys({ n: { $gt: 1 } })).toEqual(["2", "3"])
        expect(yield* keys({ n: { $gte: 1, $lt: 3 } })).toEqual(["1", "2"])
        expect(yield* keys({ n: { $lte: 2.5 } })).toEqual(["1", "2"])
        expect(yield* keys({ n: 2.5 })).toEqual(["2"])
        expect(yield* keys({ kind: { $gt: "a" } })).toEqual(["2"])
        expect(yield* keys({ kind: { $ne: "a" } })).toEqual(["2"])
        // the encoded value: a Date is stored as its ISO string
        expect(yield* keys({ at: "1970-01-01T00:00:00.000Z" })).toEqual(["3"])
        // a field of another type, or missing, never matches (and $ne counts it as different)
        expect(yield* keys({ n: "1" } as never)).toEqual([])
        expect(yield* keys({ ok: 1 } as never)).toEqual([])
        expect(yield* keys({ kind: { $ne: 1 } } as never)).toEqual(["1", "2", "3"])
        expect(yield* keys({ missing: "x" } as never)).toEqual([])
        expect(yield* keys({ tags: { $ne: "t" } } as never)).toEqual(["1", "2", "3"])
        // filter, then page
        expect((yield* docs.search([], { filter: { kind: "a" }, limit: 2, offset: 1 })).map((i) => i.key)).toEqual(["3", "4"])
      })))

    it.effect("listNamespaces: prefix, suffix, maxDepth, pages", () =>
      run(Effect.gen(function*() {
        for (const ns of [["users", "ada", "prefs"], ["users", "bob", "prefs"], ["users", "bob", "notes"], ["docs"], ["users", "ada", "prefs"]]) {
          yield* anything.put(ns, `k${ns.length}`, 1)
        }
        expect(yield* Memory.listNamespaces()).toEqual([["docs"], ["users", "ada", "prefs"], ["users", "bob", "notes"], ["users", "bob", "prefs"]])
        expect(yield* Memory.listNamespaces({ prefix: ["users", "bob"] })).toEqual([["users", "bob", "notes"], ["users", "bob", "prefs"]])
        expect(yield* Memory.listNamespaces({ suffix: ["prefs"] })).toEqual([["users", "ada", "prefs"], ["users", "bob", "prefs"]])
        expect(yield* Memory.listNamespaces({ maxDepth: 2 })).toEqual([["docs"], ["users", "ada"], ["users", "bob"]])
        expect(yield* Memory.listNamespaces({ maxDepth: 2, limit: 1, offset: 1 })).toEqual([["users", "ada"]])
        yield* Memory.delete(["docs"], "k1")
        expect(yield* Memory.listNamespaces({ maxDepth: 1 })).toEqual([["users"]])
      })))

    it.effect("ttl: items expire, reads push the expiry back, purgeExpired removes them", () =>
      run(Effect.gen(function*() {
        yield* prefs.put(["t"], "a", { theme: "x", size: 1 }, { ttl: "1 minute" })
        yield* prefs.put(["t"], "b", { theme: "x", size: 2 }, { ttl: "1 minute" })
        yield* prefs.put(["t"], "forever", { theme: "x", size: 3 })
        yield* TestClock.adjust("40 seconds")
        // a read refreshes a: it now expires at 100 s
        expect(Option.getOrThrow(yield* prefs.get(["t"], "a")).expiresAt).toEqual(new Date(100_000))
        // b is read without refreshing
        expect(Option.getOrThrow(yield* prefs.get(["t"], "b", { refreshTtl: false })).expiresAt).toEqual(new Date(60_000))
        yield* TestClock.adjust("30 seconds") // 70 s
        expect(Option.isSome(yield* prefs.get(["t"], "a", { refreshTtl: false }))).toBe(true)
        expect(Option.isNone(yield* prefs.get(["t"], "b"))).toBe(true)
        expect((yield* prefs.search(["t"], { refreshTtl: false })).map((i) => i.key)).toEqual(["a", "forever"])
        // a search refreshes what it returns
        expect((yield* prefs.search(["t"], { limit: 1 })).map((i) => [i.key, i.expiresAt])).toEqual([["a", new Date(130_000)]])
        yield* TestClock.adjust("50 seconds") // 120 s
        expect(Option.isSome(yield* prefs.get(["t"], "a", { refreshTtl: false }))).toBe(true)
        expect(yield* Memory.listNamespaces()).toEqual([["t"]])
        yield* TestClock.adjust("20 seconds") // 140 s: a has expired too
        expect((yield* prefs.search(["t"])).map((i) => i.key)).toEqual(["forever"])
        expect(yield* Memory.delete(["t"], "a")).toBe(false)
        expect(yield* Memory.purgeExpired).toBe(1) // b (a was deleted)
        expect(yield* Memory.purgeExpired).toBe(0)
        // an expired item written again is a new item
        yield* prefs.put(["t"], "c", { theme: "x", size: 1 }, { ttl: "1 second" })
        yield* TestClock.adjust("2 seconds")
        yield* prefs.put(["t"], "c", { theme: "x", size: 2 })
        const c = Option.getOrThrow(yield* prefs.get(["t"], "c"))
        expect([c.createdAt, c.expiresAt]).toEqual([new Date(142_000), undefined])
      })))

    it.effect("a collection's default ttl, overridden per put", () =>
      run(Effect.gen(function*() {
        const session = Memory.collection(Schema.String, { ttl: "10 seconds" })
        yield* session.put(["s"], "a", "expires")
        yield* session.put(["s"], "b", "longer", { ttl: "1 hour" })
        yield* session.put(["s"], "c", "never", { ttl: null })
        yield* TestClock.adjust("11 seconds")
        expect((yield* session.search(["s"])).map((i) => i.value)).toEqual(["longer", "never"])
      })))

    it.effect("a graph's nodes share memories across threads", () =>
      run(Effect.gen(function*() {
        const Language = Memory.collection(Schema.Struct({ language: Schema.String }))
        const graph = StateGraph.make({
          id: "memory-contract",
          state: { user: Channel.lastValue(Schema.String), said: Channel.lastValue(Schema.String), reply: Channel.lastValue(Schema.String, { initial: () => "" }) }
        }).pipe(
          StateGraph.addNode("answer", (s) =>
            Effect.gen(function*() {
              const said = /speak (\w+)/.exec(s.said)
              if (said) yield* Language.put(["users", s.user], "language", { language: said[1]! })
              const known = yield* Language.get(["users", s.user], "language")
              return { reply: Option.match(known, { onNone: () => "hello", onSome: (i) => `hello in ${i.value.language}` }) }
            })),
          StateGraph.addEdge(StateGraph.START, "answer"),
          StateGraph.compileSync()
        )
        expect((yield* graph.invoke({ user: "ada", said: "I speak French" })).reply).toBe("hello in French")
        expect((yield* graph.invoke({ user: "ada", said: "hi" })).reply).toBe("hello in French")
        expect((yield* graph.invoke({ user: "bob", said: "hi" })).reply).toBe("hello")
      })))

    const sibling = options.sibling
    if (sibling !== undefined) {
      it.effect("another connection sees the items", () =>
        run(Effect.scoped(Effect.gen(function*() {
          yield* prefs.put(["shared"], "k", { theme: "dark", size: 1 })
          const other = yield* sibling
          const item = yield* Effect.provideService(prefs.get(["shared"], "k"), Memory.Memory, other)
          expect(Option.getOrThrow(item).value.theme).toBe("dark")
          yield* Effect.provideService(prefs.put(["shared"], "k", { theme: "light", size: 2 }), Memory.Memory, other)
          expect(Option.getOrThrow(yield* prefs.get(["shared"], "k")).value.theme).toBe("light")
        }))))
    }

    const tamper = options.tamper
    if (tamper !== undefined) {
      for (const kind of ["value", "namespace", "columns"] as const) {
        it.effect(`a tampered row (${kind}) is CorruptMemoryItem, never a defect`, () =>
          run(Effect.gen(function*() {
            yield* prefs.put(["x"], "k", { theme: "dark", size: 1 })
            yield* tamper(["x"], "k", kind)
            if (kind === "namespace") {
              expect(Option.isNone(yield* prefs.get(["x"], "k"))).toBe(true)
            } else {
              expect(yield* failure(prefs.get(["x"], "k"))).toMatchObject({ _tag: "CorruptMemoryItem", key: "k" })
              expect(yield* failure(prefs.get(["x"], "k", { refreshTtl: false }))).toMatchObject({ _tag: "CorruptMemoryItem" })
              expect(yield* failure(prefs.search(["x"]))).toMatchObject({ _tag: "CorruptMemoryItem" })
            }
            expect(yield* failure(prefs.search([]))).toMatchObject({ _tag: "CorruptMemoryItem" })
            if (kind === "namespace") expect(yield* failure(Memory.listNamespaces())).toMatchObject({ _tag: "CorruptMemoryItem" })
          })))
      }
    }
  })
