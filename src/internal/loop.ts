/**
 * The effectful superstep loop: run a step's tasks, persist pending writes, apply, plan,
 * checkpoint, and stop at END, an interrupt, a failure or the recursion limit.
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Runtime from "effect/Runtime"
import {
  CheckpointNotFound,
  CorruptSnapshot,
  InterruptAlreadyAnswered,
  InvalidResumeValue,
  InvalidUpdate,
  NodeFailed,
  NodeTimeout,
  RecursionLimitExceeded,
  SnapshotVersionMismatch,
  ThreadNotFound,
  ThreadNotPaused,
  ThreadPaused,
  ThreadSleeping,
  UnknownInterrupt
} from "../GraphError.js"
import * as Interrupt from "../Interrupt.js"
import { isSend, type Send } from "../Send.js"
import type { InterruptRecord, TaskRecord, TaskSpec, WorkflowSnapshotEncoded } from "../Snapshot.js"
import type { Backend, ChannelWrite, CommitRequest } from "../Snapshots.js"
import * as algo from "./algo.js"
import { START } from "./constants.js"
import { forkAll } from "./fanout.js"
import type { Compiled } from "./graph.js"
import { withoutStack } from "./pause.js"
import * as Ids from "./ids.js"
import { CurrentTask, interruptId, type JournalEntry, type ScopeHolder, type TaskScope } from "./task.js"

// ---------------------------------------------------------------------------------------------
// models
// ---------------------------------------------------------------------------------------------

/** A node's state as stored (encoded NodeSnapshot). @internal */
export interface NodeState {
  readonly nodeId: string
  readonly status: "pending" | "running" | "completed" | "failed" | "interrupted" | "skipped"
  readonly output?: unknown
  readonly error?: string
  readonly injected: boolean
  readonly executionOrder: number
  readonly attempts: number
  readonly metadata: Record<string, unknown>
}

/** The decoded checkpoint the loop works on. @internal */
export interface Checkpoint {
  readonly executionId: string
  readonly checkpointId: string
  readonly parentCheckpointId: string | null
  readonly step: number
  readonly createdAt: number
  readonly status: "pending" | "running" | "paused" | "completed" | "failed"
  readonly values: Readonly<Record<string, unknown>>
  readonly versions: Readonly<Record<string, number>>
  readonly tasks: ReadonlyArray<TaskSpec>
  readonly joins: Readonly<Record<string, ReadonlyArray<string>>>
  readonly nodeStates: Readonly<Record<string, NodeState>>
  readonly interrupts: ReadonlyArray<InterruptRecord>
  readonly pending: ReadonlyArray<TaskRecord>
  readonly pauseReason?: "interrupt" | "breakpoint" | "sleeping" | undefined
  readonly wakeAt?: number | undefined
  readonly error?: string | undefined
  readonly initialInput?: unknown
  readonly metadata: Readonly<Record<string, unknown>>
}

/** What a stream sees. @internal */
export type StreamPart =
  | { readonly mode: "values"; readonly step: number; readonly values: Record<string, unknown> }
  | {
    readonly mode: "updates"
    readonly step: number
    readonly node: string
    readonly taskId: string
    readonly update: Record<string, unknown>
  }
  | { readonly mode: "events"; readonly event: RunEvent }

/** @internal */
export type RunEvent =
  | { readonly _tag: "StepStarted"; readonly step: number; readonly tasks: ReadonlyArray<string> }
  | { readonly _tag: "TaskStarted"; readonly step: number; readonly node: string; readonly taskId: string }
  | { readonly _tag: "TaskFinished"; readonly step: number; readonly node: string; readonly taskId: string }
  | {
    readonly _tag: "TaskFailed"
    readonly step: number
    readonly node: string
    readonly taskId: string
    readonly error: string
  }
  | { readonly _tag: "TaskInterrupted"; readonly step: number; readonly node: string; readonly taskId: string }
  | { readonly _tag: "CheckpointSaved"; readonly step: number; readonly checkpointId: string }
  | { readonly _tag: "Paused"; readonly checkpointId: string; readonly interrupts: ReadonlyArray<string> }
  | { readonly _tag: "Completed"; readonly checkpointId: string }

/** @internal */
export type RunRequest =
  | { readonly _tag: "Input"; readonly input: unknown }
  | { readonly _tag: "Continue" }
  | { readonly _tag: "Resume"; readonly answers: ReadonlyArray<Interrupt.Answer<string, unknown>> }

/** @internal */
export interface RunConfig {
  readonly threadId?: string | undefined
  readonly checkpointId?: string | undefined
  readonly allowVersionChange?: boolean | undefined
  readonly metadata?: Record<string, unknown> | undefined
  readonly emit?: ((part: StreamPart) => Effect.Effect<void>) | undefined
  readonly modes?: ReadonlySet<string> | undefined
  /** stop after these many steps, leaving the thread running (handover) */
  readonly stopAfterSteps?: number | undefined
  readonly stopAfterNodes?: ReadonlySet<string> | undefined
  /** run as this run id (a pipeline that owns the thread across jobs) */
  readonly runId?: string | undefined
  /** keep the claim on the thread at the end (other jobs of the run continue) */
  readonly keepClaim?: boolean | undefined
  /** in the first step, run only these tasks (a job of the async orchestrator) */
  readonly onlyTasks?: ReadonlySet<string> | undefined
}

// ---------------------------------------------------------------------------------------------
// encoding at the store boundary
// ---------------------------------------------------------------------------------------------

const corrupt = (threadId: string, checkpointId: string | undefined, issue: string) =>
  new CorruptSnapshot({ threadId, checkpointId, issue })

/** Decodes a stored checkpoint with the graph's channel schemas. @internal */
export const decodeCheckpoint = (
  compiled: Compiled,
  enc: WorkflowSnapshotEncoded
): Either.Either<Checkpoint, CorruptSnapshot> => {
  const values: Record<string, unknown> = {}
  for (const key in enc.channels) {
    const codec = compiled.codecByName[key]
    if (codec === undefined) {
      return Either.left(corrupt(enc.threadId, enc.checkpointId, `unknown channel "${key}"`))
    }
    const decoded = codec.decodeValue(enc.channels[key])
    if (Either.isLeft(decoded)) {
      return Either.left(
        corrupt(enc.threadId, enc.checkpointId, `channel "${key}": ${algo.formatIssue(decoded.left)}`)
      )
    }
    values[key] = decoded.right
  }
  // a channel no update has written yet reads as its initial value, as in the run
  for (const c of compiled.codecs) {
    if (c.initial !== undefined && !(c.name in values)) values[c.name] = c.initial()
  }
  return Either.right({
    executionId: enc.executionId,
    checkpointId: enc.checkpointId,
    parentCheckpointId: enc.parentCheckpointId,
    step: enc.step,
    createdAt: enc.createdAt,
    status: enc.status,
    values,
    versions: enc.versions,
    tasks: enc.tasks,
    joins: enc.joins,
    nodeStates: enc.nodeStates as any,
    interrupts: enc.interrupts,
    pending: enc.pendingWrites,
    pauseReason: enc.pauseReason,
    wakeAt: enc.wakeAt,
    error: enc.error,
    initialInput: enc.initialInput,
    metadata: enc.metadata
  })
}

const encodeWrites = (
  compiled: Compiled,
  writes: ReadonlyArray<readonly [string, unknown]>
): ReadonlyArray<readonly [string, unknown]> =>
  writes.map(([channel, value]) => {
    const codec = compiled.codecByName[channel]!
    const enc = codec.encodeUpdate(value)
    return [channel, Either.getOrElse(enc, () => value)] as const
  })

const decodeWrites = (
  compiled: Compiled,
  threadId: string,
  record: TaskRecord
): Either.Either<ReadonlyArray<readonly [string, unknown]>, CorruptSnapshot> => {
  const out: Array<readonly [string, unknown]> = []
  for (const [channel, value] of record.writes) {
    const codec = compiled.codecByName[channel]
    if (codec === undefined) return Either.left(corrupt(threadId, undefined, `unknown channel "${channel}"`))
    const dec = codec.decodeUpdate(value)
    if (Either.isLeft(dec)) {
      return Either.left(corrupt(threadId, undefined, `pending write of ${record.taskId}: ${algo.formatIssue(dec.left)}`))
    }
    out.push([channel, dec.right])
  }
  return Either.right(out)
}

const toEncoded = (
  compiled: Compiled,
  threadId: string,
  cp: Checkpoint
): WorkflowSnapshotEncoded => ({
  executionId: cp.executionId,
  workflowId: compiled.id,
  workflowVersion: compiled.version,
  threadId,
  checkpointId: cp.checkpointId,
  parentCheckpointId: cp.parentCheckpointId,
  step: cp.step,
  status: cp.status,
  createdAt: cp.createdAt,
  channels: {},
  versions: cp.versions,
  tasks: cp.tasks,
  joins: cp.joins as any,
  nodeStates: cp.nodeStates as any,
  interrupts: cp.interrupts,
  pendingWrites: [],
  ...(cp.initialInput !== undefined ? { initialInput: cp.initialInput } : {}),
  ...(cp.pauseReason !== undefined ? { pauseReason: cp.pauseReason } : {}),
  ...(cp.wakeAt !== undefined ? { wakeAt: cp.wakeAt } : {}),
  ...(cp.error !== undefined ? { error: cp.error } : {}),
  metadata: cp.metadata
})

