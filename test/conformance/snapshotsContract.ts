/**
 * One contract for every `Snapshots` backend (memory, SQLite, later Postgres): what LangGraph's
 * checkpoint-validation checks of a checkpointer, plus single-writer, lease expiry, cleanup
 * lineage, corrupt rows, and real graphs run against the store.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Either, type Layer, Option, Ref, Schema, type Scope } from "effect"
import { Channel, GraphError, Interrupt, Snapshots, StateGraph, Task } from "effect-stategraph"
import type { ChannelWrite } from "effect-stategraph/Snapshots"
import type { TaskRecord, WorkflowSnapshotEncoded } from "effect-stategraph/Snapshot"

type Backend = Snapshots.Backend

/** What a backend's test file provides. */
export interface ContractOptions<R> {
  /** Another handle on the same store (another connection, as another process would have). */
  readonly sibling?: Effect.Effect<Backend, unknown, R | Scope.Scope>
  /**
   * Rewrites stored bytes of a checkpoint behind the store's back:
   * - `json`: a JSON column that no longer parses,
   * - `shape`: valid JSON of the wrong shape (a status that does not exist),
   * - `value`: the stored bytes of a channel value,
   * - `lineage`: deletes a stored part the checkpoint's values are rebuilt from.
   */
  readonly tamper?: (
    threadId: string,
    checkpointId: string,
    kind: "json" | "shape" | "value" | "lineage"
  ) => Effect.Effect<void, unknown, R>
}

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

const snapshot = (
  threadId: string,
  checkpointId: string,
  parentCheckpointId: string | null,
  o: Partial<WorkflowSnapshotEncoded> = {}
): WorkflowSnapshotEncoded => ({
  executionId: "exec-1",
  workflowId: "wf",
  workflowVersion: "v1",
  threadId,
  checkpointId,
  parentCheckpointId,
  step: 0,
  status: "running",
  createdAt: 1_000,
  channels: {},
  versions: {},
  tasks: [],
  joins: {},
  nodeStates: {},
  interrupts: [],
  pendingWrites: [],
  metadata: {},
  ...o
})

const set = (channel: string, value: unknown): ChannelWrite => ({ channel, mode: "set", value })
const append = (channel: string, ...items: ReadonlyArray<unknown>): ChannelWrite => ({ channel, mode: "append", value: items })

const id = (n: number) => `cp-${String(n).padStart(4, "0")}`

/** A run that owns a thread and commits a linear chain of checkpoints. */
const writer = (store: Backend, threadId: string, runId = "run-1") => {
  let head: string | null = null
  let step = 0
  return {
    get head() {
      return head
    },
    claim: (leaseMillis = 60_000) =>
      Effect.tap(store.claim(threadId, runId, { workflowId: "wf", leaseMillis }), (h) =>
        Effect.sync(() => {
          head = h
        })),
    commit: (checkpointId: string, writes: ReadonlyArray<ChannelWrite>, o: Partial<WorkflowSnapshotEncoded> = {}) => {
      const s = snapshot(threadId, checkpointId, o.parentCheckpointId !== undefined ? o.parentCheckpointId : head, {
        step: step,
        createdAt: 1_000 + step,
        ...o
      })
      return Effect.map(store.commit({ threadId, runId, expectedHead: head, snapshot: s, writes }), () => {
        head = checkpointId
        step++
        return s
      })
    },
    release: store.release(threadId, runId)
  }
}

const taskRecord = (taskId: string, o: Partial<TaskRecord> = {}): TaskRecord => ({
  taskId,
  node: "a",
  status: "done",
  writes: [["log", ["x"]]],
  gotos: [],
  answers: [],
  journal: [],
  ...o
})

/** The tag of the error, or "succeeded". */
const busyOf = <A, E extends { readonly _tag: string }, R>(self: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.either(self), (e) => (Either.isLeft(e) ? e.left._tag : "succeeded"))

const claim = { workflowId: "wf", leaseMillis: 60_000 }

/** Thread "t": run a commits checkpoint 1 with task x, pauses it on the question x#0 and lets the claim go. */
const pausedOnX = (store: Backend) =>
  Effect.gen(function*() {
    const a = writer(store, "t", "run-a")
    yield* a.claim()
    yield* a.commit(id(1), [set("n", 1)], { tasks: [{ id: "x", node: "a", send: false }] })
    const first = { id: "x#0", kind: "K", request: 1, node: "a", taskId: "x", status: "pending" as const }
    yield* store.settle("t", "run-a", id(1), { records: [], patch: { status: "paused", interrupts: [first], pauseReason: "interrupt" }, release: true })
    return first
  })

const sleep = (millis: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, millis)))

const load = (store: Backend, threadId: string, checkpointId?: string) =>
  Effect.flatMap(store.load(threadId, checkpointId), (o) =>
    Option.isSome(o) ? Effect.succeed(o.value) : Effect.dieMessage(`no checkpoint ${checkpointId ?? "head"} of ${threadId}`))

const statusMatches = (status: string, filter: Snapshots.ListOptions["status"]) =>
  filter === undefined || (typeof filter === "string" ? status === filter : filter.includes(status as any))

/** The reference semantics of the list filters. */
const reference = (rows: ReadonlyArray<WorkflowSnapshotEncoded>, o: Snapshots.ListOptions) => {
  let out = rows.filter((r) => o.before === undefined || r.checkpointId < o.before)
  out = out.filter((r) => statusMatches(r.status, o.status))
  return o.limit === undefined ? out : out.slice(0, o.limit)
}

const ids = (rows: ReadonlyArray<WorkflowSnapshotEncoded>) => rows.map((r) => r.checkpointId)

// ---------------------------------------------------------------------------------------------
// real graphs
// ---------------------------------------------------------------------------------------------

class Approval extends Interrupt.Tag("ContractApproval", {
  request: Schema.Struct({ draft: Schema.String }),
  response: Schema.Struct({ approved: Schema.Boolean })
}) {}

const Message = Schema.Struct({ role: Schema.Literal("user", "assistant"), content: Schema.String })

const chatGraph = () =>
  StateGraph.make({ id: "contract-chat", state: { messages: Channel.append(Message), turns: Channel.reduce(Schema.Number, (a, b) => a + b, () => 0) } }).pipe(
    StateGraph.addNode("bot", (s) =>
      Effect.succeed({ messages: [{ role: "assistant" as const, content: `reply ${s.messages.length}` }], turns: 1 })),
    StateGraph.addEdge(StateGraph.START, "bot"),
    StateGraph.addEdge("bot", StateGraph.END),
    StateGraph.compile()
  )

const approvalGraph = (runs: Ref.Ref<number>) =>
  StateGraph.make({
    id: "contract-approval",
    state: {
      draft: Channel.lastValue(Schema.String, { initial: () => "" }),
      log: Channel.append(Schema.String),
      published: Channel.lastValue(Schema.Boolean, { initial: () => false })
    }
  }).pipe(
    StateGraph.addNode("write", () => Effect.as(Ref.update(runs, (n) => n + 1), { draft: "v1", log: ["write"] })),
    StateGraph.addNode("review", (s) =>
      Effect.gen(function*() {
        const answer = yield* Approval.ask({ draft: s.draft })
        return { published: answer.approved, log: ["review"] }
      })),
    StateGraph.addEdge(StateGraph.START, "write"),
    StateGraph.addEdge("write", "review"),
    StateGraph.addEdge("review", StateGraph.END),
    StateGraph.compile()
  )

