/**
 * The step cycle: select a step's tasks → run them → fold their outcomes → apply the writes →
 * plan the next step → commit; until END, a pause, a sleep, a failure, the caller's stop or the
 * recursion limit. Returns how the run ended as a `RunOutcome`.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { type CorruptSnapshot, InvalidUpdate, RecursionLimitExceeded } from "../../GraphError.js"
import type { InterruptRecord, TaskRecord, TaskSpec } from "../../Snapshot.js"
import { forkAll } from "../fanout.js"
import * as Ids from "../ids.js"
import { CurrentTask, type ScopeHolder } from "../task.js"
import * as algo from "./algo.js"
import { breakpointRecords, lastOrder, nodeState, pausedNodeStates } from "./checkpoints.js"
import { channelWrites, doneRecord, renderError } from "./codec.js"
import { type Committer, pendingWriter } from "./durability.js"
import type { Checkpoint, Done, Finished, Given, Run, RunEvent, RunOutcome, TaskOutcome } from "./model.js"
import { evaluateRoutes, hasBranches } from "./routes.js"
import { EngineObserver } from "./observer.js"
import { Handoff } from "./handoff.js"
import { emitCheckpoint } from "./threadState.js"
import { runTask, type TaskEnv } from "./runner.js"
import type { YieldWrap } from "effect/Utils"
import type { Send } from "../../Send.js"
import {
  afterStep,
  type Before,
  nextCheckpoint,
  beforeStep,
  finishedTasks,
  type Folded,
  foldOutcomes,
  pendingOf,
  selectTasks,
  stepRecords
} from "./step.js"
import { countStep, makeTally, record, spanAttributes, type Tally, withRunFiber } from "./telemetry.js"

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
  /** the run is a child graph's, run by a task of a parent graph (a handoff goes there) */
  readonly child: boolean
  /** the run streams its checkpoints */
  readonly checkpoints: boolean
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

/** What a step's generator yields: effects, run by the one `Effect.gen` of the run. */
type Gen<A> = Generator<YieldWrap<Effect.Effect<any, unknown, unknown>>, A, any>

/**
 * Runs steps from `start` until the run ends. `answered` marks tasks that may run (answered
 * interrupts); `skipBreakpoint` lets a resumed breakpoint pass.
 *
 * One `Effect.gen` runs the whole cycle and each step is one plain generator (`oneStep`)
 * delegated to with `yield*`; its phases are plain functions (the pure parts in `step`), so a
 * one-task step costs no Effect of its own beyond its task and its commit (a step as five
 * `Effect.gen`s, one per phase, cost ~3× per node on a warm chain).
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
  const events = config.emit !== undefined && modes.has("events")
  return withRunFiber(({ context, traced }) => {
    const observer = Context.get(context as Context.Context<EngineObserver>, EngineObserver)
    const env: TaskEnv = { compiled, threadId, store, runId: run.runId, persist, emit: config.emit, modes, stored: committer.stored, observer,
      namespace: config.namespace ?? noNamespace, subgraphs: config.subgraphs ?? false }
    const child = config.parent ?? false
    const ctx: Ctx = { run, committer, env, holder, persist, events, traced, tally: makeTally(), child,
      checkpoints: config.emit !== undefined && modes.has("checkpoints") }
    const steps = Effect.gen(function*() {
      while (true) {
        const ended = traced && state.cp.tasks.length > 0
          ? yield* Effect.withSpan(Effect.gen(() => oneStep(ctx, state)), "StateGraph.step", {
            attributes: stepAttributes(ctx, state.cp)
          })
          : yield* oneStep(ctx, state)
        if (ended !== undefined) return ended
      }
    })
    // a stored run ends in `lease.holding`'s finalizer, which records the counts too: one
    // finalizer a run instead of two
    const counted = persist ? steps : Effect.ensuring(steps, record(ctx.tally))
    if (persist) run.tally = ctx.tally
    // one context change for the run (each costs a FiberRef swap of ~15 operations): the task
    // holder and — the observer is the caller's, for this run — no observer for child graphs
    return observer === undefined
      ? Effect.provideService(counted, CurrentTask, holder)
      : Effect.mapInputContext(
        counted as Effect.Effect<RunOutcome, unknown, never>,
        (c: Context.Context<never>) => Context.add(Context.add(c, CurrentTask, holder), EngineObserver, undefined)
      )
  })
}

/**
 * One step: undefined when the run goes on. The only generator of a step: its phases are plain
 * functions, and it yields only the effects the step needs (its tasks, its commit, events).
 */