const channelWrites = (compiled: Compiled, applied: algo.Applied, full: boolean): ReadonlyArray<ChannelWrite> => {
  const out: Array<ChannelWrite> = []
  for (const codec of applied.changed) {
    const value = applied.values[codec.name]
    const appendable = codec.kind === "Append" || (codec.isAppend !== undefined && !applied.rewritten?.has(codec.name))
    if (appendable && !full) {
      out.push({ channel: codec.name, mode: "append", value: Either.getOrThrow(codec.encodeItems(applied.appended[codec.name] ?? [])) })
    } else {
      out.push({ channel: codec.name, mode: "set", value: Either.getOrThrow(codec.encodeValue(value)) })
    }
  }
  void compiled
  return out
}

// ---------------------------------------------------------------------------------------------
// running tasks
// ---------------------------------------------------------------------------------------------

/** What a task leaves for its record: its answers, journal and forwarded child answers. */
interface TaskMemory {
  readonly answers: ReadonlyArray<unknown>
  readonly keyedAnswers: Readonly<Record<string, unknown>> | undefined
  readonly journal: ReadonlyArray<unknown>
  readonly forwarded: Readonly<Record<string, { readonly kind: string; readonly value: unknown }>> | undefined
}

type Outcome =
  | {
    readonly _tag: "Done"
    readonly task: TaskSpec
    readonly output: algo.TaskOutput
    readonly memory: TaskMemory
    readonly attempts: number
  }
  | {
    readonly _tag: "Interrupted"
    readonly task: TaskSpec
    readonly records: ReadonlyArray<InterruptRecord>
    readonly memory: TaskMemory
  }
  | { readonly _tag: "Sleeping"; readonly task: TaskSpec; readonly wakeAt: number; readonly memory: TaskMemory }
  | {
    readonly _tag: "Failed"
    readonly task: TaskSpec
    readonly error: unknown
    readonly memory: TaskMemory
    /** how many times the node ran in this run (its retries included) */
    readonly attempts: number
  }

const renderError = (error: unknown): string => {
  if (error instanceof Error) return error.message ? `${(error as any)._tag ?? error.name}: ${error.message}` : String((error as any)._tag ?? error.name)
  try {
    return JSON.stringify(error)
  } catch {
    return String(error)
  }
}

/**
 * The journal of a task whose node failed, for its re-run: recorded failures are dropped so the
 * failed work is tried again; successes are still replayed.
 */
const retryable = (journal: ReadonlyArray<JournalEntry>): Array<JournalEntry> =>
  journal.map((entry): JournalEntry => {
    if (entry === null || entry === undefined) return entry
    if (entry.type === "activity" && entry.exit === "failure") return undefined as any
    if (entry.type === "forEach") {
      const children: Record<string, any> = {}
      for (const [k, c] of Object.entries(entry.children)) if (c.exit === "success") children[k] = c
      if (entry.journals === undefined) return { ...entry, children }
      // the children's own journals: their failed activities are tried again too
      const journals: Record<string, ReadonlyArray<JournalEntry>> = {}
      for (const [k, j] of Object.entries(entry.journals)) journals[k] = retryable(j)
      return { ...entry, children, journals }
    }
    if (entry.type === "call" && entry.exit === "failure") return { name: entry.name, type: "call", threadId: entry.threadId }
    return entry
  })

/** Per-run facts a task needs from the loop. */
interface TaskEnv {
  readonly compiled: Compiled
  readonly threadId: string | undefined
  readonly store: Backend | undefined
  readonly runId: string
  readonly persist: boolean
  readonly emit: RunConfig["emit"]
  readonly modes: ReadonlySet<string>
  /** waits until the checkpoints queued by async durability are stored (a task's record needs its step's) */
  readonly stored: Effect.Effect<void, unknown>
}

const runTask = (
  env: TaskEnv,
  checkpointId: string,
  step: number,
  state: Readonly<Record<string, unknown>>,
  task: TaskSpec,
  previous: TaskRecord | undefined,
  answers: ReadonlyArray<unknown>,
  /** answers to nested asks (Task.forEach children), by key */
  keyedAnswers: Readonly<Record<string, unknown>>,
  /** the step's checkpoint is stored, so the task's journal can be saved with it */
  stored: boolean,
  /** where the task's scope is set while it runs (the run's, or the task's own in a parallel step) */
  holder: ScopeHolder
): Effect.Effect<Outcome, never, any> => {
  const { compiled, emit, modes } = env
  const node = compiled.nodes[task.node]!
  const journal: Array<JournalEntry> = previous === undefined
    ? []
    : previous.status === "failed"
    ? retryable(previous.journal as Array<JournalEntry>)
    : [...(previous.journal as Array<JournalEntry>)]
  const forwarded = previous?.forwarded ?? {}
  const memory = (): TaskMemory => ({
    answers,
    keyedAnswers: Object.keys(keyedAnswers).length > 0 ? keyedAnswers : undefined,
    journal: [...journal],
    forwarded: previous?.forwarded
  })
  // durability "exit" stores no checkpoint between the first and the last: a task of those
  // steps keeps its journal in memory (a crash re-runs the run from its last stored checkpoint)
  const persistJournal: Effect.Effect<void, unknown> = env.persist && stored
    ? Effect.suspend(() =>
      // with async durability the step's checkpoint may still be queued
      Effect.zipRight(env.stored, env.store!.putTask(env.threadId!, env.runId, checkpointId, {
        taskId: task.id,
        node: task.node,
        status: "running",
        writes: [],
        gotos: [],
        answers,
        ...(Object.keys(keyedAnswers).length > 0 ? { keyedAnswers } : {}),
        journal: [...journal],
        ...(previous?.forwarded !== undefined ? { forwarded: previous.forwarded } : {})
      }))
    )
    : Effect.void
  const scope: TaskScope = {
    threadId: env.threadId,
    checkpointId,
    taskId: task.id,
    node: task.node,
    path: "",
    answers,
    keyedAnswers,
    askIndex: 0,
    journal,
    journalIndex: 0,
    persist: persistJournal,
    durable: env.persist,
    sleepThresholdMillis: compiled.sleepThresholdMillis,
    pause: { asks: [], child: [], sleep: undefined },
    forwarded,
    emit,
    modes,
    store: env.store,
    runId: env.runId
  }
  let attempts = 0
  let attempt: Effect.Effect<unknown, unknown, unknown> = Effect.suspend(() => {
    holder.scope = scope
    attempts++
    if (attempts > 1) {
      // a retry of the node tries failed activities again; finished ones are still replayed
      const kept = retryable(journal)
      journal.length = 0
      journal.push(...kept)
    }
    scope.askIndex = 0
    scope.journalIndex = 0
    scope.pause.asks.length = 0
    scope.pause.child.length = 0
    scope.pause.sleep = undefined
    return node.run(task.send ? task.arg : state)
  })
  if (node.timeout !== undefined) {
    const millis = Duration.toMillis(node.timeout)
    attempt = Effect.timeoutFail(attempt, {
      duration: node.timeout,
      onTimeout: () => new NodeTimeout({ node: task.node, taskId: task.id, timeoutMillis: millis })
    })
  }
  if (node.retry !== undefined) {
    attempt = Effect.retry(attempt, {
      schedule: node.retry,
      while: (e) =>
        !Interrupt.isInterrupt(e) && scope.pause.sleep === undefined && scope.pause.child.length === 0
    }) as any
  }
  const events = emit !== undefined && modes.has("events")
  const started = events
    ? emit!({ mode: "events", event: { _tag: "TaskStarted", step, node: task.node, taskId: task.id } })
    : Effect.void
  const finish = (exit: Exit.Exit<unknown, unknown>): Outcome => {
    holder.scope = undefined
    if (Exit.isSuccess(exit)) {
      const output = algo.normalizeOutput(compiled, task.node, exit.value)
      if (Either.isLeft(output)) return { _tag: "Failed", task, error: output.left, memory: memory(), attempts }
      return { _tag: "Done", task, output: output.right, memory: memory(), attempts }
    }
    const { asks, child } = scope.pause
    const failure = Cause.failureOption(exit.cause)
    const error = Option.getOrUndefined(failure)
    // paused on questions: its own asks (several, from Task.forEach children) and its child
    // graphs' interrupts; a sleeping sibling child sleeps again when the task re-runs
    const paused = (asks.length > 0 || child.length > 0) &&
      (Option.isSome(failure) ? child.length > 0 || Interrupt.isInterrupt(error) : scope.pause.sleep !== undefined)
    if (paused) {
      return {
        _tag: "Interrupted",
        task,
        memory: memory(),
        records: [
          ...asks.map((ask) => ({
            id: interruptId(task.id, ask.key),
            kind: ask.kind,
            request: ask.request,
            node: task.node,
            taskId: task.id,
            status: "pending" as const
          })),
          ...child.map((c) => ({
            id: c.id,
            kind: c.kind,
            request: c.request,
            node: task.node,
            taskId: task.id,
            status: "pending" as const,
            child: true
          }))
        ]
      }
    }
    if (scope.pause.sleep !== undefined) {
      return { _tag: "Sleeping", task, wakeAt: scope.pause.sleep, memory: memory() }
    }
    if (Option.isSome(failure)) {
      return { _tag: "Failed", task, error, memory: memory(), attempts }
    }
    return {
      _tag: "Failed",
      task,
      memory: memory(),
      attempts,
      error: new NodeFailed({ node: task.node, taskId: task.id, cause: Cause.pretty(exit.cause) })
    }
  }
  const run = Effect.matchCause(attempt, {
    onFailure: (cause) => finish(Exit.failCause(cause)),
    onSuccess: (value) => finish(Exit.succeed(value))
  })
  if (!events) return run
  return Effect.zipRight(started, Effect.tap(run, (o) =>
    emit!({
      mode: "events",
      event: o._tag === "Done"
        ? { _tag: "TaskFinished", step, node: task.node, taskId: task.id }
        : o._tag === "Failed"
        ? { _tag: "TaskFailed", step, node: task.node, taskId: task.id, error: renderError(o.error) }
        : { _tag: "TaskInterrupted", step, node: task.node, taskId: task.id }
    })))
}

