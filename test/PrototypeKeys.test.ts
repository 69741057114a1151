/**
 * Update keys named like Object.prototype members are refused as InvalidUpdate and write nothing
 * — from the input, from updateState and from a node's output — on every store (they died with
 * "codec.validateUpdate is not a function").
 */
import { Effect, Either, Layer, Schema } from "effect"
import { Channel, Snapshots, SqliteSnapshots, StateGraph } from "effect-stategraph"
import { describe, expect, it } from "vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const keys = ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf"]

/** An object with `key` as an own enumerable property, as JSON.parse makes it. */
const withKey = (key: string, value: unknown): Record<string, unknown> =>
  JSON.parse(`{${JSON.stringify(key)}:${JSON.stringify(value)}}`)

const build = (bad: string | undefined) =>
  StateGraph.make({ id: "proto", state: { n: Channel.lastValue(Schema.Number, { initial: () => 0 }) } }).pipe(
    StateGraph.addNode("inc", (s) => Effect.succeed(bad === undefined ? { n: s.n + 1 } : (withKey(bad, 1) as { n: number }))),
    StateGraph.addEdge(StateGraph.START, "inc"),
    StateGraph.compileSync()
  )

const stores: ReadonlyArray<readonly [string, () => Layer.Layer<Snapshots.Snapshots, unknown>]> = [
  ["memory", () => Snapshots.layerMemory],
  ["sqlite", () => SqliteSnapshots.layer({ filename: path.join(fs.mkdtempSync(path.join(os.tmpdir(), "esg-proto-")), "t.db") })]
]

describe.each(stores)("prototype-named keys (%s)", (_, layer) => {
  it.each(keys)("%s: input, updateState and a node's output are InvalidUpdate; nothing is written", async (key) => {
    const result = await Effect.runPromise(
      Effect.gen(function*() {
        const good = build(undefined)
        const input = yield* Effect.either(good.invoke(withKey(key, 1) as { n: number }, { threadId: "fresh" }))
        const freshHistory = yield* Effect.either(good.history("fresh"))
        yield* good.invoke({ n: 1 }, { threadId: "t" })
        const before = yield* good.history("t")
        const update = yield* Effect.either(good.updateState("t", withKey(key, 1) as { n: number }))
        const output = yield* Effect.either(build(key).invoke({ n: 5 }, { threadId: "o" }))
        const after = yield* good.history("t")
        return { input, freshHistory, update, output, before, after, state: yield* good.getState("t") }
      }).pipe(Effect.provide(layer()))
    )
    for (const r of [result.input, result.update, result.output] as ReadonlyArray<Either.Either<unknown, { readonly _tag: string }>>) {
      expect(Either.isLeft(r) && r.left._tag).toBe("InvalidUpdate")
    }
    expect(Either.isLeft(result.freshHistory) && result.freshHistory.left._tag).toBe("ThreadNotFound")
    expect(result.after).toHaveLength(result.before.length)
    expect(result.state.values).toEqual({ n: 2 })
  })
})
