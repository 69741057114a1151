/**
 * Spans and metrics of the engine. Public operations always get a span (one per call); the
 * per-step and per-task spans only when the app installed a tracer (OpenTelemetry, or any
 * `Tracer` of its own): with Effect's default tracer nobody reads them, and two spans a node
 * cost more than a node on a warm chain.
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import type { Backend } from "../../Snapshots.js"

/** The tracer Effect runs with when the app installed none. */
const defaultTracer = Effect.runSync(Effect.tracer)

/** Whether the running fiber has an app tracer: step and task spans are made only then. */
export const tracing: Effect.Effect<boolean> = Effect.map(Effect.tracer, (t) => t !== defaultTracer)

/** @internal */
export const steps = Metric.counter("stategraph_steps_total", { description: "supersteps run", incremental: true })

/** Tasks run, tagged with how they ended (`outcome`: Done, Failed, Interrupted, Sleeping). @internal */
export const tasks = Metric.counter("stategraph_tasks_total", { description: "node tasks run", incremental: true })

/** @internal */
export const retries = Metric.counter("stategraph_task_retries_total", {
  description: "node attempts beyond the first (the node's retry schedule)",
  incremental: true
})

/** @internal */
export const interrupts = Metric.counter("stategraph_interrupts_total", {
  description: "questions and breakpoints a run paused on",
  incremental: true
})

/** Store operations as the engine sees them, tagged with `operation`. @internal */
export const storeLatency = Metric.histogram(
  "stategraph_store_latency_ms",
  MetricBoundaries.exponential({ start: 0.01, factor: 2, count: 20 }),
  "the engine's store calls (ms)"
)

/** The latency histogram of each store operation, tagged once (a tagged metric is a new key to hash on each update). */
const latencyOf: Record<string, Metric.Metric.Histogram<number>> = Object.create(null)
const latency = (operation: string) => (latencyOf[operation] ??= Metric.tagged(storeLatency, "operation", operation))

const timed = <A, E>(operation: string, effect: Effect.Effect<A, E>): Effect.Effect<A, E> => {
  const histogram = latency(operation)
  return Effect.suspend(() => {
    const started = performance.now()
    return Effect.ensuring(effect, Effect.suspend(() => Metric.update(histogram, performance.now() - started)))
  })
}

/** The store with its latency measured per operation (the engine's writes and reads). */
export const measuredStore = (store: Backend): Backend => ({
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

/** The task counter of each outcome, tagged once. */
const tasksOf: Record<string, Metric.Metric.Counter<number>> = Object.create(null)
const tasksTagged = (outcome: string) => (tasksOf[outcome] ??= Metric.tagged(tasks, "outcome", outcome))

/** Adds a run's counts to the metrics. */
export const record = (tally: Tally): Effect.Effect<void> =>
  Effect.suspend(() => {
    const updates: Array<Effect.Effect<void>> = []
    if (tally.steps > 0) updates.push(Metric.incrementBy(steps, tally.steps))
    for (const outcome in tally.byOutcome) {
      const n = tally.byOutcome[outcome]!
      if (n > 0) updates.push(Metric.incrementBy(tasksTagged(outcome), n))
    }
    if (tally.retries > 0) updates.push(Metric.incrementBy(retries, tally.retries))
    if (tally.interrupts > 0) updates.push(Metric.incrementBy(interrupts, tally.interrupts))
    return updates.length === 0 ? Effect.void : Effect.all(updates, { discard: true })
  })
