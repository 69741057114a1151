/**
 * The step cycle: select a step's tasks → run them → fold their outcomes → apply the writes →
 * plan the next step → commit; until END, a pause, a sleep, a failure, the caller's stop or the
 * recursion limit. Returns how the run ended as a `RunOutcome`.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { InvalidUpdate, RecursionLimitExceeded } from "../../GraphError.js"
import type { InterruptRecord, TaskRecord, TaskSpec } from "../../Snapshot.js"
import { forkAll } from "../fanout.js"
import * as Ids from "../ids.js"
import { CurrentTask, type ScopeHolder } from "../task.js"
import * as algo from "./algo.js"
import { advanced, breakpointRecords, completedNodeStates, lastOrder, nodeState, pausedNodeStates } from "./checkpoints.js"
import { channelWrites, doneRecord, renderError } from "./codec.js"
import { type Committer, pendingWriter } from "./durability.js"
import type { Checkpoint, Done, Given, Run, RunEvent, RunOutcome, TaskOutcome } from "./model.js"
import { evaluateRoutes, hasBranches } from "./routes.js"
import { EngineObserver, type Observer } from "./observer.js"
import { runTask, type TaskEnv } from "./runner.js"
import { finishedTasks, type Folded, foldOutcomes, pendingOf, selectTasks, stepRecords } from "./step.js"
import { countStep, makeTally, record, type Tally, tracing } from "./telemetry.js"

/** What the cycle's parts share for one run. */
interface Ctx {
  readonly run: Run
  readonly committer: Committer
  readonly env: TaskEnv
  readonly holder: ScopeHolder
  readonly persist: boolean
  readonly events: boolean
  /** an app tracer is installed: a span per step and per task */
  readonly traced: boolean
  /** the run's counts, added to the metrics when it ends */
  readonly tally: Tally
}

/** The cycle's changing state. */
interface Cycle {
  cp: Checkpoint
  /** steps run so far in this run */
  steps: number
  /** a resumed breakpoint lets the paused step pass once */
  skipBefore: boolean
  /** answers of this resume by task id (cleared once the first step ran) */
  answered: ReadonlyMap<string, Given>
  /** the last execution order given to a completed node */
  order: number
}

/** The tasks of one step, run. */
interface Ran {
  readonly pending: ReadonlyMap<string, TaskRecord>
  readonly only: ReadonlySet<string> | undefined
  readonly folded: Folded
}

/**
 * Runs steps from `start` until the run ends. `answered` marks tasks that may run (answered
 * interrupts); `skipBreakpoint` lets a resumed breakpoint pass.
 *
 * @internal
 */
export const loop = (
  run: Run,
  start: Checkpoint,
  committer: Committer,
  answered: ReadonlyMap<string, Given>,
  skipBreakpoint: boolean
): Effect.Effect<RunOutcome, unknown, unknown> => {
  const holder: ScopeHolder = { scope: undefined }
  const { compiled, store, threadId, config, modes } = run
  const persist = store !== undefined && threadId !== undefined
  const state: Cycle = { cp: start, steps: 0, skipBefore: skipBreakpoint, answered, order: lastOrder(start) }
  const cycle = (observer: Observer | undefined) => Effect.flatMap(tracing, (traced) => {
    const env: TaskEnv = { compiled, threadId, store, runId: run.runId, persist, emit: config.emit, modes, stored: committer.stored, observer }
    const ctx: Ctx = { run, committer, env, holder, persist, events: config.emit !== undefined && modes.has("events"), traced, tally: makeTally() }
    const steps = Effect.gen(function*() {
      while (true) {
        const ended = traced && state.cp.tasks.length > 0
          ? yield* Effect.withSpan(oneStep(ctx, state), "StateGraph.step", { attributes: stepAttributes(ctx, state.cp) })
          : yield* oneStep(ctx, state)
        if (ended !== undefined) return ended
      }
    })
    return Effect.ensuring(steps, record(ctx.tally))
  })
  return Effect.flatMap(EngineObserver, (observer) => {
    const body = Effect.provideService(cycle(observer), CurrentTask, holder)
    // the observer is the caller's, for this run: child graphs run by its nodes do not report to it
    return observer === undefined ? body : Effect.provideService(body, EngineObserver, undefined)
  })
}

