/**
 * On Postgres a durable step is one statement: the common commit (head compare-and-set,
 * checkpoint, blobs, execution row) and a pause's settle (records, status, release) are each a
 * data-modifying CTE, no `BEGIN`/`COMMIT`; a refusal is a returned row count. Counted on the
 * client the store runs on, against a real server.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Layer, Schema } from "effect"
import { Channel, Interrupt, StateGraph } from "effect-stategraph"
import * as PgSnapshots from "effect-stategraph/PgSnapshots"
import { cluster, scopedSchema } from "./fixtures.js"

/** The store on a client that counts its statements and its transactions. */
const countingStore = Effect.gen(function*() {
  const schema = yield* scopedSchema("one")
  const counts = { statements: 0, transactions: 0 }
  const counting = Layer.effect(
    SqlClient.SqlClient,
    Effect.map(SqlClient.SqlClient, (sql) =>
      new Proxy(sql, {
        get(target, key, receiver) {
          const value = Reflect.get(target, key, receiver)
          if (key === "unsafe") {
            return (...args: Parameters<typeof sql.unsafe>) => {
              counts.statements++
              return target.unsafe(...args)
            }
          }
          if (key === "withTransaction") {
            return (self: Effect.Effect<unknown, unknown, unknown>) => {
              counts.transactions++
              return target.withTransaction(self)
            }
          }
          return value
        }
      }))
  )
  const layer = yield* Layer.build(
    PgSnapshots.layerClient({ schema }).pipe(
      Layer.provide(counting),
      Layer.provide(PgSnapshots.layerPgClient({ url: cluster().url }))
    )
  )
  const reset = () => {
    counts.statements = 0
    counts.transactions = 0
  }
  return { layer, counts, reset }
})

class Ask extends Interrupt.Tag("OneStatementAsk", { request: Schema.String, response: Schema.String }) {}

describe("PgSnapshots: one statement per durable write", () => {
  it.scopedLive("a 20-step run: one statement per commit, no transaction", () =>
    Effect.gen(function*() {
      const { counts, layer, reset } = yield* countingStore
      const graph = StateGraph.make({ id: "one-loop", state: { n: Channel.lastValue(Schema.Number) } }).pipe(
        StateGraph.addNode("inc", (s) => Effect.succeed({ n: s.n + 1 })),
        StateGraph.addEdge(StateGraph.START, "inc"),
        StateGraph.addConditionalEdges("inc", (s) => (s.n < 20 ? "inc" : StateGraph.END), ["inc", StateGraph.END]),
        StateGraph.compileSync({ recursionLimit: 50 })
      )
      reset()
      const out = yield* Effect.provide(graph.invoke({ n: 0 }, { threadId: "loop" }), layer)
      expect(out.n).toBe(20)
      // the head's load, the input's commit with its claim, 20 step commits (the last releases)
      expect(counts.transactions).toBe(0)
      expect(counts.statements).toBeLessThanOrEqual(23)
      // continued by the next invoke: the claim and the compare-and-set on the stored head
      reset()
      expect((yield* Effect.provide(graph.invoke({ n: 15 }, { threadId: "loop" }), layer)).n).toBe(20)
      expect(counts.transactions).toBe(0)
    }))

  it.scopedLive("a pause is one statement; a resume that answers it checks under the thread's lock (a transaction)", () =>
    Effect.gen(function*() {
      const { counts, layer, reset } = yield* countingStore
      const graph = StateGraph.make({ id: "one-ask", state: { answer: Channel.lastValue(Schema.String) } }).pipe(
        StateGraph.addNode("ask", () => Effect.map(Ask.ask("ok?"), (answer) => ({ answer }))),
        StateGraph.addEdge(StateGraph.START, "ask"),
        StateGraph.addEdge("ask", StateGraph.END),
        StateGraph.compileSync()
      )
      reset()
      const paused = yield* Effect.either(Effect.provide(graph.invoke({ answer: "" }, { threadId: "ask" }), layer))
      expect(Either.isLeft(paused) && paused.left._tag).toBe("GraphInterrupted")
      expect(counts.transactions).toBe(0)
      reset()
      const done = yield* Effect.provide(graph.resume({ threadId: "ask" }, Ask.respond("yes")), layer)
      expect(done.answer).toBe("yes")
      expect(counts.transactions).toBe(1)
      // a second answer to the same question is refused: the question is no longer pending
      const again = yield* Effect.either(Effect.provide(graph.resume({ threadId: "ask" }, Ask.respond("no")), layer))
      expect(Either.isLeft(again)).toBe(true)
    }))
})