function* oneStep(ctx: Ctx, s: Cycle): Gen<RunOutcome | undefined> {
  const before = beforeStep(ctx.run.compiled, ctx.run.policy, s.cp, s.steps, s.skipBefore)
  if (before !== undefined) return yield* stopBefore(ctx, s, before)
  s.skipBefore = false
  const cp = s.cp
  if (ctx.events) yield* emitEvent(ctx, { _tag: "StepStarted", step: cp.step, tasks: cp.tasks.map((t) => t.node) })
  const only = s.steps === 0 ? ctx.run.policy.onlyTasks : undefined
  const pending = pendingOf(cp.pending)
  const { stillWaiting, toRun } = selectTasks(cp, pending, s.answered, only)
  const state = algo.stateView(ctx.run.compiled, cp.values)
  const ran = toRun.length === 1
    ? oneRan(yield* taskOf(ctx, s, state, pending, toRun[0]!, ctx.holder, undefined))
    : toRun.length === 0
    ? noneRan
    : yield* runParallel(ctx, s, state, pending, toRun)
  const folded = foldStep(ctx, s, ran, stillWaiting)
  let apply: Apply = { _tag: "Apply", pending, recordsWritten: false }
  if (folded.failed !== undefined || folded.interrupted.length > 0 || folded.wakeAt !== undefined || (only !== undefined && ctx.persist)) {
    const ended = yield* endStep(ctx, s, { pending, only, folded })
    if (ended._tag !== "Apply") return ended
    apply = ended
  }
  const applying = applyStep(ctx, s, folded, apply)
  if (applying._tag === "Corrupt") return yield* Effect.fail(applying.error)
  if (applying._tag === "Failed") {
    yield* ctx.committer.settle(cp, applying.records, { status: "failed", interrupts: cp.interrupts, error: applying.error.message })
    return { _tag: "Failed", checkpoint: { ...cp, status: "failed", error: applying.error.message }, error: applying.error } as const
  }
  const { finished, applied } = applying
  const { compiled, config } = ctx.run
  if (config.emit !== undefined && ctx.run.modes.has("updates")) yield* emitUpdates(ctx, cp.step, finished)
  let routed = noRoutes
  if (hasBranches(compiled, finished)) {
    const r = evaluateRoutes(compiled, finished, algo.stateView(compiled, applied.values))
    routed = Effect.isEffect(r) ? yield* r : r
  }
  // ids matter only for stored checkpoints; an in-memory run numbers its steps
  const nextId = ctx.persist ? Ids.make() : `${ctx.run.runId}.${cp.step + 1}`
  const planned = nextCheckpoint(compiled, cp, nextId, finished, routed, applied, ctx.persist ? s : undefined)
  if (Either.isLeft(planned)) return yield* Effect.fail(planned.left)
  const next = planned.right
  if (ctx.persist) yield* ctx.committer.commit(next, channelWrites(applied, false))
  if (ctx.checkpoints) yield* emitCheckpoint(ctx.run, next)
  if (config.emit !== undefined && ctx.run.modes.has("values")) {
    yield* config.emit({ mode: "values", step: next.step, values: algo.releasedValues(compiled, applied.values) })
  }
  s.cp = next
  s.steps++
  const after = afterStep(compiled, ctx.run.policy, finished, next)
  if (after === undefined) return undefined
  if (after._tag === "Breakpoint") return yield* pause(ctx, s, next, after.records, [], "breakpoint")
  yield* ctx.committer.flush(next)
  return { _tag: "Stopped", checkpoint: next } as const
}

const stepAttributes = (ctx: Ctx, cp: Checkpoint, node?: { readonly node: string; readonly id: string }) =>
  spanAttributes(ctx.run.compiled.id, ctx.run.threadId, cp, node)

const emitEvent = (ctx: Ctx, event: RunEvent) =>
  ctx.events ? ctx.run.config.emit!({ mode: "events", event }) : Effect.void

/** Ends the run before a step, as `beforeStep` decided. */
function* stopBefore(ctx: Ctx, s: Cycle, before: Before): Gen<RunOutcome> {
  const cp = s.cp
  if (before._tag === "Breakpoint") {
    const records = breakpointRecords(cp.checkpointId, "before", before.hit.map((t) => ({ node: t.node, taskId: t.id })))
    return yield* pause(ctx, s, cp, records, [], "breakpoint")
  }
  const flushed = ctx.committer.flush(cp)
  if (flushed !== Effect.void) yield* flushed
  if (before._tag === "Limit") {
    const { compiled, threadId } = ctx.run
    return yield* Effect.fail(new RecursionLimitExceeded({ limit: compiled.recursionLimit, threadId }))
  }
  if (before._tag === "Stopped") return { _tag: "Stopped", checkpoint: cp } as const
  if (ctx.events) yield* emitEvent(ctx, { _tag: "Completed", checkpointId: cp.checkpointId })
  return { _tag: "Completed", checkpoint: cp } as const
}