/** A loop with a parallel fan-out each round: appends from two tasks per step. */
const loopGraph = (rounds: number) =>
  StateGraph.make({
    id: "contract-loop",
    state: {
      n: Channel.lastValue(Schema.Number),
      log: Channel.append(Schema.String)
    }
  }).pipe(
    StateGraph.addNode("left", (s) => Effect.succeed({ log: [`L${s.n}`] })),
    StateGraph.addNode("right", (s) => Effect.succeed({ log: [`R${s.n}`] })),
    StateGraph.addNode("next", (s) => Effect.succeed({ n: s.n + 1 })),
    StateGraph.addEdge(StateGraph.START, "left"),
    StateGraph.addEdge(StateGraph.START, "right"),
    StateGraph.addEdge(["left", "right"], "next"),
    StateGraph.addConditionalEdges("next", (s) => (s.n < rounds ? ["left", "right"] : StateGraph.END), ["left", "right", StateGraph.END]),
    StateGraph.compile({ recursionLimit: 10 * rounds + 10 })
  )

// ---------------------------------------------------------------------------------------------
// the suite
// ---------------------------------------------------------------------------------------------

/**
 * Runs the contract against `layer`, which must build a fresh, empty store each time it is
 * provided (each test provides it once).
 */
export const snapshotsContract = <R>(
  name: string,
  layer: Layer.Layer<Snapshots.Snapshots | R, unknown>,
  options: ContractOptions<R> = {}
) =>
  describe(name, () => {
    const test = (title: string, body: (store: Backend) => Effect.Effect<void, unknown, R | Scope.Scope | Snapshots.Snapshots>) =>
      it.scoped(title, () =>
        Effect.flatMap(Snapshots.Snapshots, body).pipe(Effect.provide(layer)) as Effect.Effect<void, unknown, Scope.Scope>)

    // ----- put / get -------------------------------------------------------------------------

    test("put / get round trip: the loaded checkpoint is the committed one, unaltered", (store) =>
      Effect.gen(function*() {
        const w = writer(store, "t")
        expect(yield* w.claim()).toBeNull()
        const committed = yield* w.commit(id(1), [set("draft", { title: "héllo 🌍", tags: ["a", null, 1.5] }), append("log", "x", { y: [1] })], {
          executionId: "exec-9",
          workflowVersion: "abc123",
          step: 7,
          status: "paused",
          versions: { draft: 1, log: 1 },
          tasks: [{ id: "task-1", node: "review", send: false }, { id: "task-2", node: "map", send: true, arg: { item: 3 } }],
          joins: { "join-1": ["a"] },
          nodeStates: {
            write: { nodeId: "write", status: "completed", output: { draft: "x" }, injected: false, executionOrder: 1, attempts: 1, metadata: { k: "v" } },
            review: { nodeId: "review", status: "interrupted", injected: false, executionOrder: 0, attempts: 0, metadata: {} }
          },
          interrupts: [{ id: "i-1", kind: "Approval", request: { draft: "x" }, node: "review", taskId: "task-1", status: "pending" }],
          initialInput: { draft: "start" },
          error: "boom",
          pauseReason: "interrupt",
          wakeAt: 123_456,
          metadata: { source: "input", nested: { deep: [true, false] } }
        })
        const loaded = yield* load(store, "t", id(1))
        expect(loaded).toEqual({
          ...committed,
          channels: { draft: { title: "héllo 🌍", tags: ["a", null, 1.5] }, log: ["x", { y: [1] }] }
        })
        // JSON-equal too: nothing revived, nothing added
        expect(JSON.parse(JSON.stringify(loaded))).toEqual(loaded)
        expect(yield* load(store, "t")).toEqual(loaded)
      }))

    test("optional fields stay absent", (store) =>
      Effect.gen(function*() {
        const w = writer(store, "t")
        yield* w.claim()
        yield* w.commit(id(1), [])
        const loaded = yield* load(store, "t")
        for (const k of ["initialInput", "error", "pauseReason", "wakeAt"]) expect(k in loaded).toBe(false)
        expect(loaded.channels).toEqual({})
      }))

    test("parent links, latest vs by id", (store) =>
      Effect.gen(function*() {
        const w = writer(store, "t")
        yield* w.claim()
        for (let i = 1; i <= 3; i++) yield* w.commit(id(i), [set("n", i)])
        expect((yield* load(store, "t")).checkpointId).toBe(id(3))
        expect((yield* load(store, "t", id(1))).parentCheckpointId).toBeNull()
        expect((yield* load(store, "t", id(2))).parentCheckpointId).toBe(id(1))
        expect((yield* load(store, "t", id(3))).parentCheckpointId).toBe(id(2))
        expect((yield* load(store, "t", id(2))).channels).toEqual({ n: 2 })
        expect(ids(yield* store.history("t"))).toEqual([id(3), id(2), id(1)])
        expect(ids(yield* store.history("t", { checkpointId: id(2) }))).toEqual([id(2), id(1)])
      }))

    test("unknown thread or checkpoint: none, empty lists", (store) =>
      Effect.gen(function*() {
        expect(Option.isNone(yield* store.load("nope"))).toBe(true)
        expect(Option.isNone(yield* store.load("nope", id(1)))).toBe(true)
        expect(yield* store.history("nope")).toEqual([])
        expect(yield* store.listByThread("nope")).toEqual([])
        expect(yield* store.listByWorkflow("nope")).toEqual([])
        const w = writer(store, "t")
        yield* w.claim()
        // a claimed thread with no checkpoint yet is not listed
        expect(yield* store.listThreads()).toEqual([])
        yield* w.commit(id(1), [])
        expect(Option.isNone(yield* store.load("t", id(9)))).toBe(true)
        expect(yield* store.history("t", { checkpointId: id(9) })).toEqual([])
      }))

    // ----- pending writes ----------------------------------------------------------------------

    test("pending writes are returned with their checkpoint, in order; a task's record replaces its previous one", (store) =>
      Effect.gen(function*() {
        const w = writer(store, "t")
        yield* w.claim()
        yield* w.commit(id(1), [])
        yield* store.putTask("t", "run-1", id(1), taskRecord("a"))
        yield* w.commit(id(2), [])
        yield* store.putTask("t", "run-1", id(2), taskRecord("b"))
        yield* store.putTask("t", "run-1", id(2), taskRecord("c", { status: "interrupted", writes: [], answers: [{ ok: 1 }] }))
        yield* store.putTask("t", "run-1", id(2), taskRecord("b", { journal: ["j1"] }))
        expect((yield* load(store, "t", id(1))).pendingWrites).toEqual([taskRecord("a")])
        expect((yield* load(store, "t", id(2))).pendingWrites).toEqual([
          taskRecord("c", { status: "interrupted", writes: [], answers: [{ ok: 1 }] }),
          taskRecord("b", { journal: ["j1"] })
        ])
        // only the owner writes, only on a checkpoint of the thread
        expect((yield* Effect.flip(store.putTask("t", "other", id(2), taskRecord("z"))))._tag).toBe("ThreadBusy")
        expect((yield* Effect.flip(store.putTask("t", "run-1", id(9), taskRecord("z"))))._tag).toBe("ThreadBusy")
        expect((yield* load(store, "t", id(2))).pendingWrites).toHaveLength(2)
      }))

    test("setStatus patches the checkpoint (absent keys kept, undefined keys removed); owner only", (store) =>
      Effect.gen(function*() {
        const w = writer(store, "t")
        yield* w.claim()
        // a pending question belongs to a task of its checkpoint
        yield* w.commit(id(1), [set("n", 1)], { error: "old", tasks: [{ id: "x", node: "a", send: false }] })
        const interrupts = [{ id: "i", kind: "K", request: 1, node: "a", taskId: "x", status: "pending" as const }]
        yield* store.setStatus("t", "run-1", id(1), { status: "paused", interrupts, pauseReason: "sleeping", wakeAt: 5_000 })
        let cp = yield* load(store, "t")
        expect(cp.status).toBe("paused")
        expect(cp.interrupts).toEqual(interrupts)
        expect(cp.error).toBe("old")
        expect(cp.pauseReason).toBe("sleeping")
        expect(cp.wakeAt).toBe(5_000)
        expect(cp.channels).toEqual({ n: 1 })
        const [summary] = yield* store.listThreads()
        expect(summary).toMatchObject({ threadId: "t", head: id(1), status: "paused", wakeAt: 5_000 })
        yield* store.setStatus("t", "run-1", id(1), {
          status: "running",
          interrupts: [],
          error: undefined,
          pauseReason: undefined,
          wakeAt: undefined,
          nodeStates: { a: { nodeId: "a", status: "running", injected: false, executionOrder: 0, attempts: 1, metadata: {} } }
        })
        cp = yield* load(store, "t")
        expect(cp.status).toBe("running")
        for (const k of ["error", "pauseReason", "wakeAt"]) expect(k in cp).toBe(false)
        expect(Object.keys(cp.nodeStates)).toEqual(["a"])
        expect((yield* Effect.flip(store.setStatus("t", "other", id(1), { status: "failed", interrupts: [] })))._tag).toBe("ThreadBusy")
        expect((yield* Effect.flip(store.setStatus("t", "run-1", id(7), { status: "failed", interrupts: [] })))._tag).toBe("ThreadBusy")
        expect((yield* load(store, "t")).status).toBe("running")
      }))

    // ----- incremental channels -------------------------------------------------------------

    test("channels are carried over from ancestors; appends rebuild the whole value at every checkpoint", (store) =>
      Effect.gen(function*() {
        const w = writer(store, "t")
        yield* w.claim()
        const expected: Array<Record<string, unknown>> = []
        let log: Array<unknown> = []
        let draft: unknown = undefined
        for (let i = 0; i < 150; i++) {
          const writes: Array<ChannelWrite> = []
          if (i === 0) {
            writes.push(set("title", "fixed"))
            writes.push(set("log", ["seed"]))
            log = ["seed"]
          } else if (i === 90) {
            // a whole value replaces the appended history; appends continue on top of it
            writes.push(set("log", ["reset"]))
            log = ["reset"]
          } else if (i % 7 !== 3) {
            const items = i % 5 === 0 ? [] : i % 3 === 0 ? [`m${i}`, { n: i }] : [`m${i}`]
            writes.push(append("log", ...items))
            log = log.concat(items)
          }
          if (i % 10 === 0) {
            draft = { v: i }
            writes.push(set("draft", draft))
          }
          yield* w.commit(id(i), writes)
          expected.push({ title: "fixed", log, ...(draft !== undefined ? { draft } : {}) })
        }
        for (let i = 0; i < 150; i++) expect((yield* load(store, "t", id(i))).channels).toEqual(expected[i])
        const history = yield* store.history("t")
        expect(history.map((h) => h.channels)).toEqual([...expected].reverse())
      }))

    test("a branch (commit from an older checkpoint) keeps both lineages' values", (store) =>
      Effect.gen(function*() {
        const w = writer(store, "t")
        yield* w.claim()
        for (let i = 1; i <= 40; i++) yield* w.commit(id(i), [append("log", i), set("n", i)])
        // fork from cp-0010: the head moves to the branch, whose parent is cp-0010
        yield* w.commit(id(41), [append("log", "b1")], { parentCheckpointId: id(10) })
        for (let i = 42; i <= 80; i++) yield* w.commit(id(i), [append("log", `b${i}`)])
        const branch = yield* load(store, "t")
        expect(branch.channels.n).toBe(10)
        expect(branch.channels.log).toEqual([...Array.from({ length: 10 }, (_, k) => k + 1), "b1", ...Array.from({ length: 39 }, (_, k) => `b${k + 42}`)])
        expect((yield* load(store, "t", id(40))).channels.log).toEqual(Array.from({ length: 40 }, (_, k) => k + 1))
        expect(ids(yield* store.history("t"))).toEqual([...Array.from({ length: 40 }, (_, k) => id(80 - k)), ...Array.from({ length: 10 }, (_, k) => id(10 - k))])
        expect(yield* store.listByThread("t")).toHaveLength(80)
      }))

    // ----- lists -------------------------------------------------------------------------------

    test("listByThread and history: every combination of limit / before / status", (store) =>
      Effect.gen(function*() {
        const w = writer(store, "t")
        yield* w.claim()
        const statuses = ["running", "running", "paused", "running", "failed", "completed"] as const
        const rows: Array<WorkflowSnapshotEncoded> = []
        for (let i = 0; i < statuses.length; i++) rows.push(yield* w.commit(id(i + 1), [set("n", i)], { status: statuses[i] }))
        // a branch from cp-0002 becomes the head
        rows.push(yield* w.commit(id(7), [set("n", 99)], { parentCheckpointId: id(2), status: "completed" }))
        const other = writer(store, "u", "run-2")
        yield* other.claim()
        yield* other.commit(id(3), [set("n", 0)])
        const withValues = rows.map((r, i) => ({ ...r, channels: { n: i === 6 ? 99 : i } }))
        const newestFirst = [...withValues].reverse()
        const lineage = [withValues[6]!, withValues[1]!, withValues[0]!]
        const fromCp6 = [...withValues.slice(0, 6)].reverse()
        for (const limit of [undefined, 0, 1, 2, 10]) {
          for (const before of [undefined, id(1), id(3), id(7), id(9)]) {
            for (const status of [undefined, "running" as const, ["paused", "completed"] as const, [] as const]) {
              const o: Snapshots.ListOptions = {
                ...(limit !== undefined ? { limit } : {}),
                ...(before !== undefined ? { before } : {}),
                ...(status !== undefined ? { status } : {})
              }
              expect(yield* store.listByThread("t", o)).toEqual(reference(newestFirst, o))
              expect(yield* store.history("t", o)).toEqual(reference(lineage, o))
              expect(yield* store.history("t", { ...o, checkpointId: id(6) })).toEqual(reference(fromCp6, o))
            }
          }
        }
      }))

    test("listByWorkflow lists the heads of a workflow's threads; listThreads summarizes", (store) =>
      Effect.gen(function*() {
        const heads: Array<WorkflowSnapshotEncoded> = []
        const threads = [["a", "wf", "completed"], ["b", "wf", "running"], ["c", "wf", "paused"], ["d", "other", "completed"]] as const
        let n = 0
        for (const [t, wf, status] of threads) {
          const w = writer(store, t, `run-${t}`)
          yield* store.claim(t, `run-${t}`, { workflowId: wf, leaseMillis: 60_000 })
          yield* w.commit(id(++n), [set("n", 1)], { workflowId: wf, status: "running" })
          heads.push({ ...(yield* w.commit(id(++n), [], { workflowId: wf, status, createdAt: 2_000 + n })), channels: { n: 1 } })
          yield* w.release
        }
        const wfHeads = heads.filter((h) => h.workflowId === "wf").reverse()
        for (const limit of [undefined, 1, 2, 5]) {
          for (const before of [undefined, id(4), id(6), id(99)]) {
            for (const status of [undefined, "completed" as const, ["running", "paused"] as const]) {
              const o: Snapshots.ListOptions = {
                ...(limit !== undefined ? { limit } : {}),
                ...(before !== undefined ? { before } : {}),
                ...(status !== undefined ? { status } : {})
              }
              expect(yield* store.listByWorkflow("wf", o)).toEqual(reference(wfHeads, o))
            }
          }
        }
        const all = yield* store.listThreads()
        expect(all.map((s) => s.threadId).sort()).toEqual(["a", "b", "c", "d"])
        expect(all.find((s) => s.threadId === "a")).toMatchObject({ workflowId: "wf", head: id(2), status: "completed" })
        expect((yield* store.listThreads({ workflowId: "wf" })).map((s) => s.threadId).sort()).toEqual(["a", "b", "c"])
        expect((yield* store.listThreads({ status: ["completed"] })).map((s) => s.threadId).sort()).toEqual(["a", "d"])
        expect((yield* store.listThreads({ status: "paused", workflowId: "wf" })).map((s) => s.threadId)).toEqual(["c"])
        expect(yield* store.listThreads({ limit: 2 })).toHaveLength(2)
      }))

    test("dueSleepers: paused threads whose wake-up time has come, earliest first", (store) =>
      Effect.gen(function*() {
        for (const [t, wakeAt, status] of [["s1", 500, "paused"], ["s2", 100, "paused"], ["s3", 900, "paused"], ["s4", 50, "running"]] as const) {
          const w = writer(store, t, `run-${t}`)
          yield* w.claim()
          yield* w.commit(id(1), [], { status, wakeAt, pauseReason: "sleeping" })
          yield* w.release
        }
        expect((yield* store.dueSleepers(600)).map((s) => s.threadId)).toEqual(["s2", "s1"])
        expect((yield* store.dueSleepers(1_000, 2)).map((s) => s.threadId)).toEqual(["s2", "s1"])
        expect(yield* store.dueSleepers(10)).toEqual([])
      }))

    // ----- deleting ----------------------------------------------------------------------------

    test("deleteThread removes one thread and leaves the others intact", (store) =>
      Effect.gen(function*() {
        for (const t of ["a", "b"]) {
          const w = writer(store, t, `run-${t}`)
          yield* w.claim()
          for (let i = 1; i <= 5; i++) yield* w.commit(id(i), [append("log", `${t}${i}`)])
          yield* store.putTask(t, `run-${t}`, id(5), taskRecord("x"))
          yield* w.release
        }
        expect(yield* store.deleteThread("a")).toBe(5)
        expect(Option.isNone(yield* store.load("a"))).toBe(true)
        expect(yield* store.listByThread("a")).toEqual([])
        const b = yield* load(store, "b")
        expect(b.channels.log).toEqual(["b1", "b2", "b3", "b4", "b5"])
        expect(b.pendingWrites).toHaveLength(1)
        expect((yield* store.listThreads()).map((s) => s.threadId)).toEqual(["b"])
        expect(yield* store.deleteThread("a")).toBe(0)
        // the thread id can be used again from scratch
        const again = writer(store, "a", "run-new")
        expect(yield* again.claim()).toBeNull()
      }))

    test("delete(executionId) removes one execution; later executions keep their full values", (store) =>
      Effect.gen(function*() {
        const w = writer(store, "t")
        yield* w.claim()
        for (let i = 1; i <= 40; i++) yield* w.commit(id(i), [append("log", i), ...(i === 1 ? [set("title", "t")] : [])], { executionId: "e1" })
        for (let i = 41; i <= 60; i++) yield* w.commit(id(i), [append("log", i)], { executionId: "e2" })
        const other = writer(store, "u", "run-2")
        yield* other.claim()
        yield* other.commit(id(1), [set("x", 1)], { executionId: "e1" })
        expect(yield* store.delete("e1")).toBe(41)
        expect(ids(yield* store.listByThread("t"))).toEqual(Array.from({ length: 20 }, (_, k) => id(60 - k)))
        const head = yield* load(store, "t")
        expect(head.checkpointId).toBe(id(60))
        expect(head.channels).toEqual({ title: "t", log: Array.from({ length: 60 }, (_, k) => k + 1) })
        expect((yield* load(store, "t", id(41))).channels.log).toHaveLength(41)
        expect(Option.isNone(yield* store.load("u"))).toBe(true)
        // deleting the head's execution moves the head to the newest checkpoint left
        for (let i = 61; i <= 62; i++) yield* w.commit(id(i), [append("log", i)], { executionId: "e3" })
        yield* w.release
        expect(yield* store.delete("e3")).toBe(2)
        expect((yield* load(store, "t")).checkpointId).toBe(id(60))
        expect((yield* store.listThreads()).find((s) => s.threadId === "t")?.head).toBe(id(60))
        expect(yield* store.delete("nope")).toBe(0)
      }))

    test("cleanup removes old checkpoints of finished threads and never breaks a kept lineage", (store) =>
      Effect.gen(function*() {
        const expected = new Map<string, unknown>()
        const build = (t: string, final: "completed" | "running", steps: number) =>
          Effect.gen(function*() {
            const w = writer(store, t, `run-${t}`)
            yield* w.claim()
            let log: Array<unknown> = []
            for (let i = 0; i < steps; i++) {
              const writes = i === 0 ? [set("title", t), set("log", [])] : [append("log", i)]
              if (i > 0) log = log.concat([i])
              yield* w.commit(id(i), writes, { status: i === steps - 1 ? final : "running" })
              expected.set(`${t}/${id(i)}`, { title: t, log })
            }
            yield* store.putTask(t, `run-${t}`, id(steps - 1), taskRecord("kept"))
            yield* w.release
          })
        yield* build("done", "completed", 120)
        yield* build("busy", "running", 30)
        // createdAt is 1000 + step: remove steps 0..79 of finished threads; a dry run counts them
        expect(yield* store.cleanup({ olderThan: 1_080, batchSize: 7, dryRun: true })).toBe(80)
        expect(yield* store.listByThread("done")).toHaveLength(120)
        const progress: Array<number> = []
        expect(yield* store.cleanup({ olderThan: 1_080, batchSize: 7, onBatch: (n) => Effect.sync(() => progress.push(n)) })).toBe(80)
        expect(progress.at(-1)).toBe(80)
        expect(progress).toEqual([...progress].sort((a, b) => a - b))
        const kept = yield* store.listByThread("done")
        expect(kept).toHaveLength(40)
        for (const cp of kept) expect(cp.channels).toEqual(expected.get(`done/${cp.checkpointId}`))
        expect((yield* load(store, "done")).pendingWrites).toEqual([taskRecord("kept")])
        expect(yield* store.listByThread("busy")).toHaveLength(30)
        // everything old, head included in the age: the head stays
        expect(yield* store.cleanup({ olderThan: 10_000, statuses: ["completed"] })).toBe(39)
        const head = yield* load(store, "done")
        expect(head.checkpointId).toBe(id(119))
        expect(head.channels).toEqual(expected.get(`done/${id(119)}`))
        expect(yield* store.history("done")).toHaveLength(1)
        expect(yield* store.cleanup({ olderThan: 10_000, statuses: ["running"] })).toBe(29)
        expect((yield* load(store, "busy")).channels).toEqual(expected.get(`busy/${id(29)}`))
        expect(yield* store.cleanup({ olderThan: 10_000 })).toBe(0)
      }))

    // ----- one writer ----------------------------------------------------------------------

    test("single writer: a second run gets ThreadBusy; a stale head is refused", (store) =>
      Effect.gen(function*() {
        const a = writer(store, "t", "run-a")
        const b = writer(store, "t", "run-b")
        yield* a.claim()
        expect((yield* Effect.flip(b.claim()))._tag).toBe("ThreadBusy")
        yield* a.commit(id(1), [set("n", 1)])
        // renewal by the owner returns the head
        expect(yield* a.claim()).toBe(id(1))
        // the owner committing on a head that is not the current one: refused, nothing written
        const stale = snapshot("t", id(9), null)
        expect((yield* Effect.flip(store.commit({ threadId: "t", runId: "run-a", expectedHead: null, snapshot: stale, writes: [] })))._tag).toBe("ThreadBusy")
        // a non-owner commit: refused
        const s2 = snapshot("t", id(8), id(1))
        expect((yield* Effect.flip(store.commit({ threadId: "t", runId: "run-b", expectedHead: id(1), snapshot: s2, writes: [] })))._tag).toBe("ThreadBusy")
        expect(ids(yield* store.listByThread("t"))).toEqual([id(1)])
        yield* a.release
        expect(yield* b.claim()).toBe(id(1))
        // the old owner's release does not free the thread
        yield* a.release
        expect((yield* Effect.flip(a.claim()))._tag).toBe("ThreadBusy")
      }))

    test("single writer under two concurrent writers: exactly one ThreadBusy, one linear chain", (store) =>
      Effect.gen(function*() {
        const other = options.sibling !== undefined ? yield* options.sibling : store
        for (let round = 0; round < 5; round++) {
          const t = `race-${round}`
          // both claim before either writes: then both write, interleaved
          const arrived = yield* Ref.make(0)
          const bothClaimed = yield* Deferred.make<void>()
          const arrive = Effect.flatMap(Ref.updateAndGet(arrived, (n) => n + 1), (n) =>
            n === 2 ? Deferred.succeed(bothClaimed, undefined) : Effect.void).pipe(Effect.zipRight(Deferred.await(bothClaimed)))
          const run = (handle: Backend, runId: string) =>
            Effect.gen(function*() {
              const w = writer(handle, t, runId)
              const claimed = yield* Effect.either(w.claim())
              yield* arrive
              for (let i = 0; i < 10; i++) {
                yield* Effect.yieldNow()
                yield* w.commit(`${runId}-${id(i)}`, [append("log", `${runId}${i}`)])
              }
              yield* w.release
              if (Either.isLeft(claimed)) return yield* Effect.fail(claimed.left)
              return runId
            }).pipe(Effect.either)
          const results = yield* Effect.all([run(store, "A"), run(other, "B")], { concurrency: "unbounded" })
          const busy = results.filter(Either.isLeft)
          expect(busy).toHaveLength(1)
          expect((busy[0] as any).left._tag).toBe("ThreadBusy")
          const winner = Either.getOrThrow(results.find(Either.isRight)!)
          const head = yield* load(other, t)
          expect(head.channels.log).toEqual(Array.from({ length: 10 }, (_, i) => `${winner}${i}`))
          expect(yield* store.history(t)).toHaveLength(10)
        }
      }))

    test("a first write can take the claim: new thread, free thread at the expected head, refused otherwise", (store) =>
      Effect.gen(function*() {
        const other = options.sibling !== undefined ? yield* options.sibling : store
        const claim = { workflowId: "wf", leaseMillis: 60_000 }
        // a new thread: created and claimed by its first commit
        yield* store.commit({ threadId: "t", runId: "run-a", expectedHead: null, snapshot: snapshot("t", id(1), null), writes: [set("n", 1)], claim })
        // while run-a holds it, another run's claiming commit or settle is ThreadBusy, nothing written
        const s2 = snapshot("t", id(2), id(1))
        expect(yield* busyOf(other.commit({ threadId: "t", runId: "run-b", expectedHead: id(1), snapshot: s2, writes: [], claim }))).toBe("ThreadBusy")
        expect(yield* busyOf(other.settle("t", "run-b", id(1), { records: [taskRecord("x")], claim }))).toBe("ThreadBusy")
        expect(ids(yield* store.listByThread("t"))).toEqual([id(1)])
        expect((yield* load(store, "t")).pendingWrites).toEqual([])
        yield* store.release("t", "run-a")
        // free, but the head is not the expected one: refused, nothing written
        expect(yield* busyOf(other.commit({ threadId: "t", runId: "run-b", expectedHead: null, snapshot: snapshot("t", id(3), null), writes: [], claim }))).toBe("ThreadBusy")
        expect(yield* busyOf(other.settle("t", "run-b", id(9), { records: [taskRecord("x")], claim }))).toBe("ThreadBusy")
        // a claiming commit on an unknown thread with an expected head: refused, no thread made
        expect(yield* busyOf(other.commit({ threadId: "u", runId: "run-b", expectedHead: id(1), snapshot: snapshot("u", id(4), id(1)), writes: [], claim }))).toBe("ThreadBusy")
        expect(yield* store.listByThread("u")).toEqual([])
        // free at the expected head: a settle takes the claim with its records
        yield* other.settle("t", "run-b", id(1), { records: [taskRecord("x")], patch: { status: "running", interrupts: [] }, claim })
        expect((yield* load(store, "t")).pendingWrites).toEqual([taskRecord("x")])
        expect(yield* busyOf(store.claim("t", "run-a", claim))).toBe("ThreadBusy")
        yield* other.commit({ threadId: "t", runId: "run-b", expectedHead: id(1), snapshot: s2, writes: [set("n", 2)], release: true })
        expect(yield* store.claim("t", "run-a", claim)).toBe(id(2))
      }))

    test("a first write of new input is refused on a head that paused since it was read (compare-and-set on the status too)", (store) =>
      Effect.gen(function*() {
        const other = options.sibling !== undefined ? yield* options.sibling : store
        // run b read the head (running) without a claim; run a pauses on it and lets the claim go
        const interrupts = [yield* pausedOnX(store)]
        const refused = yield* Effect.flip(other.commit({
          threadId: "t", runId: "run-b", expectedHead: id(1), snapshot: snapshot("t", id(2), id(1)), writes: [set("n", 2)], claim
        }))
        expect(refused._tag).toBe("ThreadBusy")
        expect(ids(yield* store.listByThread("t"))).toEqual([id(1)])
        expect((yield* load(store, "t")).interrupts).toEqual(interrupts)
        expect(yield* store.leases()).toEqual([])
        // answering it (a settle that claims) is still possible
        yield* other.settle("t", "run-c", id(1), { records: [], patch: { status: "running", interrupts: [] }, claim, release: true })
      }))

    test("a resume's first write is refused when the interrupts it answers were answered since it read the head (same head, same status)", (store) =>
      Effect.gen(function*() {
        const other = options.sibling !== undefined ? yield* options.sibling : store
        const first = yield* pausedOnX(store)
        // runs b and c both read the head paused on x#0; b answers it, runs, and pauses again on x#1
        yield* store.settle("t", "run-b", id(1), {
          records: [taskRecord("x", { answers: ["b"] })],
          patch: { status: "running", interrupts: [{ ...first, status: "answered" }] },
          claim: { ...claim, pending: ["x#0"] }
        })
        const again = [{ ...first, status: "answered" as const }, { ...first, id: "x#1", status: "pending" as const }]
        yield* store.settle("t", "run-b", id(1), { records: [], patch: { status: "paused", interrupts: again, pauseReason: "interrupt" }, release: true })
        // c's answer to x#0 is refused, and writes nothing: b's answer and the new question stand
        const refused = yield* Effect.flip(other.settle("t", "run-c", id(1), {
          records: [taskRecord("x", { answers: ["c"] })],
          patch: { status: "running", interrupts: again },
          claim: { ...claim, pending: ["x#0"] }
        }))
        expect(refused._tag).toBe("ThreadBusy")
        const head = yield* load(store, "t")
        expect(head.interrupts).toEqual(again)
        expect(head.pendingWrites.map((r) => r.answers)).toEqual([["b"]])
        expect(yield* store.leases()).toEqual([])
        // answering the pending one is possible
        yield* other.settle("t", "run-c", id(1), {
          records: [taskRecord("x", { answers: ["b", "c"] })],
          patch: { status: "running", interrupts: again.map((i) => ({ ...i, status: "answered" as const })) },
          claim: { ...claim, pending: ["x#1"] },
          release: true
        })
        expect((yield* load(store, "t")).pendingWrites.map((r) => r.answers)).toEqual([["b", "c"]])
      }))

    test("commitAll writes a run's checkpoints in order, all or none", (store) =>
      Effect.gen(function*() {
        const w = writer(store, "t")
        yield* w.claim()
        yield* w.commit(id(1), [set("n", 1), append("log", 1)])
        const chain = [2, 3, 4].map((i) => ({
          threadId: "t",
          runId: "run-1",
          expectedHead: id(i - 1),
          snapshot: snapshot("t", id(i), id(i - 1), { step: i }),
          writes: [set("n", i), append("log", i)]
        }))
        yield* store.commitAll(chain)
        expect(ids(yield* store.history("t"))).toEqual([id(4), id(3), id(2), id(1)])
        expect((yield* load(store, "t")).channels).toEqual({ n: 4, log: [1, 2, 3, 4] })
        expect((yield* load(store, "t", id(3))).channels).toEqual({ n: 3, log: [1, 2, 3] })
        // a batch whose second commit does not follow the first: nothing of it is written
        const broken = [
          { threadId: "t", runId: "run-1", expectedHead: id(4), snapshot: snapshot("t", id(5), id(4)), writes: [set("n", 5)] },
          { threadId: "t", runId: "run-1", expectedHead: id(9), snapshot: snapshot("t", id(6), id(9)), writes: [set("n", 6)] }
        ]
        expect((yield* Effect.flip(store.commitAll(broken)))._tag).toBe("ThreadBusy")
        expect(ids(yield* store.history("t"))).toEqual([id(4), id(3), id(2), id(1)])
        expect((yield* load(store, "t")).channels).toEqual({ n: 4, log: [1, 2, 3, 4] })
        // and the run goes on from its head
        yield* store.commitAll([{ threadId: "t", runId: "run-1", expectedHead: id(4), snapshot: snapshot("t", id(5), id(4)), writes: [append("log", 5)] }])
        expect((yield* load(store, "t")).channels).toEqual({ n: 4, log: [1, 2, 3, 4, 5] })
      }))

    test("an expired lease can be taken over; the old owner can no longer write", (store) =>
      Effect.gen(function*() {
        const other = options.sibling !== undefined ? yield* options.sibling : store
        const a = writer(store, "t", "run-a")
        yield* a.claim(30)
        yield* a.commit(id(1), [set("n", 1)])
        yield* sleep(60)
        const b = writer(other, "t", "run-b")
        expect(yield* b.claim()).toBe(id(1))
        expect((yield* Effect.flip(a.commit(id(2), [set("n", 2)])))._tag).toBe("ThreadBusy")
        expect((yield* Effect.flip(store.putTask("t", "run-a", id(1), taskRecord("x"))))._tag).toBe("ThreadBusy")
        expect((yield* Effect.flip(store.setStatus("t", "run-a", id(1), { status: "failed", interrupts: [] })))._tag).toBe("ThreadBusy")
        yield* a.release
        yield* b.commit(id(3), [set("n", 3)])
        expect((yield* load(store, "t")).channels).toEqual({ n: 3 })
        expect(ids(yield* store.history("t"))).toEqual([id(3), id(1)])
      }))

    test("leases: who holds which thread until when; ThreadBusy names the holder and the expiry", (store) =>
      Effect.gen(function*() {
        const other = options.sibling !== undefined ? yield* options.sibling : store
        const before = Date.now()
        const a = writer(store, "t", "run-a")
        yield* a.claim(60_000)
        yield* a.commit(id(1), [set("n", 1)])
        yield* writer(store, "u", "run-u").claim(60_000)
        const all = yield* other.leases()
        expect(all.map((l) => [l.threadId, l.workflowId, l.holder, l.alive])).toEqual([["t", "wf", "run-a", true], ["u", "wf", "run-u", true]])
        expect(all[0]!.until).toBeGreaterThanOrEqual(before + 60_000)
        expect((yield* other.leases({ threadId: "u" })).map((l) => l.holder)).toEqual(["run-u"])
        expect(yield* other.leases({ workflowId: "nope" })).toEqual([])
        expect(yield* Effect.provideService(Snapshots.leases({ threadId: "t" }), Snapshots.Snapshots, other)).toEqual([all[0]])
        // a refusal says who holds the thread, until when
        const busy = yield* Effect.flip(writer(other, "t", "run-b").claim())
        expect(busy).toMatchObject({ _tag: "ThreadBusy", threadId: "t", holder: "run-a", leaseUntil: all[0]!.until })
        expect(busy.message).toContain("run-a")
        const refused = yield* Effect.flip(other.commit({ threadId: "t", runId: "run-b", expectedHead: id(1), snapshot: snapshot("t", id(2), id(1)), writes: [] }))
        expect(refused).toMatchObject({ _tag: "ThreadBusy", holder: "run-a" })
        // a released thread is nobody's
        yield* a.release
        expect((yield* other.leases()).map((l) => l.threadId)).toEqual(["u"])
      }))

    test("releaseLease: refused while the lease runs unless forced; the old holder is fenced; the next run continues", (store) =>
      Effect.gen(function*() {
        const other = options.sibling !== undefined ? yield* options.sibling : store
        const a = writer(store, "t", "run-a")
        yield* a.claim(60_000)
        yield* a.commit(id(1), [set("n", 1)])
        const held = yield* Effect.flip(other.releaseLease("t"))
        expect(held).toMatchObject({ _tag: "LeaseHeld", threadId: "t", holder: "run-a" })
        expect((yield* other.leases()).map((l) => l.holder)).toEqual(["run-a"])
        const broken = yield* Effect.provideService(Snapshots.releaseLease("t", { force: true }), Snapshots.Snapshots, other)
        expect(Option.map(broken, (l) => [l.holder, l.alive])).toEqual(Option.some(["run-a", true]))
        expect(yield* other.leases()).toEqual([])
        // nobody holds it now: releasing again is a no-op
        expect(yield* other.releaseLease("t")).toEqual(Option.none())
        expect(yield* other.releaseLease("never-seen", { force: true })).toEqual(Option.none())
        // the fenced holder cannot write, nor claim the thread back (its heartbeat would)
        expect((yield* Effect.flip(a.commit(id(2), [set("n", 2)])))._tag).toBe("ThreadBusy")
        expect((yield* Effect.flip(store.putTask("t", "run-a", id(1), taskRecord("x"))))._tag).toBe("ThreadBusy")
        expect((yield* Effect.flip(a.claim()))._tag).toBe("ThreadBusy")
        expect((yield* Effect.flip(store.commit({
          threadId: "t", runId: "run-a", expectedHead: id(1), snapshot: snapshot("t", id(2), id(1)), writes: [],
          claim: { workflowId: "wf", leaseMillis: 60_000 }
        })))._tag).toBe("ThreadBusy")
        // the next run takes the thread and continues it
        const b = writer(other, "t", "run-b")
        expect(yield* b.claim()).toBe(id(1))
        yield* b.commit(id(3), [set("n", 3)])
        expect(ids(yield* store.history("t"))).toEqual([id(3), id(1)])
        // an expired lease is released without force
        const c = writer(store, "v", "run-c")
        yield* c.claim(20)
        yield* sleep(40)
        expect(Option.map(yield* other.releaseLease("v"), (l) => l.alive)).toEqual(Option.some(false))
      }))

    test("invoke(null) on an unknown thread is ThreadNotFound and writes nothing", (store) =>
      Effect.gen(function*() {
        const graph = yield* chatGraph()
        expect((yield* Effect.flip(graph.invoke(null, { threadId: "ghost" })))._tag).toBe("ThreadNotFound")
        expect(yield* store.listThreads()).toEqual([])
        expect(yield* store.leases()).toEqual([])
        expect(Option.isNone(yield* store.load("ghost"))).toBe(true)
        // nothing half-made stands in the way of the thread's real start
        yield* graph.invoke({ messages: [{ role: "user", content: "hi" }] }, { threadId: "ghost" })
        expect((yield* store.listThreads()).map((t) => t.threadId)).toEqual(["ghost"])
      }))

    test("a checkpoint whose parent was cleaned up or deleted starts the lineage: history is whole, never cut short", (store) =>
      Effect.gen(function*() {
        const w = writer(store, "t")
        yield* w.claim()
        for (let i = 1; i <= 6; i++) yield* w.commit(id(i), [set("n", i)], { status: i === 6 ? "completed" : "running", executionId: i <= 2 ? "e1" : "e2" })
        yield* w.release
        expect(yield* store.delete("e1")).toBe(2)
        const afterDelete = yield* store.history("t")
        expect(ids(afterDelete)).toEqual([id(6), id(5), id(4), id(3)])
        expect(afterDelete[3]!.parentCheckpointId).toBeNull()
        // createdAt is 1000 + step: steps 0..3 are id(1)..id(4)
        expect(yield* store.cleanup({ olderThan: 1_004 })).toBe(2)
        const afterCleanup = yield* store.history("t")
        expect(ids(afterCleanup)).toEqual([id(6), id(5)])
        expect(afterCleanup[1]!.parentCheckpointId).toBeNull()
      }))

    // ----- corrupt rows ----------------------------------------------------------------------

    if (options.tamper !== undefined) {
      const tamper = options.tamper
      for (const kind of ["json", "shape", "value", "lineage"] as const) {
        test(`a tampered row (${kind}) is a CorruptSnapshot, never a crash`, (store) =>
          Effect.gen(function*() {
            const w = writer(store, "t")
            yield* w.claim()
            for (let i = 1; i <= 40; i++) yield* w.commit(id(i), [append("log", i), ...(i === 1 ? [set("n", 1)] : [])])
            yield* w.release
            yield* tamper("t", id(40), kind)
            const error = yield* Effect.flip(store.load("t"))
            expect(error._tag).toBe("CorruptSnapshot")
            if (error._tag === "CorruptSnapshot") expect(error.threadId).toBe("t")
            expect((yield* Effect.flip(store.history("t")))._tag).toBe("CorruptSnapshot")
            expect((yield* Effect.flip(store.listByThread("t")))._tag).toBe("CorruptSnapshot")
            // an untouched thread still loads
            const u = writer(store, "u", "run-u")
            yield* u.claim()
            yield* u.commit(id(1), [set("n", 1)])
            expect((yield* load(store, "u")).channels).toEqual({ n: 1 })
            // and the graph API reports the same typed error
            const graph = yield* chatGraph()
            const failure = yield* Effect.flip(graph.getState("t"))
            expect(failure._tag).toBe("CorruptSnapshot")
          }))
      }
    }

    // ----- real graphs ---------------------------------------------------------------------

    test("a chat thread through a real graph: state, history, every step once", (store) =>
      Effect.gen(function*() {
        const graph = yield* chatGraph()
        for (let turn = 1; turn <= 30; turn++) {
          const out = yield* graph.invoke({ messages: [{ role: "user", content: `hello ${turn}` }] }, { threadId: "chat" })
          expect(out.messages).toHaveLength(2 * turn)
          expect(out.turns).toBe(turn)
        }
        const state = yield* graph.getState("chat")
        expect(state.status).toBe("completed")
        expect(state.values.messages[59]).toEqual({ role: "assistant", content: "reply 59" })
        const history = yield* graph.history("chat")
        expect(history).toHaveLength(60)
        expect(new Set(history.map((h) => h.checkpointId)).size).toBe(60)
        // newest first, each checkpoint's messages a prefix of the next one's
        for (let i = 1; i < history.length; i++) {
          const newer = history[i - 1]!.values.messages
          const older = history[i]!.values.messages
          expect(newer.slice(0, older.length)).toEqual(older)
        }
        // a fresh instance of the graph continues the same thread
        const fresh = yield* chatGraph()
        const out = yield* fresh.invoke({ messages: [{ role: "user", content: "again" }] }, { threadId: "chat" })
        expect(out.messages).toHaveLength(62)
        expect(yield* store.history("chat")).toHaveLength(62)
      }))

    test("pause at an interrupt, resume from a fresh graph instance", (store) =>
      Effect.gen(function*() {
        const runs = yield* Ref.make(0)
        const graph = yield* approvalGraph(runs)
        const paused = yield* Effect.flip(graph.invoke({}, { threadId: "ap" }))
        expect(paused._tag).toBe("GraphInterrupted")
        const state = yield* graph.getState("ap")
        expect(state.status).toBe("paused")
        expect(state.interrupts.map((i) => i.kind)).toEqual(["ContractApproval"])
        expect((yield* load(store, "ap")).interrupts).toHaveLength(1)
        const fresh = yield* approvalGraph(runs)
        const done = yield* fresh.resume({ threadId: "ap" }, Approval.respond({ approved: true }))
        expect(done).toEqual({ draft: "v1", log: ["write", "review"], published: true })
        // the node before the interrupt ran once
        expect(yield* Ref.get(runs)).toBe(1)
        expect((yield* fresh.getState("ap")).status).toBe("completed")
      }))

    test("a loop with parallel appends: final state, history, and a continued run", (store) =>
      Effect.gen(function*() {
        const graph = yield* loopGraph(12)
        const out = yield* graph.invoke({ n: 0 }, { threadId: "loop" })
        expect(out.n).toBe(12)
        expect(out.log).toHaveLength(24)
        expect(out.log.slice(0, 4)).toEqual(["L0", "R0", "L1", "R1"])
        const history = yield* graph.history("loop")
        expect(history.map((h) => h.step)).toEqual(Array.from({ length: history.length }, (_, i) => history.length - 1 - i))
        const head = yield* load(store, "loop")
        expect(head.status).toBe("completed")
        expect(head.channels.log).toEqual(out.log)
      }))

    test("async durability: a run's checkpoints are written several to a transaction, every step stored", (store) =>
      Effect.gen(function*() {
        const batches: Array<number> = []
        let failOn = -1
        const counted: Backend = {
          ...store,
          commitAll: (requests) => {
            batches.push(requests.length)
            if (batches.length === failOn) return Effect.fail(new GraphError.ThreadBusy({ threadId: requests[0]!.threadId }))
            return store.commitAll(requests)
          }
        }
        const graph = yield* StateGraph.make({ id: "contract-async", state: { n: Channel.lastValue(Schema.Number), log: Channel.append(Schema.Number) } }).pipe(
          StateGraph.addNode("inc", (s) => Effect.succeed({ n: s.n + 1, log: [s.n] })),
          StateGraph.addEdge(StateGraph.START, "inc"),
          StateGraph.addConditionalEdges("inc", (s) => (s.n < 600 ? "inc" : StateGraph.END)),
          StateGraph.compile({ durability: "async", recursionLimit: 1000 })
        )
        const out = yield* Effect.provideService(graph.invoke({ n: 0 }, { threadId: "async" }), Snapshots.Snapshots, counted)
        expect(out.n).toBe(600)
        expect(batches.reduce((a, b) => a + b, 0)).toBe(600)
        expect(Math.max(...batches)).toBeGreaterThan(1)
        const history = yield* graph.history("async")
        expect(history).toHaveLength(601)
        expect(history.map((h) => h.step)).toEqual(Array.from({ length: 601 }, (_, i) => 600 - i))
        const mid = history.find((h) => h.step === 300)!
        expect(mid.values.n).toBe(300)
        expect(mid.values.log).toEqual(Array.from({ length: 300 }, (_, i) => i))
        expect((yield* graph.getState("async")).values.n).toBe(600)
        // a write the store refuses fails the run with its error; what was written stays
        batches.length = 0
        failOn = 2
        const failed = yield* Effect.flip(Effect.provideService(graph.invoke({ n: 0 }, { threadId: "async-2" }), Snapshots.Snapshots, counted))
        expect(failed._tag).toBe("ThreadBusy")
        const written = yield* graph.history("async-2")
        expect(written).toHaveLength(1 + batches[0]!)
        expect((yield* graph.getState("async-2")).values.n).toBe(batches[0])
      }))

    test("journaled activities and forEach children survive a resume from a fresh graph, with their values", (store) =>
      Effect.gen(function*() {
        void store
        const calls = yield* Ref.make(0)
        const children = yield* Ref.make(0)
        class Go extends Interrupt.Tag("ContractGo", { request: Schema.Number, response: Schema.Boolean }) {}
        const build = () =>
          StateGraph.make({ id: "contract-journal", state: { out: Channel.lastValue(Schema.String, { initial: () => "" }) } }).pipe(
            StateGraph.addNode("work", () =>
              Effect.gen(function*() {
                const quote = yield* Task.activity("quote", Effect.as(Ref.update(calls, (n) => n + 1), { amount: 42, at: "2026-11-25" }))
                const parts = yield* Task.forEach([1, 2, 3], (x) => Effect.as(Ref.update(children, (n) => n + 1), x * quote.amount))
                const ok = yield* Go.ask(quote.amount)
                return { out: `${ok} ${quote.at} ${parts.join(",")}` }
              })),
            StateGraph.addEdge(StateGraph.START, "work"),
            StateGraph.compile()
          )
        yield* Effect.flip(Effect.flatMap(build(), (g) => g.invoke({}, { threadId: "journal" })))
        const out = yield* Effect.flatMap(build(), (g) => g.resume({ threadId: "journal" }, Go.respond(true)))
        expect(out.out).toBe("true 2026-11-25 42,84,126")
        expect(yield* Ref.get(calls)).toBe(1)
        expect(yield* Ref.get(children)).toBe(3)
      }))

    test("journaled classes replay as themselves: a Date success and a tagged-error failure, through their schemas", (store) =>
      Effect.gen(function*() {
        void store
        const calls = yield* Ref.make(0)
        class Declined extends Schema.TaggedError<Declined>()("ContractDeclined", { code: Schema.Number }) {
          get summary() {
            return `declined ${this.code}`
          }
        }
        class Go extends Interrupt.Tag("ContractGoTyped", { request: Schema.Number, response: Schema.Boolean }) {}
        const seen: Array<string> = []
        const build = () =>
          StateGraph.make({ id: "contract-journal-typed", state: { out: Channel.lastValue(Schema.String, { initial: () => "" }) } }).pipe(
            StateGraph.addNode("work", () =>
              Effect.gen(function*() {
                const at = yield* Task.activity("at", Effect.as(Ref.update(calls, (n) => n + 1), new Date(Date.UTC(2026, 10, 25))), {
                  success: Schema.Date
                })
                const error = yield* Effect.flip(Task.activity("pay", Effect.zipRight(Ref.update(calls, (n) => n + 1), Effect.fail(new Declined({ code: 7 }))), {
                  error: Declined
                }))
                seen.push(`${at instanceof Date} ${error instanceof Declined} ${error._tag === "ContractDeclined" ? error.summary : error._tag}`)
                // forEach children's results and failures too
                const days = yield* Task.forEach([1, 2], (d) => Effect.as(Ref.update(calls, (n) => n + 1), new Date(Date.UTC(2026, 0, d))), {
                  success: Schema.Date
                })
                const childError = yield* Effect.flip(Task.forEach([5], (code) => Effect.zipRight(Ref.update(calls, (n) => n + 1), Effect.fail(new Declined({ code }))), {
                  error: Declined
                }))
                seen.push(`${days.every((d) => d instanceof Date)} ${childError instanceof Declined} ${childError._tag === "ContractDeclined" ? childError.summary : childError._tag}`)
                const ok = yield* Go.ask(1)
                return { out: `${ok} ${at.toISOString()}` }
              })),
            StateGraph.addEdge(StateGraph.START, "work"),
            StateGraph.compile()
          )
        yield* Effect.flip(Effect.flatMap(build(), (g) => g.invoke({}, { threadId: "journal-typed" })))
        const out = yield* Effect.flatMap(build(), (g) => g.resume({ threadId: "journal-typed" }, Go.respond(true)))
        expect(out.out).toBe("true 2026-11-25T00:00:00.000Z")
        expect(seen).toEqual(["true true declined 7", "true true declined 5", "true true declined 7", "true true declined 5"])
        expect(yield* Ref.get(calls)).toBe(5)
      }))

    test("a thread written by another version of the graph: SnapshotVersionMismatch unless allowed", (store) =>
      Effect.gen(function*() {
        void store
        const graph = yield* chatGraph()
        yield* graph.invoke({ messages: [{ role: "user", content: "hi" }] }, { threadId: "v" })
        const changed = yield* StateGraph.make({ id: "contract-chat", state: { messages: Channel.append(Message), turns: Channel.reduce(Schema.Number, (a, b) => a + b, () => 0) } }).pipe(
          StateGraph.addNode("bot", () => Effect.succeed({ messages: [{ role: "assistant" as const, content: "v2" }] })),
          StateGraph.addNode("extra", () => Effect.void),
          StateGraph.addEdge(StateGraph.START, "bot"),
          StateGraph.addEdge("bot", "extra"),
          StateGraph.addEdge("extra", StateGraph.END),
          StateGraph.compile()
        )
        const error = yield* Effect.flip(changed.invoke({ messages: [{ role: "user", content: "hi" }] }, { threadId: "v" }))
        expect(error._tag).toBe("SnapshotVersionMismatch")
        const out = yield* changed.invoke({ messages: [{ role: "user", content: "hi" }] }, { threadId: "v", allowVersionChange: true })
        expect(out.messages).toHaveLength(4)
      }))
  })
