import { type AiError, LanguageModel, Prompt, Tool, Toolkit } from "@effect/ai"
import { describe, expect, expectTypeOf, it } from "@effect/vitest"
import { Chunk, Deferred, Effect, Either, Layer, ParseResult, Schema, Stream } from "effect"
import { Agent, Channel, Interrupt, ScriptedModel, Snapshots, StateGraph, Task } from "effect-stategraph"

// ---------------------------------------------------------------------------------------------
// fixtures
// ---------------------------------------------------------------------------------------------

const Add = Tool.make("add", {
  description: "adds two numbers",
  parameters: { a: Schema.Number, b: Schema.Number },
  success: Schema.Number
})
const SendEmail = Tool.make("send_email", {
  parameters: { to: Schema.String, body: Schema.String },
  success: Schema.String
})
class Flaky extends Schema.TaggedError<Flaky>()("Flaky", { reason: Schema.String }) {}
const Explode = Tool.make("explode", { success: Schema.String, failure: Flaky })
const Tools = Toolkit.make(Add, SendEmail, Explode)

interface Counts {
  add: number
  send_email: number
}

const toolsLayer = (counts: Counts) =>
  Tools.toLayer({
    add: ({ a, b }) => Effect.sync(() => (counts.add++, a + b)),
    send_email: ({ to }) => Effect.sync(() => (counts.send_email++, `sent to ${to}`)),
    explode: () => Effect.fail(new Flaky({ reason: "boom" }))
  })

const user = (text: string) => Prompt.makeMessage("user", { content: [Prompt.makePart("text", { text })] })

const textOf = (m: Prompt.Message | undefined): string =>
  m === undefined ? "" : typeof m.content === "string"
  ? m.content
  : m.content.flatMap((p) => (p.type === "text" ? [p.text] : [])).join("")

const toolResults = (messages: ReadonlyArray<Prompt.Message>) =>
  messages.flatMap((m) => (m.role === "tool" ? m.content.map((p) => ({ name: p.name, result: p.result, isFailure: p.isFailure })) : []))

const run = <A, E>(effect: Effect.Effect<A, E, any>, script: ScriptedModel.Script, counts: Counts) =>
  effect.pipe(
    Effect.provide(Layer.mergeAll(ScriptedModel.layer(script), toolsLayer(counts), Snapshots.layerMemory))
  ) as Effect.Effect<A, E>

const interrupted = <E>(e: E) => {
  if ((e as any)._tag !== "GraphInterrupted") throw new Error(`expected a pause, got ${String((e as any)._tag)}`)
  return e as Extract<E, { readonly _tag: "GraphInterrupted" }>
}

// ---------------------------------------------------------------------------------------------
// the agent
// ---------------------------------------------------------------------------------------------

