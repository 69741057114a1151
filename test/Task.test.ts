import { describe, expect, it } from "@effect/vitest"
import { Clock, Data, Effect, Fiber, Option, Ref, Schedule, Schema, TestClock } from "effect"
import { Channel, Interrupt, Snapshots, SqliteSnapshots, StateGraph, Task } from "effect-stategraph"
import { scopedTempFile } from "./fixtures/tempFile.js"

class Approval extends Interrupt.Tag("TaskApproval", {
  request: Schema.Struct({ amount: Schema.Number }),
  response: Schema.Struct({ approved: Schema.Boolean })
}) {}

class Boom extends Data.TaggedError("Boom")<{ readonly item: number }> {}

const provide = Effect.provide(Snapshots.layerMemory)

/** Each store a test runs on: the in-memory one, and SQLite on a temp file of its own. */
const stores: ReadonlyArray<readonly [string, <A, E>(effect: Effect.Effect<A, E, Snapshots.Snapshots>) => Effect.Effect<A, E | unknown>]> = [
  ["memory", (effect) => Effect.provide(effect, Snapshots.layerMemory)],
  ["sqlite", (effect) =>
    Effect.scoped(Effect.flatMap(scopedTempFile("sg-task-", "t.db"), (file) =>
      Effect.provide(effect, SqliteSnapshots.layer({ filename: file }))))]
]

describe("Task.activity", () => {
  it.effect("an activity before an approval runs once across the resume", () =>
    Effect.gen(function*() {
      const charges = yield* Ref.make(0)
      const graph = yield* StateGraph.make({ id: "pay", state: { receipt: Channel.lastValue(Schema.String, { initial: () => "" }) } }).pipe(
        StateGraph.addNode("pay", () =>
          Effect.gen(function*() {
            const quote = yield* Task.activity("quote", Effect.as(Ref.updateAndGet(charges, (n) => n + 1), 42))
            const answer = yield* Approval.ask({ amount: quote })
            return { receipt: answer.approved ? `paid ${quote}` : "cancelled" }
          })),
        StateGraph.addEdge(StateGraph.START, "pay"),
        StateGraph.compile()
      )
      const paused = yield* Effect.flip(graph.invoke({}, { threadId: "p" }))
      expect(paused._tag).toBe("GraphInterrupted")
      expect(yield* Ref.get(charges)).toBe(1)
      const out = yield* graph.resume({ threadId: "p" }, Approval.respond({ approved: true }))
      expect(out.receipt).toBe("paid 42")
      expect(yield* Ref.get(charges)).toBe(1)
    }).pipe(provide))

  it.effect("the same name twice is told apart by order; failures are journaled too", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make<Array<string>>([])
      const graph = yield* StateGraph.make({ id: "twice", state: { log: Channel.append(Schema.String) } }).pipe(
        StateGraph.addNode("n", () =>
          Effect.gen(function*() {
            const a = yield* Task.activity("fetch", Effect.as(Ref.update(calls, (c) => [...c, "a"]), "A"))
            const b = yield* Task.activity("fetch", Effect.as(Ref.update(calls, (c) => [...c, "b"]), "B"))
            const c = yield* Task.activity("risky", Effect.zipRight(Ref.update(calls, (c) => [...c, "c"]), Effect.fail("declined"))).pipe(
              Effect.catchAll((e) => Effect.succeed(`caught ${e}`))
            )
            yield* Approval.ask({ amount: 1 })
            return { log: [a, b, c] }
          })),
        StateGraph.addEdge(StateGraph.START, "n"),
        StateGraph.compile()
      )
      yield* Effect.flip(graph.invoke({}, { threadId: "t" }))
      const out = yield* graph.resume({ threadId: "t" }, Approval.respond({ approved: true }))
      expect(out.log).toEqual(["A", "B", "caught declined"])
      expect(yield* Ref.get(calls)).toEqual(["a", "b", "c"])
    }).pipe(provide))

  it.effect("a journal that no longer matches the node's calls is a JournalMismatch", () =>
    Effect.gen(function*() {
      const build = (activityName: string) =>
        StateGraph.make({ id: "mismatch", state: { n: Channel.lastValue(Schema.Number, { initial: () => 0 }) } }).pipe(
          StateGraph.addNode("n", () =>
            Effect.gen(function*() {
              const n = yield* Task.activity(activityName, Effect.succeed(1))
              yield* Approval.ask({ amount: n })
              return { n }
            })),
          StateGraph.addEdge(StateGraph.START, "n"),
          StateGraph.compile()
        )
      yield* Effect.flip(Effect.flatMap(build("old"), (g) => g.invoke({}, { threadId: "m" })))
      const error = yield* Effect.flip(
        Effect.flatMap(build("new"), (g) => g.resume({ threadId: "m" }, Approval.respond({ approved: true })))
      )
      expect(error._tag).toBe("JournalMismatch")
      if (error._tag === "JournalMismatch") {
        expect(error.expected).toBe(`activity "new"`)
        expect(error.found).toBe(`activity "old"`)
      }
    }).pipe(provide))

  it.effect("a node retry does not repeat a finished activity", () =>
    Effect.gen(function*() {
      const sideEffects = yield* Ref.make(0)
      const attempts = yield* Ref.make(0)
      const graph = yield* StateGraph.make({ id: "retry-journal", state: { n: Channel.lastValue(Schema.Number, { initial: () => 0 }) } }).pipe(
        StateGraph.addNode("n", () =>
          Effect.gen(function*() {
            const v = yield* Task.activity("charge", Ref.updateAndGet(sideEffects, (n) => n + 1))
            const a = yield* Ref.updateAndGet(attempts, (n) => n + 1)
            if (a < 3) return yield* Effect.fail("flaky" as const)
            return { n: v }
          }), { retry: Schedule.recurs(5) }),
        StateGraph.addEdge(StateGraph.START, "n"),
        StateGraph.compile()
      )
      const out = yield* graph.invoke({})
      expect(out.n).toBe(1)
      expect(yield* Ref.get(sideEffects)).toBe(1)
      expect(yield* Ref.get(attempts)).toBe(3)
    }))
})

