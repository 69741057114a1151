/**
 * The compiled graph's behaviour: a run (with its call's settings, store and abort signal), a
 * streamed run, and the object `compile` returns.
 */
import * as Effect from "effect/Effect"
import * as Mailbox from "effect/Mailbox"
import * as Stream from "effect/Stream"
import { ThreadSleeping } from "../../GraphError.js"
import * as Interrupt from "../../Interrupt.js"
import { type Backend, Snapshots } from "../../Snapshots.js"
import { toPending } from "../engine/answers.js"
import { execute } from "../engine/execute.js"
import type { Checkpoint, RunConfig, RunOutcome, RunRequest } from "../engine/model.js"
import { measuredStore, operationSpan } from "../engine/telemetry.js"
import type * as internalGraph from "../graph.js"
import { withoutStack } from "../pause.js"
import { Configurable } from "../task.js"
import { mermaid } from "./mermaid.js"
import { type AnyCompiled, TypeId } from "./model.js"
import type { PerCallOptions, RunOptions } from "./options.js"
import { debugEmit, modesOf, type StreamMode, type StreamOptions } from "./streaming.js"
import * as threads from "./threads.js"

/**
 * The engine's outcome as the public API reports it: the checkpoint when it completed or stopped,
 * else the typed failure — `GraphInterrupted` for a pause, `ThreadSleeping` for a durable
 * sleep, the node's error for a failure.
 *
 * @internal
 */
export const fromOutcome = (compiled: internalGraph.Compiled, threadId: string | undefined) => (outcome: RunOutcome): Effect.Effect<Checkpoint, unknown> => {
  switch (outcome._tag) {
    case "Completed":
    case "Stopped":
      return Effect.succeed(outcome.checkpoint)
    case "Paused":
      return Effect.fail(withoutStack(() =>
        new Interrupt.GraphInterrupted<Interrupt.Interrupt<string, unknown, unknown>>({
          threadId,
          checkpointId: outcome.checkpoint.checkpointId,
          interrupts: outcome.interrupts.map(toPending(compiled))
        })
      ))
    case "Sleeping":
      return Effect.fail(new ThreadSleeping({ threadId: threadId ?? "", wakeAt: new Date(outcome.wakeAt).toISOString() }))
    case "Failed":
      return Effect.fail(outcome.error)
  }
}

/** The compiled graph with this call's settings over its defaults (the same object without any). */
const withSettings = (compiled: internalGraph.Compiled, options: PerCallOptions | undefined): internalGraph.Compiled => {
  if (options === undefined) return compiled
  const { concurrency, durability, recursionLimit } = options
  if (recursionLimit === undefined && concurrency === undefined && durability === undefined) return compiled
  return {
    ...compiled,
    recursionLimit: recursionLimit ?? compiled.recursionLimit,
    concurrency: concurrency ?? compiled.concurrency,
    durability: durability ?? compiled.durability
  }
}

/** A run with its call's `configurable` values (for `Task.configurable`) and its abort `signal`. */
const perCall = <A, E, R>(options: PerCallOptions | undefined, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
  if (options === undefined) return effect
  let out = effect
  if (options.configurable !== undefined) out = Effect.provideService(out, Configurable, options.configurable)
  if (options.signal !== undefined) out = abortable(options.signal, out)
  return out
}