// ---------------------------------------------------------------------------------------------
// the run
// ---------------------------------------------------------------------------------------------

const emptyCheckpoint = (compiled: Compiled): Checkpoint => {
  const values: Record<string, unknown> = {}
  for (const c of compiled.codecs) if (c.initial !== undefined) values[c.name] = c.initial()
  return {
    executionId: "",
    checkpointId: "",
    parentCheckpointId: null,
    step: -1,
    createdAt: 0,
    status: "completed",
    values,
    versions: {},
    tasks: [],
    joins: {},
    nodeStates: {},
    interrupts: [],
    pending: [],
    metadata: {}
  }
}

/**
 * Saves the pending writes of a parallel step's finished tasks in the background: tasks that
 * finish in the same tick (or while a write is under way) share one transaction, and a task does
 * not wait for its record. `finish` (when every task of the step has ended) hands back what was
 * not written yet — a step that goes on to commit its checkpoint needs none of it, a step that
 * pauses or fails settles it with the rest — and waits for the write under way, failing with its
 * error.
 */
const pendingWriter = <T, E>(
  write: (items: ReadonlyArray<T>) => Effect.Effect<void, E>
) => {
  let queue: Array<T> = []
  let drainer: Fiber.RuntimeFiber<void, E> | undefined
  const drain: Effect.Effect<void, E> = Effect.suspend(() => {
    if (queue.length === 0) return Effect.void
    const items = queue
    queue = []
    return Effect.zipRight(write(items), drain)
  })
  // let siblings that finish in the same tick join the first batch
  const drainSoon = Effect.zipRight(Effect.yieldNow(), drain)
  return {
    add: (item: T): Effect.Effect<void> =>
      Effect.suspend(() => {
        queue.push(item)
        if (drainer !== undefined) return Effect.void
        return Effect.asVoid(Effect.tap(Effect.forkDaemon(drainSoon), (f) => {
          drainer = f
        }))
      }),
    finish: Effect.suspend((): Effect.Effect<ReadonlyArray<T>, E> => {
      const unwritten = queue
      queue = []
      // awaited, not joined: a join would copy the drainer's fiber refs (its context, with the
      // CurrentTask of the task fiber that forked it) onto the run's fiber
      return drainer === undefined ? Effect.succeed(unwritten) : Effect.as(Effect.flatten(Fiber.await(drainer)), unwritten)
    })
  }
}

const noRoutes: ReadonlyArray<ReadonlyArray<string | Send>> = []
const noFinished: ReadonlyArray<{ readonly node: string; readonly taskId: string }> = []
const noPending: Map<string, TaskRecord> = new Map()
const hasBranches = (compiled: Compiled, finished: ReadonlyArray<{ readonly node: string }>) => {
  for (let i = 0; i < finished.length; i++) if (compiled.branchesFrom[finished[i]!.node] !== undefined) return true
  return false
}

/** Evaluates the conditional routes of finished tasks on the new state. */
const evaluateRoutes = (
  compiled: Compiled,
  finished: ReadonlyArray<{ readonly node: string }>,
  values: Readonly<Record<string, unknown>>
): Effect.Effect<ReadonlyArray<ReadonlyArray<string | Send>>, unknown, any> => {
  let any = false
  for (const f of finished) if (compiled.branchesFrom[f.node] !== undefined) any = true
  if (!any) return Effect.succeed([])
  return Effect.forEach(finished, (f) => {
    const branches = compiled.branchesFrom[f.node]
    if (branches === undefined) return Effect.succeed([])
    return Effect.flatMap(
      Effect.forEach(branches, (b) => {
        const result = b.route(values)
        return Effect.map(Effect.isEffect(result) ? result : Effect.succeed(result), (r) => [b, r] as const)
      }),
      (results) => {
        const out: Array<string | Send> = []
        for (const [b, r] of results) {
          for (const t of algo.routeTargets(r)) {
            // a route keeps to the targets it declared (the graph's drawing, its version and the
            // compile-time checks are made from them)
            const name = typeof t === "string" ? t : isSend(t) ? t.node : undefined
            if (b.targets !== undefined && name !== undefined && !b.targets.includes(name)) {
              return Effect.fail(
                new InvalidUpdate({
                  node: f.node,
                  channel: "*",
                  issue: `route returned "${name}", not one of its targets (${b.targets.join(", ")})`
                })
              )
            }
            out.push(t)
          }
        }
        return Effect.succeed(out)
      }
    )
  })
}

/** Answers given to a task by a resume: its own (ask order) and those for its child graphs. */
interface Given {
  readonly answers: ReadonlyArray<unknown>
  readonly keyed?: Readonly<Record<string, unknown>> | undefined
  readonly forwarded?: Readonly<Record<string, { readonly kind: string; readonly value: unknown }>> | undefined
}

/** @internal */
export interface Run {
  /** set once the claim was given back with the run's last write */
  released: boolean
  /** stops the claim's renewals (set once the run holds the claim) */
  stopHeartbeat?: (() => void) | undefined
  readonly compiled: Compiled
  readonly store: Backend | undefined
  readonly threadId: string | undefined
  readonly runId: string
  readonly config: RunConfig
  readonly modes: ReadonlySet<string>
}

const stamp = () => Date.now()

/** how many checkpoints an `async` run may have queued before it waits for the writer */
const ASYNC_QUEUE_LIMIT = 256

/** The result of a run: the final checkpoint. @internal */
export type RunResult = Checkpoint

/**
 * Executes steps from `start` until END, a pause, a failure or the recursion limit.
 * `resumed` marks tasks that may run (answered interrupts); `skipBreakpoint` lets a resumed
 * breakpoint pass.
 */
const loop = (
  run: Run,
  start: Checkpoint,
  head: string | null,
  answered: ReadonlyMap<string, Given>,
  skipBreakpoint: boolean
): Effect.Effect<Checkpoint, any, any> => {
  const holder: ScopeHolder = { scope: undefined }
  return Effect.provideService(loopWith(run, start, head, answered, skipBreakpoint, holder), CurrentTask, holder)
}