describe("Task.idempotencyKey and the lease check", () => {
  for (const [storeName, on] of stores) {
    it.live(`the key names the thread, task and call; it is the same when the call runs again (${storeName})`, () =>
      on(Effect.gen(function*() {
        const keys: Array<string> = []
        let tries = 0
        const graph = yield* StateGraph.make({ id: "idem", state: { n: Channel.lastValue(Schema.Number, { initial: () => 0 }) } }).pipe(
          StateGraph.addNode("pay", () =>
            Effect.gen(function*() {
              const a = yield* Task.activity("quote", Effect.map(Task.idempotencyKey, (k) => (keys.push(`quote ${k}`), 1)))
              const b = yield* Task.activity("charge", Effect.flatMap(Task.idempotencyKey, (k) => {
                keys.push(`charge ${k}`)
                // the outside system failed the first time: the thread fails, a continued thread tries again
                return ++tries === 1 ? Effect.fail("unavailable" as const) : Effect.succeed(2)
              }))
              const children = yield* Task.forEach([0, 1], () => Task.activity("part", Task.idempotencyKey))
              keys.push(...children.map((k) => `part ${k}`))
              return { n: a + b }
            })),
          StateGraph.addEdge(StateGraph.START, "pay"),
          StateGraph.compile()
        )
        expect(yield* Effect.flip(graph.invoke({}, { threadId: "idem-1" }))).toBe("unavailable")
        expect((yield* graph.invoke(null, { threadId: "idem-1" })).n).toBe(3)
        const [quote, charge1, charge2, part0, part1] = keys.map((k) => k.split(" ")[1]!)
        expect(keys.map((k) => k.split(" ")[0])).toEqual(["quote", "charge", "charge", "part", "part"])
        // the same call, run again by a continued thread: the same key
        expect(charge2).toBe(charge1)
        // every other call: another key; each names the thread
        expect(new Set([quote, charge1, part0, part1]).size).toBe(4)
        for (const k of [quote, charge1, part0, part1]) expect(k!.startsWith("idem-1/")).toBe(true)
        // outside a graph node: a random key, kept across the activity's own retries
        const outside: Array<string> = []
        yield* Task.activity("x", Effect.flatMap(Task.idempotencyKey, (k) => (outside.push(k), outside.length < 3 ? Effect.fail("again") : Effect.void)), {
          retry: Schedule.recurs(3)
        })
        expect(new Set(outside).size).toBe(1)
      })))

    it.live(`a run that lost its lease does not start an activity: LeaseLost; the next run continues (${storeName})`, () =>
      on(Effect.gen(function*() {
        const ran: Array<string> = []
        let broken = false
        const graph = yield* StateGraph.make({ id: "fenced", state: { n: Channel.lastValue(Schema.Number, { initial: () => 0 }) } }).pipe(
          StateGraph.addNode("work", () =>
            Effect.gen(function*() {
              yield* Task.activity("first", Effect.sync(() => ran.push("first")))
              // an operator breaks the lease meanwhile (the holder looked dead)
              if (!broken) {
                broken = true
                yield* Effect.orDie(Snapshots.releaseLease("fenced-1", { force: true }))
              }
              yield* Task.activity("second", Effect.sync(() => ran.push("second")))
              return { n: 1 }
            })),
          StateGraph.addEdge(StateGraph.START, "work"),
          StateGraph.compile()
        )
        const error = yield* Effect.flip(graph.invoke({}, { threadId: "fenced-1" }))
        // the fenced run could not record its failure either
        expect(["LeaseLost", "ThreadBusy"]).toContain(error._tag)
        expect(ran).toEqual(["first"])
        expect(yield* Snapshots.leases()).toEqual([])
        // the next run continues the thread: the first activity is journaled, the second runs now
        expect((yield* graph.invoke(null, { threadId: "fenced-1" })).n).toBe(1)
        expect(ran).toEqual(["first", "second"])
      })))
  }
})

