/**
 * The engine's model: the decoded checkpoint a run works on, what a task leaves behind, what a
 * run is asked to do and what a stream sees. Types only, no behaviour.
 */
import type * as Effect from "effect/Effect"
import type * as Interrupt from "../../Interrupt.js"
import type { Send } from "../../Send.js"
import type { Backend } from "../../Snapshots.js"
import type { Compiled } from "../graph.js"
import type { InterruptRecord, NodeSnapshot, TaskRecord, TaskSpec } from "../../Snapshot.js"
import type { TaskOutput } from "./algo.js"
import type { Tally } from "./telemetry.js"

/** A node's state as stored: the encoded `NodeSnapshot` (one model, not two). @internal */
export type NodeState = typeof NodeSnapshot.Encoded

/** The decoded checkpoint the engine works on. @internal */
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
  | TaskPart
  | { readonly mode: "checkpoints"; readonly checkpoint: ThreadStateOf }

/**
 * A `tasks` stream part: a task started (with its input) or finished (with its result, an update
 * of type `U`). Public as `StateGraph.TaskPart<S>` (with `U` the state's update). @internal
 */
export type TaskPart<U = Record<string, unknown>> =
  | {
    readonly mode: "tasks"
    readonly event: "started"
    readonly step: number
    readonly node: string
    readonly taskId: string
    readonly input: unknown
  }
  | {
    readonly mode: "tasks"
    readonly event: "finished"
    readonly step: number
    readonly node: string
    readonly taskId: string
    /** `handoff`: the task's child graph handed off to its parent (`result` is the update) */
    readonly status: "done" | "failed" | "interrupted" | "sleeping" | "handoff"
    readonly result?: U | undefined
    readonly error?: string | undefined
    readonly interrupts: ReadonlyArray<{ readonly id: string; readonly kind: string; readonly request: unknown }>
    /** for a node with a cache policy: whether the result came from the cache */
    readonly cache?: "hit" | "miss" | undefined
  }

/** A checkpoint as `getState` returns it (see `threadState`). @internal */
export interface ThreadStateOf {
  readonly threadId: string
  readonly checkpointId: string
  readonly parentCheckpointId: string | null
  readonly executionId: string
  readonly step: number
  readonly status: Checkpoint["status"]
  readonly createdAt: Date
  readonly values: Readonly<Record<string, unknown>>
  readonly next: ReadonlyArray<string>
  readonly tasks: ReadonlyArray<{ readonly id: string; readonly node: string }>
  readonly interrupts: ReadonlyArray<unknown>
  readonly nodeStates: Readonly<Record<string, NodeState>>
  readonly pauseReason: Checkpoint["pauseReason"]
  readonly error: string | undefined
  readonly metadata: Readonly<Record<string, unknown>>
}

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
  | {
    readonly _tag: "Resume"
    readonly answers: ReadonlyArray<Interrupt.Answer<string, unknown>>
    /** a state update committed with the answers, as one checkpoint */
    readonly update?: unknown
  }

/**
 * The caller's run policy: where an orchestrator stops the engine short of the end. A plain
 * run (`invoke`, `resume`) has none.
 *
 * @internal
 */
export interface RunPolicy {
  /** stop after these many steps, leaving the thread running (handover; 0: record the start only) */
  readonly stopAfterSteps?: number | undefined
  /** stop after a step in which one of these nodes ran (handover) */
  readonly stopAfterNodes?: ReadonlySet<string> | undefined
  /** in the first step, run only these tasks (a job of the async orchestrator) */
  readonly onlyTasks?: ReadonlySet<string> | undefined
  /** keep the claim on the thread at the end (other jobs of the run continue) */
  readonly keepClaim?: boolean | undefined
  /** asked before each step: true stops the run there (its finished steps kept, the thread left running) */
  readonly stopRequested?: (() => boolean) | undefined
}

