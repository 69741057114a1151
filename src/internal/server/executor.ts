/**
 * The run executor: claims queued runs (one at a time per thread, oldest first, from any process
 * sharing the database), runs them on the engine, and writes what they stream to the run-event
 * log. While a run executes, its lease is renewed and its row is watched for a stop request
 * (double texting, cancel); a run whose executor died is queued again when its lease runs out.
 */
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import type * as Interrupt from "../../Interrupt.js"
import type { WorkflowSnapshotEncoded } from "../../Snapshot.js"
import type { AnyCompiled } from "../../StateGraph.js"
import { makeCompiled } from "../stategraph/compiled.js"
import { StopAtStepBoundary } from "../engine/execute.js"
import { loadCheckpoint, notify, type Shared, STEP, STEP_TIMEOUT, wake } from "./context.js"
import { deleteThreadRow, type RunRow } from "./db.js"
import { decodeAnswers, decodeCommand, decodeUpdate } from "./input.js"
import { resultOf, type RunKwargs } from "./runs.js"
import { engineModes, toEvents } from "./streamEvents.js"
import { pendingInterrupts } from "./views.js"

/** END marks the end of a run's events; its data is the run's result. @internal */
export const END_EVENT = "__end__"

/** The graph with this run's breakpoints added (the same version: breakpoints are run policy). */
const withBreakpoints = (graph: AnyCompiled, kwargs: RunKwargs): AnyCompiled => {
  if (kwargs.interrupt_before === undefined && kwargs.interrupt_after === undefined) return graph
  const all = graph.nodes as ReadonlyArray<string>
  const set = (b: "*" | ReadonlyArray<string> | undefined, current: ReadonlySet<string>) =>
    new Set([...current, ...(b === undefined ? [] : b === "*" ? all : b)])
  return makeCompiled({
    ...graph.compiled,
    interruptBefore: set(kwargs.interrupt_before, graph.compiled.interruptBefore),
    interruptAfter: set(kwargs.interrupt_after, graph.compiled.interruptAfter)
  })
}

/** The run's part stream on the engine, from what it was asked. */
const partsOf = (graph: AnyCompiled, kwargs: RunKwargs, threadId: string, head: WorkflowSnapshotEncoded | undefined, checkpointId: string | undefined) =>
  Stream.unwrap(Effect.gen(function*() {
    const mode = engineModes(kwargs.stream_mode)
    const subgraphs = kwargs.stream_subgraphs === true
    const command = kwargs.command
    const at = checkpointId !== undefined ? { checkpointId } : {}
    if (command?.resume !== undefined) {
      // answers and an update are one checkpoint: a refused one writes nothing
      const answers = yield* decodeAnswers(graph, head, command.resume)
      const update = command.update != null ? yield* decodeUpdate(graph, command.update, "command.update") : undefined
      return graph.streamResume(
        { threadId, mode, subgraphs, ...(update !== undefined ? { update } : {}) },
        ...(answers as ReadonlyArray<Interrupt.Answer<any, any>>)
      )
    }
    if (command !== undefined && (command.update != null || command.goto != null)) {
      // a Command as the run's input: its update and next step as one checkpoint, then the run
      const cmd = yield* decodeCommand(graph, command.update, command.goto)
      return graph.stream(cmd as any, { threadId, mode, subgraphs, ...at })
    }
    const input = kwargs.input === undefined ? null : yield* decodeUpdate(graph, kwargs.input, "input")
    // continuing a thread paused at a breakpoint: LangGraph sends no input; here it is a resume without answers
    if (input === null && checkpointId === undefined && head?.status === "paused" && head.pauseReason === "breakpoint") {
      return graph.streamResume({ threadId, mode, subgraphs })
    }
    return graph.stream(input, { threadId, mode, subgraphs, ...at })
  }))

const messageOf = (e: unknown) =>
  typeof e === "object" && e !== null && "message" in e && typeof e.message === "string" && e.message !== ""
    ? e.message
    : String(e)