describe("Task.activity and node retries", () => {
  it.effect("a node retry tries a failed activity again (finished ones are replayed)", () =>
    Effect.gen(function*() {
      const charges = yield* Ref.make(0)
      const lookups = yield* Ref.make(0)
      const graph = yield* StateGraph.make({ id: "retry-failed-activity", state: { n: Channel.lastValue(Schema.Number, { initial: () => 0 }) } }).pipe(
        StateGraph.addNode("n", () =>
          Effect.gen(function*() {
            yield* Task.activity("charge", Ref.updateAndGet(charges, (n) => n + 1))
            const found = yield* Task.activity(
              "lookup",
              Effect.flatMap(Ref.updateAndGet(lookups, (n) => n + 1), (n) => (n < 3 ? Effect.fail("not yet") : Effect.succeed(n)))
            )
            return { n: found }
          }), { retry: Schedule.recurs(5) }),
        StateGraph.addEdge(StateGraph.START, "n"),
        StateGraph.compile()
      )
      expect((yield* graph.invoke({})).n).toBe(3)
      expect(yield* Ref.get(charges)).toBe(1)
      expect(yield* Ref.get(lookups)).toBe(3)
    }))
})

describe("Task.forEach", () => {
  const inNode = <A, E>(body: Effect.Effect<A, E>) =>
    StateGraph.make({ id: "fe", state: { out: Channel.lastValue(Schema.Unknown) } }).pipe(
      StateGraph.addNode("n", () => Effect.map(body, (out) => ({ out }))),
      StateGraph.addEdge(StateGraph.START, "n"),
      StateGraph.compile()
    )

  it.effect("all: every result in item order, never more than `concurrency` running", () =>
    Effect.gen(function*() {
      const running = yield* Ref.make(0)
      const peak = yield* Ref.make(0)
      const graph = yield* inNode(
        Task.forEach([5, 1, 4, 2, 3, 6], (x) =>
          Effect.gen(function*() {
            const now = yield* Ref.updateAndGet(running, (n) => n + 1)
            yield* Ref.update(peak, (p) => Math.max(p, now))
            yield* Effect.sleep(`${x} seconds`)
            yield* Ref.update(running, (n) => n - 1)
            return x * 10
          }), { concurrency: 2 })
      )
      const fiber = yield* Effect.fork(graph.invoke({ out: null }))
      yield* TestClock.adjust("1 minute")
      expect((yield* Fiber.join(fiber)).out).toEqual([50, 10, 40, 20, 30, 60])
      expect(yield* Ref.get(peak)).toBe(2)
    }))

  it.effect("an empty list returns at once", () =>
    Effect.gen(function*() {
      const graph = yield* inNode(Task.forEach([] as Array<number>, (x) => Effect.succeed(x)))
      expect((yield* graph.invoke({ out: null })).out).toEqual([])
    }))

  it.effect("first: the first to finish wins, the rest are interrupted", () =>
    Effect.gen(function*() {
      const interrupted = yield* Ref.make(0)
      const graph = yield* inNode(
        Task.forEach([3, 1, 2], (x) =>
          Effect.as(Effect.sleep(`${x} seconds`), x).pipe(Effect.onInterrupt(() => Ref.update(interrupted, (n) => n + 1))), { mode: "first" })
      )
      const fiber = yield* Effect.fork(graph.invoke({ out: null }))
      yield* TestClock.adjust("10 seconds")
      expect((yield* Fiber.join(fiber)).out).toEqual(Option.some(1))
      expect(yield* Ref.get(interrupted)).toBe(2)
    }))

  it.effect("anyError stops at the first failure and interrupts the rest; all waits then fails", () =>
    Effect.gen(function*() {
      const finished = yield* Ref.make<Array<number>>([])
      const child = (x: number) =>
        Effect.gen(function*() {
          yield* Effect.sleep(`${x} seconds`)
          if (x === 2) return yield* Effect.fail(new Boom({ item: x }))
          yield* Ref.update(finished, (f) => [...f, x])
          return x
        })
      const anyError = yield* inNode(Task.forEach([1, 2, 3, 4], child, { mode: "anyError" }))
      const f1 = yield* Effect.fork(Effect.flip(anyError.invoke({ out: null })))
      yield* TestClock.adjust("10 seconds")
      const e1 = yield* Fiber.join(f1)
      expect(e1._tag).toBe("Boom")
      expect(yield* Ref.get(finished)).toEqual([1])

      yield* Ref.set(finished, [])
      const all = yield* inNode(Task.forEach([1, 2, 3, 4], child))
      const f2 = yield* Effect.fork(Effect.flip(all.invoke({ out: null })))
      yield* TestClock.adjust("10 seconds")
      const e2 = yield* Fiber.join(f2)
      expect(e2._tag).toBe("Boom")
      expect(yield* Ref.get(finished)).toEqual([1, 3, 4])
    }))

  it.effect("a timeout fails with FanOutTimeout keeping the partial results", () =>
    Effect.gen(function*() {
      const graph = yield* inNode(
        Task.forEach([1, 2, 10], (x) => Effect.as(Effect.sleep(`${x} seconds`), x * 100), { timeout: "5 seconds" })
      )
      const fiber = yield* Effect.fork(Effect.flip(graph.invoke({ out: null })))
      yield* TestClock.adjust("6 seconds")
      const error = yield* Fiber.join(fiber)
      expect(error._tag).toBe("FanOutTimeout")
      if (error._tag === "FanOutTimeout") {
        expect([...error.partial.entries()]).toEqual([[0, 100], [1, 200]])
      }
    }))

  it.effect("a re-run runs only the children that had not finished", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make<Record<number, number>>({})
      const failOnce = yield* Ref.make(true)
      const graph = yield* StateGraph.make({ id: "fe-rerun", state: { out: Channel.lastValue(Schema.Array(Schema.Number), { initial: () => [] }) } }).pipe(
        StateGraph.addNode("n", () =>
          Effect.map(
            Task.forEach([0, 1, 2, 3], (i) =>
              Effect.gen(function*() {
                yield* Ref.update(runs, (r) => ({ ...r, [i]: (r[i] ?? 0) + 1 }))
                if (i === 2 && (yield* Ref.getAndSet(failOnce, false))) return yield* Effect.fail(new Boom({ item: i }))
                return i * i
              })),
            (out) => ({ out })
          )),
        StateGraph.addEdge(StateGraph.START, "n"),
        StateGraph.compile()
      )
      const error = yield* Effect.flip(graph.invoke({}, { threadId: "fr" }))
      expect(error._tag).toBe("Boom")
      const out = yield* graph.invoke(null, { threadId: "fr" })
      expect(out.out).toEqual([0, 1, 4, 9])
      expect(yield* Ref.get(runs)).toEqual({ 0: 1, 1: 1, 2: 2, 3: 1 })
    }).pipe(provide))
})

