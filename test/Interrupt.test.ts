import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Fiber, Layer, Ref, Schema, Stream, TestClock } from "effect"
import { Channel, Interrupt, Snapshots, StateGraph } from "effect-stategraph"

class Approval extends Interrupt.Tag("Approval", {
  request: Schema.Struct({ draft: Schema.String }),
  response: Schema.Struct({ approved: Schema.Boolean, note: Schema.optional(Schema.String) })
}) {}

class Amount extends Interrupt.Tag("Amount", {
  request: Schema.Struct({ question: Schema.String }),
  response: Schema.Number.pipe(Schema.int(), Schema.positive())
}) {}

const provide = Effect.provide(Snapshots.layerMemory)

const approvalFlow = (writes: Ref.Ref<number>) =>
  StateGraph.make({
    id: "approval-flow",
    state: {
      draft: Channel.lastValue(Schema.String, { initial: () => "" }),
      revisions: Channel.reduce(Schema.Number, (a, b) => a + b, () => 0),
      notes: Channel.append(Schema.String),
      published: Channel.lastValue(Schema.Boolean, { initial: () => false })
    }
  }).pipe(
    StateGraph.addNode("write", (s) =>
      Effect.as(Ref.update(writes, (n) => n + 1), { draft: `draft v${s.revisions + 1}`, revisions: 1 })),
    StateGraph.addNode("review", (s) =>
      Effect.gen(function*() {
        const answer = yield* Approval.ask({ draft: s.draft })
        return answer.approved ? { published: true } : { notes: [answer.note ?? "no note"] }
      })),
    StateGraph.addEdge(StateGraph.START, "write"),
    StateGraph.addEdge("write", "review"),
    StateGraph.addConditionalEdges("review", (s) => (s.published ? StateGraph.END : "write"), ["write", StateGraph.END]),
    StateGraph.compile({ recursionLimit: 50 })
  )