/** @internal */
export interface RunConfig {
  readonly threadId?: string | undefined
  readonly checkpointId?: string | undefined
  readonly allowVersionChange?: boolean | undefined
  readonly metadata?: Record<string, unknown> | undefined
  readonly emit?: ((part: StreamPart) => Effect.Effect<void>) | undefined
  readonly modes?: ReadonlySet<string> | undefined
  /** run as this run id (a pipeline that owns the thread across jobs) */
  readonly runId?: string | undefined
  /** the run is a child graph's, run by a parent's task: `Command.parent` hands off to it */
  readonly parent?: boolean | undefined
  /** stream the parts of child graphs too (each with its `namespace`) */
  readonly subgraphs?: boolean | undefined
  /** this run's place under the streamed run: `node:taskId` of each parent task */
  readonly namespace?: ReadonlyArray<string> | undefined
}

/** What a task leaves for its record: its answers, journal and forwarded child answers. @internal */
export interface TaskMemory {
  readonly answers: ReadonlyArray<unknown>
  readonly keyedAnswers: Readonly<Record<string, unknown>> | undefined
  readonly journal: ReadonlyArray<unknown>
  readonly forwarded: Forwarded | undefined
}

/** Answers for a task's child graphs, by the child interrupt's id (encoded values). @internal */
export type Forwarded = Readonly<Record<string, { readonly kind: string; readonly value: unknown }>>

/** How one task of a step ended. @internal */
export type TaskOutcome =
  | {
    readonly _tag: "Done"
    readonly task: TaskSpec
    readonly output: TaskOutput
    readonly memory: TaskMemory
    readonly attempts: number
  }
  | {
    readonly _tag: "Interrupted"
    readonly task: TaskSpec
    readonly records: ReadonlyArray<InterruptRecord>
    readonly memory: TaskMemory
    readonly attempts: number
  }
  | {
    readonly _tag: "Sleeping"
    readonly task: TaskSpec
    readonly wakeAt: number
    readonly memory: TaskMemory
    readonly attempts: number
  }
  | {
    readonly _tag: "Failed"
    readonly task: TaskSpec
    readonly error: unknown
    readonly memory: TaskMemory
    /** how many times the node ran in this run (its retries included) */
    readonly attempts: number
  }

/** @internal */
export type Done = Extract<TaskOutcome, { _tag: "Done" }>

/** Answers given to a task by a resume: its own (ask order), nested (by key), for its child graphs. @internal */
export interface Given {
  readonly answers: ReadonlyArray<unknown>
  readonly keyed?: Readonly<Record<string, unknown>> | undefined
  readonly forwarded?: Forwarded | undefined
}

/** A finished task as the apply and plan steps see it. @internal */
export interface Finished {
  readonly node: string
  readonly taskId: string
  readonly writes: ReadonlyArray<readonly [string, unknown]>
  readonly gotos: ReadonlyArray<string | Send>
  readonly attempts: number
}

/** One run of a graph: who it runs as, where it stores, and what it holds. @internal */
export interface Run {
  /** set once the claim was given back with the run's last write */
  released: boolean
  /** stops the claim's renewals (set once the run holds the claim) */
  stopHeartbeat?: (() => void) | undefined
  /** the run's counts, added to the metrics when it ends (by the claim's finalizer, for a stored run) */
  tally?: Tally | undefined
  readonly compiled: Compiled
  readonly store: Backend | undefined
  readonly threadId: string | undefined
  readonly runId: string
  readonly config: RunConfig
  readonly policy: RunPolicy
  readonly modes: ReadonlySet<string>
}

/**
 * How a run ended, as a value: the facade turns `Paused` into `GraphInterrupted`, `Sleeping`
 * into `ThreadSleeping` and `Failed` into the node's error; orchestrators match on it.
 * `Failed` is a run that recorded its thread as failed (a node's error, an invalid update);
 * other errors (the store's, the recursion limit, a refused request) fail the effect.
 *
 * @internal
 */
export type RunOutcome =
  | { readonly _tag: "Completed"; readonly checkpoint: Checkpoint }
  | {
    readonly _tag: "Paused"
    readonly checkpoint: Checkpoint
    /** the pending interrupts */
    readonly interrupts: ReadonlyArray<InterruptRecord>
  }
  | { readonly _tag: "Sleeping"; readonly checkpoint: Checkpoint; readonly wakeAt: number }
  /** stopped by the caller's policy (stop after steps or nodes, a job's tasks done), the thread open */
  | { readonly _tag: "Stopped"; readonly checkpoint: Checkpoint }
  | { readonly _tag: "Failed"; readonly checkpoint: Checkpoint; readonly error: unknown }