describe("Task.forEach with interrupts", () => {
  class ItemOk extends Interrupt.Tag("ForEachItemOk", {
    request: Schema.Struct({ item: Schema.String }),
    response: Schema.Struct({ ok: Schema.Boolean })
  }) {}

  for (const [store, run] of stores) {
    for (const concurrency of ["unbounded", 1] as const) {
      it.effect(`every child's question is pending at once; answered one by one, finished children do not run again (${store}, concurrency ${concurrency})`, () =>
        run(Effect.gen(function*() {
          const quotes = yield* Ref.make<Record<string, number>>({})
          const graph = yield* StateGraph.make({ id: `fe-ask-${concurrency}`, state: { verdicts: Channel.append(Schema.String) } }).pipe(
            StateGraph.addNode("each", () =>
              Effect.map(
                Task.forEach(["a", "b", "c"], (item) =>
                  Effect.gen(function*() {
                    // an activity before the question runs once per child, whatever finishes first
                    const quote = yield* Task.activity("quote", Ref.modify(quotes, (q) => [item.length, { ...q, [item]: (q[item] ?? 0) + 1 }]))
                    if (item === "b") return `${item}:auto`
                    const answer = yield* ItemOk.ask({ item })
                    return `${item}:${answer.ok}:${quote}`
                  }), { concurrency }),
                (verdicts) => ({ verdicts })
              )),
            StateGraph.addEdge(StateGraph.START, "each"),
            StateGraph.compile()
          )
          const paused = yield* Effect.flip(graph.invoke({}, { threadId: "t" }))
          if (paused._tag !== "GraphInterrupted") throw new Error(`expected a pause, got ${paused._tag}`)
          expect(paused.interrupts.map((i) => i.request)).toEqual([{ item: "a" }, { item: "c" }])
          const [forA, forC] = paused.interrupts
          // answer c first: a is still pending, nothing is lost
          const again = yield* Effect.flip(graph.resume({ threadId: "t" }, ItemOk.respondTo(forC!.id, { ok: false })))
          if (again._tag !== "GraphInterrupted") throw new Error(`expected a pause, got ${again._tag}`)
          expect(again.interrupts.map((i) => i.id)).toEqual([forA!.id])
          const state = yield* graph.getState("t")
          expect(state.interrupts.filter((i) => i.status === "pending").map((i) => i.id)).toEqual([forA!.id])
          const out = yield* graph.resume({ threadId: "t" }, ItemOk.respondTo(forA!.id, { ok: true }))
          expect(out.verdicts).toEqual(["a:true:1", "b:auto", "c:false:1"])
          expect(yield* Ref.get(quotes)).toEqual({ a: 1, b: 1, c: 1 })
          const final = yield* graph.getState("t")
          expect(final.status).toBe("completed")
        })))
    }
  }

  it.effect("children that call a graph which asks: both questions pending, the answers reach each child graph", () =>
    Effect.gen(function*() {
      const review = StateGraph.make({ id: "fe-review", state: { item: Channel.lastValue(Schema.String), ok: Channel.lastValue(Schema.Boolean, { initial: () => false }) } }).pipe(
        StateGraph.addNode("ask", (s) => Effect.map(ItemOk.ask({ item: s.item }), (a) => ({ ok: a.ok }))),
        StateGraph.addEdge(StateGraph.START, "ask"),
        StateGraph.compileSync()
      )
      const graph = yield* StateGraph.make({ id: "fe-call", state: { verdicts: Channel.append(Schema.String) } }).pipe(
        StateGraph.addNode("each", () =>
          Effect.map(
            Task.forEach(["x", "y"], (item) => Effect.map(Task.call(review, { item }), (r) => `${r.item}:${r.ok}`)),
            (verdicts) => ({ verdicts })
          )),
        StateGraph.addEdge(StateGraph.START, "each"),
        StateGraph.compile()
      )
      const paused = yield* Effect.flip(graph.invoke({}, { threadId: "c" }))
      if (paused._tag !== "GraphInterrupted") throw new Error(`expected a pause, got ${paused._tag}`)
      expect(paused.interrupts.map((i) => i.request)).toEqual([{ item: "x" }, { item: "y" }])
      const out = yield* graph.resume(
        { threadId: "c" },
        ...paused.interrupts.map((i) => ItemOk.respondTo(i.id, { ok: (i.request as { item: string }).item === "x" }))
      )
      expect(out.verdicts).toEqual(["x:true", "y:false"])
    }).pipe(provide))
})