describe("Interrupts", () => {
  it.effect("approval flow: paused, rejected twice (loops back), then approved", () =>
    Effect.gen(function*() {
      const writes = yield* Ref.make(0)
      const graph = yield* approvalFlow(writes)
      const first = yield* Effect.flip(graph.invoke({}, { threadId: "a1" }))
      expect(first._tag).toBe("GraphInterrupted")
      if (first._tag !== "GraphInterrupted") return
      expect(first.interrupts).toHaveLength(1)
      const pending = first.interrupts[0]!
      expect(pending.kind).toBe("Approval")
      expect(pending.request).toEqual({ draft: "draft v1" })
      expect(pending.node).toBe("review")
      expect((yield* graph.getState("a1")).status).toBe("paused")

      const second = yield* Effect.flip(graph.resume({ threadId: "a1" }, Approval.respond({ approved: false, note: "shorter" })))
      expect(second._tag).toBe("GraphInterrupted")
      if (second._tag === "GraphInterrupted") expect(second.interrupts[0]!.request).toEqual({ draft: "draft v2" })
      const third = yield* Effect.flip(graph.resume({ threadId: "a1" }, Approval.respond({ approved: false, note: "clearer" })))
      expect(third._tag).toBe("GraphInterrupted")
      const done = yield* graph.resume({ threadId: "a1" }, Approval.respond({ approved: true }))
      expect(done).toEqual({ draft: "draft v3", revisions: 3, notes: ["shorter", "clearer"], published: true })
      expect(yield* Ref.get(writes)).toBe(3)
      expect((yield* graph.getState("a1")).status).toBe("completed")
    }).pipe(provide))

  it.effect("streamResume streams the continued run; a paused one fails the stream with GraphInterrupted", () =>
    Effect.gen(function*() {
      const writes = yield* Ref.make(0)
      const graph = yield* approvalFlow(writes)
      yield* Effect.flip(graph.invoke({}, { threadId: "sr" }))
      // rejected: the run loops back to write, then pauses again at review
      const rejected = yield* Effect.either(Stream.runCollect(
        graph.streamResume({ threadId: "sr", mode: "updates" }, Approval.respond({ approved: false, note: "again" }))
      ))
      expect(Either.isLeft(rejected) && rejected.left._tag).toBe("GraphInterrupted")
      const done = yield* Stream.runCollect(
        graph.streamResume({ threadId: "sr", mode: ["updates", "values"] }, Approval.respond({ approved: true }))
      )
      const parts = Chunk.toReadonlyArray(done)
      // the resumed review task's update comes out, then the final values
      expect(parts.filter((p) => p.mode === "updates").map((p) => (p as any).node)).toEqual(["review"])
      const last = parts.filter((p) => p.mode === "values").at(-1) as any
      expect(last.values).toEqual({ draft: "draft v2", revisions: 2, notes: ["again"], published: true })
      // a wrong answer fails the stream before anything runs
      const wrong = yield* Effect.either(Stream.runCollect(graph.streamResume({ threadId: "sr" }, Approval.respond({ approved: true }))))
      expect(Either.isLeft(wrong) && wrong.left._tag).toBe("ThreadNotPaused")
    }).pipe(provide))

  it.effect("two asks in one node: the node re-runs and the first answer is replayed", () =>
    Effect.gen(function*() {
      const starts = yield* Ref.make(0)
      const graph = yield* StateGraph.make({
        id: "two-asks",
        state: { total: Channel.lastValue(Schema.Number, { initial: () => 0 }) }
      }).pipe(
        StateGraph.addNode("ask", () =>
          Effect.gen(function*() {
            yield* Ref.update(starts, (n) => n + 1)
            const a = yield* Amount.ask({ question: "first?" })
            const b = yield* Amount.ask({ question: "second?" })
            return { total: a + b }
          })),
        StateGraph.addEdge(StateGraph.START, "ask"),
        StateGraph.compile()
      )
      const e1 = yield* Effect.flip(graph.invoke({}, { threadId: "t" }))
      expect(e1._tag === "GraphInterrupted" && e1.interrupts[0]!.request).toEqual({ question: "first?" })
      const e2 = yield* Effect.flip(graph.resume({ threadId: "t" }, Amount.respond(3)))
      // the second question, not the first again
      expect(e2._tag === "GraphInterrupted" && e2.interrupts[0]!.request).toEqual({ question: "second?" })
      const out = yield* graph.resume({ threadId: "t" }, Amount.respond(4))
      expect(out.total).toBe(7)
      expect(yield* Ref.get(starts)).toBe(3)
    }).pipe(provide))

  const parallelAsks = (runs: Ref.Ref<Record<string, number>>) =>
    StateGraph.make({
      id: "parallel-asks",
      state: { log: Channel.append(Schema.String) }
    }).pipe(
      StateGraph.addNode("left", () =>
        Effect.gen(function*() {
          yield* Ref.update(runs, (r) => ({ ...r, left: (r.left ?? 0) + 1 }))
          const n = yield* Amount.ask({ question: "left" })
          return { log: [`left ${n}`] }
        })),
      StateGraph.addNode("right", () =>
        Effect.gen(function*() {
          yield* Ref.update(runs, (r) => ({ ...r, right: (r.right ?? 0) + 1 }))
          const n = yield* Amount.ask({ question: "right" })
          return { log: [`right ${n}`] }
        })),
      StateGraph.addNode("quiet", () =>
        Effect.as(Ref.update(runs, (r) => ({ ...r, quiet: (r.quiet ?? 0) + 1 })), { log: ["quiet"] })),
      StateGraph.addEdge(StateGraph.START, "left"),
      StateGraph.addEdge(StateGraph.START, "right"),
      StateGraph.addEdge(StateGraph.START, "quiet"),
      StateGraph.compile()
    )

  it.effect("two parallel asks answered in one resume", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make<Record<string, number>>({})
      const graph = yield* parallelAsks(runs)
      const e = yield* Effect.flip(graph.invoke({}, { threadId: "p" }))
      if (e._tag !== "GraphInterrupted") throw new Error("expected a pause")
      expect(e.interrupts.map((i) => i.node)).toEqual(["left", "right"])
      // several of one kind: answering by kind alone is ambiguous
      const ambiguous = yield* Effect.flip(graph.resume({ threadId: "p" }, Amount.respond(1)))
      expect(ambiguous._tag).toBe("UnknownInterrupt")
      const [left, right] = e.interrupts
      const out = yield* graph.resume({ threadId: "p" }, Amount.respondTo(right!.id, 2), Amount.respondTo(left!.id, 1))
      expect(out.log).toEqual(["left 1", "right 2", "quiet"])
      // the finished sibling never re-ran
      expect(yield* Ref.get(runs)).toEqual({ left: 2, right: 2, quiet: 1 })
    }).pipe(provide))

  it.effect("two parallel asks answered in two resumes", () =>
    Effect.gen(function*() {
      const runs = yield* Ref.make<Record<string, number>>({})
      const graph = yield* parallelAsks(runs)
      const e = yield* Effect.flip(graph.invoke({}, { threadId: "p2" }))
      if (e._tag !== "GraphInterrupted") throw new Error("expected a pause")
      const [left, right] = e.interrupts
      const still = yield* Effect.flip(graph.resume({ threadId: "p2" }, Amount.respondTo(left!.id, 1)))
      if (still._tag !== "GraphInterrupted") throw new Error("expected a pause")
      expect(still.interrupts.map((i) => i.id)).toEqual([right!.id])
      // the answered one cannot be answered again
      const again = yield* Effect.flip(graph.resume({ threadId: "p2" }, Amount.respondTo(left!.id, 5)))
      expect(again._tag).toBe("InterruptAlreadyAnswered")
      const out = yield* graph.resume({ threadId: "p2" }, Amount.respondTo(right!.id, 2))
      expect(out.log).toEqual(["left 1", "right 2", "quiet"])
      expect(yield* Ref.get(runs)).toEqual({ left: 2, right: 2, quiet: 1 })
    }).pipe(provide))

  it.effect("interruptBefore and interruptAfter", () =>
    Effect.gen(function*() {
      const build = (options: { interruptBefore?: Array<"b">; interruptAfter?: Array<"a"> }) =>
        StateGraph.make({ id: "breakpoints", state: { log: Channel.append(Schema.String) } }).pipe(
          StateGraph.addNode("a", () => Effect.succeed({ log: ["a"] })),
          StateGraph.addNode("b", () => Effect.succeed({ log: ["b"] })),
          StateGraph.addEdge(StateGraph.START, "a"),
          StateGraph.addEdge("a", "b"),
          StateGraph.compile(options)
        )
      const before = yield* build({ interruptBefore: ["b"] })
      const e1 = yield* Effect.flip(before.invoke({}, { threadId: "before" }))
      if (e1._tag !== "GraphInterrupted") throw new Error("expected a pause")
      expect(e1.interrupts[0]!.kind).toBe("Breakpoint")
      expect(e1.interrupts[0]!.request).toEqual({ node: "b", when: "before" })
      const paused = yield* before.getState("before")
      expect(paused.values.log).toEqual(["a"])
      expect(paused.next).toEqual(["b"])
      expect(paused.pauseReason).toBe("breakpoint")
      expect((yield* before.resume({ threadId: "before" })).log).toEqual(["a", "b"])

      const after = yield* build({ interruptAfter: ["a"] })
      const e2 = yield* Effect.flip(after.invoke({}, { threadId: "after" }))
      if (e2._tag !== "GraphInterrupted") throw new Error("expected a pause")
      expect(e2.interrupts[0]!.request).toEqual({ node: "a", when: "after" })
      expect((yield* after.getState("after")).values.log).toEqual(["a"])
      expect((yield* after.resume({ threadId: "after" }, Interrupt.Breakpoint.respond(undefined))).log).toEqual(["a", "b"])
    }).pipe(provide))

  it.effect("prebuilt kinds: Confirmation, Choice, Text, Form", () =>
    Effect.gen(function*() {
      const Profile = Interrupt.Form(Schema.Struct({ name: Schema.String, age: Schema.Number }), { kind: "Profile" })
      const graph = yield* StateGraph.make({ id: "prebuilt", state: { log: Channel.append(Schema.String) } }).pipe(
        StateGraph.addNode("confirm", () =>
          Effect.map(Interrupt.Confirmation.ask({ message: "Send it?" }), (a) => ({ log: [`confirmed ${a.confirmed}`] }))),
        StateGraph.addNode("choose", () =>
          Effect.map(
            Interrupt.Choice.ask({ message: "Colour?", options: ["red", { value: "g", label: "green" }] }),
            (a) => ({ log: [`chose ${a.selected.join(",")}`] })
          )),
        StateGraph.addNode("text", () => Effect.map(Interrupt.Text.ask({ prompt: "Name?" }), (t) => ({ log: [`text ${t}`] }))),
        StateGraph.addNode("form", () => Effect.map(Profile.ask({ message: "About you" }), (p) => ({ log: [`form ${p.name} ${p.age}`] }))),
        StateGraph.addEdge(StateGraph.START, "confirm"),
        StateGraph.addEdge("confirm", "choose"),
        StateGraph.addEdge("choose", "text"),
        StateGraph.addEdge("text", "form"),
        StateGraph.compile()
      )
      const e1 = yield* Effect.flip(graph.invoke({}, { threadId: "k" }))
      if (e1._tag !== "GraphInterrupted") throw new Error("expected a pause")
      const confirm = e1.interrupts[0]!
      expect(confirm.kind).toBe("Confirmation")
      if (confirm.kind === "Confirmation") {
        expect(confirm.request).toEqual({ message: "Send it?", confirmLabel: "Yes", cancelLabel: "No" })
      }
      const e2 = yield* Effect.flip(graph.resume({ threadId: "k" }, Interrupt.Confirmation.respond({ confirmed: true })))
      if (e2._tag !== "GraphInterrupted") throw new Error("expected a pause")
      expect(e2.interrupts[0]!.request).toEqual({
        message: "Colour?",
        options: [{ value: "red", label: "red" }, { value: "g", label: "green" }],
        multiple: false
      })
      // not one of the options
      const wrong = yield* Effect.flip(graph.resume({ threadId: "k" }, Interrupt.Choice.respond({ selected: ["blue"] })))
      expect(wrong._tag).toBe("InvalidResumeValue")
      const two = yield* Effect.flip(graph.resume({ threadId: "k" }, Interrupt.Choice.respond({ selected: ["red", "g"] })))
      expect(two._tag).toBe("InvalidResumeValue")
      const e3 = yield* Effect.flip(graph.resume({ threadId: "k" }, Interrupt.Choice.respond({ selected: ["g"] })))
      if (e3._tag !== "GraphInterrupted") throw new Error("expected a pause")
      expect(e3.interrupts[0]!.kind).toBe("Text")
      const e4 = yield* Effect.flip(graph.resume({ threadId: "k" }, Interrupt.Text.respond("Ada")))
      if (e4._tag !== "GraphInterrupted") throw new Error("expected a pause")
      const form = e4.interrupts[0]!
      expect(form.kind).toBe("Profile")
      expect((form.request as any).jsonSchema).toMatchObject({ type: "object", required: ["name", "age"] })
      const badForm = yield* Effect.flip(graph.resume({ threadId: "k" }, Profile.respond({ name: "Ada", age: "x" } as any)))
      expect(badForm._tag).toBe("InvalidResumeValue")
      const out = yield* graph.resume({ threadId: "k" }, Profile.respond({ name: "Ada", age: 36 }))
      expect(out.log).toEqual(["confirmed true", "chose g", "text Ada", "form Ada 36"])
    }).pipe(provide))

  it.effect("an answer that is not an Answer is UnknownInterrupt; an empty Choice fails its node; a Form schema JSON Schema cannot express fails where it is declared", () =>
    Effect.gen(function*() {
      const writes = yield* Ref.make(0)
      const graph = yield* approvalFlow(writes)
      yield* Effect.flip(graph.invoke({}, { threadId: "odd" }))
      const notAnAnswer = yield* Effect.flip(graph.resume({ threadId: "odd" }, undefined as any))
      expect(notAnAnswer._tag).toBe("UnknownInterrupt")
      // still paused, and answerable
      expect((yield* graph.resume({ threadId: "odd" }, Approval.respond({ approved: true }))).published).toBe(true)

      const empty = yield* StateGraph.make({ id: "empty-choice", state: { picked: Channel.append(Schema.String) } }).pipe(
        StateGraph.addNode("pick", () =>
          Effect.map(Interrupt.Choice.ask({ message: "Which?", options: [] }), (a) => ({ picked: a.selected }))),
        StateGraph.addEdge(StateGraph.START, "pick"),
        StateGraph.compile()
      )
      const failed = yield* Effect.flip(empty.invoke({}, { threadId: "empty" }))
      expect(failed._tag).toBe("NodeFailed")
      expect(failed.message).toContain("Choice.ask needs at least one option")

      expect(() => Interrupt.Form(Schema.Struct({ at: Schema.DateFromSelf }), { kind: "RawDate" })).toThrow(
        /must be expressible as JSON Schema/
      )
    }).pipe(provide))

  it.effect("runtime refusals write nothing", () =>
    Effect.gen(function*() {
      const writes = yield* Ref.make(0)
      const graph = yield* approvalFlow(writes)
      // not paused: a thread that does not exist, then a finished one
      expect((yield* Effect.flip(graph.resume({ threadId: "none" }, Approval.respond({ approved: true }))))._tag)
        .toBe("ThreadNotFound")
      const e = yield* Effect.flip(graph.invoke({}, { threadId: "r" }))
      if (e._tag !== "GraphInterrupted") throw new Error("expected a pause")
      const before = yield* graph.getState("r")
      // unknown interrupt id
      const unknown = yield* Effect.flip(graph.resume({ threadId: "r" }, Approval.respondTo("nope#0", { approved: true })))
      expect(unknown._tag).toBe("UnknownInterrupt")
      // two answers for the one pending interrupt in one resume: the second is one too many
      const double = yield* Effect.flip(
        graph.resume({ threadId: "r" }, Approval.respond({ approved: true }), Approval.respond({ approved: false }))
      )
      expect(double._tag).toBe("InterruptAlreadyAnswered")
      // an invalid value, with the schema's issue
      const invalid = yield* Effect.flip(graph.resume({ threadId: "r" }, Approval.respond({ approved: "yes" } as any)))
      expect(invalid._tag).toBe("InvalidResumeValue")
      if (invalid._tag === "InvalidResumeValue") expect(invalid.issue).toMatch(/approved/)
      // new input on a paused thread
      expect((yield* Effect.flip(graph.invoke({ draft: "x" }, { threadId: "r" })))._tag).toBe("ThreadPaused")
      const after = yield* graph.getState("r")
      expect(after.checkpointId).toBe(before.checkpointId)
      expect(after.values).toEqual(before.values)
      expect(after.interrupts.map((i) => i.status)).toEqual(["pending"])
      // answered, then answered again: already answered (the thread is now paused on a new one)
      const id = e.interrupts[0]!.id
      yield* Effect.flip(graph.resume({ threadId: "r" }, Approval.respondTo(id, { approved: false })))
      const twice = yield* Effect.flip(graph.resume({ threadId: "r" }, Approval.respondTo(id, { approved: true })))
      expect(twice._tag === "InterruptAlreadyAnswered" || twice._tag === "UnknownInterrupt").toBe(true)
      yield* graph.resume({ threadId: "r" }, Approval.respond({ approved: true }))
      // finished: not paused
      const notPaused = yield* Effect.flip(graph.resume({ threadId: "r" }, Approval.respond({ approved: true })))
      expect(notPaused._tag).toBe("ThreadNotPaused")
    }).pipe(provide))

  it.effect("a resume while another run of the thread is active is ThreadBusy", () =>
    Effect.gen(function*() {
      const graph = yield* StateGraph.make({ id: "busy-resume", state: { n: Channel.lastValue(Schema.Number) } }).pipe(
        StateGraph.addNode("ask", () => Effect.map(Amount.ask({ question: "n?" }), (n) => ({ n }))),
        StateGraph.addNode("slow", (s) => Effect.as(Effect.sleep("10 seconds"), { n: s.n + 1 })),
        StateGraph.addEdge(StateGraph.START, "ask"),
        StateGraph.addEdge("ask", "slow"),
        StateGraph.compile()
      )
      yield* Effect.flip(graph.invoke({ n: 0 }, { threadId: "b" }))
      const first = yield* Effect.fork(graph.resume({ threadId: "b" }, Amount.respond(1)))
      yield* TestClock.adjust("1 second")
      const second = yield* Effect.either(graph.resume({ threadId: "b" }, Amount.respond(2)))
      expect(Either.isLeft(second) && second.left._tag).toBe("ThreadBusy")
      yield* TestClock.adjust("20 seconds")
      expect((yield* Fiber.join(first)).n).toBe(2)
    }).pipe(provide))

  it.effect("resume from a fresh graph instance over the same store", () =>
    Effect.gen(function*() {
      const store = yield* Snapshots.makeMemory
      const layer = Layer.succeed(Snapshots.Snapshots, store)
      const e = yield* Effect.flip(
        Effect.flatMap(approvalFlow(yield* Ref.make(0)), (g) => g.invoke({}, { threadId: "fresh" })).pipe(Effect.provide(layer))
      )
      expect(e._tag).toBe("GraphInterrupted")
      // nothing held in process memory: a new graph value, a new Ref
      const writes = yield* Ref.make(0)
      const graph = yield* approvalFlow(writes)
      const out = yield* graph.resume({ threadId: "fresh" }, Approval.respond({ approved: true })).pipe(Effect.provide(layer))
      expect(out.published).toBe(true)
      expect(yield* Ref.get(writes)).toBe(0)
    }))

  it.effect("time travel: a fork from an earlier checkpoint keeps both branches", () =>
    Effect.gen(function*() {
      const graph = yield* StateGraph.make({ id: "travel", state: { log: Channel.append(Schema.String), n: Channel.lastValue(Schema.Number) } }).pipe(
        StateGraph.addNode("a", (s) => Effect.succeed({ log: [`a${s.n}`] })),
        StateGraph.addNode("b", (s) => Effect.succeed({ log: [`b${s.n}`] })),
        StateGraph.addEdge(StateGraph.START, "a"),
        StateGraph.addEdge("a", "b"),
        StateGraph.compile()
      )
      yield* graph.invoke({ n: 1 }, { threadId: "tt" })
      const original = yield* graph.history("tt")
      const afterA = original.find((s) => s.next[0] === "b")!
      // edit the past: change n at that checkpoint, then continue from it
      yield* graph.updateState("tt", { n: 2 }, { asNode: "a", checkpointId: afterA.checkpointId })
      const forked = yield* graph.invoke(null, { threadId: "tt" })
      expect(forked.log).toEqual(["a1", "b2"])
      // replaying a checkpoint as is
      const replay = yield* graph.invoke(null, { threadId: "tt", checkpointId: afterA.checkpointId })
      expect(replay.log).toEqual(["a1", "b1"])
      const head = yield* graph.history("tt")
      expect(head[0]!.values.log).toEqual(["a1", "b1"])
      // the first branch is still readable from its own leaf
      const oldLeaf = original[0]!
      const oldBranch = yield* graph.history("tt", { checkpointId: oldLeaf.checkpointId })
      expect(oldBranch.map((s) => s.checkpointId)).toEqual(original.map((s) => s.checkpointId))
      expect(head.some((s) => s.checkpointId === afterA.checkpointId)).toBe(true)
    }).pipe(provide))

  it.effect("updateState as a node, then routing continues from that node's edges", () =>
    Effect.gen(function*() {
      const writes = yield* Ref.make(0)
      const graph = yield* approvalFlow(writes)
      yield* Effect.flip(graph.invoke({}, { threadId: "u" }))
      // answer "for" the reviewer by writing its update: routing goes on from review's edges
      const state = yield* graph.updateState("u", { published: true }, { asNode: "review" })
      expect(state.next).toEqual([])
      expect(state.values.published).toBe(true)
      const bad = yield* Effect.flip(graph.updateState("u", { published: "yes" } as any, { asNode: "review" }))
      expect(bad._tag).toBe("InvalidUpdate")
      const writeAgain = yield* graph.updateState("u", { published: false }, { asNode: "review" })
      expect(writeAgain.next).toEqual(["write"])
      const e = yield* Effect.flip(graph.invoke(null, { threadId: "u" }))
      expect(e._tag).toBe("GraphInterrupted")
      expect(yield* Ref.get(writes)).toBe(2)
    }).pipe(provide))

  it.effect("updateState without asNode writes as the last node that ran", () =>
    Effect.gen(function*() {
      const graph = yield* StateGraph.make({ id: "as-last", state: { log: Channel.append(Schema.String) } }).pipe(
        StateGraph.addNode("a", () => Effect.succeed({ log: ["a"] })),
        StateGraph.addNode("b", () => Effect.succeed({ log: ["b"] })),
        StateGraph.addEdge(StateGraph.START, "a"),
        StateGraph.addEdge("a", "b"),
        StateGraph.compile({ interruptAfter: ["a"] })
      )
      yield* Effect.flip(graph.invoke({}, { threadId: "l" }))
      const state = yield* graph.updateState("l", { log: ["edited"] })
      expect(state.next).toEqual(["b"])
      expect((yield* graph.invoke(null, { threadId: "l" })).log).toEqual(["a", "edited", "b"])
    }).pipe(provide))

  it.effect("history carries the interrupt records of each checkpoint", () =>
    Effect.gen(function*() {
      const graph = yield* approvalFlow(yield* Ref.make(0))
      yield* Effect.flip(graph.invoke({}, { threadId: "hi" }))
      yield* graph.resume({ threadId: "hi" }, Approval.respond({ approved: true }))
      const history = yield* graph.history("hi")
      const withInterrupt = history.filter((s) => s.interrupts.length > 0)
      expect(withInterrupt).toHaveLength(1)
      expect(withInterrupt[0]!.interrupts[0]).toMatchObject({ kind: "Approval", status: "answered", node: "review" })
    }).pipe(provide))
})