/** Executes one claimed run to its end. @internal */
export const execute = (ctx: Shared, row: RunRow): Effect.Effect<void> =>
  Effect.gen(function*() {
    const { db } = ctx
    const runId = row.run_id
    const threadId = row.thread_id
    const kwargs = JSON.parse(row.kwargs) as RunKwargs
    const emit = (events: ReadonlyArray<readonly [string, unknown]>) =>
      events.length === 0 ? Effect.void : Effect.zipRight(
        db.appendEvents(events.map(([event, data]) => ({ run_id: runId, event, data: JSON.stringify(data ?? null), created_at: Date.now() }))),
        notify(ctx, [runId])
      )
    const stop = yield* Deferred.make<string>()
    ctx.stops.set(runId, stop)
    // "step" (double texting interrupt) stops the run at its next step boundary — or at once
    // when it has not reached one within `interruptTimeoutMillis` (a step that never ends); any
    // other action (cancel, rollback, the run deleted) stops it at once
    const atOnce = yield* Deferred.make<string>()
    const stepAsked = yield* Deferred.make<void>()
    let atStep = false
    const onStop = (action: string) =>
      action === STEP
        ? Effect.zipRight(Effect.sync(() => void (atStep = true)), Deferred.succeed(stepAsked, undefined))
        : Deferred.succeed(atOnce, action)
    const stepTimeout = Effect.gen(function*() {
      yield* Deferred.await(stepAsked)
      yield* Effect.sleep(ctx.options.interruptTimeoutMillis)
      if (yield* Deferred.succeed(atOnce, STEP_TIMEOUT)) {
        yield* Effect.logWarning(
          `effect-stategraph server: run ${runId} did not reach a step boundary within ${ctx.options.interruptTimeoutMillis} ms of a double-texting interrupt; stopped at once`
        )
      }
    })
    // renew the lease; a stop request in the row (from any process) stops the run
    const watch = Effect.gen(function*() {
      while (true) {
        yield* Effect.sleep(ctx.options.pollMillis)
        const t = Date.now()
        const current = yield* Effect.orElseSucceed(db.renew(runId, ctx.workerId, t + ctx.options.runLeaseMillis), () => row)
        if (current === undefined) return yield* onStop("gone")
        if (current.cancel !== null && (current.cancel !== STEP || !atStep)) yield* onStop(current.cancel)
      }
    })
    const signalled = Effect.flatMap(Deferred.await(stop), onStop)
    const graph0 = ctx.graphs.get(row.assistant_id)
    const outcome = yield* Effect.gen(function*() {
      if (graph0 === undefined) return { status: "error", events: [["error", { error: "GraphNotFound", message: `graph "${row.assistant_id}" is not registered in this process` }]], result: {} } as const
      const graph = withBreakpoints(graph0, kwargs)
      const events = toEvents(graph, kwargs.stream_mode, new Map())
      // a run taken over from an executor that died has events already
      const started = (yield* db.eventsAfter(runId, 0, 1)).length > 0
      yield* emit([["metadata", { run_id: runId, thread_id: threadId, attempt: started ? 2 : 1 }]])
      if (!started && kwargs.rollback !== undefined && kwargs.rollback.to === null) yield* ctx.store.deleteThread(threadId)
      const head = yield* loadCheckpoint(ctx, threadId)
      if (!started) yield* db.setBase(runId, head?.checkpointId ?? null)
      // what the dead executor committed stays: its input is not sent again, the thread is continued
      const continued = started && head !== undefined && head.checkpointId !== row.base_checkpoint
      const asked: RunKwargs = continued ? { stream_mode: kwargs.stream_mode, stream_subgraphs: kwargs.stream_subgraphs, stateless: kwargs.stateless, on_completion: kwargs.on_completion } : kwargs
      const checkpointId = continued ? undefined : kwargs.checkpoint_id ?? kwargs.rollback?.to ?? undefined
      const run = continued && head.status !== "running" && head.status !== "pending"
        ? (head.status === "paused" ? Effect.fail({ _tag: "GraphInterrupted" }) : head.status === "failed" ? Effect.fail({ _tag: "RunFailed", message: head.error ?? "failed" }) : Effect.void)
        : Stream.runForEach(partsOf(graph, asked, threadId, head, checkpointId), (part) => emit(events(part))).pipe(
          Effect.provideService(StopAtStepBoundary, { requested: () => atStep })
        )
      const ended = yield* Effect.raceFirst(
        Effect.map(Effect.either(run), (r) => ({ _tag: "Ran", result: r }) as const),
        Effect.map(Deferred.await(atOnce), (action) => ({ _tag: "Stopped", action }) as const)
      )
      const after = yield* loadCheckpoint(ctx, threadId)
      if (ended._tag === "Stopped") {
        return { status: "interrupted", events: [], result: after === undefined ? {} : resultOf(after), action: ended.action } as const
      }
      if (Either.isRight(ended.result)) {
        // stopped at a step boundary: its steps are committed, the thread is left to the next run
        if (atStep && after !== undefined && after.status !== "completed") {
          return { status: "interrupted", events: [], result: resultOf(after), action: STEP } as const
        }
        return { status: "success", events: [], result: after === undefined ? {} : resultOf(after) } as const
      }
      const error: unknown = ended.result.left
      const tag = typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : undefined
      if (tag === "GraphInterrupted" && after !== undefined) {
        const interrupts = pendingInterrupts(after).map((i) => ({ id: i.id, value: i.request }))
        const events: Array<readonly [string, unknown]> = []
        if (kwargs.stream_mode.includes("updates")) events.push(["updates", { __interrupt__: interrupts }])
        if (kwargs.stream_mode.includes("values")) events.push(["values", { ...after.channels, __interrupt__: interrupts }])
        return { status: "interrupted", events, result: resultOf(after) } as const
      }
      const failure = { error: tag ?? "Error", message: messageOf(error) }
      return { status: "error", events: [["error", failure]], result: { __error__: failure } } as const
    }).pipe(
      Effect.catchAllCause((cause) => {
        const failure = { error: "ServerError", message: Cause.pretty(cause).split("\n")[0] ?? "failed" }
        return Effect.succeed({ status: "error", events: [["error", failure]], result: { __error__: failure } } as const)
      }),
      Effect.onExit(() => Effect.sync(() => ctx.stops.delete(runId))),
      (body) =>
        Effect.flatMap(
          Effect.fork(Effect.all([signalled, watch, stepTimeout], { concurrency: "unbounded", discard: true })),
          (w) => Effect.ensuring(body, Fiber.interrupt(w))
        )
    )
    const now = Date.now()
    yield* db.sql.withTransaction(Effect.gen(function*() {
      yield* db.appendEvents([...outcome.events, [END_EVENT, outcome.result] as const].map(([event, data]) => ({
        run_id: runId,
        event,
        data: JSON.stringify(data ?? null),
        created_at: now
      })))
      yield* db.finish(runId, outcome.status, outcome.status === "error" ? JSON.stringify(outcome.result) : null, now)
    }))
    if ("action" in outcome && outcome.action === "rollback") yield* db.deleteRun(runId)
    if (kwargs.on_completion === "delete") {
      yield* ctx.store.deleteThread(threadId)
      yield* deleteThreadRow(db, threadId)
    }
    yield* notify(ctx, [runId])
    yield* wake(ctx)
  }).pipe(
    Effect.provide(ctx.services),
    Effect.catchAllCause((cause) => Effect.logError("effect-stategraph server: a run's bookkeeping failed", cause)),
    Effect.withSpan("Server.run", { attributes: { "stategraph.thread": row.thread_id, "stategraph.run": row.run_id } })
  ) as Effect.Effect<void>

/**
 * The executor loop of this process: up to `executors` runs at once; idle, it waits for a local
 * wake-up or polls the database. Runs whose executor died are queued again.
 *
 * @internal
 */
export const loop = (ctx: Shared) =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const slots = yield* Effect.makeSemaphore(ctx.options.executors)
    let lastReclaim = 0
    const graphs = [...ctx.graphs.keys()]
    if (graphs.length === 0) return yield* Effect.never
    while (true) {
      yield* slots.take(1)
      const now = Date.now()
      if (now - lastReclaim > ctx.options.runLeaseMillis / 2) {
        lastReclaim = now
        yield* Effect.ignore(ctx.db.reclaimExpired(now))
      }
      const row = yield* Effect.orElseSucceed(ctx.db.claimNext(ctx.workerId, now, ctx.options.runLeaseMillis, graphs), () => undefined)
      if (row === undefined) {
        yield* slots.release(1)
        yield* Effect.raceFirst(Queue.take(ctx.wakeups), Effect.sleep(ctx.options.pollMillis))
        continue
      }
      yield* Effect.forkIn(Effect.ensuring(execute(ctx, row), slots.release(1)), scope)
    }
  })
