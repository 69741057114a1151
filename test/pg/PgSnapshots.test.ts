/**
 * What only the Postgres store has, on the run's real server: storage bytes and chain length of a
 * long thread, tampered rows as `CorruptSnapshot`, a run continued by another process's store,
 * the schema option, many stores migrating one schema at once, and the single writer across
 * pools racing on one thread.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Either, Layer, Option, Schema } from "effect"
import { Channel, Interrupt, Snapshots, StateGraph } from "effect-stategraph"
import * as PgSnapshots from "effect-stategraph/PgSnapshots"
import { admin, cluster, scopedSchema } from "./fixtures.js"

class Schema_ extends Context.Tag("test/PgSchema")<Schema_, string>() {}

const fresh = (options: PgSnapshots.Options = {}) =>
  Layer.unwrapScoped(Effect.gen(function*() {
    const schema = yield* scopedSchema("pgs")
    return Layer.merge(PgSnapshots.layer({ url: cluster().url, schema, ...options }), Layer.succeed(Schema_, schema))
  }))

/** Raw SQL on the test's schema (`S.x` is its table `stategraph_x`) through a separate client. */
const exec = (statement: string, params: ReadonlyArray<unknown> = []) =>
  Effect.flatMap(Schema_, (schema) =>
    admin((sql) => sql.unsafe(statement.replaceAll("S.", `"${schema}".stategraph_`), params as Array<any>)))

const storeIn = (schema: string) =>
  Effect.map(Layer.build(PgSnapshots.layer({ url: cluster().url, schema })), (ctx) => Context.get(ctx, Snapshots.Snapshots))

const snapshot = (threadId: string, checkpointId: string, parent: string | null, step: number) => ({
  executionId: "e",
  workflowId: "wf",
  workflowVersion: "v",
  threadId,
  checkpointId,
  parentCheckpointId: parent,
  step,
  status: "running" as const,
  createdAt: step,
  channels: {},
  versions: {},
  tasks: [],
  joins: {},
  nodeStates: {},
  interrupts: [],
  pendingWrites: [],
  metadata: {}
})