/** One step: undefined when the run goes on. */
const oneStep = (ctx: Ctx, s: Cycle): Effect.Effect<RunOutcome | undefined, unknown, unknown> =>
  Effect.gen(function*() {
    const stopped = yield* beforeStep(ctx, s)
    if (stopped !== undefined) return stopped
    const ran = yield* runStep(ctx, s)
    const ended = yield* endStep(ctx, s, ran)
    if (ended._tag !== "Apply") return ended
    return yield* advance(ctx, s, ran.folded, ended)
  })

const stepAttributes = (ctx: Ctx, cp: Checkpoint, node?: { readonly node: string; readonly id: string }) => ({
  "stategraph.graph": ctx.run.compiled.id,
  "stategraph.thread": ctx.run.threadId ?? "",
  "stategraph.checkpoint": cp.checkpointId,
  "stategraph.step": cp.step,
  ...(node !== undefined ? { "stategraph.node": node.node, "stategraph.task": node.id } : {})
})

const emitEvent = (ctx: Ctx, event: RunEvent) =>
  ctx.events ? ctx.run.config.emit!({ mode: "events", event }) : Effect.void

/** Ends the run before the step when there is nothing to run, a limit, or a breakpoint. */
const beforeStep = (ctx: Ctx, s: Cycle): Effect.Effect<RunOutcome | undefined, unknown> =>
  Effect.gen(function*() {
    const { compiled, policy, threadId } = ctx.run
    const cp = s.cp
    if (cp.tasks.length === 0) {
      yield* ctx.committer.flush(cp)
      yield* emitEvent(ctx, { _tag: "Completed", checkpointId: cp.checkpointId })
      return { _tag: "Completed", checkpoint: cp } as const
    }
    if (s.steps >= compiled.recursionLimit) {
      yield* ctx.committer.flush(cp)
      return yield* Effect.fail(new RecursionLimitExceeded({ limit: compiled.recursionLimit, threadId }))
    }
    if (policy.stopAfterSteps !== undefined && s.steps >= policy.stopAfterSteps) {
      yield* ctx.committer.flush(cp)
      return { _tag: "Stopped", checkpoint: cp } as const
    }
    // static breakpoint before
    if (!s.skipBefore && compiled.interruptBefore.size > 0) {
      const hit = cp.tasks.filter((t) => compiled.interruptBefore.has(t.node))
      if (hit.length > 0) {
        const records = breakpointRecords(cp.checkpointId, "before", hit.map((t) => ({ node: t.node, taskId: t.id })))
        return yield* pause(ctx, s, cp, records, [], "breakpoint")
      }
    }
    s.skipBefore = false
    return undefined
  })

/** Runs the step's tasks that run now: one inline, several concurrently. */
const runStep = (ctx: Ctx, s: Cycle): Effect.Effect<Ran, unknown, unknown> =>
  Effect.gen(function*() {
    const { compiled, policy, store, threadId, runId } = ctx.run
    const cp = s.cp
    const pending = pendingOf(cp.pending)
    const only = s.steps === 0 ? policy.onlyTasks : undefined
    yield* emitEvent(ctx, { _tag: "StepStarted", step: cp.step, tasks: cp.tasks.map((t) => t.node) })
    const { stillWaiting, toRun } = selectTasks(cp, pending, s.answered, only)
    const multi = toRun.length > 1
    // tasks of a parallel step each get their own scope holder, in their fiber's context
    const holders: Array<ScopeHolder> | undefined = multi ? toRun.map(() => ({ scope: undefined })) : undefined
    // pending writes are saved as each task finishes, so a sibling's failure or a crash
    // re-runs only the unfinished tasks; tasks finishing together share one transaction
    const saveDone = ctx.persist && multi && compiled.durability !== "exit"
      ? pendingWriter((done: ReadonlyArray<Done>) =>
        // with async durability the step's own checkpoint may still be queued: records need it
        Effect.zipRight(
          ctx.committer.stored,
          store!.settle(threadId!, runId, cp.checkpointId, { records: done.map((o) => doneRecord(compiled, o)) })
        )
      )
      : undefined
    const stored = compiled.durability !== "exit" || cp.checkpointId === ctx.committer.head()
    const runOne = (t: TaskSpec, i: number) => {
      const given = s.answered.get(t.id)
      const prev = pending.get(t.id)
      const task = runTask({
        env: ctx.env,
        checkpointId: cp.checkpointId,
        step: cp.step,
        state: cp.values,
        task: t,
        previous: given?.forwarded !== undefined && prev !== undefined ? { ...prev, forwarded: given.forwarded } : prev,
        answers: given?.answers ?? prev?.answers ?? [],
        keyedAnswers: given?.keyed ?? prev?.keyedAnswers ?? {},
        stored,
        holder: holders?.[i] ?? ctx.holder
      })
      const traced = ctx.traced
        ? Effect.withSpan(task, `StateGraph.task ${t.node}`, { attributes: stepAttributes(ctx, cp, t) })
        : task
      if (saveDone === undefined) return traced
      return Effect.tap(traced, (o) => (o._tag === "Done" ? saveDone.add(o) : Effect.void))
    }
    const outcomes: ReadonlyArray<TaskOutcome> = toRun.length === 0
      ? []
      : toRun.length === 1
      ? [yield* runOne(toRun[0]!, 0)]
      : compiled.concurrency === "unbounded"
      ? yield* forkAll(toRun.length, (i) => runOne(toRun[i]!, i), (i, c) => Context.add(c, CurrentTask, holders![i]!))
      : yield* Effect.forEach(toRun, (t, i) =>
        Effect.provideService(runOne(t, i), CurrentTask, holders![i]!), { concurrency: compiled.concurrency })
    if (s.answered.size > 0) s.answered = new Map()
    countStep(ctx.tally, outcomes)
    const unwritten = saveDone !== undefined ? yield* saveDone.finish : []
    const folded = foldOutcomes(cp, outcomes, { stillWaiting, unwritten, savingDone: saveDone !== undefined })
    return { pending, only, folded }
  })