const loopWith = (
  run: Run,
  start: Checkpoint,
  head: string | null,
  answered: ReadonlyMap<string, Given>,
  skipBreakpoint: boolean,
  holder: ScopeHolder
): Effect.Effect<Checkpoint, any, any> =>
  Effect.gen(function*() {
    const { compiled, config, modes, store, threadId } = run
    const emit = config.emit
    const persist = store !== undefined && threadId !== undefined
    let cp = start
    let expectedHead = head
    let steps = 0
    let skipBefore = skipBreakpoint
    let answersFor = answered
    // async durability: checkpoints queue up while the next steps run; one background writer
    // commits whatever has queued, several steps to a transaction, and the run waits for it
    // before it settles, pauses or ends
    let asyncQueue: Array<CommitRequest> = []
    let asyncWriter: Fiber.RuntimeFiber<void, any> | undefined
    let exitPending: { writes: Map<string, ChannelWrite> } | undefined
    let order = 0
    for (const k in cp.nodeStates) order = Math.max(order, cp.nodeStates[k]!.executionOrder)
    const env: TaskEnv = {
      compiled,
      threadId,
      store,
      runId: run.runId,
      persist,
      emit,
      modes,
      stored: Effect.suspend(() => awaitCommit)
    }

    const writeQueued: Effect.Effect<void, any> = Effect.suspend(() => {
      if (asyncQueue.length === 0) return Effect.void
      const batch = asyncQueue
      asyncQueue = []
      return Effect.zipRight(store!.commitAll(batch), writeQueued)
    })
    // the writer stays known until it ended: tasks of a parallel step may wait on it together
    const awaitCommit = Effect.suspend(() => {
      const writer = asyncWriter
      const rest = Effect.suspend(() => (asyncQueue.length > 0 ? writeQueued : Effect.void))
      if (writer === undefined) return rest
      return Effect.zipRight(
        Effect.flatten(Fiber.await(writer)),
        Effect.suspend(() => {
          if (asyncWriter === writer) asyncWriter = undefined
          return rest
        })
      )
    })
    const enqueueCommit = (request: CommitRequest) =>
      Effect.suspend(() => {
        asyncQueue.push(request)
        // bounded: a writer that cannot keep up makes the run wait
        if (asyncQueue.length >= ASYNC_QUEUE_LIMIT) return awaitCommit
        if (asyncWriter !== undefined) {
          const exit = asyncWriter.unsafePoll()
          // a running writer takes this request too, once its current batch is written
          if (exit === null) return Effect.void
          asyncWriter = undefined
          if (Exit.isFailure(exit)) return Effect.failCause(exit.cause)
        }
        return Effect.map(Effect.forkDaemon(Effect.zipRight(Effect.yieldNow(), writeQueued)), (f) => {
          asyncWriter = f
        })
      })

    const commit = (next: Checkpoint, writes: ReadonlyArray<ChannelWrite>, force: boolean) =>
      Effect.gen(function*() {
        if (!persist) return
        if (compiled.durability === "exit" && !force) {
          exitPending ??= { writes: new Map() }
          for (const w of writes) exitPending.writes.set(w.channel, w)
          return
        }
        let all = writes
        if (exitPending !== undefined) {
          // an exit-durability run commits once: every channel changed since the last commit, whole
          const merged = new Map(exitPending.writes)
          for (const w of writes) merged.set(w.channel, w)
          all = [...merged.keys()].map((channel) => {
            const codec = compiled.codecByName[channel]!
            return { channel, mode: "set", value: Either.getOrThrow(codec.encodeValue(next.values[channel])) }
          })
          exitPending = undefined
        }
        let snapshot = toEncoded(compiled, threadId!, next)
        // steps not committed (exit durability) are skipped in the lineage
        if (snapshot.parentCheckpointId !== expectedHead) snapshot = { ...snapshot, parentCheckpointId: expectedHead }
        // the run's last write gives the claim back in the same transaction
        const last = next.tasks.length === 0 && !config.keepClaim && (compiled.durability !== "async" || force)
        const request = { threadId: threadId!, runId: run.runId, expectedHead, snapshot, writes: all, release: last }
        if (compiled.durability === "async" && !force) {
          yield* enqueueCommit(request)
        } else {
          yield* awaitCommit
          yield* store!.commit(request)
          if (last) run.released = true
        }
        expectedHead = next.checkpointId
        if (emit !== undefined && modes.has("events")) {
          yield* emit({ mode: "events", event: { _tag: "CheckpointSaved", step: next.step, checkpointId: next.checkpointId } })
        }
      })

    /** Writes the records of this step's tasks and the paused / failed status to the head. */
    const settle = (
      at: Checkpoint,
      records: ReadonlyArray<TaskRecord>,
      patch: Parameters<Backend["setStatus"]>[3]
    ) =>
      Effect.gen(function*() {
        if (!persist) return
        yield* awaitCommit
        if (exitPending !== undefined) yield* commit(at, [], true)
        // the run ends here: records, status and the claim's release in one transaction
        const release = !config.keepClaim
        yield* store!.settle(threadId!, run.runId, at.checkpointId, { records, patch, release })
        if (release) run.released = true
      })

    const pendingOf = (records: ReadonlyArray<TaskRecord>): Map<string, TaskRecord> => {
      if (records.length === 0) return noPending
      const map = new Map<string, TaskRecord>()
      for (const r of records) map.set(r.taskId, r)
      return map
    }

    const doneRecord = (o: Extract<Outcome, { _tag: "Done" }>): TaskRecord => ({
      taskId: o.task.id,
      node: o.task.node,
      status: "done",
      writes: encodeWrites(compiled, o.output.writes) as any,
      gotos: o.output.gotos as any,
      answers: o.memory.answers,
      ...(o.memory.keyedAnswers !== undefined ? { keyedAnswers: o.memory.keyedAnswers } : {}),
      journal: o.memory.journal
    })
    const memoryRecord = (o: Outcome, status: TaskRecord["status"]): TaskRecord => ({
      taskId: o.task.id,
      node: o.task.node,
      status,
      writes: [],
      gotos: [],
      answers: o.memory.answers,
      ...(o.memory.keyedAnswers !== undefined ? { keyedAnswers: o.memory.keyedAnswers } : {}),
      journal: o.memory.journal,
      ...(o.memory.forwarded !== undefined ? { forwarded: o.memory.forwarded } : {})
    })

    while (true) {
      if (cp.tasks.length === 0) {
        yield* awaitCommit
        if (exitPending !== undefined) yield* commit(cp, [], true)
        if (emit !== undefined && modes.has("events")) {
          yield* emit({ mode: "events", event: { _tag: "Completed", checkpointId: cp.checkpointId } })
        }
        return cp
      }
      if (steps >= compiled.recursionLimit) {
        yield* awaitCommit
        if (exitPending !== undefined) yield* commit(cp, [], true)
        return yield* Effect.fail(new RecursionLimitExceeded({ limit: compiled.recursionLimit, threadId }))
      }
      if (config.stopAfterSteps !== undefined && steps >= config.stopAfterSteps) {
        yield* awaitCommit
        if (exitPending !== undefined) yield* commit(cp, [], true)
        return cp
      }
      // static breakpoint before
      if (!skipBefore && compiled.interruptBefore.size > 0) {
        const hit = cp.tasks.filter((t) => compiled.interruptBefore.has(t.node))
        if (hit.length > 0) {
          const records = [...new Set(hit.map((t) => t.node))].map((node): InterruptRecord => ({
            id: `${cp.checkpointId}:before:${node}`,
            kind: "Breakpoint",
            request: { node, when: "before" },
            node,
            taskId: hit.find((t) => t.node === node)!.id,
            status: "pending"
          }))
          return yield* pause(cp, records, [], "breakpoint")
        }
      }
      skipBefore = false
      const step = cp.step
      let pending = pendingOf(cp.pending)
      const only = steps === 0 ? config.onlyTasks : undefined
      if (emit !== undefined && modes.has("events")) {
        yield* emit({ mode: "events", event: { _tag: "StepStarted", step, tasks: cp.tasks.map((t) => t.node) } })
      }
      // which tasks run now: not finished, and (when interrupted) answered in this resume
      const toRun: Array<TaskSpec> = []
      const stillWaiting: Array<InterruptRecord> = []
      for (const t of cp.tasks) {
        const r = pending.get(t.id)
        if (r?.status === "done") continue
        if (only !== undefined && !only.has(t.id)) continue
        if (r?.status === "interrupted" && !answersFor.has(t.id)) {
          for (const i of cp.interrupts) if (i.taskId === t.id && i.status === "pending") stillWaiting.push(i)
          continue
        }
        toRun.push(t)
      }
      const multi = toRun.length > 1
      // tasks of a parallel step each get their own scope holder, in their fiber's context
      const holders: Array<ScopeHolder> | undefined = multi ? toRun.map(() => ({ scope: undefined })) : undefined
      const runOne = (t: TaskSpec, i: number) => {
        const given = answersFor.get(t.id)
        const prev = pending.get(t.id)
        const answers = given?.answers ?? prev?.answers ?? []
        const keyed = given?.keyed ?? prev?.keyedAnswers ?? {}
        const previous = given?.forwarded !== undefined && prev !== undefined ? { ...prev, forwarded: given.forwarded } : prev
        const stored = compiled.durability !== "exit" || cp.checkpointId === expectedHead
        const task = runTask(env, cp.checkpointId, step, cp.values, t, previous, answers, keyed, stored, holders?.[i] ?? holder)
        if (saveDone === undefined) return task
        // pending writes are saved as each task finishes, so a sibling's failure or a crash
        // re-runs only the unfinished tasks; tasks finishing together share one transaction
        return Effect.tap(task, (o) => (o._tag === "Done" ? saveDone.add(o) : Effect.void))
      }
      const saveDone = persist && multi && compiled.durability !== "exit"
        ? pendingWriter((done: ReadonlyArray<Extract<Outcome, { _tag: "Done" }>>) =>
          // with async durability the step's own checkpoint may still be queued: records need it
          Effect.zipRight(awaitCommit, store!.settle(threadId!, run.runId, cp.checkpointId, { records: done.map(doneRecord) }))
        )
        : undefined
      const outcomes: ReadonlyArray<Outcome> = toRun.length === 0
        ? []
        : toRun.length === 1
        ? [yield* runOne(toRun[0]!, 0)]
        : compiled.concurrency === "unbounded"
        ? yield* forkAll(toRun.length, (i) => runOne(toRun[i]!, i), (i, ctx) => Context.add(ctx, CurrentTask, holders![i]!))
        : yield* Effect.forEach(toRun, (t, i) =>
          Effect.provideService(runOne(t, i), CurrentTask, holders![i]!), { concurrency: compiled.concurrency })
      if (answersFor.size > 0) answersFor = new Map()
      const savingDone = saveDone !== undefined
      const unwritten = saveDone !== undefined ? yield* saveDone.finish : []

      // gather every task of the step in task order
      // the outcome of each task of the step (none for tasks that did not run now)
      const inOrder = outcomes.length === cp.tasks.length && outcomes.every((o, i) => o.task === cp.tasks[i])
      let byId: Map<string, Outcome> | undefined
      if (!inOrder) {
        byId = new Map()
        for (const o of outcomes) byId.set(o.task.id, o)
      }
      const outcomeOf = (t: TaskSpec, i: number): Outcome | undefined => (byId === undefined ? outcomes[i] : byId.get(t.id))
      const failed = outcomes.find((o) => o._tag === "Failed") as Extract<Outcome, { _tag: "Failed" }> | undefined
      // finished tasks' records are built only when they are written (a pause, a failure)
      const done: Array<Extract<Outcome, { _tag: "Done" }>> = [...unwritten]
      const otherRecords: Array<TaskRecord> = []
      const newRecords = (): Array<TaskRecord> => {
        const records = done.map(doneRecord)
        for (const r of otherRecords) records.push(r)
        return records
      }
      const interrupted: Array<InterruptRecord> = [...stillWaiting]
      let wakeAt: number | undefined
      for (const o of outcomes) {
        if (o._tag === "Done" && !savingDone) done.push(o)
        if (o._tag === "Interrupted") {
          interrupted.push(...o.records)
          otherRecords.push(memoryRecord(o, "interrupted"))
        }
        if (o._tag === "Sleeping") {
          wakeAt = wakeAt === undefined ? o.wakeAt : Math.min(wakeAt, o.wakeAt)
          otherRecords.push(memoryRecord(o, "sleeping"))
        }
        if (o._tag === "Failed" && o.memory.journal.length > 0) otherRecords.push(memoryRecord(o, "failed"))
      }
      if (failed !== undefined) {
        // the first failure in task order wins; finished tasks keep their pending writes
        const first = cp.tasks.map(outcomeOf).find((o) => o?._tag === "Failed") as typeof failed
        const message = renderError(first.error)
        const nodeStates = { ...cp.nodeStates, [first.task.node]: nodeState(cp, first.task.node, "failed", order, { error: message, attempts: first.attempts }) }
        yield* settle(cp, newRecords(), {
          status: "failed",
          interrupts: cp.interrupts,
          nodeStates: nodeStates as any,
          error: message
        })
        return yield* Effect.fail(first.error)
      }
      if (interrupted.length > 0) {
        const answeredIds = new Set(cp.interrupts.filter((i) => i.status === "answered").map((i) => i.id))
        const records = [
          ...cp.interrupts.filter((i) => answeredIds.has(i.id)),
          ...interrupted
        ]
        return yield* pause(cp, records, newRecords(), "interrupt")
      }
      if (wakeAt !== undefined) {
        // a durable sleep: the thread pauses until wakeAt; a worker (or invoke(null)) wakes it
        yield* settle(cp, newRecords(), {
          status: "paused",
          interrupts: cp.interrupts,
          pauseReason: "sleeping",
          wakeAt
        })
        return yield* Effect.fail(new ThreadSleeping({ threadId: threadId ?? "", wakeAt: new Date(wakeAt).toISOString() }))
      }

      if (only !== undefined && persist) {
        // a job of one task (the async orchestrator): record it, then advance the step only
        // when every task of it has finished — whichever job finishes last does it. A step this
        // job ran entirely needs neither the records nor a second look.
        const ranAll = cp.tasks.every((t, i) => outcomeOf(t, i)?._tag === "Done")
        if (!ranAll) {
          const records = newRecords()
          if (records.length > 0) yield* store!.settle(threadId!, run.runId, cp.checkpointId, { records })
          const fresh = yield* store!.load(threadId!, cp.checkpointId)
          if (Option.isSome(fresh)) pending = pendingOf(fresh.value.pendingWrites)
        }
        const complete = ranAll || cp.tasks.every((t, i) => outcomeOf(t, i)?._tag === "Done" || pending.get(t.id)?.status === "done")
        if (!complete) {
          yield* awaitCommit
          return cp
        }
        done.length = 0
        otherRecords.length = 0
      }
      // apply: finished tasks in task order (earlier-recorded pending writes included)
      const finished: Array<{ node: string; writes: ReadonlyArray<readonly [string, unknown]>; gotos: ReadonlyArray<string | Send>; taskId: string; attempts: number }> = []
      for (let i = 0; i < cp.tasks.length; i++) {
        const t = cp.tasks[i]!
        const o = outcomeOf(t, i)
        if (o !== undefined && o._tag === "Done") {
          finished.push({ node: t.node, writes: o.output.writes, gotos: o.output.gotos, taskId: t.id, attempts: o.attempts })
          continue
        }
        const r = pending.get(t.id)
        if (r !== undefined && r.status === "done") {
          const writes = decodeWrites(compiled, threadId ?? "", r)
          if (Either.isLeft(writes)) return yield* Effect.fail(writes.left)
          finished.push({ node: t.node, writes: writes.right, gotos: r.gotos as any, taskId: t.id, attempts: 1 })
        }
      }
      const applied = algo.applyWrites(compiled, cp.values, cp.versions, finished)
      if (Either.isLeft(applied)) {
        yield* settle(cp, newRecords(), { status: "failed", interrupts: cp.interrupts, error: applied.left.message })
        return yield* Effect.fail(applied.left)
      }
      const values = applied.right.values
      if (emit !== undefined && modes.has("updates")) {
        for (const f of finished) {
          const update: Record<string, unknown> = {}
          for (const [k, v] of f.writes) update[k] = v
          yield* emit({ mode: "updates", step, node: f.node, taskId: f.taskId, update })
        }
      }
      const routed = hasBranches(compiled, finished) ? yield* evaluateRoutes(compiled, finished, values) : noRoutes
      // ids matter only for stored checkpoints; an in-memory run numbers its steps
      const nextId = persist ? Ids.make() : `${run.runId}.${step + 1}`
      const planned = algo.plan(compiled, nextId, finished, routed, cp.joins)
      if (Either.isLeft(planned)) {
        return yield* Effect.fail(new InvalidUpdate({ node: finished.map((f) => f.node).join(","), channel: "*", issue: planned.left }))
      }
      let nodeStates = cp.nodeStates
      if (persist) {
        const ns: Record<string, NodeState> = { ...cp.nodeStates }
        // one state per node: a node run by many Sends keeps its last output and the sum of attempts
        const last = new Map<string, number>()
        const attempts = new Map<string, number>()
        finished.forEach((f, i) => {
          last.set(f.node, i)
          attempts.set(f.node, (attempts.get(f.node) ?? 0) + f.attempts)
        })
        for (const [node, i] of last) {
          const output: Record<string, unknown> = {}
          for (const [k, v] of encodeWrites(compiled, finished[i]!.writes)) output[k] = v
          ns[node] = nodeState(cp, node, "completed", ++order, { output, attempts: attempts.get(node)! })
        }
        nodeStates = ns
      }
      const afterHit = compiled.interruptAfter.size > 0 ? finished.filter((f) => compiled.interruptAfter.has(f.node)) : noFinished
      const next: Checkpoint = {
        executionId: cp.executionId,
        checkpointId: nextId,
        parentCheckpointId: cp.checkpointId === "" ? null : cp.checkpointId,
        step: step + 1,
        createdAt: stamp(),
        status: planned.right.tasks.length === 0 ? "completed" : "running",
        values,
        versions: applied.right.versions,
        tasks: planned.right.tasks,
        joins: planned.right.joins,
        nodeStates,
        interrupts: [],
        pending: [],
        // every checkpoint of an execution carries its input (a store keeps the text once)
        ...(cp.initialInput !== undefined ? { initialInput: cp.initialInput } : {}),
        metadata: cp.metadata
      }
      if (persist) yield* commit(next, channelWrites(compiled, applied.right, false), false)
      if (emit !== undefined && modes.has("values")) yield* emit({ mode: "values", step: next.step, values: values as any })
      cp = next
      steps++
      if (afterHit.length > 0 && cp.tasks.length > 0) {
        const records = [...new Set(afterHit.map((f) => f.node))].map((node): InterruptRecord => ({
          id: `${cp.checkpointId}:after:${node}`,
          kind: "Breakpoint",
          request: { node, when: "after" },
          node,
          taskId: afterHit.find((f) => f.node === node)!.taskId,
          status: "pending"
        }))
        return yield* pause(cp, records, [], "breakpoint")
      }
      if (config.stopAfterNodes !== undefined && finished.some((f) => config.stopAfterNodes!.has(f.node))) {
        yield* awaitCommit
        if (exitPending !== undefined) yield* commit(cp, [], true)
        return cp
      }
    }

    function pause(
      at: Checkpoint,
      records: ReadonlyArray<InterruptRecord>,
      taskRecords: ReadonlyArray<TaskRecord>,
      reason: "interrupt" | "breakpoint"
    ) {
      return Effect.gen(function*() {
        let nodeStates = at.nodeStates
        if (persist) {
          const ns: Record<string, NodeState> = { ...at.nodeStates }
          for (const r of records) if (r.status === "pending" && r.kind !== "Breakpoint") ns[r.node] = nodeState(at, r.node, "interrupted", order, {})
          nodeStates = ns
        }
        yield* settle(at, taskRecords, { status: "paused", interrupts: records, nodeStates: nodeStates as any, pauseReason: reason })
        if (!persist && threadId !== undefined) {
          // no store: nothing to resume from, but the caller still sees the interrupts
        }
        const pendingRecords = records.filter((r) => r.status === "pending")
        if (emit !== undefined && modes.has("events")) {
          yield* emit({ mode: "events", event: { _tag: "Paused", checkpointId: at.checkpointId, interrupts: pendingRecords.map((r) => r.id) } })
        }
        return yield* Effect.fail(withoutStack(() =>
          new Interrupt.GraphInterrupted<any>({
            threadId,
            checkpointId: at.checkpointId,
            interrupts: pendingRecords.map(toPending)
          })
        ))
      })
    }
  })

