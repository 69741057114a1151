import { describe, expect, it } from "@effect/vitest"
import { Data, Deferred, Duration, Effect, Either, Exit, Fiber, Option, Ref, Schedule, Schema, Stream, TestClock } from "effect"
import { Channel, Command, Send, Snapshots, StateGraph } from "effect-stategraph"

const provide = Effect.provide(Snapshots.layerMemory)

describe("StateGraph engine", () => {
  it.effect("runs a linear chain", () =>
    Effect.gen(function*() {
      const graph = yield* StateGraph.make({ id: "chain", state: { log: Channel.append(Schema.String) } }).pipe(
        StateGraph.addNode("a", () => Effect.succeed({ log: ["a"] })),
        StateGraph.addNode("b", () => Effect.succeed({ log: ["b"] })),
        StateGraph.addNode("c", () => Effect.succeed({ log: ["c"] })),
        StateGraph.addEdge(StateGraph.START, "a"),
        StateGraph.addEdge("a", "b"),
        StateGraph.addEdge("b", "c"),
        StateGraph.compile()
      )
      const out = yield* graph.invoke({})
      expect(out.log).toEqual(["a", "b", "c"])
    }))

  it.effect("an append channel's value a node or a stream part holds does not grow with later steps", () =>
    Effect.gen(function*() {
      const seen: Array<ReadonlyArray<string>> = []
      const graph = yield* StateGraph.make({ id: "append-held", state: { log: Channel.append(Schema.String) } }).pipe(
        StateGraph.addNode("a", (s) => Effect.sync(() => (seen.push(s.log), { log: ["a"] }))),
        StateGraph.addNode("b", (s) => Effect.sync(() => (seen.push(s.log), { log: ["b"] }))),
        StateGraph.addNode("c", (s) => Effect.sync(() => (seen.push(s.log), { log: s.log }))),
        StateGraph.addEdge(StateGraph.START, "a"),
        StateGraph.addEdge("a", "b"),
        StateGraph.addEdge("b", "c"),
        StateGraph.compile()
      )
      const out = yield* graph.invoke({ log: ["in"] }, { threadId: "held" })
      expect(out.log).toEqual(["in", "a", "b", "in", "a", "b"])
      expect(seen).toEqual([["in"], ["in", "a"], ["in", "a", "b"]])
      const parts = yield* Stream.runCollect(graph.stream({ log: ["x"] }, { mode: "values" }))
      expect([...parts].map((p) => (p as { values: { log: ReadonlyArray<string> } }).values.log.length)).toEqual([1, 2, 3, 6])
      // the thread reads back as it ran, and a second run continues it
      const again = yield* graph.invoke({ log: ["more"] }, { threadId: "held" })
      expect(again.log.length).toBe(2 * (6 + 1 + 2))
      expect(out.log).toEqual(["in", "a", "b", "in", "a", "b"])
    }).pipe(provide))

  it.effect("branches on a condition", () =>
    Effect.gen(function*() {
      const graph = yield* StateGraph.make({
        id: "branch",
        state: { n: Channel.lastValue(Schema.Number), path: Channel.lastValue(Schema.String, { initial: () => "" }) }
      }).pipe(
        StateGraph.addNode("check", () => Effect.void),
        StateGraph.addNode("big", () => Effect.succeed({ path: "big" })),
        StateGraph.addNode("small", () => Effect.succeed({ path: "small" })),
        StateGraph.addEdge(StateGraph.START, "check"),
        StateGraph.addConditionalEdges("check", (s) => (s.n > 10 ? "big" : "small"), ["big", "small"]),
        StateGraph.compile()
      )
      expect((yield* graph.invoke({ n: 50 })).path).toBe("big")
      expect((yield* graph.invoke({ n: 5 })).path).toBe("small")
    }))

  it.effect("runs a loop exactly N times", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make(0)
      const graph = yield* StateGraph.make({ id: "loop", state: { n: Channel.lastValue(Schema.Number) } }).pipe(
        StateGraph.addNode("inc", (s) => Effect.as(Ref.update(runs, (x) => x + 1), { n: s.n + 1 })),
        StateGraph.addEdge(StateGraph.START, "inc"),
        StateGraph.addConditionalEdges("inc", (s) => (s.n < 7 ? "inc" : StateGraph.END)),
        StateGraph.compile()
      )
      expect((yield* graph.invoke({ n: 0 })).n).toBe(7)
      expect(yield* Ref.get(runs)).toBe(7)
    }))

  it.effect("a join waits for both parents", () =>
    Effect.gen(function*() {
      const graph = yield* StateGraph.make({ id: "join", state: { log: Channel.append(Schema.String) } }).pipe(
        StateGraph.addNode("start", () => Effect.succeed({ log: ["start"] })),
        StateGraph.addNode("fast", () => Effect.succeed({ log: ["fast"] })),
        StateGraph.addNode("slow1", () => Effect.succeed({ log: ["slow1"] })),
        StateGraph.addNode("slow2", () => Effect.succeed({ log: ["slow2"] })),
        StateGraph.addNode("joined", () => Effect.succeed({ log: ["joined"] })),
        StateGraph.addEdge(StateGraph.START, "start"),
        StateGraph.addEdge("start", "fast"),
        StateGraph.addEdge("start", "slow1"),
        StateGraph.addEdge("slow1", "slow2"),
        StateGraph.addEdge(["fast", "slow2"], "joined"),
        StateGraph.compile()
      )
      const out = yield* graph.invoke({})
      // fast finishes in step 1, slow2 in step 2: joined runs once, after both
      expect(out.log).toEqual(["start", "fast", "slow1", "slow2", "joined"])
    }))

  it.effect("parallel appends land in task order, whatever the finishing order", () =>
    Effect.gen(function*() {
      const graph = yield* StateGraph.make({ id: "par", state: { log: Channel.append(Schema.String) } }).pipe(
        StateGraph.addNode("a", () => Effect.as(Effect.sleep("3 seconds"), { log: ["a"] })),
        StateGraph.addNode("b", () => Effect.as(Effect.sleep("1 second"), { log: ["b"] })),
        StateGraph.addNode("c", () => Effect.succeed({ log: ["c"] })),
        StateGraph.addEdge(StateGraph.START, "a"),
        StateGraph.addEdge(StateGraph.START, "b"),
        StateGraph.addEdge(StateGraph.START, "c"),
        StateGraph.compile()
      )
      const fiber = yield* Effect.fork(graph.invoke({}))
      yield* TestClock.adjust("5 seconds")
      const out = yield* Fiber.join(fiber)
      expect(out.log).toEqual(["a", "b", "c"])
    }))

  it.effect("two writes to a last-value channel in one step: InvalidUpdate, nothing applied", () =>
    Effect.gen(function*() {
      const graph = yield* StateGraph.make({ id: "conflict", state: { v: Channel.lastValue(Schema.String) } }).pipe(
        StateGraph.addNode("a", () => Effect.succeed({ v: "a" })),
        StateGraph.addNode("b", () => Effect.succeed({ v: "b" })),
        StateGraph.addEdge(StateGraph.START, "a"),
        StateGraph.addEdge(StateGraph.START, "b"),
        StateGraph.compile()
      )
      const error = yield* Effect.flip(graph.invoke({ v: "start" }, { threadId: "t" }))
      expect(error._tag).toBe("InvalidUpdate")
      if (error._tag === "InvalidUpdate") {
        expect(error.channel).toBe("v")
        expect(error.node).toBe("b")
      }
      const state = yield* graph.getState("t")
      expect(state.values.v).toBe("start")
      expect(state.status).toBe("failed")
    }).pipe(provide))

  it.effect("a schema-invalid update is an InvalidUpdate with the issue", () =>
    Effect.gen(function*() {
      const graph = yield* StateGraph.make({
        id: "invalid",
        state: { age: Channel.lastValue(Schema.Number.pipe(Schema.int(), Schema.nonNegative())) }
      }).pipe(
        StateGraph.addNode("a", () => Effect.succeed({ age: -3 })),
        StateGraph.addEdge(StateGraph.START, "a"),
        StateGraph.compile()
      )
      const error = yield* Effect.flip(graph.invoke({ age: 1 }, { threadId: "t" }))
      expect(error._tag).toBe("InvalidUpdate")
      if (error._tag === "InvalidUpdate") {
        expect(error.channel).toBe("age")
        expect(error.issue).toMatch(/-3|non-negative|>= 0/)
      }
      expect((yield* graph.getState("t")).values.age).toBe(1)
      // the input is decoded too
      const bad = yield* Effect.flip(graph.invoke({ age: 1.5 }))
      expect(bad._tag).toBe("InvalidUpdate")
    }).pipe(provide))

  it.effect("an update with an unknown channel at runtime is refused", () =>
    Effect.gen(function*() {
      const graph = yield* StateGraph.make({ id: "unknown", state: { v: Channel.lastValue(Schema.String) } }).pipe(
        StateGraph.addNode("a", () => Effect.succeed({ v: "x" })),
        StateGraph.addEdge(StateGraph.START, "a"),
        StateGraph.compile()
      )
      const error = yield* Effect.flip(graph.invoke({ v: "a", nope: 1 } as any))
      expect(error._tag).toBe("InvalidUpdate")
    }))

  it.effect("fails with RecursionLimitExceeded and keeps the last good checkpoint", () =>
    Effect.gen(function*() {
      const graph = yield* StateGraph.make({ id: "forever", state: { n: Channel.lastValue(Schema.Number) } }).pipe(
        StateGraph.addNode("inc", (s) => Effect.succeed({ n: s.n + 1 })),
        StateGraph.addEdge(StateGraph.START, "inc"),
        StateGraph.addEdge("inc", "inc"),
        StateGraph.compile({ recursionLimit: 10 })
      )
      const error = yield* Effect.flip(graph.invoke({ n: 0 }, { threadId: "t" }))
      expect(error._tag).toBe("RecursionLimitExceeded")
      if (error._tag === "RecursionLimitExceeded") expect(error.limit).toBe(10)
      const state = yield* graph.getState("t")
      expect(state.values.n).toBe(10)
      expect(state.next).toEqual(["inc"])
    }).pipe(provide))

  it.effect("Send fans out 1,000 items reduced to one sum", () =>
    Effect.gen(function*() {
      const graph = yield* StateGraph.make({
        id: "mapreduce",
        state: {
          items: Channel.lastValue(Schema.Array(Schema.Number)),
          sum: Channel.reduce(Schema.Number, (a, b) => a + b, () => 0)
        }
      }).pipe(
        StateGraph.addNode("plan", () => Effect.void),
        StateGraph.addNode("square", (arg: { readonly x: number }) => Effect.succeed({ sum: arg.x * arg.x })),
        StateGraph.addEdge(StateGraph.START, "plan"),
        StateGraph.addConditionalEdges("plan", (s) => s.items.map((x) => Send.make("square", { x }))),
        StateGraph.compile()
      )
      const items = Array.from({ length: 1000 }, (_, i) => i + 1)
      const out = yield* graph.invoke({ items }, { threadId: "m" })
      expect(out.sum).toBe(items.reduce((a, x) => a + x * x, 0))
    }).pipe(provide))

  it.effect("a node's own typed error stays in the error channel", () =>
    Effect.gen(function*() {
      class PaymentDeclined extends Data.TaggedError("PaymentDeclined")<{ readonly amount: number }> {}
      const graph = yield* StateGraph.make({ id: "errors", state: { ok: Channel.lastValue(Schema.Boolean) } }).pipe(
        StateGraph.addNode("pay", () => Effect.fail(new PaymentDeclined({ amount: 42 }))),
        StateGraph.addEdge(StateGraph.START, "pay"),
        StateGraph.compile()
      )
      const recovered = yield* graph.invoke({ ok: true }).pipe(
        Effect.map(() => "ran"),
        Effect.catchTag("PaymentDeclined", (e) => Effect.succeed(`declined ${e.amount}`))
      )
      expect(recovered).toBe("declined 42")
    }))

  it.effect("retries a node with its schedule (fails twice, succeeds the third time)", () =>
    Effect.gen(function*() {
      const attempts = yield* Ref.make(0)
      const graph = yield* StateGraph.make({ id: "retry", state: { n: Channel.lastValue(Schema.Number) } }).pipe(
        StateGraph.addNode(
          "flaky",
          () =>
            Ref.updateAndGet(attempts, (n) => n + 1).pipe(
              Effect.flatMap((n) => (n < 3 ? Effect.fail(new Error(`attempt ${n}`)) : Effect.succeed({ n })))
            ),
          { retry: Schedule.exponential("1 second") }
        ),
        StateGraph.addEdge(StateGraph.START, "flaky"),
        StateGraph.compile()
      )
      const fiber = yield* Effect.fork(graph.invoke({ n: 0 }))
      yield* TestClock.adjust("1 second")
      expect(yield* Ref.get(attempts)).toBe(2)
      yield* TestClock.adjust("2 seconds")
      const out = yield* Fiber.join(fiber)
      expect(out.n).toBe(3)
    }))

  it.effect("a timeout interrupts the task's fiber", () =>
    Effect.gen(function*() {
      const finished = yield* Ref.make(false)
      const interrupted = yield* Ref.make(false)
      const graph = yield* StateGraph.make({ id: "timeout", state: { n: Channel.lastValue(Schema.Number) } }).pipe(
        StateGraph.addNode(
          "slow",
          () =>
            Effect.sleep("1 hour").pipe(
              Effect.zipRight(Ref.set(finished, true)),
              Effect.onInterrupt(() => Ref.set(interrupted, true)),
              Effect.as({ n: 1 })
            ),
          { timeout: "10 seconds" }
        ),
        StateGraph.addEdge(StateGraph.START, "slow"),
        StateGraph.compile()
      )
      const fiber = yield* Effect.fork(Effect.flip(graph.invoke({ n: 0 })))
      yield* TestClock.adjust("11 seconds")
      const error = yield* Fiber.join(fiber)
      expect(error._tag).toBe("NodeTimeout")
      expect(yield* Ref.get(interrupted)).toBe(true)
      yield* TestClock.adjust("2 hours")
      expect(yield* Ref.get(finished)).toBe(false)
    }))

  it.effect("history of a 3-step thread, newest first, with parent links", () =>
    Effect.gen(function*() {
      const graph = yield* StateGraph.make({ id: "hist", state: { log: Channel.append(Schema.String) } }).pipe(
        StateGraph.addNode("a", () => Effect.succeed({ log: ["a"] })),
        StateGraph.addNode("b", () => Effect.succeed({ log: ["b"] })),
        StateGraph.addNode("c", () => Effect.succeed({ log: ["c"] })),
        StateGraph.addEdge(StateGraph.START, "a"),
        StateGraph.addEdge("a", "b"),
        StateGraph.addEdge("b", "c"),
        StateGraph.compile()
      )
      yield* graph.invoke({ log: ["in"] }, { threadId: "h" })
      const history = yield* graph.history("h")
      expect(history.map((s) => s.step)).toEqual([3, 2, 1, 0])
      expect(history.map((s) => s.next)).toEqual([[], ["c"], ["b"], ["a"]])
      expect(history.map((s) => s.values.log.length)).toEqual([4, 3, 2, 1])
      for (let i = 0; i < history.length - 1; i++) {
        expect(history[i]!.parentCheckpointId).toBe(history[i + 1]!.checkpointId)
      }
      expect(history[0]!.status).toBe("completed")
      expect(history[0]!.nodeStates["c"]?.executionOrder).toBe(3)
      expect(history[0]!.nodeStates["a"]?.executionOrder).toBe(1)
      expect((yield* graph.history("h", { limit: 2 })).map((s) => s.step)).toEqual([3, 2])
      // a limit of 0 (or less) reads nothing of an existing thread; an unknown one is still unknown
      expect(yield* graph.history("h", { limit: 0 })).toEqual([])
      expect(yield* graph.history("h", { limit: -1 })).toEqual([])
      expect((yield* Effect.flip(graph.history("nope", { limit: 0 })))._tag).toBe("ThreadNotFound")
      expect((yield* Effect.flip(graph.history("h", { limit: 0, checkpointId: "nope" })))._tag).toBe("CheckpointNotFound")
    }).pipe(provide))

  it.effect("a route that returns a node outside its declared targets is refused at run time", () =>
    Effect.gen(function*() {
      const graph = yield* StateGraph.make({ id: "targets", state: { n: Channel.lastValue(Schema.Number) } }).pipe(
        StateGraph.addNode("a", () => Effect.succeed({})),
        StateGraph.addNode("b", () => Effect.succeed({})),
        StateGraph.addNode("c", () => Effect.succeed({})),
        StateGraph.addEdge(StateGraph.START, "a"),
        StateGraph.addEdge("a", "b"),
        StateGraph.addConditionalEdges("a", () => "c", ["c", StateGraph.END]),
        // c exists and is reachable, but this route declared only END
        StateGraph.addConditionalEdges("b", (s) => (s.n > 1 ? ("c" as any) : StateGraph.END), [StateGraph.END]),
        StateGraph.compile()
      )
      expect((yield* graph.invoke({ n: 0 })).n).toBe(0)
      const refused = yield* Effect.flip(graph.invoke({ n: 5 }))
      expect(refused._tag).toBe("InvalidUpdate")
      if (refused._tag === "InvalidUpdate") expect(refused.message).toContain(`route returned "c", not one of its targets`)
    }).pipe(provide))

  it.effect("NaN and ±Infinity are refused as updates (JSON cannot store them): the thread stays readable", () =>
    Effect.gen(function*() {
      const graph = yield* StateGraph.make({
        id: "finite",
        state: {
          x: Channel.lastValue(Schema.Number, { initial: () => 0 }),
          point: Channel.lastValue(Schema.Struct({ at: Schema.Array(Schema.Number) }), { initial: () => ({ at: [] }) })
        }
      }).pipe(
        StateGraph.addNode("divide", (s) => Effect.succeed({ point: { at: [1, s.x / 0] } })),
        StateGraph.addEdge(StateGraph.START, "divide"),
        StateGraph.compile()
      )
      const nan = yield* Effect.flip(graph.invoke({ x: Number.NaN }, { threadId: "f" }))
      expect(nan._tag).toBe("InvalidUpdate")
      const inf = yield* Effect.flip(graph.invoke({ x: 1 }, { threadId: "f" }))
      expect(inf._tag).toBe("InvalidUpdate")
      if (inf._tag === "InvalidUpdate") expect(inf.message).toContain("NaN and ±Infinity")
      // what was stored reads back as it was written
      expect((yield* graph.getState("f")).values).toEqual({ x: 1, point: { at: [] } })
    }).pipe(provide))

  it.effect("getState and history read a channel nothing has written yet as its initial value, as the run does", () =>
    Effect.gen(function*() {
      const graph = yield* StateGraph.make({
        id: "initials",
        state: {
          log: Channel.append(Schema.String),
          n: Channel.lastValue(Schema.Number, { initial: () => 7 }),
          t: Channel.reduce(Schema.Number, (a, b) => a + b, () => 0)
        }
      }).pipe(
        StateGraph.addNode("a", (s) => Effect.succeed({ log: [`n=${s.n} t=${s.t}`] })),
        StateGraph.addEdge(StateGraph.START, "a"),
        StateGraph.compile()
      )
      const out = yield* graph.invoke({}, { threadId: "i" })
      expect(out).toEqual({ log: ["n=7 t=0"], n: 7, t: 0 })
      expect((yield* graph.getState("i")).values).toEqual(out)
      expect((yield* graph.history("i")).map((h) => h.values)).toEqual([out, { log: [], n: 7, t: 0 }])
      // every checkpoint of the execution carries its input, the head too
      const store = yield* Snapshots.Snapshots
      const rows = yield* store.history("i", {})
      expect(rows.map((r) => r.initialInput)).toEqual([{}, {}])
      yield* graph.invoke({ log: ["second"] }, { threadId: "i" })
      const head = yield* store.load("i")
      expect(Option.getOrThrow(head).initialInput).toEqual({ log: ["second"] })
    }).pipe(provide))

  it.effect("a second invoke on a finished thread continues its state (chat turns)", () =>
    Effect.gen(function*() {
      const graph = yield* StateGraph.make({ id: "chat", state: { messages: Channel.append(Schema.String) } }).pipe(
        StateGraph.addNode("bot", (s) => Effect.succeed({ messages: [`echo ${s.messages[s.messages.length - 1]}`] })),
        StateGraph.addEdge(StateGraph.START, "bot"),
        StateGraph.compile()
      )
      yield* graph.invoke({ messages: ["hi"] }, { threadId: "c" })
      const out = yield* graph.invoke({ messages: ["again"] }, { threadId: "c" })
      expect(out.messages).toEqual(["hi", "echo hi", "again", "echo again"])
      expect((yield* graph.history("c")).length).toBe(4)
    }).pipe(provide))

  it.effect("concurrent invokes on one thread: exactly one ThreadBusy", () =>
    Effect.gen(function*() {
      const graph = yield* StateGraph.make({ id: "busy", state: { n: Channel.lastValue(Schema.Number) } }).pipe(
        StateGraph.addNode("slow", (s) => Effect.as(Effect.sleep("1 second"), { n: s.n + 1 })),
        StateGraph.addEdge(StateGraph.START, "slow"),
        StateGraph.compile()
      )
      const fibers = yield* Effect.forEach([1, 2, 3], () => Effect.fork(Effect.either(graph.invoke({ n: 0 }, { threadId: "b" }))))
      yield* TestClock.adjust("2 seconds")
      const results = yield* Effect.forEach(fibers, Fiber.join)
      const busy = results.filter((r) => Either.isLeft(r) && r.left._tag === "ThreadBusy")
      expect(busy.length).toBe(2)
      expect(results.filter(Either.isRight).length).toBe(1)
      expect((yield* graph.history("b")).length).toBe(2)
    }).pipe(provide))

  it.effect("a failed sibling keeps the finished task's writes; the re-run skips it", () =>
    Effect.gen(function*() {
      const goodRuns = yield* Ref.make(0)
      const shouldFail = yield* Ref.make(true)
      const graph = yield* StateGraph.make({ id: "sibling", state: { log: Channel.append(Schema.String) } }).pipe(
        StateGraph.addNode("good", () => Effect.as(Ref.update(goodRuns, (n) => n + 1), { log: ["good"] })),
        StateGraph.addNode("bad", () =>
          Effect.flatMap(Ref.get(shouldFail), (fail) =>
            fail ? Effect.fail(new Error("boom")) : Effect.succeed({ log: ["bad"] }))),
        StateGraph.addEdge(StateGraph.START, "good"),
        StateGraph.addEdge(StateGraph.START, "bad"),
        StateGraph.compile()
      )
      const error = yield* Effect.flip(graph.invoke({}, { threadId: "s" }))
      expect(error).toBeInstanceOf(Error)
      const failed = yield* graph.getState("s")
      expect(failed.status).toBe("failed")
      expect(failed.nodeStates["bad"]?.status).toBe("failed")
      // the failed run counts: one attempt so far, two once it succeeded
      expect(failed.nodeStates["bad"]?.attempts).toBe(1)
      yield* Ref.set(shouldFail, false)
      const out = yield* graph.invoke(null, { threadId: "s" })
      expect(out.log).toEqual(["good", "bad"])
      expect(yield* Ref.get(goodRuns)).toBe(1)
      const done = yield* graph.getState("s")
      expect([done.nodeStates["bad"]?.status, done.nodeStates["bad"]?.attempts]).toEqual(["completed", 2])
      expect([done.nodeStates["good"]?.status, done.nodeStates["good"]?.attempts]).toEqual(["completed", 1])
    }).pipe(provide))

  it.effect("Command routes and writes", () =>
    Effect.gen(function*() {
      const graph = yield* StateGraph.make({ id: "cmd", state: { log: Channel.append(Schema.String) } }).pipe(
        StateGraph.addNode("router", () => Effect.succeed(Command.goto("b", { log: ["router"] })), { ends: ["b"] }),
        StateGraph.addNode("a", () => Effect.succeed({ log: ["a"] })),
        StateGraph.addNode("b", () => Effect.succeed(Command.update({ log: ["b"] }, [Send.make("a", {})])), { ends: ["a"] }),
        StateGraph.addEdge(StateGraph.START, "router"),
        StateGraph.compile()
      )
      expect((yield* graph.invoke({})).log).toEqual(["router", "b", "a"])
    }))

  it.effect("compile refuses unreachable nodes, edges out of END, and no entry", () =>
    Effect.gen(function*() {
      const base = StateGraph.make({ id: "bad", state: { n: Channel.lastValue(Schema.Number) } }).pipe(
        StateGraph.addNode("a", () => Effect.void),
        StateGraph.addNode("orphan", () => Effect.void)
      )
      const unreachable = yield* Effect.flip(base.pipe(StateGraph.addEdge(StateGraph.START, "a"), StateGraph.compile()))
      expect(unreachable._tag).toBe("InvalidGraph")
      expect(unreachable.reason).toMatch(/orphan.*unreachable/)
      const noEntry = yield* Effect.flip(base.pipe(StateGraph.addEdge("a", "orphan"), StateGraph.compile()))
      expect(noEntry.reason).toMatch(/no entry/)
      const outOfEnd = yield* Effect.flip(
        base.pipe(
          StateGraph.addEdge(StateGraph.START, "a"),
          StateGraph.addEdge("a", "orphan"),
          StateGraph.addEdge(StateGraph.END as any, "a"),
          StateGraph.compile()
        )
      )
      expect(outOfEnd.reason).toMatch(/leaves END/)
    }))

  it.effect("a new thread needs every required channel", () =>
    Effect.gen(function*() {
      const graph = yield* StateGraph.make({
        id: "required",
        state: { name: Channel.lastValue(Schema.String), note: Channel.lastValue(Schema.UndefinedOr(Schema.String)) }
      }).pipe(
        StateGraph.addNode("a", () => Effect.void),
        StateGraph.addEdge(StateGraph.START, "a"),
        StateGraph.compile()
      )
      const error = yield* Effect.flip(graph.invoke({}))
      expect(error._tag).toBe("InvalidUpdate")
      expect((yield* graph.invoke({ name: "x" })).name).toBe("x")
    }))

  it.effect("streams values, updates and events", () =>
    Effect.gen(function*() {
      const graph = yield* StateGraph.make({ id: "stream", state: { n: Channel.lastValue(Schema.Number) } }).pipe(
        StateGraph.addNode("a", (s) => Effect.succeed({ n: s.n + 1 })),
        StateGraph.addNode("b", (s) => Effect.succeed({ n: s.n * 10 })),
        StateGraph.addEdge(StateGraph.START, "a"),
        StateGraph.addEdge("a", "b"),
        StateGraph.compile()
      )
      const values = yield* Stream.runCollect(graph.stream({ n: 1 }, { mode: "values" }))
      // the input applied first (as LangGraph), then each step
      expect(Array.from(values).map((p) => p.values.n)).toEqual([1, 2, 20])
      const updates = yield* Stream.runCollect(graph.stream({ n: 1 }, { mode: "updates" }))
      expect(Array.from(updates).map((p) => [p.node, p.update])).toEqual([["a", { n: 2 }], ["b", { n: 20 }]])
      const events = yield* Stream.runCollect(graph.stream({ n: 1 }, { mode: "events", threadId: "e" }))
      const tags = Array.from(events).map((p) => p.event._tag)
      expect(tags).toEqual([
        "StepStarted",
        "TaskStarted",
        "TaskFinished",
        "CheckpointSaved",
        "StepStarted",
        "TaskStarted",
        "TaskFinished",
        "CheckpointSaved",
        "Completed"
      ])
    }).pipe(provide))

  it.effect("a stream fails with the run's error", () =>
    Effect.gen(function*() {
      const graph = yield* StateGraph.make({ id: "stream-fail", state: { n: Channel.lastValue(Schema.Number) } }).pipe(
        StateGraph.addNode("a", () => Effect.fail("nope" as const)),
        StateGraph.addEdge(StateGraph.START, "a"),
        StateGraph.compile()
      )
      const exit = yield* Effect.exit(Stream.runCollect(graph.stream({ n: 1 })))
      expect(Exit.isFailure(exit)).toBe(true)
    }))

  it.effect("toMermaid draws nodes and edges", () =>
    Effect.gen(function*() {
      const graph = yield* StateGraph.make({ id: "m", state: { n: Channel.lastValue(Schema.Number) } }).pipe(
        StateGraph.addNode("a", () => Effect.void),
        StateGraph.addNode("b", () => Effect.void),
        StateGraph.addEdge(StateGraph.START, "a"),
        StateGraph.addConditionalEdges("a", () => "b", ["b", StateGraph.END]),
        StateGraph.compile()
      )
      const text = graph.toMermaid()
      expect(text).toContain("flowchart TD")
      expect(text).toContain("__start__ --> a")
      expect(text).toContain("a -.-> b")
      expect(text).toContain("a -.-> __end__")
    }))

  it.effect("unknown threads and checkpoints are typed errors", () =>
    Effect.gen(function*() {
      const graph = yield* StateGraph.make({ id: "nf", state: { n: Channel.lastValue(Schema.Number) } }).pipe(
        StateGraph.addNode("a", () => Effect.void),
        StateGraph.addEdge(StateGraph.START, "a"),
        StateGraph.compile()
      )
      expect((yield* Effect.flip(graph.getState("nope")))._tag).toBe("ThreadNotFound")
      expect((yield* Effect.flip(graph.invoke(null, { threadId: "nope" })))._tag).toBe("ThreadNotFound")
      yield* graph.invoke({ n: 1 }, { threadId: "t" })
      expect((yield* Effect.flip(graph.getState("t", { checkpointId: "zzz" })))._tag).toBe("CheckpointNotFound")
    }).pipe(provide))

  it.effect("durability modes: async and exit write the same final state", () =>
    Effect.gen(function*() {
      const build = (durability: "sync" | "async" | "exit") =>
        StateGraph.make({ id: "dur", state: { n: Channel.lastValue(Schema.Number), log: Channel.append(Schema.Number) } }).pipe(
          StateGraph.addNode("inc", (s) => Effect.succeed({ n: s.n + 1, log: [s.n] })),
          StateGraph.addEdge(StateGraph.START, "inc"),
          StateGraph.addConditionalEdges("inc", (s) => (s.n < 5 ? "inc" : StateGraph.END)),
          StateGraph.compile({ durability })
        )
      for (const mode of ["sync", "async", "exit"] as const) {
        const graph = yield* build(mode)
        yield* graph.invoke({ n: 0 }, { threadId: mode })
        const state = yield* graph.getState(mode)
        expect(state.values).toEqual({ n: 5, log: [0, 1, 2, 3, 4] })
        const history = yield* graph.history(mode)
        expect(history.length).toBe(mode === "exit" ? 2 : 6)
      }
    }).pipe(provide))

  it.live("a run renews its claim while a long step runs: another run stays ThreadBusy past the lease", () =>
    Effect.gen(function*() {
      const graph = yield* StateGraph.make({ id: "lease", state: { n: Channel.lastValue(Schema.Number) } }).pipe(
        StateGraph.addNode("slow", (s) => Effect.as(Effect.sleep(Duration.millis(400)), { n: s.n + 1 })),
        StateGraph.addEdge(StateGraph.START, "slow"),
        StateGraph.compile({ leaseMillis: 90 })
      )
      const first = yield* Effect.fork(graph.invoke({ n: 1 }, { threadId: "lease" }))
      // well past the lease (90 ms): only the renewals keep the thread
      yield* Effect.sleep(Duration.millis(250))
      const second = yield* Effect.either(graph.invoke(null, { threadId: "lease" }))
      expect(Either.isLeft(second) && second.left._tag).toBe("ThreadBusy")
      expect((yield* Fiber.join(first)).n).toBe(2)
      // released at the end: the thread is free again
      expect((yield* graph.getState("lease")).values.n).toBe(2)
    }).pipe(provide))

  it.live("a lease renewal still waiting when its run ends never claims the thread again", () =>
    Effect.gen(function*() {
      const store = yield* Snapshots.Snapshots
      const gate = yield* Deferred.make<void>()
      const renewals = yield* Ref.make(0)
      // renewals wait (as behind another connection's lock) until the gate opens
      const slow: Snapshots.Backend = {
        ...store,
        claim: (threadId, runId, options) =>
          Effect.zipRight(
            Effect.zipRight(Ref.update(renewals, (n) => n + 1), Deferred.await(gate)),
            store.claim(threadId, runId, options)
          )
      }
      // a lease of 60 ms: a renewal every 20 ms while the 60 ms step runs
      const quick = yield* StateGraph.make({ id: "renew", state: { n: Channel.lastValue(Schema.Number) } }).pipe(
        StateGraph.addNode("slow", (s) => Effect.as(Effect.sleep(Duration.millis(60)), { n: s.n + 1 })),
        StateGraph.addEdge(StateGraph.START, "slow"),
        StateGraph.compile({ leaseMillis: 60 })
      )
      expect((yield* Effect.provideService(quick.invoke({ n: 1 }, { threadId: "r" }), Snapshots.Snapshots, slow)).n).toBe(2)
      expect(yield* Ref.get(renewals)).toBeGreaterThan(0)
      // the run ended and gave the thread back; the waiting renewal now gets through its lock
      yield* Deferred.succeed(gate, undefined)
      yield* Effect.sleep(Duration.millis(5))
      // and must not have claimed the thread: another run starts at once
      expect((yield* quick.invoke({ n: 5 }, { threadId: "r" })).n).toBe(6)
    }).pipe(provide))

  it.live("interrupting a run interrupts the tasks of its parallel step", () =>
    Effect.gen(function*() {
      const started = yield* Ref.make(0)
      const interrupted = yield* Ref.make(0)
      const graph = yield* StateGraph.make({ id: "stop", state: { hits: Channel.reduce(Schema.Number, (a, b) => a + b, () => 0) } }).pipe(
        StateGraph.addNode("fan", () => Effect.void),
        StateGraph.addNode("w", (_: {}) =>
          Ref.update(started, (n) => n + 1).pipe(
            Effect.zipRight(Effect.never),
            Effect.onInterrupt(() => Ref.update(interrupted, (n) => n + 1)),
            Effect.as({ hits: 1 })
          )),
        StateGraph.addEdge(StateGraph.START, "fan"),
        StateGraph.addConditionalEdges("fan", () => Array.from({ length: 5 }, () => Send.make("w", {}))),
        StateGraph.compile()
      )
      const run = yield* Effect.fork(graph.invoke({}, { threadId: "stop" }))
      while ((yield* Ref.get(started)) < 5) yield* Effect.sleep(Duration.millis(1))
      yield* Fiber.interrupt(run)
      expect(yield* Ref.get(interrupted)).toBe(5)
    }).pipe(provide))

  it.effect("concurrency bounds the tasks running at once", () =>
    Effect.gen(function*() {
      const running = yield* Ref.make(0)
      const peak = yield* Ref.make(0)
      const work = Effect.gen(function*() {
        const now = yield* Ref.updateAndGet(running, (n) => n + 1)
        yield* Ref.update(peak, (p) => Math.max(p, now))
        yield* Effect.sleep(Duration.millis(10))
        yield* Ref.update(running, (n) => n - 1)
        return { hits: 1 }
      })
      const graph = yield* StateGraph.make({
        id: "conc",
        state: { hits: Channel.reduce(Schema.Number, (a, b) => a + b, () => 0) }
      }).pipe(
        StateGraph.addNode("fan", () => Effect.void),
        StateGraph.addNode("w", (_: {}) => work),
        StateGraph.addEdge(StateGraph.START, "fan"),
        StateGraph.addConditionalEdges("fan", () => Array.from({ length: 8 }, () => Send.make("w", {}))),
        StateGraph.compile({ concurrency: 3 })
      )
      const fiber = yield* Effect.fork(graph.invoke({}))
      yield* TestClock.adjust("1 second")
      expect((yield* Fiber.join(fiber)).hits).toBe(8)
      expect(yield* Ref.get(peak)).toBe(3)
    }))
})