const noNamespace: ReadonlyArray<string> = []
const noOutcomes: ReadonlyArray<TaskOutcome> = []
const noDone: ReadonlyArray<Done> = []

/** What a step's tasks came to: their outcomes, and a parallel step's records not written yet. */
interface Outcomes {
  readonly outcomes: ReadonlyArray<TaskOutcome>
  readonly unwritten: ReadonlyArray<Done>
  readonly savingDone: boolean
}

const noneRan: Outcomes = { outcomes: noOutcomes, unwritten: noDone, savingDone: false }
const oneRan = (o: TaskOutcome): Outcomes => ({ outcomes: [o], unwritten: noDone, savingDone: false })

/** Counts the step's tasks and folds their outcomes (the answers of a resume are used up). */
const foldStep = (ctx: Ctx, s: Cycle, ran: Outcomes, stillWaiting: ReadonlyArray<InterruptRecord>): Folded => {
  if (s.answered.size > 0) s.answered = new Map()
  countStep(ctx.tally, ran.outcomes)
  return foldOutcomes(s.cp, ran.outcomes, { stillWaiting, unwritten: ran.unwritten, savingDone: ran.savingDone })
}

/** One task of the step as an Effect: its answers and earlier record, its span when traced. */
const taskOf = (
  ctx: Ctx,
  s: Cycle,
  state: Readonly<Record<string, unknown>>,
  pending: ReadonlyMap<string, TaskRecord>,
  t: TaskSpec,
  holder: ScopeHolder,
  saveDone: ReturnType<typeof pendingWriter<Done, unknown>> | undefined
): Effect.Effect<TaskOutcome, never, unknown> => {
  const cp = s.cp
  const given = s.answered.get(t.id)
  const prev = pending.get(t.id)
  const task = runTask({
    env: ctx.env,
    checkpointId: cp.checkpointId,
    step: cp.step,
    state,
    task: t,
    previous: given?.forwarded !== undefined && prev !== undefined ? { ...prev, forwarded: given.forwarded } : prev,
    answers: given?.answers ?? prev?.answers ?? noAnswers,
    keyedAnswers: given?.keyed ?? prev?.keyedAnswers ?? noKeyed,
    stored: ctx.run.compiled.durability !== "exit" || cp.checkpointId === ctx.committer.head(),
    holder
  })
  const traced = ctx.traced
    ? Effect.withSpan(task, `StateGraph.task ${t.node}`, { attributes: stepAttributes(ctx, cp, t) })
    : task
  if (saveDone === undefined) return traced
  return Effect.tap(traced, (o) => (o._tag === "Done" ? saveDone.add(o) : Effect.void))
}

const noAnswers: ReadonlyArray<unknown> = []
const noKeyed: Readonly<Record<string, unknown>> = {}

/** Runs several tasks of a step concurrently, their pending writes saved as each finishes. */
const runParallel = (
  ctx: Ctx,
  s: Cycle,
  state: Readonly<Record<string, unknown>>,
  pending: ReadonlyMap<string, TaskRecord>,
  toRun: ReadonlyArray<TaskSpec>
) =>
  Effect.gen(function*() {
    const { compiled, store, threadId, runId } = ctx.run
    const cp = s.cp
    // tasks of a parallel step each get their own scope holder, in their fiber's context
    const holders: Array<ScopeHolder> = toRun.map(() => ({ scope: undefined }))
    // pending writes are saved as each task finishes, so a sibling's failure or a crash
    // re-runs only the unfinished tasks; tasks finishing together share one transaction
    const saveDone = ctx.persist && compiled.durability !== "exit"
      ? pendingWriter((done: ReadonlyArray<Done>) =>
        // with async durability the step's own checkpoint may still be queued: records need it
        Effect.zipRight(
          ctx.committer.stored,
          store!.settle(threadId!, runId, cp.checkpointId, { records: done.map((o) => doneRecord(compiled, o)) })
        )
      )
      : undefined
    const runOne = (i: number) => taskOf(ctx, s, state, pending, toRun[i]!, holders[i]!, saveDone)
    const outcomes: ReadonlyArray<TaskOutcome> = compiled.concurrency === "unbounded"
      ? yield* forkAll(toRun.length, runOne, (i, c) => Context.add(c, CurrentTask, holders[i]!))
      : yield* Effect.forEach(toRun, (_, i) => Effect.provideService(runOne(i), CurrentTask, holders[i]!), {
        concurrency: compiled.concurrency
      })
    const unwritten = saveDone !== undefined ? yield* saveDone.finish : noDone
    return { outcomes, unwritten, savingDone: saveDone !== undefined }
  })

/**
 * A node handed off to the parent graph: the run ends here. The thread is recorded as completed
 * (the step's tasks kept, its other finished tasks' writes recorded), the node as completed; the
 * handoff is the run's failure, which the parent's task turns into its output.
 */