const nodeState = (
  cp: Checkpoint,
  node: string,
  status: NodeState["status"],
  order: number,
  extra: { output?: unknown; error?: string; attempts?: number }
): NodeState => {
  const prev = cp.nodeStates[node]
  return {
    nodeId: node,
    status,
    injected: false,
    executionOrder: status === "completed" ? order : prev?.executionOrder ?? 0,
    attempts: (prev?.attempts ?? 0) + (extra.attempts ?? (status === "completed" ? 1 : 0)),
    metadata: prev?.metadata ?? {},
    ...(extra.output !== undefined ? { output: extra.output } : {}),
    ...(extra.error !== undefined ? { error: extra.error } : {})
  }
}

/** A stored interrupt record as the caller sees it (request decoded when the kind is known). @internal */
export const toPending = (r: InterruptRecord) => {
  const kind = Interrupt.registry.get(r.kind)
  let request = r.request
  if (kind !== undefined) {
    const decoded = ParseResult.decodeUnknownEither(kind.requestSchema)(r.request)
    if (Either.isRight(decoded)) request = decoded.right
  }
  return { id: r.id, kind: r.kind, request, node: r.node, taskId: r.taskId }
}

// ---------------------------------------------------------------------------------------------
// entry points
// ---------------------------------------------------------------------------------------------