describe("Agent", () => {
  it.effect("loops tool call → tool result → final answer", () => {
    const counts = { add: 0, send_email: 0 }
    const seen: Array<ReadonlyArray<string>> = []
    const agent = Agent.make({ toolkit: Tools, system: "You add numbers." })
    return Effect.gen(function*() {
      const out = yield* agent.invoke({ messages: [user("what is 2 + 3?")] }, { threadId: "loop" })
      expect(out.messages.map((m) => m.role)).toEqual(["user", "assistant", "tool", "assistant"])
      const call = out.messages[1]!.content as ReadonlyArray<Prompt.AssistantMessagePart>
      expect(call.map((p) => p.type)).toEqual(["tool-call"])
      expect(toolResults(out.messages)).toEqual([{ name: "add", result: 5, isFailure: false }])
      expect(textOf(out.messages[3])).toBe("2 + 3 = 5")
      expect(counts.add).toBe(1)
      // the model saw the system prompt first, then the thread (the system prompt is not stored)
      expect(seen).toEqual([["system", "user"], ["system", "user", "assistant", "tool"]])
      // every message the agent wrote carries an id
      expect(out.messages.slice(1).every((m) => Channel.messageId(m) !== undefined)).toBe(true)
      expect((yield* agent.getState("loop")).status).toBe("completed")
    }).pipe((e) =>
      run(e, [
        (prompt) => (seen.push(prompt.content.map((m) => m.role)), { toolCalls: [{ name: "add", params: { a: 2, b: 3 } }] }),
        (prompt) => {
          seen.push(prompt.content.map((m) => m.role))
          const result = toolResults(prompt.content)[0]
          return `2 + 3 = ${String(result?.result)}`
        }
      ], counts)
    )
  })

  it.effect("a second invoke on the thread continues the conversation", () => {
    const counts = { add: 0, send_email: 0 }
    const agent = Agent.make({ toolkit: Tools })
    return Effect.gen(function*() {
      yield* agent.invoke({ messages: [user("hi")] }, { threadId: "multi" })
      const out = yield* agent.invoke({ messages: [user("again")] }, { threadId: "multi" })
      expect(out.messages.map(textOf)).toEqual(["hi", "hello", "again", "you said: hi, hello, again"])
    }).pipe((e) => run(e, ["hello", (p) => `you said: ${p.content.map(textOf).join(", ")}`], counts))
  })

  it.live("runs the tool calls of one response in parallel, results in call order", () => {
    const counts = { add: 0, send_email: 0 }
    const Wait = Tool.make("wait", { success: Schema.String })
    const Open = Tool.make("open", { success: Schema.String })
    const Parallel = Toolkit.make(Wait, Open)
    const agent = Agent.make({ toolkit: Parallel })
    return Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      // `wait` only finishes once `open` ran: sequential execution would never finish
      const handlers = Parallel.toLayer({
        wait: () => Effect.as(Deferred.await(gate), "waited"),
        open: () => Effect.as(Deferred.succeed(gate, undefined), "opened")
      })
      const out = yield* agent.invoke({ messages: [user("go")] }, { threadId: "par" }).pipe(
        Effect.provide(handlers),
        Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error("the tools ran sequentially") })
      )
      expect(toolResults(out.messages)).toEqual([
        { name: "wait", result: "waited", isFailure: false },
        { name: "open", result: "opened", isFailure: false }
      ])
      expect(out.messages.filter((m) => m.role === "tool")).toHaveLength(1)
      expect(textOf(out.messages.at(-1))).toBe("done")
    }).pipe((e) => run(e, [{ toolCalls: [{ name: "wait", params: {} }, { name: "open", params: {} }] }, "done"], counts))
  })

  it.effect("tool approval, approved: pauses before the tool runs, runs it once on resume", () => {
    const counts = { add: 0, send_email: 0 }
    const agent = Agent.make({ toolkit: Tools, approve: ["send_email"] })
    return Effect.gen(function*() {
      const paused = interrupted(yield* Effect.flip(agent.invoke({ messages: [user("mail bob")] }, { threadId: "ok" })))
      expect(paused.interrupts).toHaveLength(1)
      const pending = paused.interrupts[0]!
      expect(pending.kind).toBe("Confirmation")
      expect(pending.node).toBe("tools")
      expect(pending.request.message).toContain(`"send_email"`)
      expect(pending.request.message).toContain(`"to":"bob"`)
      // approvals come before any execution: add did not run either
      expect(counts).toEqual({ add: 0, send_email: 0 })
      expect((yield* agent.getState("ok")).status).toBe("paused")

      const out = yield* agent.resume({ threadId: "ok" }, Interrupt.Confirmation.respond({ confirmed: true }))
      expect(counts).toEqual({ add: 1, send_email: 1 })
      expect(toolResults(out.messages)).toEqual([
        { name: "add", result: 2, isFailure: false },
        { name: "send_email", result: "sent to bob", isFailure: false }
      ])
      expect(textOf(out.messages.at(-1))).toBe("Sent.")
    }).pipe((e) =>
      run(e, [
        {
          toolCalls: [
            { name: "add", params: { a: 1, b: 1 } },
            { name: "send_email", params: { to: "bob", body: "hi" } }
          ]
        },
        "Sent."
      ], counts)
    )
  })

  it.effect("tool approval, rejected: the tool does not run and the model is told", () => {
    const counts = { add: 0, send_email: 0 }
    const agent = Agent.make({ toolkit: Tools, approve: ["send_email"] })
    return Effect.gen(function*() {
      interrupted(yield* Effect.flip(agent.invoke({ messages: [user("mail bob")] }, { threadId: "no" })))
      const out = yield* agent.resume({ threadId: "no" }, Interrupt.Confirmation.respond({ confirmed: false }))
      expect(counts.send_email).toBe(0)
      expect(toolResults(out.messages)).toEqual([{ name: "send_email", result: Agent.rejectedResult, isFailure: true }])
      expect(textOf(out.messages.at(-1))).toBe(`model saw: ${Agent.rejectedResult}`)
    }).pipe((e) =>
      run(e, [
        { toolCalls: [{ name: "send_email", params: { to: "bob", body: "hi" } }] },
        (p) => `model saw: ${String(toolResults(p.content)[0]?.result)}`
      ], counts)
    )
  })

  it.effect("two approvals in one step: one pause each, tools run after both answers", () => {
    const counts = { add: 0, send_email: 0 }
    const agent = Agent.make({ toolkit: Tools, approve: ["send_email"] })
    return Effect.gen(function*() {
      const first = interrupted(yield* Effect.flip(agent.invoke({ messages: [user("mail both")] }, { threadId: "two" })))
      expect(first.interrupts[0]!.request.message).toContain(`"to":"ann"`)
      const second = interrupted(
        yield* Effect.flip(agent.resume({ threadId: "two" }, Interrupt.Confirmation.respond({ confirmed: true })))
      )
      expect(second.interrupts[0]!.request.message).toContain(`"to":"bob"`)
      expect(counts.send_email).toBe(0)
      const out = yield* agent.resume({ threadId: "two" }, Interrupt.Confirmation.respond({ confirmed: false }))
      expect(counts.send_email).toBe(1)
      expect(toolResults(out.messages).map((r) => r.result)).toEqual(["sent to ann", Agent.rejectedResult])
    }).pipe((e) =>
      run(e, [
        {
          toolCalls: [
            { name: "send_email", params: { to: "ann", body: "hi" } },
            { name: "send_email", params: { to: "bob", body: "hi" } }
          ]
        },
        "ok"
      ], counts)
    )
  })

  it.effect("the scripted model running out is a typed AiError of the run", () => {
    const counts = { add: 0, send_email: 0 }
    const agent = Agent.make({ toolkit: Tools })
    return Effect.gen(function*() {
      const error = yield* Effect.flip(agent.invoke({ messages: [user("add")] }, { threadId: "out" }))
      expect(error._tag).toBe("UnknownError")
      expect(error.message).toContain("ScriptedModel.streamText: the script ran out")
      expect((yield* agent.getState("out")).status).toBe("failed")
    }).pipe((e) => run(e, [{ toolCalls: [{ name: "add", params: { a: 1, b: 2 } }] }], counts))
  })

  it.effect("a failing tool fails the run with its typed error", () => {
    const counts = { add: 0, send_email: 0 }
    const agent = Agent.make({ toolkit: Tools })
    return Effect.gen(function*() {
      const error = yield* Effect.flip(agent.invoke({ messages: [user("explode")] }))
      expect(error._tag).toBe("Flaky")
      if (error._tag === "Flaky") expect(error.reason).toBe("boom")
    }).pipe((e) => run(e, [{ toolCalls: [{ name: "explode", params: {} }] }], counts))
  })

  it.effect("stores tool-call parameters encoded, so a transforming schema decodes once", () => {
    const Year = Tool.make("year", { parameters: { date: Schema.Date }, success: Schema.Number })
    const Dates = Toolkit.make(Year)
    const agent = Agent.make({ toolkit: Dates })
    return Effect.gen(function*() {
      const out = yield* agent.invoke({ messages: [user("which year?")] }, { threadId: "dates" })
      const call = (out.messages[1]!.content as ReadonlyArray<Prompt.AssistantMessagePart>)[0]
      expect(call?.type === "tool-call" && call.params).toEqual({ date: "2024-03-01T00:00:00.000Z" })
      expect(toolResults(out.messages).map((r) => r.result)).toEqual([2024])
    }).pipe(
      Effect.provide(Dates.toLayer({ year: ({ date }) => Effect.succeed(date.getUTCFullYear()) })),
      Effect.provide(ScriptedModel.layer([
        { toolCalls: [{ name: "year", params: { date: "2024-03-01T00:00:00.000Z" } }] },
        "2024"
      ])),
      Effect.provide(Snapshots.layerMemory)
    )
  })

  it.effect("retrying a failed run re-runs the failed tool, not its finished sibling", () => {
    const counts = { add: 0, send_email: 0 }
    let explosions = 0
    const handlers = Tools.toLayer({
      add: ({ a, b }) => Effect.sync(() => (counts.add++, a + b)),
      send_email: ({ to }) => Effect.succeed(`sent to ${to}`),
      explode: () => (explosions++ === 0 ? Effect.fail(new Flaky({ reason: "boom" })) : Effect.succeed("fine now"))
    })
    const agent = Agent.make({ toolkit: Tools })
    return Effect.gen(function*() {
      const error = yield* Effect.flip(agent.invoke({ messages: [user("go")] }, { threadId: "retry" }))
      expect(error._tag).toBe("Flaky")
      expect([counts.add, explosions]).toEqual([1, 1])
      const state = yield* agent.getState("retry")
      expect([state.status, state.next]).toEqual(["failed", ["tools"]])
      const out = yield* agent.invoke(null, { threadId: "retry" })
      // add's journaled result was replayed; only explode ran again
      expect([counts.add, explosions]).toEqual([1, 2])
      expect(toolResults(out.messages).map((r) => r.result)).toEqual([3, "fine now"])
      expect(textOf(out.messages.at(-1))).toBe("done")
    }).pipe(
      Effect.provide(handlers),
      Effect.provide(ScriptedModel.layer([
        { toolCalls: [{ name: "add", params: { a: 1, b: 2 } }, { name: "explode", params: {} }] },
        "done"
      ])),
      Effect.provide(Snapshots.layerMemory)
    )
  })

  it.effect("streams the model's text deltas in `messages` mode, tagged with the message id", () => {
    const counts = { add: 0, send_email: 0 }
    const agent = Agent.make({ toolkit: Tools })
    return Effect.gen(function*() {
      const parts = Chunk.toArray(
        yield* Stream.runCollect(agent.stream({ messages: [user("add")] }, { threadId: "s", mode: ["messages", "values"] }))
      )
      const deltas = parts.flatMap((p) => (p.mode === "messages" ? [p] : []))
      const values = parts.flatMap((p) => (p.mode === "values" ? [p.values] : []))
      const final = values.at(-1)!.messages
      const answers = final.filter((m) => m.role === "assistant")
      expect(deltas.length).toBeGreaterThan(2)
      expect(deltas.every((d) => d.node === "agent")).toBe(true)
      // deltas arrive in order and rebuild each assistant text, under that message's id
      for (const answer of answers) {
        const id = Channel.messageId(answer)!
        expect(deltas.filter((d) => d.messageId === id).map((d) => d.delta).join("")).toBe(textOf(answer))
      }
      expect(textOf(answers.at(-1))).toBe("The sum is three, as computed.")
    }).pipe((e) =>
      run(e, [
        { text: "Let me add.", toolCalls: [{ name: "add", params: { a: 1, b: 2 } }] },
        "The sum is three, as computed."
      ], counts)
    )
  })

  it.effect("`model` supplies the LanguageModel: the graph no longer requires one", () =>
    Effect.gen(function*() {
      const counts = { add: 0, send_email: 0 }
      const model = yield* ScriptedModel.make(["from the given model"])
      const agent = Agent.make({ toolkit: Tools, model, id: "own-model" })
      expectTypeOf<Effect.Effect.Context<ReturnType<typeof agent.invoke>>>().not.toExtend<LanguageModel.LanguageModel>()
      const out = yield* agent.invoke({ messages: [user("hi")] }).pipe(Effect.provide(toolsLayer(counts)))
      expect(textOf(out.messages.at(-1))).toBe("from the given model")
      expect(agent.id).toBe("own-model")
    }))

  it("types: state messages are @effect/ai messages; errors and requirements", () => {
    const agent = Agent.make({ toolkit: Tools, approve: ["send_email"] })
    expectTypeOf<StateGraph.StateOf<typeof agent>["messages"]>().toEqualTypeOf<ReadonlyArray<Prompt.Message>>()
    type E = Effect.Effect.Error<ReturnType<typeof agent.invoke>>
    expectTypeOf<AiError.AiError>().toExtend<E>()
    expectTypeOf<Flaky>().toExtend<E>()
    expectTypeOf<Task.JournalMismatch>().toExtend<E>()
    expectTypeOf<Interrupt.GraphInterrupted<Interrupt.Confirmation>>().toExtend<E>()
    expectTypeOf<LanguageModel.LanguageModel>().toExtend<Effect.Effect.Context<ReturnType<typeof agent.resume>>>()

    const plain = Agent.make({ toolkit: Tools })
    type PlainE = Effect.Effect.Error<ReturnType<typeof plain.invoke>>
    expectTypeOf<Extract<PlainE, { readonly _tag: "GraphInterrupted" }>>().toEqualTypeOf<never>()
    // @ts-expect-error: "nope" is not a tool of the toolkit
    Agent.make({ toolkit: Tools, approve: ["nope"] })
    // the state's messages go to a LanguageModel without conversion
    const _prompt: Prompt.RawInput = [] as StateGraph.StateOf<typeof agent>["messages"]
    void _prompt
  })
})