describe("PgSnapshots storage", () => {
  it.scoped("appends are stored incrementally: ~2× the payload, a short chain for the head", () =>
    Effect.gen(function*() {
      const store = yield* Snapshots.Snapshots
      yield* store.claim("chat", "run", { workflowId: "wf", leaseMillis: 60_000 })
      let head: string | null = null
      let payload = 0
      for (let i = 0; i < 1000; i++) {
        const id = `cp-${String(i).padStart(5, "0")}`
        const message = { role: i % 2 === 0 ? "user" : "assistant", content: `${i} `.padEnd(200, "x") }
        payload += JSON.stringify(message).length
        yield* store.commit({
          threadId: "chat",
          runId: "run",
          expectedHead: head,
          snapshot: snapshot("chat", id, head, i),
          writes: [{ channel: "messages", mode: i === 0 ? "set" : "append", value: [message] }]
        })
        head = id
      }
      const loaded = yield* store.load("chat")
      expect(Option.getOrThrow(loaded).channels.messages).toHaveLength(1000)
      const rows = yield* exec(`SELECT count(*)::int AS n, sum(length(data))::int AS bytes FROM S.blobs WHERE thread_id = 'chat'`)
      const { bytes } = rows[0] as { n: number; bytes: number }
      // every item once per level it reached (two levels below 1,024 appends), not once per checkpoint
      expect(bytes).toBeLessThan(2.2 * payload)
      const chain = yield* exec(
        `WITH RECURSIVE chain (id) AS (
           SELECT channels::jsonb -> 'messages' ->> 0 FROM S.checkpoints WHERE checkpoint_id = 'cp-00999'
           UNION ALL
           SELECT b.prev FROM chain c JOIN S.blobs b ON b.thread_id = 'chat' AND b.channel = 'messages' AND b.blob_id = c.id
           WHERE b.prev IS NOT NULL
         ) SELECT count(*)::int AS n FROM chain`
      )
      expect((chain[0] as { n: number }).n).toBeLessThanOrEqual(63)
    }).pipe(Effect.provide(fresh())))

  it.scoped("every table lives in the configured schema; another schema on the same database is another store", () =>
    Effect.gen(function*() {
      const a = yield* scopedSchema("sa")
      const b = yield* scopedSchema("sb")
      const storeA = yield* storeIn(a)
      const storeB = yield* storeIn(b)
      yield* storeA.claim("t", "run", { workflowId: "wf", leaseMillis: 60_000 })
      yield* storeA.commit({ threadId: "t", runId: "run", expectedHead: null, snapshot: snapshot("t", "cp-1", null, 0), writes: [] })
      expect(Option.isSome(yield* storeA.load("t"))).toBe(true)
      expect(Option.isNone(yield* storeB.load("t"))).toBe(true)
      const tables = yield* admin((sql) =>
        sql.unsafe(`SELECT table_schema, table_name FROM information_schema.tables WHERE table_name LIKE 'stategraph_%' AND table_schema IN ($1, $2, 'public')`, [a, b]))
      expect(tables.filter((t: any) => t.table_schema === "public")).toEqual([])
      expect(new Set(tables.map((t: any) => t.table_name))).toContain("stategraph_checkpoints")
      expect(tables.filter((t: any) => t.table_schema === a).length).toBe(tables.filter((t: any) => t.table_schema === b).length)
    }))

  it.scoped("a schema name that is not a plain identifier is a StoreError, nothing created", () =>
    Effect.gen(function*() {
      for (const schema of ["Bad-Name", "x\"; DROP TABLE y; --", ""]) {
        const error = yield* Effect.flip(Layer.build(PgSnapshots.layer({ url: cluster().url, schema })))
        expect(error._tag).toBe("StoreError")
      }
    }))

  it.scoped("an unreachable server is a StoreError (open), not a defect", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Layer.build(PgSnapshots.layer({ url: "postgres://postgres@127.0.0.1:1/postgres", connectTimeout: "2 seconds" })))
      expect(error._tag).toBe("StoreError")
    }))

  it.scoped("eight stores migrating one new schema at the same moment: all open, the migrations ran once", () =>
    Effect.gen(function*() {
      const schema = yield* scopedSchema("mig")
      const stores = yield* Effect.all(Array.from({ length: 8 }, () => storeIn(schema)), { concurrency: "unbounded" })
      expect(stores).toHaveLength(8)
      const rows = yield* admin((sql) => sql.unsafe(`SELECT migration_id FROM "${schema}".stategraph_migrations`))
      expect(rows).toEqual([{ migration_id: 1 }])
    }))

  it.scoped("a single writer across pools: 6 stores race to claim and commit one thread, 20 rounds; one wins each round", () =>
    Effect.gen(function*() {
      const schema = yield* scopedSchema("race")
      const stores = yield* Effect.all(Array.from({ length: 6 }, () => storeIn(schema)), { concurrency: "unbounded" })
      let wins = 0
      let refused = 0
      for (let round = 0; round < 20; round++) {
        const threadId = `t-${round}`
        const outcomes = yield* Effect.all(stores.map((store, i) =>
          Effect.either(store.commit({
            threadId,
            runId: `run-${i}`,
            expectedHead: null,
            snapshot: snapshot(threadId, `cp-${i}`, null, 0),
            writes: [{ channel: "n", mode: "set", value: i }],
            claim: { workflowId: "wf", leaseMillis: 60_000 },
            release: true
          }))), { concurrency: "unbounded" })
        const won = outcomes.filter(Either.isRight).length
        for (const o of outcomes) if (Either.isLeft(o)) expect(o.left._tag).toBe("ThreadBusy")
        expect(won).toBe(1)
        wins += won
        refused += outcomes.length - won
        const rows = yield* admin((sql) => sql.unsafe(`SELECT count(*)::int AS n FROM "${schema}".stategraph_checkpoints WHERE thread_id = $1`, [threadId]))
        expect(rows).toEqual([{ n: 1 }])
      }
      console.log(`pg single writer: ${wins} winners, ${refused} refused over 20 rounds of 6 pools`)
    }))
})