describe("the task context after a parallel step", () => {
  for (const [store, run] of stores) {
    for (const durability of ["sync", "async", "exit"] as const) {
      it.effect(`a join after parallel tasks journals, asks and sleeps durably (${store}, ${durability})`, () =>
        run(Effect.gen(function*() {
          const charges = yield* Ref.make(0)
          const graph = yield* StateGraph.make({ id: `after-par-${durability}`, state: { log: Channel.append(Schema.String) } }).pipe(
            // both parallel tasks journal an activity too (async durability: their step's checkpoint may still be queued)
            StateGraph.addNode("a", () => Effect.map(Task.activity("a", Effect.succeed("a")), (x) => ({ log: [x] }))),
            StateGraph.addNode("b", () => Effect.map(Task.activity("b", Effect.succeed("b")), (x) => ({ log: [x] }))),
            StateGraph.addNode("review", () =>
              Effect.gen(function*() {
                const n = yield* Task.activity("charge", Ref.updateAndGet(charges, (c) => c + 1))
                const answer = yield* Approval.ask({ amount: n })
                return { log: [`charged ${n}, approved ${answer.approved}`] }
              })),
            StateGraph.addNode("nap", () => Effect.as(Task.sleep("1 hour"), { log: ["woke"] })),
            StateGraph.addEdge(StateGraph.START, "a"),
            StateGraph.addEdge(StateGraph.START, "b"),
            StateGraph.addEdge(["a", "b"], "review"),
            StateGraph.addEdge("review", "nap"),
            StateGraph.compile({ durability })
          )
          const paused = yield* Effect.flip(graph.invoke({}, { threadId: "t" }))
          expect(paused._tag).toBe("GraphInterrupted")
          const slept = yield* Effect.flip(graph.resume({ threadId: "t" }, Approval.respond({ approved: true })))
          // a long Task.sleep pauses the thread instead of blocking the caller
          expect(slept._tag).toBe("ThreadSleeping")
          // the activity before the question ran once across the resume
          expect(yield* Ref.get(charges)).toBe(1)
          const state = yield* graph.getState("t")
          expect(state.values.log).toEqual(["a", "b", "charged 1, approved true"])
          expect(state.pauseReason).toBe("sleeping")
        })))
    }
  }
})