/** Interrupts `effect` when `signal` aborts (at once when it already has). */
const abortable = <A, E, R>(signal: AbortSignal, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.suspend(() => {
    if (signal.aborted) return Effect.interrupt
    return Effect.raceFirst(
      effect,
      Effect.async<never>((resume) => {
        const onAbort = () => resume(Effect.interrupt)
        signal.addEventListener("abort", onAbort, { once: true })
        return Effect.sync(() => signal.removeEventListener("abort", onAbort))
      })
    )
  })

const pick = (keys: ReadonlyArray<string>, values: Readonly<Record<string, unknown>>) => {
  const out: Record<string, unknown> = {}
  for (const k of keys) if (values[k] !== undefined) out[k] = values[k]
  return out
}

const withStore = <A, E, R>(
  threadId: string | undefined,
  f: (store: Backend | undefined) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, any> => threadId === undefined ? f(undefined) : Effect.flatMap(Snapshots, f)

const resumeRequest = (options: { readonly update?: unknown }, answers: ReadonlyArray<any>): RunRequest =>
  options.update === undefined ? { _tag: "Resume", answers } : { _tag: "Resume", answers, update: options.update }

/** @internal */
export const makeCompiled = (compiled: internalGraph.Compiled): AnyCompiled => {
  /** A span per public operation, named after it, with the graph and the thread. */
  const span = (operation: string, threadId: string | undefined) =>
    operationSpan(`StateGraph.${operation}`, { "stategraph.graph": compiled.id, "stategraph.thread": threadId ?? "" })
  const run = (request: RunRequest, options: RunOptions | undefined, extra: Partial<RunConfig>) =>
    perCall(options, withStore(options?.threadId, (store) =>
      Effect.flatMap(
        store === undefined ? Effect.succeed(undefined) : measuredStore(store),
        (measured) => {
          const graph = withSettings(compiled, options)
          return Effect.flatMap(execute(graph, measured, request, {
            threadId: options?.threadId,
            checkpointId: options?.checkpointId,
            allowVersionChange: options?.allowVersionChange,
            metadata: options?.metadata,
            ...extra
          }), fromOutcome(graph, options?.threadId))
        }
      )))
  /** A run whose parts come out as a Stream; the run is interrupted when the stream stops early. */
  const streamOf = (
    request: RunRequest,
    options: (RunOptions & StreamOptions<StreamMode, boolean>) | undefined
  ) =>
    Stream.unwrapScoped(Effect.gen(function*() {
      const mailbox = yield* Mailbox.make<any, any>()
      const requested = modesOf(options?.mode)
      const offer = compiled.output === undefined
        ? (part: any) => mailbox.offer(part).pipe(Effect.asVoid)
        // the graph's own values parts show its output channels (a subgraph's show its own)
        : (part: any) =>
          mailbox.offer(part.mode === "values" && part.namespace === undefined ? { ...part, values: pick(compiled.output!, part.values) } : part)
            .pipe(Effect.asVoid)
      yield* run(request, options, {
        emit: requested.has("debug") ? debugEmit(requested, offer) : offer,
        modes: requested.has("debug") ? new Set([...requested, "tasks", "checkpoints"]) : requested,
        subgraphs: options?.subgraphs === true
      }).pipe(
        Effect.asVoid,
        span(request._tag === "Resume" ? "streamResume" : "stream", options?.threadId),
        Mailbox.into(mailbox),
        Effect.forkScoped
      )
      return Mailbox.toStream(mailbox)
    }))
  /** What a run returns: its output channels (every channel when it declares none). */
  const output = (cp: Checkpoint) => (compiled.output === undefined ? cp.values : pick(compiled.output, cp.values))
  const self: AnyCompiled = {
    [TypeId]: { _S: (_: any) => _, _E: (_: never) => _ },
    id: compiled.id,
    version: compiled.version,
    nodes: compiled.def.nodes.map((n) => n.name),
    compiled,
    invoke: ((input: unknown, options?: RunOptions) =>
      Effect.map(run({ _tag: "Input", input }, options, {}), output).pipe(span("invoke", options?.threadId))) as any,
    stream: ((input: unknown, options?: RunOptions & { readonly mode?: StreamMode | ReadonlyArray<StreamMode> }) =>
      streamOf({ _tag: "Input", input }, options)) as any,
    streamResume: ((options: any, ...answers: ReadonlyArray<any>) => streamOf(resumeRequest(options, answers), options)) as any,
    resume: (options, ...answers) =>
      Effect.map(run(resumeRequest(options, answers), options, {}), output).pipe(
        span("resume", options.threadId)
      ) as any,
    getState: (threadId, options) => threads.getState(compiled)(threadId, options).pipe(span("getState", threadId)),
    history: (threadId, options) => threads.history(compiled)(threadId, options).pipe(span("history", threadId)),
    searchThreads: (options) => threads.searchThreads(compiled)(options).pipe(span("searchThreads", undefined)),
    updateState: (threadId, update, options) =>
      threads.updateSteps(compiled, threadId, [[{ update, asNode: options?.asNode }]], options?.checkpointId).pipe(
        span("updateState", threadId)
      ) as any,
    bulkUpdateState: (threadId, supersteps, options) =>
      threads.updateSteps(compiled, threadId, supersteps, options?.checkpointId).pipe(span("bulkUpdateState", threadId)) as any,
    clearCache: (nodes) =>
      Effect.sync(() => {
        if (nodes === undefined) return compiled.cache.clear()
        for (const key of [...compiled.cache.keys()]) {
          if (nodes.some((n) => key.startsWith(`${n}\u0000`))) compiled.cache.delete(key)
        }
      }),
    toMermaid: () => mermaid(compiled.def)
  }
  return self
}