/** Loads and decodes a checkpoint (default: head). @internal */
export const loadCheckpoint = (
  compiled: Compiled,
  store: Backend,
  threadId: string,
  checkpointId: string | undefined
): Effect.Effect<
  { readonly cp: Checkpoint; readonly version: string },
  ThreadNotFound | CheckpointNotFound | CorruptSnapshot | import("../GraphError.js").StoreError
> =>
  Effect.flatMap(store.load(threadId, checkpointId), (opt): Effect.Effect<
    { readonly cp: Checkpoint; readonly version: string },
    ThreadNotFound | CheckpointNotFound | CorruptSnapshot
  > => {
    if (Option.isNone(opt)) {
      return checkpointId === undefined
        ? Effect.fail(new ThreadNotFound({ threadId }))
        : Effect.fail(new CheckpointNotFound({ threadId, checkpointId }))
    }
    const decoded = decodeCheckpoint(compiled, opt.value)
    return Either.isLeft(decoded)
      ? Effect.fail(decoded.left)
      : Effect.succeed({ cp: decoded.right, version: opt.value.workflowVersion })
  })

const startFromInput = (
  compiled: Compiled,
  base: Checkpoint,
  input: unknown,
  fresh: boolean,
  executionId: string,
  metadata: Record<string, unknown>
): Effect.Effect<{ readonly cp: Checkpoint; readonly writes: ReadonlyArray<ChannelWrite> }, any, any> =>
  Effect.gen(function*() {
    const writes = algo.validateUpdate(compiled, START, input)
    if (Either.isLeft(writes)) return yield* Effect.fail(writes.left)
    if (fresh) {
      const written = new Set(writes.right.map(([k]) => k))
      for (const c of compiled.codecs) {
        if (!c.optional && !written.has(c.name) && base.values[c.name] === undefined) {
          return yield* Effect.fail(
            new InvalidUpdate({
              node: START,
              channel: c.name,
              issue: `a new thread needs a value for "${c.name}" (it has no initial value)`
            })
          )
        }
      }
    }
    const applied = algo.applyWrites(compiled, base.values, base.versions, [{ node: START, writes: writes.right }])
    if (Either.isLeft(applied)) return yield* Effect.fail(applied.left)
    const id = Ids.make()
    const routed = yield* evaluateRoutes(compiled, [{ node: START }], applied.right.values)
    const planned = algo.plan(compiled, id, [{ node: START, gotos: [] }], routed, base.joins)
    if (Either.isLeft(planned)) {
      return yield* Effect.fail(new InvalidUpdate({ node: START, channel: "*", issue: planned.left }))
    }
    const encodedInput: Record<string, unknown> = {}
    for (const [k, v] of writes.right) {
      const codec = compiled.codecByName[k]!
      encodedInput[k] = Either.getOrElse(codec.encodeUpdate(v), () => v)
    }
    const cp: Checkpoint = {
      executionId,
      checkpointId: id,
      parentCheckpointId: base.checkpointId === "" ? null : base.checkpointId,
      step: base.step + 1,
      createdAt: stamp(),
      status: planned.right.tasks.length === 0 ? "completed" : "running",
      values: applied.right.values,
      versions: applied.right.versions,
      tasks: planned.right.tasks,
      joins: planned.right.joins,
      // node states (execution order, attempts, outputs) belong to one execution
      nodeStates: {},
      interrupts: [],
      pending: [],
      initialInput: encodedInput,
      metadata
    }
    const full = base.checkpointId === ""
    return { cp, writes: channelWrites(compiled, applied.right, full) }
  })

/** Whether a resume argument is an answer (`Kind.respond` / `respondTo`): plain JS may pass anything. @internal */
export const isAnswer = (u: unknown): u is Interrupt.Answer<string, unknown> =>
  typeof u === "object" && u !== null && (u as { _tag?: unknown })._tag === "Answer"

/** @internal */
export const notAnAnswer = (threadId: string) =>
  new UnknownInterrupt({ threadId, kind: "*", reason: "an answer is made with Kind.respond(value) or Kind.respondTo(id, value)" })

/**
 * Validates answers against the pending interrupts of a paused checkpoint: returns, per task,
 * its full answer list, and the updated interrupt records.
 */
const prepareAnswers = (
  cp: Checkpoint,
  threadId: string,
  answers: ReadonlyArray<Interrupt.Answer<string, unknown>>
) =>
  Effect.gen(function*() {
    if (cp.status !== "paused") {
      return yield* Effect.fail(new ThreadNotPaused({ threadId, status: cp.status }))
    }
    const pending = cp.interrupts.filter((i) => i.status === "pending")
    const byTask = new Map<
      string,
      {
        answers: Array<unknown>
        keyed: Record<string, unknown> | undefined
        forwarded: Record<string, { kind: string; value: unknown }> | undefined
      }
    >()
    const answeredIds = new Set<string>()
    const records = new Map(cp.pending.map((r) => [r.taskId, r]))
    const breakpointsOnly = pending.every((i) => i.kind === "Breakpoint")
    if (answers.length === 0 && !breakpointsOnly) {
      return yield* Effect.fail(new UnknownInterrupt({ threadId, kind: "*", reason: "resume needs an answer for a pending interrupt" }))
    }
    for (const answer of answers) {
      if (!isAnswer(answer)) return yield* Effect.fail(notAnAnswer(threadId))
      let target: InterruptRecord | undefined
      if (answer.id !== undefined) {
        target = pending.find((i) => i.id === answer.id)
        if (target === undefined) {
          if (cp.interrupts.some((i) => i.id === answer.id && i.status === "answered") || answeredIds.has(answer.id)) {
            return yield* Effect.fail(new InterruptAlreadyAnswered({ threadId, interruptId: answer.id }))
          }
          return yield* Effect.fail(
            new UnknownInterrupt({ threadId, interruptId: answer.id, kind: answer.kind, reason: "no pending interrupt has this id" })
          )
        }
        if (target.kind !== answer.kind) {
          return yield* Effect.fail(
            new UnknownInterrupt({ threadId, interruptId: answer.id, kind: answer.kind, reason: `the interrupt is a ${target.kind}` })
          )
        }
      } else {
        const candidates = pending.filter((i) => i.kind === answer.kind && !answeredIds.has(i.id))
        const taken = pending.find((i) => i.kind === answer.kind && answeredIds.has(i.id))
        if (candidates.length === 0 && taken !== undefined) {
          // a second answer of this kind in one resume: its only pending interrupt has one already
          return yield* Effect.fail(new InterruptAlreadyAnswered({ threadId, interruptId: taken.id }))
        }
        if (candidates.length !== 1) {
          return yield* Effect.fail(
            new UnknownInterrupt({
              threadId,
              kind: answer.kind,
              reason: candidates.length === 0
                ? `no pending ${answer.kind} interrupt`
                : `${candidates.length} pending ${answer.kind} interrupts: answer each with respondTo(id, value)`
            })
          )
        }
        target = candidates[0]!
      }
      if (answeredIds.has(target.id)) {
        return yield* Effect.fail(new InterruptAlreadyAnswered({ threadId, interruptId: target.id }))
      }
      answeredIds.add(target.id)
      if (target.kind === "Breakpoint") continue
      const def = answer.definition
      const valid = ParseResult.validateEither(def.responseSchema)(answer.value)
      if (Either.isLeft(valid)) {
        return yield* Effect.fail(new InvalidResumeValue({ kind: target.kind, interruptId: target.id, issue: algo.formatIssue(valid.left) }))
      }
      if (def.check !== undefined) {
        const request = toPending(target).request
        const problem = def.check(request, valid.right)
        if (problem !== undefined) {
          return yield* Effect.fail(new InvalidResumeValue({ kind: target.kind, interruptId: target.id, issue: problem }))
        }
      }
      const encoded = ParseResult.encodeUnknownEither(def.responseSchema)(valid.right)
      if (Either.isLeft(encoded)) {
        return yield* Effect.fail(new InvalidResumeValue({ kind: target.kind, interruptId: target.id, issue: algo.formatIssue(encoded.left) }))
      }
      const record = records.get(target.taskId)
      const given = byTask.get(target.taskId) ?? {
        answers: [...(record?.answers ?? [])],
        keyed: record?.keyedAnswers === undefined ? undefined : { ...record.keyedAnswers },
        forwarded: record?.forwarded === undefined ? undefined : { ...record.forwarded }
      }
      const key = target.id.slice(target.taskId.length + 1)
      if (target.child === true) {
        // an interrupt of a child graph: the answer is forwarded to it by interrupt id
        given.forwarded = { ...given.forwarded, [target.id]: { kind: target.kind, value: encoded.right } }
      } else if (/^\d+$/.test(key)) {
        // the task's own ask: the next in order
        given.answers.push(encoded.right)
      } else {
        // a Task.forEach child's ask: by its key
        given.keyed = { ...given.keyed, [key]: encoded.right }
      }
      byTask.set(target.taskId, given)
    }
    const interrupts = cp.interrupts.map((i) => (answeredIds.has(i.id) ? { ...i, status: "answered" as const } : i))
    const breakpoint = pending.some((i) => i.kind === "Breakpoint" && (answeredIds.has(i.id) || answers.length === 0))
    return { byTask, interrupts, breakpoint }
  })

