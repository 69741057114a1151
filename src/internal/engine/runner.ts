/**
 * Runs one task: the node with its retry schedule and timeout, its journal (replayed on a
 * re-run, saved as it grows), its answers, and how it ended — done, interrupted, sleeping or
 * failed. Never fails: every ending is a `TaskOutcome`.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { NodeFailed, NodeTimeout } from "../../GraphError.js"
import * as Interrupt from "../../Interrupt.js"
import type { InterruptRecord, TaskRecord, TaskSpec } from "../../Snapshot.js"
import type { Backend } from "../../Snapshots.js"
import type { CachePolicy, Compiled } from "../graph.js"
import { interruptId, type JournalEntry, type ScopeHolder, type TaskScope } from "../task.js"
import * as algo from "./algo.js"
import { HANDOFF, Handoff } from "./handoff.js"
import { isParentCommand } from "../../Command.js"
import { renderError } from "./codec.js"
import type { RunConfig, StreamPart, TaskMemory, TaskOutcome } from "./model.js"
import type { Observer } from "./observer.js"

/** Per-run facts every task needs. @internal */
export interface TaskEnv {
  readonly compiled: Compiled
  readonly threadId: string | undefined
  readonly store: Backend | undefined
  readonly runId: string
  readonly persist: boolean
  readonly emit: RunConfig["emit"]
  readonly modes: ReadonlySet<string>
  /** waits until the checkpoints queued by async durability are stored (a task's record needs its step's) */
  readonly stored: Effect.Effect<void, unknown>
  /** the caller's observer of task facts */
  readonly observer: Observer | undefined
  /** where this run's graph sits under the streamed run ([] at the root) */
  readonly namespace: ReadonlyArray<string>
  /** child graphs stream their parts into this run's stream */
  readonly subgraphs: boolean
}

/** One task to run. @internal */
export interface TaskRun {
  readonly env: TaskEnv
  readonly checkpointId: string
  readonly step: number
  readonly state: Readonly<Record<string, unknown>>
  readonly task: TaskSpec
  /** the task's record from an earlier run of this step (answers, journal) */
  readonly previous: TaskRecord | undefined
  /** its own answers, in ask order */
  readonly answers: ReadonlyArray<unknown>
  /** answers to nested asks (Task.forEach children), by key */
  readonly keyedAnswers: Readonly<Record<string, unknown>>
  /** the step's checkpoint is stored, so the task's journal can be saved with it */
  readonly stored: boolean
  /** where the task's scope is set while it runs (the run's, or the task's own in a parallel step) */
  readonly holder: ScopeHolder
}

/**
 * The journal of a task whose node failed, for its re-run: recorded failures are dropped so the
 * failed work is tried again; successes are still replayed.
 */