// ---------------------------------------------------------------------------------------------
// the messages channel
// ---------------------------------------------------------------------------------------------

describe("Channel.messages", () => {
  const channel = Channel.messages()
  const a = Channel.withMessageId(user("a"), "1")
  const b = Channel.withMessageId(user("b"), "2")
  const plain = user("no id")

  it("appends", () => {
    const one = channel.reducer(undefined, [a])
    expect(one).toEqual([a])
    expect(channel.reducer(one, [b, plain])).toEqual([a, b, plain])
    expect(channel.reducer(one, [])).toBe(one)
    expect(channel.initial?.()).toEqual([])
  })

  it("replaces a message with the same id, in place", () => {
    const edited = Channel.withMessageId(user("a, edited"), "1")
    const out = channel.reducer([a, b, plain], [edited])
    expect(out.map(textOf)).toEqual(["a, edited", "b", "no id"])
    expect(Channel.messageId(out[0]!)).toBe("1")
    // within one update too: the later one wins
    const twice = channel.reducer([], [a, edited])
    expect(twice.map(textOf)).toEqual(["a, edited"])
  })

  it("removes by id; an unknown id is ignored", () => {
    expect(channel.reducer([a, b, plain], [Channel.removeMessage("1")])).toEqual([b, plain])
    expect(channel.reducer([a, b], [Channel.removeMessage("missing")])).toEqual([a, b])
    // remove then re-add with the same id appends at the end
    expect(channel.reducer([a, b], [Channel.removeMessage("1"), a])).toEqual([b, a])
  })

  it("keeps the id in the message's provider options, next to other providers' options", () => {
    const withOpenAi = Prompt.makeMessage("user", {
      content: [Prompt.makePart("text", { text: "x" })],
      options: { openai: { cache: true } }
    })
    const tagged = Channel.withMessageId(withOpenAi, "7")
    expect(tagged.options).toEqual({ openai: { cache: true }, "effect-stategraph": { id: "7" } })
    expect(Channel.messageId(withOpenAi)).toBeUndefined()
  })

  it("round-trips every message kind through the channel's schema (as JSON)", () => {
    const messages: ReadonlyArray<Prompt.Message> = [
      Channel.withMessageId(Prompt.makeMessage("system", { content: "be terse" }), "s"),
      a,
      Prompt.makeMessage("assistant", {
        content: [
          Prompt.makePart("reasoning", { text: "thinking" }),
          Prompt.makePart("text", { text: "calling" }),
          Prompt.makePart("tool-call", { id: "c1", name: "add", params: { a: 1, b: 2 }, providerExecuted: false })
        ]
      }),
      Prompt.makeMessage("tool", {
        content: [Prompt.makePart("tool-result", { id: "c1", name: "add", isFailure: false, result: 3, providerExecuted: false })]
      })
    ]
    const encoded = Schema.encodeSync(channel.schema)(messages)
    const stored = JSON.parse(JSON.stringify(encoded))
    const decoded = Schema.decodeUnknownSync(channel.schema)(stored)
    expect(decoded).toEqual(messages)
    expect(Prompt.isMessage(decoded[0])).toBe(true)
    // the update schema accepts messages and removal markers, nothing else
    const validate = ParseResult.validateEither(channel.updateSchema)
    expect(Either.isRight(validate([a, Channel.removeMessage("1")]))).toBe(true)
    expect(Either.isLeft(validate([{ role: "user", content: "raw" }]))).toBe(true)
  })

  it.effect("the state's messages go to LanguageModel.generateText as they are", () =>
    Effect.gen(function*() {
      const messages = channel.reducer([], [Channel.withMessageId(Prompt.makeMessage("system", { content: "hi" }), "s"), a, plain])
      const response = yield* LanguageModel.generateText({ prompt: messages })
      expect(response.text).toBe("3 messages, same content")
    }).pipe(Effect.provide(ScriptedModel.layer([
      (prompt) => {
        expect(prompt.content.map((m) => [m.role, textOf(m), Channel.messageId(m)])).toEqual([
          ["system", "hi", "s"],
          ["user", "a", "1"],
          ["user", "no id", undefined]
        ])
        return `${prompt.content.length} messages, same content`
      }
    ]))))

  it.effect("in a graph: nodes append, replace and remove; the thread stores and reloads them", () =>
    Effect.gen(function*() {
      const graph = StateGraph.make({ id: "chat", state: { messages: Channel.messages() } }).pipe(
        StateGraph.addNode("write", () => Effect.succeed({ messages: [a, b] })),
        StateGraph.addNode("edit", () =>
          Effect.succeed({ messages: [Channel.withMessageId(user("b, edited"), "2"), Channel.removeMessage("1")] })),
        StateGraph.addEdge(StateGraph.START, "write"),
        StateGraph.addEdge("write", "edit"),
        StateGraph.compileSync()
      )
      const out = yield* graph.invoke({ messages: [plain] }, { threadId: "chat" })
      expect(out.messages.map(textOf)).toEqual(["no id", "b, edited"])
      const reloaded = yield* graph.getState("chat")
      expect(reloaded.values.messages).toEqual(out.messages)
      const history = yield* graph.history("chat")
      expect(history.at(-1)!.values.messages.map(textOf)).toEqual(["no id"])
    }).pipe(Effect.provide(Snapshots.layerMemory)))
})
