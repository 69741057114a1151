/**
 * Spans and metrics of the engine. Public operations get a span (one per call), each superstep
 * and each node task one too — all only when the app installed a tracer (OpenTelemetry, or any
 * `Tracer` of its own): with Effect's default tracer nobody reads them, and two spans a node
 * cost more than a node on a warm chain.
 */
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import type * as MetricHook from "effect/MetricHook"
import * as MetricKey from "effect/MetricKey"
import type { Backend } from "../../Snapshots.js"

/** The tracer Effect runs with when the app installed none. */
const defaultTracer = Effect.runSync(Effect.tracer)

/** Whether the running fiber has an app tracer: step and task spans are made only then. */
export const tracing: Effect.Effect<boolean> = Effect.withFiberRuntime((fiber) => Effect.succeed(fiber.currentTracer !== defaultTracer))

/**
 * What a run reads of its fiber once, in one step of the run loop (each `yield*` of a service or
 * a FiberRef is one more): its context, whether an app tracer is installed, whether it has metric
 * labels of its own.
 *
 * @internal
 */
export const withRunFiber = <A, E, R>(
  f: (fiber: { readonly context: Context.Context<never>; readonly traced: boolean; readonly labeled: boolean }) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.withFiberRuntime((fiber) =>
    f({
      context: fiber.currentContext,
      traced: fiber.currentTracer !== defaultTracer,
      labeled: fiber.getFiberRef(FiberRef.currentMetricLabels).length > 0
    })
  )

/** The attributes of a step's span, and of a task's (with its node). @internal */
export const spanAttributes = (
  graph: string,
  thread: string | undefined,
  cp: { readonly checkpointId: string; readonly step: number },
  node?: { readonly node: string; readonly id: string }
) => ({
  "stategraph.graph": graph,
  "stategraph.thread": thread ?? "",
  "stategraph.checkpoint": cp.checkpointId,
  "stategraph.step": cp.step,
  ...(node !== undefined ? { "stategraph.node": node.node, "stategraph.task": node.id } : {})
})

/**
 * The span of a public operation (`StateGraph.invoke`, …), made when the app installed a tracer:
 * with Effect's own tracer nobody reads it, and a span cost ~5–20 µs here, a tenth of an
 * interrupt + resume cycle on the memory store. No stack trace: it would point into this module.
 *
 * @internal
 */
export const operationSpan = (name: string, attributes: Record<string, unknown>) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.withFiberRuntime((fiber) =>
    fiber.currentTracer !== defaultTracer ? Effect.withSpan(self, name, { kind: "internal", captureStackTrace: false, attributes }) : self)

const stepsKey = MetricKey.counter("stategraph_steps_total", { description: "supersteps run", incremental: true })
const tasksKey = MetricKey.counter("stategraph_tasks_total", { description: "node tasks run", incremental: true })
const retriesKey = MetricKey.counter("stategraph_task_retries_total", {
  description: "node attempts beyond the first (the node's retry schedule)",
  incremental: true
})
const interruptsKey = MetricKey.counter("stategraph_interrupts_total", {
  description: "questions and breakpoints a run paused on",
  incremental: true
})
const storeLatencyKey = MetricKey.histogram(
  "stategraph_store_latency_ms",
  MetricBoundaries.exponential({ start: 0.01, factor: 2, count: 20 }),
  "the engine's store calls (ms)"
)

/** @internal */
export const steps = Metric.fromMetricKey(stepsKey)

/** Tasks run, tagged with how they ended (`outcome`: Done, Failed, Interrupted, Sleeping). @internal */
export const tasks = Metric.fromMetricKey(tasksKey)

/** @internal */
export const retries = Metric.fromMetricKey(retriesKey)

/** @internal */
export const interrupts = Metric.fromMetricKey(interruptsKey)

/** Store operations as the engine sees them, tagged with `operation`. @internal */
export const storeLatency = Metric.fromMetricKey(storeLatencyKey)

/**
 * The registry's hook of a metric (with one tag), looked up once. `Metric.update` on a tagged
 * metric builds a new key and hashes it on every update (~5 µs here); a fiber with no metric
 * labels of its own (`Effect.labelMetrics`) updates the hooks directly.
 */
const hooks = new Map<string, MetricHook.MetricHook<number, unknown>>()
const hookOf = (
  key: MetricKey.MetricKey.Counter<number> | MetricKey.MetricKey.Histogram,
  tag?: readonly [string, string]
): MetricHook.MetricHook<number, unknown> => {
  const id = tag === undefined ? key.name : `${key.name}\u0000${tag[0]}\u0000${tag[1]}`
  let hook = hooks.get(id)
  if (hook === undefined) {
    // one registry lookup for either kind of key (the hook's input is a number for both)
    const k = key as MetricKey.MetricKey.Counter<number>
    const tagged = tag === undefined ? k : MetricKey.tagged(k, tag[0], tag[1])
    hook = Metric.globalMetricRegistry.get(tagged) as MetricHook.MetricHook<number, unknown>
    hooks.set(id, hook)
  }
  return hook
}

/** Whether the fiber has metric labels of its own (then updates go through `Metric.update`). */
const labeled: Effect.Effect<boolean> = Effect.withFiberRuntime((fiber) => Effect.succeed(fiber.getFiberRef(FiberRef.currentMetricLabels).length > 0))

/** Times `effect` when it succeeds or fails (an interrupted call is not recorded: one frame, not a finalizer). */
const timedVia = <A, E>(record: (ms: number) => void, effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
  Effect.suspend(() => {
    const started = performance.now()
    return Effect.matchCauseEffect(effect, {
      onFailure: (cause) => {
        record(performance.now() - started)
        return Effect.failCause(cause)
      },
      onSuccess: (a) => {
        record(performance.now() - started)
        return Effect.succeed(a)
      }
    })
  })

/** The store with its latency measured per operation, through `timed(operation, effect)`. */
const measuredWith = (
  store: Backend,
  timed: <A, E>(operation: string, effect: Effect.Effect<A, E>) => Effect.Effect<A, E>
): Backend => ({
  ...store,
  claim: (...args) => timed("claim", store.claim(...args)),
  release: (...args) => timed("release", store.release(...args)),
  commit: (...args) => timed("commit", store.commit(...args)),
  commitAll: (...args) => timed("commitAll", store.commitAll(...args)),
  putTask: (...args) => timed("putTask", store.putTask(...args)),
  settle: (...args) => timed("settle", store.settle(...args)),
  setStatus: (...args) => timed("setStatus", store.setStatus(...args)),
  load: (...args) => timed("load", store.load(...args))
})

/** The latency hook of each store operation, and its recorder. */
const recorders: Record<string, (ms: number) => void> = Object.create(null)
const recorderOf = (operation: string) => {
  let record = recorders[operation]
  if (record === undefined) {
    const hook = hookOf(storeLatencyKey, ["operation", operation])
    record = recorders[operation] = (ms) => hook.update(ms)
  }
  return record
}

/** Latency into the registry's hooks directly. */
const direct = <A, E>(operation: string, effect: Effect.Effect<A, E>) => timedVia(recorderOf(operation), effect)

/** Latency through `Metric.update`, which adds the fiber's metric labels. */
const labeledTimed = <A, E>(operation: string, effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
  Effect.suspend(() => {
    const started = performance.now()
    const histogram = Metric.tagged(storeLatency, "operation", operation)
    return Effect.ensuring(effect, Effect.suspend(() => Metric.update(histogram, performance.now() - started)))
  })

/** Each store's two measured versions (direct, labeled), made once: a store lives as long as its layer. */
const measured = new WeakMap<Backend, { direct?: Backend; labeled?: Backend }>()

/** The store with its latency measured per operation (the engine's writes and reads). */
export const measuredStore = (store: Backend): Effect.Effect<Backend> => Effect.map(labeled, (withLabels) => measuredFor(store, withLabels))

/** `measuredStore` when the caller knows whether the fiber has metric labels. @internal */
export const measuredFor = (store: Backend, withLabels: boolean): Backend => {
  let versions = measured.get(store)
  if (versions === undefined) measured.set(store, versions = {})
  return withLabels
    ? (versions.labeled ??= measuredWith(store, labeledTimed))
    : (versions.direct ??= measuredWith(store, direct))
}

/**
 * A run's counts, kept as plain numbers while it runs and added to the metrics once when it ends:
 * a metric update costs microseconds, a step of a warm chain not many more.
 */
export interface Tally {
  steps: number
  retries: number
  interrupts: number
  /** tasks by outcome (Done, Failed, Interrupted, Sleeping) */
  readonly byOutcome: Record<string, number>
}

export const makeTally = (): Tally => ({ steps: 0, retries: 0, interrupts: 0, byOutcome: { Done: 0, Failed: 0, Interrupted: 0, Sleeping: 0 } })

/** Counts a step's tasks by outcome and their retries. */
export const countStep = (tally: Tally, outcomes: ReadonlyArray<{ readonly _tag: string; readonly attempts?: number }>) => {
  tally.steps++
  for (let i = 0; i < outcomes.length; i++) {
    const o = outcomes[i]!
    tally.byOutcome[o._tag] = (tally.byOutcome[o._tag] ?? 0) + 1
    if (o.attempts !== undefined && o.attempts > 1) tally.retries += o.attempts - 1
  }
}

/** The tasks counter's hook of one outcome (looked up once per outcome). */
const taskHooks: Record<string, MetricHook.MetricHook<number, unknown>> = Object.create(null)
const taskHookOf = (outcome: string) => (taskHooks[outcome] ??= hookOf(tasksKey, ["outcome", outcome]))

/** Adds a run's counts to the metrics. */
export const record = (tally: Tally): Effect.Effect<void> =>
  Effect.flatMap(labeled, (withLabels) => {
    if (!withLabels) {
      return Effect.sync(() => {
        if (tally.steps > 0) hookOf(stepsKey).update(tally.steps)
        for (const outcome in tally.byOutcome) {
          const n = tally.byOutcome[outcome]!
          if (n > 0) taskHookOf(outcome).update(n)
        }
        if (tally.retries > 0) hookOf(retriesKey).update(tally.retries)
        if (tally.interrupts > 0) hookOf(interruptsKey).update(tally.interrupts)
      })
    }
    const updates: Array<Effect.Effect<void>> = []
    if (tally.steps > 0) updates.push(Metric.incrementBy(steps, tally.steps))
    for (const outcome in tally.byOutcome) {
      const n = tally.byOutcome[outcome]!
      if (n > 0) updates.push(Metric.incrementBy(Metric.tagged(tasks, "outcome", outcome), n))
    }
    if (tally.retries > 0) updates.push(Metric.incrementBy(retries, tally.retries))
    if (tally.interrupts > 0) updates.push(Metric.incrementBy(interrupts, tally.interrupts))
    return updates.length === 0 ? Effect.void : Effect.all(updates, { discard: true })
  })