/**
 * Runs a graph: with a thread and a store, claims the thread, continues from its head (or from
 * a checkpoint, as a fork), and releases it at the end.
 *
 * @internal
 */
export const execute = (
  compiled: Compiled,
  store: Backend | undefined,
  request: RunRequest,
  config: RunConfig
): Effect.Effect<Checkpoint, any, any> => {
  const threadId = config.threadId
  const modes = config.modes ?? new Set<string>()
  const run: Run = { released: false, compiled, store, threadId, runId: config.runId ?? Ids.make(), config, modes }
  if (store === undefined || threadId === undefined) {
    if (request._tag !== "Input") {
      return Effect.dieMessage("resume and continue need a threadId and a Snapshots store")
    }
    return Effect.flatMap(
      startFromInput(compiled, emptyCheckpoint(compiled), request.input, true, "", config.metadata ?? {}),
      ({ cp }) => loop(run, cp, null, new Map(), false)
    )
  }
  const claim = { workflowId: compiled.id, leaseMillis: compiled.leaseMillis }
  // new input and answers read the head without a claim and take the claim with their first
  // write (a compare-and-set on that head): one transaction less per run
  const claimWithFirstWrite = config.checkpointId === undefined &&
    (request._tag === "Resume" || (request._tag === "Input" && request.input !== null && request.input !== undefined))

  const firstWrite = Effect.gen(function*() {
    const loaded = yield* store.load(threadId)
    let head: string | null = null
    let base: Checkpoint | undefined
    if (Option.isSome(loaded)) {
      const decoded = decodeCheckpoint(compiled, loaded.value)
      if (Either.isLeft(decoded)) return yield* Effect.fail(decoded.left)
      yield* checkVersion(loaded.value.workflowVersion)
      base = decoded.right
      head = base.checkpointId
    }
    // a refusal is decided under a claim, as before: another run may hold the thread
    if (request._tag === "Input") {
      if (base !== undefined && base.status === "paused") return yield* classic
      return yield* startWith(request.input, base, head, true)
    }
    if (base === undefined || base.status !== "paused" || request._tag !== "Resume") return yield* classic
    const prepared = yield* Effect.either(prepareAnswers(base, threadId, request.answers))
    if (Either.isLeft(prepared)) return yield* classic
    return yield* resumeFrom(base, head, prepared.right, (records, patch) =>
      store.settle(threadId, run.runId, base!.checkpointId, { records, patch, claim }).pipe(
        Effect.zipRight(heartbeat(run, store))
      ))
  })

  const classic: Effect.Effect<Checkpoint, any, any> = Effect.gen(function*() {
    const head = yield* store.claim(threadId, run.runId, claim)
    yield* heartbeat(run, store)
    let base: Checkpoint | undefined
    if (head !== null || config.checkpointId !== undefined) {
      const loaded = yield* loadCheckpoint(compiled, store, threadId, config.checkpointId ?? head ?? undefined)
      yield* checkVersion(loaded.version)
      base = loaded.cp
    }
    const forking = config.checkpointId !== undefined && config.checkpointId !== head
    switch (request._tag) {
      case "Input": {
        if (request.input === null || request.input === undefined) {
          if (base === undefined) return yield* Effect.fail(new ThreadNotFound({ threadId }))
          return yield* continueFrom(base, head, forking)
        }
        if (base !== undefined && base.status === "paused" && !forking) {
          // new input waits for the pause to end: answers for questions, the wake-up for a sleep
          return yield* Effect.fail(
            base.pauseReason === "sleeping" && base.wakeAt !== undefined
              ? new ThreadSleeping({ threadId, wakeAt: new Date(base.wakeAt).toISOString() })
              : new ThreadPaused({ threadId, interruptIds: base.interrupts.filter((i) => i.status === "pending").map((i) => i.id) })
          )
        }
        return yield* startWith(request.input, base, head, false)
      }
      case "Continue": {
        if (base === undefined) return yield* Effect.fail(new ThreadNotFound({ threadId }))
        return yield* continueFrom(base, head, forking)
      }
      case "Resume": {
        if (base === undefined) return yield* Effect.fail(new ThreadNotFound({ threadId }))
        const prepared = yield* prepareAnswers(base, threadId, request.answers)
        return yield* resumeFrom(base, head, prepared, (records, patch) =>
          store.settle(threadId, run.runId, base!.checkpointId, { records, patch }))
      }
    }
  })

  function checkVersion(found: string) {
    return found !== compiled.version && !config.allowVersionChange
      ? Effect.fail(new SnapshotVersionMismatch({ threadId: threadId!, expected: compiled.version, found }))
      : Effect.void
  }

  /**
   * New input on `base` (none: a new thread): commits the input checkpoint — taking the claim with
   * it when the run does not hold it yet — then runs.
   */
  function startWith(input: unknown, base: Checkpoint | undefined, head: string | null, claimNow: boolean) {
    return Effect.gen(function*() {
      const { cp, writes } = yield* startFromInput(
        compiled,
        base ?? emptyCheckpoint(compiled),
        input,
        base === undefined,
        Ids.make(),
        config.metadata ?? {}
      )
      const snapshot = toEncoded(compiled, threadId!, cp)
      yield* store!.commit({ threadId: threadId!, runId: run.runId, expectedHead: head, snapshot, writes, ...(claimNow ? { claim } : {}) })
      if (claimNow) yield* heartbeat(run, store!)
      return yield* loop(run, cp, cp.checkpointId, new Map(), false)
    })
  }

  /** Resumes a paused checkpoint: records the answers (and `running`) first, then runs. */
  function resumeFrom(
    base: Checkpoint,
    head: string | null,
    prepared: Effect.Effect.Success<ReturnType<typeof prepareAnswers>>,
    record: (records: ReadonlyArray<TaskRecord>, patch: Parameters<Backend["setStatus"]>[3]) => Effect.Effect<void, any, any>
  ) {
    return Effect.gen(function*() {
      // record the answers first (one transaction): a crash after this point resumes with them
      const records: Array<TaskRecord> = []
      for (const [taskId, given] of prepared.byTask) {
        const prev = base.pending.find((r) => r.taskId === taskId)
        const task = base.tasks.find((t) => t.id === taskId)!
        records.push({
          taskId,
          node: task.node,
          status: "interrupted",
          writes: [],
          gotos: [],
          answers: given.answers,
          ...(given.keyed !== undefined ? { keyedAnswers: given.keyed } : {}),
          journal: prev?.journal ?? [],
          ...(given.forwarded !== undefined ? { forwarded: given.forwarded } : {})
        })
      }
      yield* record(records, { status: "running", interrupts: prepared.interrupts, pauseReason: undefined })
      const cp: Checkpoint = { ...base, status: "running", interrupts: prepared.interrupts, pauseReason: undefined }
      return yield* loop(run, cp, head, prepared.byTask, prepared.breakpoint)
    })
  }

  function continueFrom(base: Checkpoint, head: string | null, forking: boolean) {
    return Effect.gen(function*() {
      if (base.status === "paused" && !forking && base.pauseReason !== "sleeping") {
        return yield* Effect.fail(
          new ThreadPaused({ threadId: threadId!, interruptIds: base.interrupts.filter((i) => i.status === "pending").map((i) => i.id) })
        )
      }
      if (base.status === "paused" && !forking) {
        // waking a durable sleeper: the sleeping tasks re-run and find their wake-up time journaled
        yield* store!.setStatus(threadId!, run.runId, base.checkpointId, {
          status: "running",
          interrupts: base.interrupts,
          pauseReason: undefined,
          wakeAt: undefined
        })
      }
      if (!forking) return yield* loop(run, { ...base, status: base.tasks.length === 0 ? base.status : "running" }, head, new Map(), false)
      // a fork: a copy of the checkpoint as a new branch whose parent is the old one
      const id = Ids.make()
      const cp: Checkpoint = {
        ...base,
        checkpointId: id,
        parentCheckpointId: base.checkpointId,
        createdAt: stamp(),
        status: base.tasks.length === 0 ? "completed" : "running",
        tasks: base.tasks.map((t) => ({ ...t, id: t.id.replace(base.checkpointId, id) })),
        interrupts: [],
        pending: [],
        pauseReason: undefined
      }
      const writes: Array<ChannelWrite> = compiled.codecs
        .filter((c) => cp.values[c.name] !== undefined)
        .map((c) => ({ channel: c.name, mode: "set", value: Either.getOrThrow(c.encodeValue(cp.values[c.name])) }))
      yield* store!.commit({ threadId: threadId!, runId: run.runId, expectedHead: head, snapshot: toEncoded(compiled, threadId!, cp), writes })
      return yield* loop(run, cp, id, new Map(), true)
    })
  }

  const body = claimWithFirstWrite ? firstWrite : classic
  // no Scope for the run: closing one with a finalizer costs more than a short run itself
  return Effect.ensuring(
    body,
    Effect.suspend(() => {
      run.stopHeartbeat?.()
      return config.keepClaim || run.released ? Effect.void : Effect.ignore(store.release(threadId, run.runId))
    })
  )
}