const retryable = (journal: ReadonlyArray<JournalEntry>): Array<JournalEntry> =>
  journal.map((entry): JournalEntry => {
    if (entry === null || entry === undefined) return entry
    // an empty slot: the activity runs again
    if (entry.type === "activity" && entry.exit === "failure") return undefined as unknown as JournalEntry
    if (entry.type === "forEach") {
      const children: Record<string, { readonly exit: "success" | "failure"; readonly value: unknown }> = {}
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

/** The task's scope: what `Task.*` and `ask` read and write while the node runs. */
const scopeOf = (run: TaskRun, journal: Array<JournalEntry>): TaskScope => {
  const { env, task, answers, keyedAnswers, previous } = run
  // durability "exit" stores no checkpoint between the first and the last: a task of those
  // steps keeps its journal in memory (a crash re-runs the run from its last stored checkpoint)
  const persist: Effect.Effect<void, unknown> = env.persist && run.stored
    ? Effect.suspend(() =>
      // with async durability the step's checkpoint may still be queued
      Effect.zipRight(env.stored, env.store!.putTask(env.threadId!, env.runId, run.checkpointId, {
        taskId: task.id,
        node: task.node,
        status: "running",
        writes: [],
        gotos: [],
        answers,
        ...(isEmpty(keyedAnswers) ? {} : { keyedAnswers }),
        journal: [...journal],
        ...(previous?.forwarded !== undefined ? { forwarded: previous.forwarded } : {})
      }))
    )
    : Effect.void
  return {
    threadId: env.threadId,
    checkpointId: run.checkpointId,
    taskId: task.id,
    node: task.node,
    path: "",
    answers,
    keyedAnswers,
    askIndex: 0,
    journal,
    journalIndex: 0,
    persist,
    durable: env.persist,
    sleepThresholdMillis: env.compiled.sleepThresholdMillis,
    pause: { asks: [], child: [], sleep: undefined },
    forwarded: previous?.forwarded ?? {},
    emit: env.emit,
    modes: env.modes,
    store: env.store,
    runId: env.runId,
    kinds: env.compiled.kinds,
    namespace: env.namespace,
    subgraphs: env.subgraphs
  }
}

/** The interrupt records of a paused task: its own asks, then its child graphs' interrupts. */
const pauseRecords = (task: TaskSpec, scope: TaskScope): ReadonlyArray<InterruptRecord> => [
  ...scope.pause.asks.map((ask) => ({
    id: interruptId(task.id, ask.key),
    kind: ask.kind,
    request: ask.request,
    node: task.node,
    taskId: task.id,
    status: "pending" as const
  })),
  ...scope.pause.child.map((c) => ({
    id: c.id,
    kind: c.kind,
    request: c.request,
    node: task.node,
    taskId: task.id,
    status: "pending" as const,
    child: true
  }))
]

/** What a task remembers when it ends: its answers, journal and forwarded answers. */
const memoryOf = (run: TaskRun, journal: ReadonlyArray<JournalEntry>): TaskMemory => ({
  answers: run.answers,
  keyedAnswers: isEmpty(run.keyedAnswers) ? undefined : run.keyedAnswers,
  journal: journal.length === 0 ? noJournal : [...journal],
  forwarded: run.previous?.forwarded
})

const noJournal: ReadonlyArray<JournalEntry> = []

const isEmpty = (o: Readonly<Record<string, unknown>>): boolean => {
  for (const _ in o) return false
  return true
}

/** How a successful attempt reads as the task's outcome: its output, validated. */
const doneOf = (run: TaskRun, value: unknown, memory: TaskMemory, attempts: number): TaskOutcome => {
  const { task } = run
  if (isParentCommand(value)) {
    // for the parent graph: this run ends here, the parent's task takes the command
    const error = new Handoff({ graphId: run.env.compiled.id, node: task.node, command: value })
    return { _tag: "Failed", task, error, memory, attempts }
  }
  const output = algo.normalizeOutput(run.env.compiled, task.node, value)
  if (Either.isLeft(output)) return { _tag: "Failed", task, error: output.left, memory, attempts }
  return { _tag: "Done", task, output: output.right, memory, attempts }
}

/**
 * A task whose child graph handed off to this graph: done, with the command's update as its
 * writes and its gotos as its routing (marked, so its node's own edges do not fire).
 */
const handedOff = (run: TaskRun, handoff: Handoff, memory: TaskMemory, attempts: number): TaskOutcome => {
  const { task } = run
  const { update, goto } = handoff.command
  const output = algo.normalizeOutput(run.env.compiled, task.node, { _tag: "Command", update, goto })
  if (Either.isLeft(output)) return { _tag: "Failed", task, error: output.left, memory, attempts }
  return { _tag: "Done", task, output: { writes: output.right.writes, gotos: [HANDOFF, ...output.right.gotos] }, memory, attempts }
}

/** How a failed attempt reads as the task's outcome: paused, sleeping or failed. */
const failedOf = (
  run: TaskRun,
  scope: TaskScope,
  cause: Cause.Cause<unknown>,
  memory: TaskMemory,
  attempts: number
): TaskOutcome => {
  const { task } = run
  const { asks, child, sleep } = scope.pause
  const failure = Cause.failureOption(cause)
  const error = Option.getOrUndefined(failure)
  if (error instanceof Handoff) return handedOff(run, error, memory, attempts)
  // paused on questions: its own asks (several, from Task.forEach children) and its child
  // graphs' interrupts; a sleeping sibling child sleeps again when the task re-runs
  const paused = (asks.length > 0 || child.length > 0) &&
    (Option.isSome(failure) ? child.length > 0 || Interrupt.isInterrupt(error) : sleep !== undefined)
  if (paused) return { _tag: "Interrupted", task, memory, records: pauseRecords(task, scope), attempts }
  if (sleep !== undefined) return { _tag: "Sleeping", task, wakeAt: sleep, memory, attempts }
  if (Option.isSome(failure)) return { _tag: "Failed", task, error, memory, attempts }
  return {
    _tag: "Failed",
    task,
    memory,
    attempts,
    error: new NodeFailed({ node: task.node, taskId: task.id, cause: Cause.pretty(cause) })
  }
}

/** The node's run with its timeout and retry schedule; `begin` resets the scope before each attempt. */
const attemptOf = (run: TaskRun, scope: TaskScope, begin: () => void): Effect.Effect<unknown, unknown, unknown> => {
  const { task } = run
  const node = run.env.compiled.nodes[task.node]!
  let attempt: Effect.Effect<unknown, unknown, unknown> = Effect.suspend(() => {
    begin()
    return node.run(task.send ? task.arg : run.state)
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
      while: (e: unknown) =>
        !Interrupt.isInterrupt(e) && !(e instanceof Handoff) && scope.pause.sleep === undefined && scope.pause.child.length === 0
    })
  }
  return attempt
}

/** Runs one task to its outcome (events `TaskStarted` and its ending when asked for). @internal */
export const runTask = (run: TaskRun): Effect.Effect<TaskOutcome, never, unknown> => {
  const cache = run.env.compiled.nodes[run.task.node]!.cache
  return cache === undefined ? runNode(run, undefined) : cachedTask(run, cache)
}

/**
 * A node with a cache policy: a task whose key (from its input) was seen within the ttl ends
 * with the writes and routing stored then, without running; otherwise it runs, and a finished
 * run is stored under its key.
 */
const cachedTask = (run: TaskRun, policy: CachePolicy): Effect.Effect<TaskOutcome, never, unknown> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => {
    const { compiled } = run.env
    const key = cacheKey(run, policy)
    if (key === undefined) return runNode(run, undefined)
    const hit = compiled.cache.get(key)
    if (hit !== undefined && hit.expires > now) {
      const memory: TaskMemory = { answers: run.answers, keyedAnswers: undefined, journal: noJournal, forwarded: undefined }
      const outcome: TaskOutcome = { _tag: "Done", task: run.task, output: hit.output, memory, attempts: 0 }
      return withParts(run, Effect.sync(() => (run.env.observer?.taskEnded({ step: run.step, outcome }), outcome)), "hit")
    }
    if (hit !== undefined) compiled.cache.delete(key)
    return Effect.tap(runNode(run, "miss"), (o) => {
      if (o._tag === "Done") {
        const ttl = policy.ttl === undefined ? Infinity : Duration.toMillis(policy.ttl)
        compiled.cache.set(key, { expires: now + ttl, output: o.output })
      }
    })
  })

/** The task's cache key: its node and the policy's key of its input (its JSON by default); none when it has none. */
const cacheKey = (run: TaskRun, policy: CachePolicy): string | undefined => {
  const input = run.task.send ? run.task.arg : run.state
  try {
    const key = policy.key !== undefined ? policy.key(input) : JSON.stringify(input)
    return key === undefined ? undefined : `${run.task.node}\u0000${key}`
  } catch {
    // an input JSON cannot hold (a cycle, a bigint): not cached
    return undefined
  }
}

/** Runs the node to its outcome, with its stream parts. */
const runNode = (run: TaskRun, cache: "hit" | "miss" | undefined): Effect.Effect<TaskOutcome, never, unknown> => {
  const { env, previous, step, holder } = run
  const journal: Array<JournalEntry> = previous === undefined
    ? []
    : previous.status === "failed"
    ? retryable(previous.journal as Array<JournalEntry>)
    : [...(previous.journal as Array<JournalEntry>)]
  const scope = scopeOf(run, journal)
  let attempts = 0
  const attempt = attemptOf(run, scope, () => {
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
  })
  const ended = (outcome: TaskOutcome): TaskOutcome => {
    env.observer?.taskEnded({ step, outcome })
    return outcome
  }
  const outcome = Effect.matchCause(attempt, {
    onFailure: (cause) => {
      holder.scope = undefined
      return ended(failedOf(run, scope, cause, memoryOf(run, journal), attempts))
    },
    onSuccess: (value) => {
      holder.scope = undefined
      return ended(doneOf(run, value, memoryOf(run, journal), attempts))
    }
  })
  return withParts(run, outcome, cache)
}

/** A task's outcome with its `events` and `tasks` stream parts, when the stream asked for them. */
const withParts = (
  run: TaskRun,
  outcome: Effect.Effect<TaskOutcome, never, unknown>,
  cache: "hit" | "miss" | undefined
): Effect.Effect<TaskOutcome, never, unknown> => {
  const { env, task, step } = run
  const { emit, modes } = env
  if (emit === undefined) return outcome
  const events = modes.has("events")
  const tasks = modes.has("tasks")
  if (!events && !tasks) return outcome
  const started = Effect.suspend(() =>
    Effect.zipRight(
      events ? emit({ mode: "events", event: { _tag: "TaskStarted", step, node: task.node, taskId: task.id } }) : Effect.void,
      tasks ? emit(taskStarted(run)) : Effect.void
    )
  )
  return Effect.zipRight(
    started,
    Effect.tap(outcome, (o) =>
      Effect.zipRight(
        events
          ? emit({
            mode: "events",
            event: o._tag === "Done"
              ? { _tag: "TaskFinished", step, node: task.node, taskId: task.id }
              : o._tag === "Failed"
              ? { _tag: "TaskFailed", step, node: task.node, taskId: task.id, error: renderError(o.error) }
              : { _tag: "TaskInterrupted", step, node: task.node, taskId: task.id }
          })
          : Effect.void,
        tasks ? emit(taskFinished(run, o, cache)) : Effect.void
      ))
  )
}

/** The `tasks` stream part of a task starting: its node, id and input. */
const taskStarted = (run: TaskRun): StreamPart => ({
  mode: "tasks",
  event: "started",
  step: run.step,
  node: run.task.node,
  taskId: run.task.id,
  input: run.task.send ? run.task.arg : run.state
})

/** The `tasks` stream part of a task ending: its result (the update), error or interrupts. */
const taskFinished = (run: TaskRun, o: TaskOutcome, cache: "hit" | "miss" | undefined): StreamPart => {
  const base = {
    mode: "tasks",
    event: "finished",
    step: run.step,
    node: run.task.node,
    taskId: run.task.id,
    ...(cache !== undefined ? { cache } : {})
  } as const
  switch (o._tag) {
    case "Done": {
      return { ...base, status: "done", result: algo.mergedUpdate(o.output.writes), interrupts: [] }
    }
    case "Failed":
      return o.error instanceof Handoff
        ? { ...base, status: "handoff", result: (o.error.command.update ?? {}) as Record<string, unknown>, interrupts: [] }
        : { ...base, status: "failed", error: renderError(o.error), interrupts: [] }
    case "Interrupted":
      return { ...base, status: "interrupted", interrupts: o.records.map((r) => ({ id: r.id, kind: r.kind, request: r.request })) }
    case "Sleeping":
      return { ...base, status: "sleeping", interrupts: [] }
  }
}