/** The step goes on to apply: its finished tasks' records, when they were written already. */
interface Apply {
  readonly _tag: "Apply"
  readonly pending: ReadonlyMap<string, TaskRecord>
  readonly recordsWritten: boolean
}

/** Ends the run after its tasks ran: a failure, questions, a sleep, or a job's share done. */
const endStep = (ctx: Ctx, s: Cycle, ran: Ran): Effect.Effect<RunOutcome | Apply, unknown> =>
  Effect.gen(function*() {
    const { compiled, store, threadId, runId } = ctx.run
    const { cp } = s
    const { folded } = ran
    if (folded.failed !== undefined) {
      const first = folded.failed
      const message = renderError(first.error)
      const failedState = nodeState(cp, first.task.node, "failed", s.order, { error: message, attempts: first.attempts })
      const nodeStates = { ...cp.nodeStates, [first.task.node]: failedState }
      yield* ctx.committer.settle(cp, stepRecords(compiled, folded), { status: "failed", interrupts: cp.interrupts, nodeStates, error: message })
      return { _tag: "Failed", checkpoint: { ...cp, status: "failed", nodeStates, error: message }, error: first.error } as const
    }
    if (folded.interrupted.length > 0) {
      const records = [...cp.interrupts.filter((i) => i.status === "answered"), ...folded.interrupted]
      return yield* pause(ctx, s, cp, records, stepRecords(compiled, folded), "interrupt")
    }
    if (folded.wakeAt !== undefined) {
      // a durable sleep: the thread pauses until wakeAt; a worker (or invoke(null)) wakes it
      const wakeAt = folded.wakeAt
      yield* ctx.committer.settle(cp, stepRecords(compiled, folded), { status: "paused", interrupts: cp.interrupts, pauseReason: "sleeping", wakeAt })
      return { _tag: "Sleeping", checkpoint: { ...cp, status: "paused", pauseReason: "sleeping", wakeAt }, wakeAt } as const
    }
    if (ran.only === undefined || !ctx.persist) return { _tag: "Apply", pending: ran.pending, recordsWritten: false } as const
    // a job of one task (the async orchestrator): record it, then advance the step only when
    // every task of it has finished — whichever job finishes last does it. A step this job ran
    // entirely needs neither the records nor a second look.
    const isDone = (t: TaskSpec, i: number) => folded.outcomeOf(t, i)?._tag === "Done"
    const ranAll = cp.tasks.every(isDone)
    let pending = ran.pending
    if (!ranAll) {
      const records = stepRecords(compiled, folded)
      if (records.length > 0) yield* store!.settle(threadId!, runId, cp.checkpointId, { records })
      const fresh = yield* store!.load(threadId!, cp.checkpointId)
      if (Option.isSome(fresh)) pending = pendingOf(fresh.value.pendingWrites)
    }
    const complete = ranAll || cp.tasks.every((t, i) => isDone(t, i) || pending.get(t.id)?.status === "done")
    if (!complete) {
      yield* ctx.committer.stored
      return { _tag: "Stopped", checkpoint: cp } as const
    }
    return { _tag: "Apply", pending, recordsWritten: true } as const
  })