describe("PgSnapshots: tampered rows are a CorruptSnapshot, and a run that wrote nothing leaves no row", () => {
  class Ok extends Interrupt.Tag("PgTamperOk", { request: Schema.String, response: Schema.Boolean }) {}
  const graph = StateGraph.make({ id: "pg-tamper", state: { n: Channel.lastValue(Schema.Number, { initial: () => 0 }) } }).pipe(
    StateGraph.addNode("inc", (s) => Effect.succeed({ n: s.n + 1 })),
    StateGraph.addNode("ask", () => Effect.map(Ok.ask("go?"), (ok) => ({ n: ok ? 10 : -1 }))),
    StateGraph.addEdge(StateGraph.START, "inc"),
    StateGraph.addEdge("inc", "ask"),
    StateGraph.compileSync()
  )

  it.scoped("a paused thread's tampered task records are a CorruptSnapshot on read and on resume", () =>
    Effect.gen(function*() {
      for (const threadId of ["a", "b"]) yield* Effect.flip(graph.invoke({ n: 1 }, { threadId }))
      const rows = yield* exec(`SELECT record FROM S.tasks WHERE thread_id = 'a'`)
      expect(JSON.parse((rows[0] as { record: string }).record)).toMatchObject({ node: "ask", status: "interrupted" })
      for (const bad of ['{"taskId": [', '{"taskId": 1}']) {
        yield* exec(`UPDATE S.tasks SET record = $1 WHERE thread_id = 'a'`, [bad])
        const failure = yield* Effect.flip(graph.getState("a"))
        expect(failure._tag).toBe("CorruptSnapshot")
        expect((yield* Effect.flip(graph.resume({ threadId: "a" }, Ok.respond(true))))._tag).toBe("CorruptSnapshot")
      }
      expect(yield* graph.resume({ threadId: "b" }, Ok.respond(true))).toEqual({ n: 10 })
    }).pipe(Effect.provide(fresh())))

  it.scoped("a parent_id naming a missing checkpoint: history is a CorruptSnapshot, not a shorter lineage", () =>
    Effect.gen(function*() {
      yield* Effect.flip(graph.invoke({ n: 1 }, { threadId: "p" }))
      const whole = yield* graph.history("p")
      expect(whole.length).toBeGreaterThanOrEqual(2)
      const middle = whole[whole.length - 2]!.checkpointId
      yield* exec(`UPDATE S.checkpoints SET parent_id = 'cp-gone' WHERE thread_id = 'p' AND checkpoint_id = $1`, [middle])
      const error = yield* Effect.flip(graph.history("p"))
      expect(error._tag).toBe("CorruptSnapshot")
      if (error._tag === "CorruptSnapshot") expect(error.issue).toContain("cp-gone")
      const store = yield* Snapshots.Snapshots
      expect((yield* graph.getState("p")).status).toBe("paused")
      expect(yield* store.history("p", { checkpointId: "cp-unknown" })).toEqual([])
      expect(yield* store.history("nobody")).toEqual([])
      // a cycle of tampered links ends the walk instead of looping
      yield* exec(`UPDATE S.checkpoints SET parent_id = $1 WHERE thread_id = 'p' AND checkpoint_id = $1`, [middle])
      expect((yield* store.history("p")).length).toBeLessThanOrEqual(whole.length)
    }).pipe(Effect.provide(fresh())))

  it.scoped("a stored interrupt whose taskId was altered: CorruptSnapshot on read and on resume, nothing written", () =>
    Effect.gen(function*() {
      yield* Effect.flip(graph.invoke({ n: 1 }, { threadId: "i" }))
      const before = yield* exec(`SELECT count(*)::int AS n FROM S.tasks`)
      yield* exec(
        `UPDATE S.checkpoints SET interrupts = jsonb_set(interrupts::jsonb, '{0,taskId}', '"not-a-task"')::text
         WHERE thread_id = 'i' AND checkpoint_id = (SELECT head FROM S.threads WHERE thread_id = 'i')`
      )
      expect((yield* Effect.flip(graph.getState("i")))._tag).toBe("CorruptSnapshot")
      expect((yield* Effect.flip(graph.resume({ threadId: "i" }, Ok.respond(true))))._tag).toBe("CorruptSnapshot")
      expect(yield* exec(`SELECT count(*)::int AS n FROM S.tasks`)).toEqual(before)
    }).pipe(Effect.provide(fresh())))

  it.scoped("invoke(null) on an unknown thread leaves no thread row", () =>
    Effect.gen(function*() {
      expect((yield* Effect.flip(graph.invoke(null, { threadId: "ghost" })))._tag).toBe("ThreadNotFound")
      expect(yield* exec(`SELECT count(*)::int AS n FROM S.threads`)).toEqual([{ n: 0 }])
    }).pipe(Effect.provide(fresh())))
})

describe("PgSnapshots: a run continued by another store (another process)", () => {
  class Go extends Interrupt.Tag("PgContinueGo", { request: Schema.String, response: Schema.Number }) {}
  const Message = Schema.Struct({ text: Schema.String })
  const graph = StateGraph.make({
    id: "pg-continue",
    state: { n: Channel.lastValue(Schema.Number, { initial: () => 0 }), log: Channel.append(Message) }
  }).pipe(
    StateGraph.addNode("first", (s) => Effect.succeed({ n: s.n + 1, log: [{ text: "x".repeat(300) }] })),
    StateGraph.addNode("ask", () => Effect.map(Go.ask("how many?"), (k) => ({ n: k }))),
    StateGraph.addNode("last", (s) => Effect.succeed({ n: s.n * 2, log: [{ text: "done" }] })),
    StateGraph.addEdge(StateGraph.START, "first"),
    StateGraph.addEdge("first", "ask"),
    StateGraph.addEdge("ask", "last"),
    StateGraph.compileSync()
  )

  it.scoped("the second store loads the head and commits on top of it: values and history are whole", () =>
    Effect.gen(function*() {
      const schema = yield* scopedSchema("cont")
      const layer = () => PgSnapshots.layer({ url: cluster().url, schema })
      const paused = yield* Effect.flip(graph.invoke({ log: [{ text: "hello" }] }, { threadId: "c" })).pipe(Effect.provide(layer()))
      expect(paused._tag).toBe("GraphInterrupted")
      const { history, out } = yield* Effect.gen(function*() {
        const out = yield* graph.resume({ threadId: "c" }, Go.respond(20))
        return { out, history: yield* graph.history("c") }
      }).pipe(Effect.provide(layer()))
      expect(out.n).toBe(40)
      expect(out.log.map((m) => m.text)).toEqual(["hello", "x".repeat(300), "done"])
      for (let i = 1; i < history.length; i++) {
        const newer = history[i - 1]!.values.log
        expect(newer.slice(0, history[i]!.values.log.length)).toEqual(history[i]!.values.log)
      }
      expect(history[0]!.values).toEqual(out)
    }))
})
