/**
 * Pure step logic between running tasks and applying their writes: which tasks of a step run
 * now, and how the step's outcomes fold into records, interrupts, a wake-up time or a failure.
 */
import * as Either from "effect/Either"
import { type CorruptSnapshot, InvalidUpdate } from "../../GraphError.js"
import type { Send } from "../../Send.js"
import type { InterruptRecord, TaskRecord, TaskSpec } from "../../Snapshot.js"
import type { Compiled } from "../graph.js"
import * as algo from "./algo.js"
import { advanced, breakpointRecords, completedNodeStates, memoryRecord } from "./checkpoints.js"
import { decodeWrites, doneRecord } from "./codec.js"
import type { Checkpoint, Done, Finished, Given, RunPolicy, TaskOutcome } from "./model.js"

const noPending: ReadonlyMap<string, TaskRecord> = new Map()

/** A checkpoint's task records by task id. @internal */
export const pendingOf = (records: ReadonlyArray<TaskRecord>): ReadonlyMap<string, TaskRecord> => {
  if (records.length === 0) return noPending
  const map = new Map<string, TaskRecord>()
  for (const r of records) map.set(r.taskId, r)
  return map
}

/**
 * The tasks that run now: not finished, in `only` when given, and — when interrupted — answered
 * in this resume. The interrupts of the tasks still waiting stay pending.
 *
 * @internal
 */
export const selectTasks = (
  cp: Checkpoint,
  pending: ReadonlyMap<string, TaskRecord>,
  answered: ReadonlyMap<string, Given>,
  only: ReadonlySet<string> | undefined
): { readonly toRun: Array<TaskSpec>; readonly stillWaiting: Array<InterruptRecord> } => {
  const toRun: Array<TaskSpec> = []
  const stillWaiting: Array<InterruptRecord> = []
  for (const t of cp.tasks) {
    const r = pending.get(t.id)
    if (r?.status === "done") continue
    if (only !== undefined && !only.has(t.id)) continue
    if (r?.status === "interrupted" && !answered.has(t.id)) {
      for (const i of cp.interrupts) if (i.taskId === t.id && i.status === "pending") stillWaiting.push(i)
      continue
    }
    toRun.push(t)
  }
  return { toRun, stillWaiting }
}

/** How a step's outcomes add up (in task order where order matters). @internal */
export interface Folded {
  /** the outcome of a task of the step, by its index (none: it did not run now) */
  readonly outcomeOf: (t: TaskSpec, i: number) => TaskOutcome | undefined
  /** the first failure in task order */
  readonly failed: Extract<TaskOutcome, { _tag: "Failed" }> | undefined
  /** finished tasks whose records were not written yet */
  readonly done: Array<Done>
  /** records of the tasks that did not finish (interrupted, sleeping, failed with a journal) */
  readonly otherRecords: Array<TaskRecord>
  /** pending interrupts: of tasks still waiting, then of tasks that asked now */
  readonly interrupted: Array<InterruptRecord>
  /** the earliest wake-up time of a sleeping task */
  readonly wakeAt: number | undefined
}

/**
 * Folds the outcomes of a step. `unwritten` are the finished tasks whose records a parallel
 * step's writer handed back; with `savingDone`, finished tasks were recorded as they ended.
 *
 * @internal
 */
export const foldOutcomes = (
  cp: Checkpoint,
  outcomes: ReadonlyArray<TaskOutcome>,
  options: {
    readonly stillWaiting: ReadonlyArray<InterruptRecord>
    readonly unwritten: ReadonlyArray<Done>
    readonly savingDone: boolean
  }
): Folded => {
  const only = outcomes.length === 1 ? outcomes[0]! : undefined
  if (
    only !== undefined && only._tag === "Done" && cp.tasks.length === 1 && only.task === cp.tasks[0] &&
    options.stillWaiting.length === 0 && options.unwritten.length === 0
  ) {
    // the common step: one task, done (a chain's, a loop's)
    return { outcomeOf: (_t, i) => (i === 0 ? only : undefined), failed: undefined, done: options.savingDone ? [] : [only], otherRecords: [], interrupted: [], wakeAt: undefined }
  }
  const inOrder = outcomes.length === cp.tasks.length && outcomes.every((o, i) => o.task === cp.tasks[i])
  let byId: Map<string, TaskOutcome> | undefined
  if (!inOrder) {
    byId = new Map()
    for (const o of outcomes) byId.set(o.task.id, o)
  }
  const outcomeOf = (t: TaskSpec, i: number): TaskOutcome | undefined => (byId === undefined ? outcomes[i] : byId.get(t.id))
  const done: Array<Done> = [...options.unwritten]
  const otherRecords: Array<TaskRecord> = []
  const interrupted: Array<InterruptRecord> = [...options.stillWaiting]
  let wakeAt: number | undefined
  let anyFailed = false
  for (const o of outcomes) {
    if (o._tag === "Done" && !options.savingDone) done.push(o)
    if (o._tag === "Interrupted") {
      interrupted.push(...o.records)
      otherRecords.push(memoryRecord(o, "interrupted"))
    }
    if (o._tag === "Sleeping") {
      wakeAt = wakeAt === undefined ? o.wakeAt : Math.min(wakeAt, o.wakeAt)
      otherRecords.push(memoryRecord(o, "sleeping"))
    }
    if (o._tag === "Failed") {
      anyFailed = true
      if (o.memory.journal.length > 0) otherRecords.push(memoryRecord(o, "failed"))
    }
  }
  let failed: Folded["failed"]
  if (anyFailed) {
    // the first failure in task order wins; finished tasks keep their pending writes
    for (let i = 0; i < cp.tasks.length && failed === undefined; i++) {
      const o = outcomeOf(cp.tasks[i]!, i)
      if (o?._tag === "Failed") failed = o
    }
  }
  return { outcomeOf, failed, done, otherRecords, interrupted, wakeAt }
}