describe("child graphs", () => {
  class Review extends Interrupt.Tag("ChildReview", {
    request: Schema.Struct({ text: Schema.String }),
    response: Schema.Struct({ ok: Schema.Boolean })
  }) {}

  const research = StateGraph.make({
    id: "research",
    state: { topic: Channel.lastValue(Schema.String), notes: Channel.append(Schema.String) }
  }).pipe(
    StateGraph.addNode("search", (s) => Effect.succeed({ notes: [`found ${s.topic}`] })),
    StateGraph.addNode("review", (s) =>
      Effect.map(Review.ask({ text: s.notes.join(";") }), (r) => ({ notes: [r.ok ? "reviewed" : "rejected"] }))),
    StateGraph.addEdge(StateGraph.START, "search"),
    StateGraph.addEdge("search", "review"),
    StateGraph.compileSync()
  )

  it.effect("a subgraph node: its interrupt surfaces through the parent and the answer reaches it", () =>
    Effect.gen(function*() {
      const parentRuns = yield* Ref.make(0)
      const parent = yield* StateGraph.make({
        id: "parent",
        state: { topic: Channel.lastValue(Schema.String), notes: Channel.append(Schema.String), done: Channel.lastValue(Schema.Boolean, { initial: () => false }) }
      }).pipe(
        StateGraph.addNode("prepare", () => Effect.as(Ref.update(parentRuns, (n) => n + 1), { notes: ["start"] })),
        StateGraph.addNode("research", research),
        StateGraph.addNode("finish", () => Effect.succeed({ done: true })),
        StateGraph.addEdge(StateGraph.START, "prepare"),
        StateGraph.addEdge("prepare", "research"),
        StateGraph.addEdge("research", "finish"),
        StateGraph.compile()
      )
      const paused = yield* Effect.flip(parent.invoke({ topic: "effect" }, { threadId: "parent-1" }))
      if (paused._tag !== "GraphInterrupted") throw new Error(`expected a pause, got ${paused._tag}`)
      expect(paused.interrupts).toHaveLength(1)
      const pending = paused.interrupts[0]!
      expect(pending.kind).toBe("ChildReview")
      expect(pending.node).toBe("research")
      if (pending.kind === "ChildReview") expect(pending.request.text).toBe("start;found effect")
      const out = yield* parent.resume({ threadId: "parent-1" }, Review.respond({ ok: true }))
      expect(out).toEqual({ topic: "effect", notes: ["start", "found effect", "reviewed"], done: true })
      expect(yield* Ref.get(parentRuns)).toBe(1)
    }).pipe(provide))

  it.effect("Task.call: a child's failure is a typed ChildFailed with the cause", () =>
    Effect.gen(function*() {
      const failing = StateGraph.make({ id: "failing", state: { x: Channel.lastValue(Schema.Number) } }).pipe(
        StateGraph.addNode("boom", (s) => Effect.fail(new Boom({ item: s.x }))),
        StateGraph.addEdge(StateGraph.START, "boom"),
        StateGraph.compileSync()
      )
      const parent = yield* StateGraph.make({ id: "caller", state: { y: Channel.lastValue(Schema.Number, { initial: () => 0 }) } }).pipe(
        StateGraph.addNode("call", () => Effect.map(Task.call(failing, { x: 7 }), (s) => ({ y: s.x }))),
        StateGraph.addEdge(StateGraph.START, "call"),
        StateGraph.compile()
      )
      const error = yield* Effect.flip(parent.invoke({}, { threadId: "c" }))
      expect(error._tag).toBe("ChildFailed")
      if (error._tag === "ChildFailed") {
        expect(error.graphId).toBe("failing")
        expect(error.error).toMatchObject({ _tag: "Boom", item: 7 })
      }
      const recovered = yield* parent.invoke({}).pipe(
        Effect.catchTag("ChildFailed", (e) => Effect.succeed({ y: -1, cause: e.error }))
      )
      expect(recovered.y).toBe(-1)
    }).pipe(provide))

  it.effect("Task.call returns the child's final state and is journaled", () =>
    Effect.gen(function*() {
      const childRuns = yield* Ref.make(0)
      const child = StateGraph.make({ id: "double", state: { x: Channel.lastValue(Schema.Number) } }).pipe(
        StateGraph.addNode("d", (s) => Effect.as(Ref.update(childRuns, (n) => n + 1), { x: s.x * 2 })),
        StateGraph.addEdge(StateGraph.START, "d"),
        StateGraph.compileSync()
      )
      const parent = yield* StateGraph.make({ id: "caller2", state: { y: Channel.lastValue(Schema.Number, { initial: () => 0 }) } }).pipe(
        StateGraph.addNode("call", () =>
          Effect.gen(function*() {
            const r = yield* Task.call(child, { x: 21 })
            yield* Approval.ask({ amount: r.x })
            return { y: r.x }
          })),
        StateGraph.addEdge(StateGraph.START, "call"),
        StateGraph.compile()
      )
      yield* Effect.flip(parent.invoke({}, { threadId: "j" }))
      const out = yield* parent.resume({ threadId: "j" }, Approval.respond({ approved: true }))
      expect(out.y).toBe(42)
      expect(yield* Ref.get(childRuns)).toBe(1)
    }).pipe(provide))
})