/**
 * Renews the run's claim while it runs, so a long step keeps the thread; `run.stopHeartbeat`
 * (called when the run ends) stops it. A plain timer rather than a forked fiber or a scoped
 * resource: most runs end long before the first renewal, and either costs more than the run's own
 * bookkeeping. Leases are wall-clock facts shared with other processes: the timer runs on real
 * time, even under a TestClock.
 */
const heartbeat = (run: Run, store: Backend) =>
  Effect.flatMap(Effect.runtime<never>(), (runtime) =>
    Effect.sync(() => {
      run.stopHeartbeat?.()
      const { compiled, runId } = run
      const every = Math.max(10, Math.floor(compiled.leaseMillis / 3))
      const renew = Effect.ignore(store.claim(run.threadId!, runId, { workflowId: compiled.id, leaseMillis: compiled.leaseMillis }))
      let stopped = false
      let timer: ReturnType<typeof setTimeout> | undefined
      let renewing: Fiber.RuntimeFiber<void> | undefined
      const tick = () => {
        renewing = Runtime.runFork(runtime)(renew)
        renewing.addObserver(() => {
          renewing = undefined
          if (!stopped) timer = setTimeout(tick, every)
        })
      }
      timer = setTimeout(tick, every)
      run.stopHeartbeat = () => {
        stopped = true
        clearTimeout(timer)
        // a renewal waiting out another connection's lock must not claim the thread once released
        renewing?.unsafeInterruptAsFork(FiberId.none)
      }
    }))

const lastNode = (cp: Checkpoint): string | undefined => {
  let best: NodeState | undefined
  for (const k in cp.nodeStates) {
    const n = cp.nodeStates[k]!
    if (n.status === "completed" && (best === undefined || n.executionOrder > best.executionOrder)) best = n
  }
  return best?.nodeId
}

/**
 * Writes an update as if `asNode` had produced it, and plans the next step from `asNode`'s
 * edges: the next invoke(null) continues from there.
 *
 * @internal
 */
export const updateState = (
  compiled: Compiled,
  store: Backend,
  threadId: string,
  update: unknown,
  asNode: string | undefined,
  checkpointId: string | undefined
) => {
  const runId = Ids.make()
  const body = Effect.gen(function*() {
    const head = yield* store.claim(threadId, runId, { workflowId: compiled.id, leaseMillis: compiled.leaseMillis })
    if (head === null && checkpointId === undefined) return yield* Effect.fail(new ThreadNotFound({ threadId }))
    const { cp: base } = yield* loadCheckpoint(compiled, store, threadId, checkpointId ?? head ?? undefined)
    // like LangGraph: without asNode, the update is written as by the last node that ran
    const node = asNode ?? lastNode(base) ?? START
    if (node !== START && compiled.nodes[node] === undefined) {
      return yield* Effect.fail(new InvalidUpdate({ node, channel: "*", issue: `"${node}" is not a node of the graph` }))
    }
    const output = algo.normalizeOutput(compiled, node, update)
    if (Either.isLeft(output)) return yield* Effect.fail(output.left)
    const applied = algo.applyWrites(compiled, base.values, base.versions, [{ node, writes: output.right.writes }])
    if (Either.isLeft(applied)) return yield* Effect.fail(applied.left)
    const id = Ids.make()
    const finished = [{ node, gotos: output.right.gotos }]
    const routed = yield* evaluateRoutes(compiled, finished, applied.right.values)
    const planned = algo.plan(compiled, id, finished, routed, base.joins)
    if (Either.isLeft(planned)) return yield* Effect.fail(new InvalidUpdate({ node, channel: "*", issue: planned.left }))
    const cp: Checkpoint = {
      ...base,
      checkpointId: id,
      parentCheckpointId: base.checkpointId,
      step: base.step + 1,
      createdAt: stamp(),
      status: planned.right.tasks.length === 0 ? "completed" : "pending",
      values: applied.right.values,
      versions: applied.right.versions,
      tasks: planned.right.tasks,
      joins: planned.right.joins,
      interrupts: [],
      pending: [],
      pauseReason: undefined,
      metadata: { ...base.metadata, source: "update", asNode: node }
    }
    yield* store.commit({
      threadId,
      runId,
      expectedHead: head,
      snapshot: toEncoded(compiled, threadId, cp),
      writes: channelWrites(compiled, applied.right, false)
    })
    return cp
  })
  return Effect.ensuring(body, Effect.ignore(store.release(threadId, runId)))
}

/**
 * Hands a snapshot over to a thread (sync → async handover): commits it as the thread's new head
 * with its completed nodes marked `injected`, so a run continues from its pending tasks and never
 * executes those nodes again. Channel values are decoded first: a tampered value is refused.
 *
 * @internal
 */
export const importSnapshot = (
  compiled: Compiled,
  store: Backend,
  threadId: string,
  snapshot: WorkflowSnapshotEncoded
) => {
  const runId = Ids.make()
  const body = Effect.gen(function*() {
    const decoded = decodeCheckpoint(compiled, snapshot)
    if (Either.isLeft(decoded)) return yield* Effect.fail(decoded.left)
    const head = yield* store.claim(threadId, runId, { workflowId: compiled.id, leaseMillis: compiled.leaseMillis })
    const id = Ids.make()
    const nodeStates: Record<string, NodeState> = {}
    for (const [k, v] of Object.entries(decoded.right.nodeStates)) {
      nodeStates[k] = v.status === "completed" ? { ...v, injected: true } : v
    }
    // the tasks get ids under the new checkpoint; what refers to them (their pending writes,
    // journals and answers, their interrupts) follows, so nothing that finished runs again and
    // a paused snapshot is answered here as it would have been there
    const taskIds = new Map<string, string>()
    for (const t of decoded.right.tasks) taskIds.set(t.id, `${id}/${t.id.split("/").slice(1).join("/") || t.node}`)
    const renamed = (taskId: string) => taskIds.get(taskId) ?? taskId
    const source = decoded.right
    const open = source.tasks.length > 0
    const cp: Checkpoint = {
      ...source,
      checkpointId: id,
      parentCheckpointId: head,
      createdAt: stamp(),
      status: !open ? "completed" : source.status === "paused" || source.status === "failed" ? source.status : "running",
      tasks: source.tasks.map((t) => ({ ...t, id: renamed(t.id) })),
      nodeStates,
      interrupts: open
        ? source.interrupts.map((i) => ({
          ...i,
          taskId: renamed(i.taskId),
          id: i.child === true || !i.id.startsWith(`${i.taskId}#`) ? i.id : `${renamed(i.taskId)}${i.id.slice(i.taskId.length)}`
        }))
        : [],
      pending: open ? source.pending.filter((r) => taskIds.has(r.taskId)).map((r) => ({ ...r, taskId: renamed(r.taskId) })) : [],
      pauseReason: open && source.status === "paused" ? source.pauseReason : undefined,
      metadata: { ...source.metadata, handover: snapshot.checkpointId }
    }
    const writes: Array<ChannelWrite> = compiled.codecs
      .filter((c) => cp.values[c.name] !== undefined)
      .map((c) => ({ channel: c.name, mode: "set", value: Either.getOrThrow(c.encodeValue(cp.values[c.name])) }))
    // the carried-over task records are written with the checkpoint
    const snapshotOut = { ...toEncoded(compiled, threadId, cp), pendingWrites: cp.pending }
    yield* store.commit({ threadId, runId, expectedHead: head, snapshot: snapshotOut, writes })
    return cp
  })
  return Effect.ensuring(body, Effect.ignore(store.release(threadId, runId)))
}