/** Applies the step's writes, plans and commits the next step; ends the run at a breakpoint after. */
const advance = (ctx: Ctx, s: Cycle, folded: Folded, apply: Apply): Effect.Effect<RunOutcome | undefined, unknown, unknown> =>
  Effect.gen(function*() {
    const { compiled, config, policy, threadId, runId } = ctx.run
    const cp = s.cp
    const step = cp.step
    // finished tasks in task order, earlier-recorded pending writes included
    const finishedE = finishedTasks(compiled, threadId ?? "", cp, folded.outcomeOf, apply.pending)
    if (Either.isLeft(finishedE)) return yield* Effect.fail(finishedE.left)
    const finished = finishedE.right
    const applied = algo.applyWrites(compiled, cp.values, cp.versions, finished)
    if (Either.isLeft(applied)) {
      const records = apply.recordsWritten ? [] : stepRecords(compiled, folded)
      yield* ctx.committer.settle(cp, records, { status: "failed", interrupts: cp.interrupts, error: applied.left.message })
      return { _tag: "Failed", checkpoint: { ...cp, status: "failed", error: applied.left.message }, error: applied.left } as const
    }
    const values = applied.right.values
    if (config.emit !== undefined && ctx.run.modes.has("updates")) {
      for (const f of finished) {
        const update: Record<string, unknown> = {}
        for (const [k, v] of f.writes) update[k] = v
        yield* config.emit({ mode: "updates", step, node: f.node, taskId: f.taskId, update })
      }
    }
    const routed = hasBranches(compiled, finished) ? yield* evaluateRoutes(compiled, finished, values) : []
    // ids matter only for stored checkpoints; an in-memory run numbers its steps
    const nextId = ctx.persist ? Ids.make() : `${runId}.${step + 1}`
    const planned = algo.plan(compiled, nextId, finished, routed, cp.joins)
    if (Either.isLeft(planned)) {
      return yield* Effect.fail(new InvalidUpdate({ node: finished.map((f) => f.node).join(","), channel: "*", issue: planned.left }))
    }
    let nodeStates = cp.nodeStates
    if (ctx.persist) {
      const completed = completedNodeStates(compiled, cp, finished, s.order)
      nodeStates = completed.nodeStates
      s.order = completed.order
    }
    const next = advanced(cp, { id: nextId, now: Date.now(), applied: applied.right, planned: planned.right, nodeStates })
    if (ctx.persist) yield* ctx.committer.commit(next, channelWrites(applied.right, false))
    if (config.emit !== undefined && ctx.run.modes.has("values")) yield* config.emit({ mode: "values", step: next.step, values })
    s.cp = next
    s.steps++
    if (compiled.interruptAfter.size > 0 && next.tasks.length > 0) {
      const hit = finished.filter((f) => compiled.interruptAfter.has(f.node))
      if (hit.length > 0) return yield* pause(ctx, s, next, breakpointRecords(next.checkpointId, "after", hit), [], "breakpoint")
    }
    if (policy.stopAfterNodes !== undefined && finished.some((f) => policy.stopAfterNodes!.has(f.node))) {
      yield* ctx.committer.flush(next)
      return { _tag: "Stopped", checkpoint: next } as const
    }
    return undefined
  })

/** Pauses the run at `at`: records the interrupts (and the step's task records), status `paused`. */
const pause = (
  ctx: Ctx,
  s: Cycle,
  at: Checkpoint,
  records: ReadonlyArray<InterruptRecord>,
  taskRecords: ReadonlyArray<TaskRecord>,
  reason: "interrupt" | "breakpoint"
): Effect.Effect<RunOutcome, unknown> =>
  Effect.gen(function*() {
    const nodeStates = ctx.persist ? pausedNodeStates(at, records, s.order) : at.nodeStates
    yield* ctx.committer.settle(at, taskRecords, { status: "paused", interrupts: records, nodeStates, pauseReason: reason })
    const pending = records.filter((r) => r.status === "pending")
    ctx.tally.interrupts += pending.length
    yield* emitEvent(ctx, { _tag: "Paused", checkpointId: at.checkpointId, interrupts: pending.map((r) => r.id) })
    const checkpoint: Checkpoint = { ...at, status: "paused", interrupts: records, nodeStates, pauseReason: reason }
    return { _tag: "Paused", checkpoint, interrupts: pending } as const
  })