/** The records a pause or a failure writes: finished tasks, then the others. @internal */
export const stepRecords = (compiled: Compiled, folded: Folded): Array<TaskRecord> => {
  const records = folded.done.map((o) => doneRecord(compiled, o))
  for (const r of folded.otherRecords) records.push(r)
  return records
}

/**
 * The finished tasks of a step in task order: those that ran now and those finished earlier
 * (their stored pending writes, decoded).
 *
 * @internal
 */
export const finishedTasks = (
  compiled: Compiled,
  threadId: string,
  cp: Checkpoint,
  outcomeOf: Folded["outcomeOf"],
  pending: ReadonlyMap<string, TaskRecord>
): Either.Either<Array<Finished>, CorruptSnapshot> => {
  const finished: Array<Finished> = []
  for (let i = 0; i < cp.tasks.length; i++) {
    const t = cp.tasks[i]!
    const o = outcomeOf(t, i)
    if (o !== undefined && o._tag === "Done") {
      finished.push({ node: t.node, writes: o.output.writes, gotos: o.output.gotos, taskId: t.id, attempts: o.attempts })
      continue
    }
    const r = pending.get(t.id)
    if (r !== undefined && r.status === "done") {
      const writes = decodeWrites(compiled, threadId, r)
      if (Either.isLeft(writes)) return Either.left(writes.left)
      finished.push({ node: t.node, writes: writes.right, gotos: r.gotos as Finished["gotos"], taskId: t.id, attempts: 1 })
    }
  }
  return Either.right(finished)
}

/** Why a run ends before its next step. @internal */
export type Before =
  | { readonly _tag: "Completed" | "Limit" | "Stopped" }
  | { readonly _tag: "Breakpoint"; readonly hit: ReadonlyArray<TaskSpec> }

const completedBefore: Before = { _tag: "Completed" }
const limitBefore: Before = { _tag: "Limit" }
const stoppedBefore: Before = { _tag: "Stopped" }

/**
 * Whether the run ends before the step at `cp`: nothing to run, the recursion limit, the
 * caller's stop, or a static breakpoint (unless a resume lets it pass: `skipBefore`).
 *
 * @internal
 */
export const beforeStep = (
  compiled: Compiled,
  policy: RunPolicy,
  cp: Checkpoint,
  steps: number,
  skipBefore: boolean
): Before | undefined => {
  if (cp.tasks.length === 0) return completedBefore
  if (steps >= compiled.recursionLimit) return limitBefore
  if (policy.stopAfterSteps !== undefined && steps >= policy.stopAfterSteps) return stoppedBefore
  if (policy.stopRequested !== undefined && policy.stopRequested()) return stoppedBefore
  if (!skipBefore && compiled.interruptBefore.size > 0) {
    const hit = cp.tasks.filter((t) => compiled.interruptBefore.has(t.node))
    if (hit.length > 0) return { _tag: "Breakpoint", hit }
  }
  return undefined
}

const stoppedAfter = { _tag: "Stopped" } as const

/** Whether the run ends after a step: a breakpoint after its nodes, or the caller's stop. @internal */
export const afterStep = (
  compiled: Compiled,
  policy: RunPolicy,
  finished: ReadonlyArray<Finished>,
  next: Checkpoint
): { readonly _tag: "Breakpoint"; readonly records: ReadonlyArray<InterruptRecord> } | { readonly _tag: "Stopped" } | undefined => {
  if (compiled.interruptAfter.size > 0 && next.tasks.length > 0) {
    const hit = finished.filter((f) => compiled.interruptAfter.has(f.node))
    if (hit.length > 0) return { _tag: "Breakpoint", records: breakpointRecords(next.checkpointId, "after", hit) }
  }
  if (policy.stopAfterNodes !== undefined && finished.some((f) => policy.stopAfterNodes!.has(f.node))) return stoppedAfter
  return undefined
}

/**
 * The next step's checkpoint, planned from the finished tasks and their routes. With `orders`
 * (a stored run) the finished nodes' states are updated and `orders.order` advanced.
 *
 * @internal
 */
export const nextCheckpoint = (
  compiled: Compiled,
  cp: Checkpoint,
  id: string,
  finished: ReadonlyArray<Finished>,
  routed: ReadonlyArray<ReadonlyArray<string | Send>>,
  applied: algo.Applied,
  orders: { order: number } | undefined
): Either.Either<Checkpoint, InvalidUpdate> => {
  const planned = algo.plan(compiled, id, finished, routed, cp.joins)
  if (Either.isLeft(planned)) {
    return Either.left(new InvalidUpdate({ node: finished.map((f) => f.node).join(","), channel: "*", issue: planned.left }))
  }
  let nodeStates = cp.nodeStates
  if (orders !== undefined) {
    const completed = completedNodeStates(compiled, cp, finished, orders.order)
    nodeStates = completed.nodeStates
    orders.order = completed.order
  }
  return Either.right(advanced(cp, { id, now: Date.now(), applied, planned: planned.right, nodeStates }))
}
