/**
 * Property-based: arbitrary JSON-ish values, values JSON cannot hold, prototype-named keys and
 * answer-shaped objects thrown at `invoke`, `updateState` and `resume`, on every store. Each call
 * either round-trips the value faithfully or fails with a typed error and writes nothing — never
 * a defect.
 */
import { Cause, Effect, Exit, Layer, Schema } from "effect"
import * as fc from "effect/FastCheck"
import { Channel, Interrupt, Snapshots, SqliteSnapshots, StateGraph } from "effect-stategraph"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"

class Ask extends Interrupt.Tag("PropertyAsk", {
  request: Schema.Struct({ n: Schema.Number }),
  response: Schema.Struct({ ok: Schema.Boolean })
}) {}

const graph = StateGraph.make({
  id: "property",
  state: { data: Channel.lastValue(Schema.Unknown, { initial: () => null }), log: Channel.append(Schema.String) }
}).pipe(
  StateGraph.addNode("ask", () => Effect.map(Ask.ask({ n: 1 }), (a) => ({ log: [`ok=${a.ok}`] }))),
  StateGraph.addEdge(StateGraph.START, "ask"),
  StateGraph.compileSync()
)

const typed = new Set(["InvalidUpdate", "InvalidResumeValue", "UnknownInterrupt", "InterruptAlreadyAnswered", "GraphInterrupted"])

/** A value JSON cannot hold faithfully, somewhere inside a JSON value. */
const deep = (levels: number, leaf: unknown) => {
  let v: unknown = leaf
  for (let i = 0; i < levels; i++) v = i % 2 === 0 ? [v] : { k: v }
  return v
}
const cyclic = () => {
  const o: Record<string, unknown> = { a: 1 }
  o["self"] = { back: o }
  return o
}
const unstorable = fc.oneof(
  fc.constant(Number.NaN),
  fc.constant(Number.POSITIVE_INFINITY),
  fc.constant(Number.NEGATIVE_INFINITY),
  fc.bigInt(),
  fc.integer({ min: 1_001, max: 10_000 }).map((n) => deep(n, 1)),
  fc.integer({ min: 65, max: 200 }).map((n) => deep(n, Number.NaN)),
  fc.constant(null).map(cyclic)
)
/** `bad` placed at a random spot of a JSON object. */
const embedded = fc.tuple(fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 3 })), fc.string({ maxLength: 4 }), unstorable)
  .map(([o, key, bad]) => ({ ...o, [key]: { inner: [bad] } }))
const protoKeys = fc.constantFrom("__proto__", "constructor", "toString", "hasOwnProperty", "valueOf")
  .map((k) => JSON.parse(`{${JSON.stringify(k)}:1}`) as Record<string, unknown>)
const answerShaped = fc.oneof(
  fc.record({ _tag: fc.constant("Answer") }),
  fc.record({ _tag: fc.constant("Answer"), kind: fc.constantFrom("PropertyAsk", "Nope"), id: fc.option(fc.string(), { nil: undefined }), value: fc.jsonValue() }),
  fc.record({ _tag: fc.constant("Answer"), kind: fc.constant("PropertyAsk"), value: fc.jsonValue(), definition: fc.jsonValue() }),
  // a real answer after a JSON round trip (what an HTTP client sends)
  fc.boolean().map((ok) => JSON.parse(JSON.stringify(Ask.respond({ ok })))),
  fc.jsonValue()
)

/** Runs `effect`; a defect fails the property with its cause. */
const outcome = <A, E>(exit: Exit.Exit<A, E>) => {
  if (Exit.isSuccess(exit)) return { ok: true as const, value: exit.value }
  const failure = Cause.failureOption(exit.cause)
  if (failure._tag === "None") throw new Error(`a defect: ${Cause.pretty(exit.cause)}`)
  const tag = (failure.value as { _tag?: string })._tag ?? String(failure.value)
  expect(typed.has(tag), `a typed error, got ${tag}`).toBe(true)
  return { ok: false as const, tag }
}

const stores: ReadonlyArray<readonly [string, () => Layer.Layer<Snapshots.Snapshots, unknown>]> = [
  ["memory", () => Snapshots.layerMemory],
  ["sqlite", () => SqliteSnapshots.layer({ filename: path.join(fs.mkdtempSync(path.join(os.tmpdir(), "esg-property-")), "t.db") })]
]

describe.each(stores)("bad input, property-based (%s)", (_, layer) => {
  // each run of a property is self-contained: its own threads, in a store built for it
  const store = layer()
  it("JSON values round-trip through invoke and updateState; values JSON cannot hold are InvalidUpdate and write nothing", async () => {
    let n = 0
    await fc.assert(
          fc.asyncProperty(fc.oneof(fc.jsonValue(), embedded, unstorable, protoKeys), async (value) => {
            const threadId = `t-${n++}`
            await Effect.runPromise(Effect.gen(function*() {
              const invoked = outcome(yield* Effect.exit(graph.invoke({ data: value }, { threadId })))
              const history = yield* Effect.exit(graph.history(threadId))
              if (invoked.ok || invoked.tag === "GraphInterrupted") {
                // stored: reads back as JSON would carry it
                const state = yield* graph.getState(threadId)
                expect(JSON.stringify(state.values.data)).toBe(JSON.stringify(value))
              } else {
                expect(invoked.tag).toBe("InvalidUpdate")
                expect(Exit.isFailure(history)).toBe(true)
              }
              // the same value written onto an existing thread
              const seeded = `${threadId}-u`
              yield* Effect.exit(graph.invoke({ data: 1 }, { threadId: seeded }))
              const before = yield* graph.history(seeded)
              const updated = outcome(yield* Effect.exit(graph.updateState(seeded, { data: value })))
              const after = yield* graph.history(seeded)
              if (updated.ok) expect(JSON.stringify((yield* graph.getState(seeded)).values.data)).toBe(JSON.stringify(value))
              else expect(after).toHaveLength(before.length)
            }).pipe(Effect.provide(store)))
          }),
          { numRuns: 60 }
        )
  }, 120_000)

  it("answer-shaped objects given to resume: a typed refusal that writes nothing, or the answer itself", async () => {
    let n = 0
    await fc.assert(
      fc.asyncProperty(answerShaped, async (answer) => {
        const threadId = `r-${n++}`
        await Effect.runPromise(Effect.gen(function*() {
          yield* Effect.exit(graph.invoke({ data: 1 }, { threadId }))
          const before = yield* graph.history(threadId)
          const resumed = outcome(yield* Effect.exit(graph.resume({ threadId }, answer as never)))
          const after = yield* graph.history(threadId)
          if (!resumed.ok) {
            expect(after).toHaveLength(before.length)
            expect((yield* graph.getState(threadId)).status).toBe("paused")
          } else {
            expect((yield* graph.getState(threadId)).values.log).toEqual([`ok=${(answer as { value: { ok: boolean } }).value.ok}`])
          }
        }).pipe(Effect.provide(store)))
      }),
      { numRuns: 60 }
    )
  }, 120_000)

})