function* handOff(ctx: Ctx, s: Cycle, folded: Folded, handoff: Handoff): Gen<RunOutcome> {
  const { cp } = s
  const first = folded.failed!
  const state = nodeState(cp, first.task.node, "completed", s.order + 1, { attempts: first.attempts })
  const nodeStates = { ...cp.nodeStates, [first.task.node]: state }
  yield* ctx.committer.settle(cp, stepRecords(ctx.run.compiled, folded), { status: "completed", interrupts: cp.interrupts, nodeStates })
  return { _tag: "Failed", checkpoint: { ...cp, status: "completed", nodeStates }, error: handoff } as const
}

/** The step goes on to apply: its finished tasks' records, when they were written already. */
interface Apply {
  readonly _tag: "Apply"
  readonly pending: ReadonlyMap<string, TaskRecord>
  readonly recordsWritten: boolean
}

/** Ends the run after its tasks ran: a failure, questions, a sleep, or a job's share done. */
function* endStep(ctx: Ctx, s: Cycle, ran: Ran): Gen<RunOutcome | Apply> {
  const { compiled, store, threadId, runId } = ctx.run
  const { cp } = s
  const { folded } = ran
  if (folded.failed !== undefined) {
    const first = folded.failed
    if (first.error instanceof Handoff) {
      if (ctx.child) return yield* handOff(ctx, s, folded, first.error)
      const error = new InvalidUpdate({
        node: first.task.node,
        channel: "*",
        issue: "Command.parent from a graph that does not run as a subgraph (it has no parent graph)"
      })
      return yield* endStep(ctx, s, { ...ran, folded: { ...folded, failed: { ...first, error } } })
    }
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
}

/** The step's writes applied, or why they could not be (with the records the failure writes). */
type Applying =
  | { readonly _tag: "Applied"; readonly finished: ReadonlyArray<Finished>; readonly applied: algo.Applied }
  | { readonly _tag: "Failed"; readonly error: InvalidUpdate; readonly records: ReadonlyArray<TaskRecord> }
  | { readonly _tag: "Corrupt"; readonly error: CorruptSnapshot }

/** Applies the finished tasks' writes in task order (pure); a corrupt stored write fails the run. */
const applyStep = (ctx: Ctx, s: Cycle, folded: Folded, apply: Apply): Applying => {
  const { compiled, threadId } = ctx.run
  const cp = s.cp
  // finished tasks in task order, earlier-recorded pending writes included
  const finished = finishedTasks(compiled, threadId ?? "", cp, folded.outcomeOf, apply.pending)
  if (Either.isLeft(finished)) return { _tag: "Corrupt", error: finished.left }
  const applied = algo.applyWrites(compiled, cp.values, cp.versions, finished.right)
  if (Either.isLeft(applied)) {
    return { _tag: "Failed", error: applied.left, records: apply.recordsWritten ? [] : stepRecords(compiled, folded) }
  }
  return { _tag: "Applied", finished: finished.right, applied: applied.right }
}

const noRoutes: ReadonlyArray<ReadonlyArray<string | Send>> = []

/** The `updates` stream parts of a step's finished tasks. */
const emitUpdates = (ctx: Ctx, step: number, finished: ReadonlyArray<Finished>) =>
  Effect.forEach(finished, (f) =>
    // a node that returned a list of updates: one part per update
    Effect.forEach(algo.updatesOf(f.writes), (update) =>
      ctx.run.config.emit!({ mode: "updates", step, node: f.node, taskId: f.taskId, update }), { discard: true }), { discard: true })

/** Pauses the run at `at`: records the interrupts (and the step's task records), status `paused`. */
function* pause(
  ctx: Ctx,
  s: Cycle,
  at: Checkpoint,
  records: ReadonlyArray<InterruptRecord>,
  taskRecords: ReadonlyArray<TaskRecord>,
  reason: "interrupt" | "breakpoint"
): Gen<RunOutcome> {
  const nodeStates = ctx.persist ? pausedNodeStates(at, records, s.order) : at.nodeStates
  yield* ctx.committer.settle(at, taskRecords, { status: "paused", interrupts: records, nodeStates, pauseReason: reason })
  const pending = records.filter((r) => r.status === "pending")
  ctx.tally.interrupts += pending.length
  if (ctx.events) yield* emitEvent(ctx, { _tag: "Paused", checkpointId: at.checkpointId, interrupts: pending.map((r) => r.id) })
  const checkpoint: Checkpoint = { ...at, status: "paused", interrupts: records, nodeStates, pauseReason: reason }
  if (ctx.checkpoints) yield* emitCheckpoint(ctx.run, checkpoint)
  return { _tag: "Paused", checkpoint, interrupts: pending } as const
}