describe("durable sleep", () => {
  const sleeper = StateGraph.make({ id: "sleeper", state: { log: Channel.append(Schema.String) } }).pipe(
    StateGraph.addNode("wait", () =>
      Effect.gen(function*() {
        yield* Task.sleep("1 hour")
        return { log: ["woke"] }
      })),
    StateGraph.addEdge(StateGraph.START, "wait"),
    StateGraph.compileSync()
  )

  it.effect("in process (no thread) it just waits, under TestClock", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(sleeper.invoke({}))
      yield* TestClock.adjust("59 minutes")
      expect(fiber.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 minute")
      expect((yield* Fiber.join(fiber)).log).toEqual(["woke"])
    }))

  it.effect("a persisted thread pauses with its wake-up time and is listed as due once it has come", () =>
    Effect.gen(function*() {
      const store = yield* Snapshots.Snapshots
      const start = yield* Clock.currentTimeMillis
      const error = yield* Effect.flip(sleeper.invoke({}, { threadId: "s" }))
      expect(error._tag).toBe("ThreadSleeping")
      const state = yield* sleeper.getState("s")
      expect(state.status).toBe("paused")
      expect(state.pauseReason).toBe("sleeping")
      expect(yield* store.dueSleepers(yield* Clock.currentTimeMillis)).toEqual([])
      // too early: it goes back to sleep
      yield* TestClock.adjust("30 minutes")
      expect((yield* Effect.flip(sleeper.invoke(null, { threadId: "s" })))._tag).toBe("ThreadSleeping")
      // new input waits for the wake-up too, with the same error (not "paused, resume it")
      const withInput = yield* Effect.flip(sleeper.invoke({}, { threadId: "s" }))
      expect(withInput._tag).toBe("ThreadSleeping")
      if (withInput._tag === "ThreadSleeping") expect(withInput.wakeAt).toBe(new Date(start + 3_600_000).toISOString())
      yield* TestClock.adjust("30 minutes")
      const due = yield* store.dueSleepers(yield* Clock.currentTimeMillis)
      expect(due.map((d) => d.threadId)).toEqual(["s"])
      expect(due[0]!.wakeAt).toBe(start + 3_600_000)
      expect((yield* sleeper.invoke(null, { threadId: "s" })).log).toEqual(["woke"])
      expect(yield* store.dueSleepers(yield* Clock.currentTimeMillis)).toEqual([])
    }).pipe(provide))
})
