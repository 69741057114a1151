/**
 * The engine's own typed errors. Node errors keep their own types; these are what the engine adds.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * An update that a channel refused: not a channel, a value its schema rejects, or a second
 * write to a last-value channel in one step. Nothing of the step is applied.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidUpdate extends Schema.TaggedError<InvalidUpdate>()("InvalidUpdate", {
  node: Schema.String,
  channel: Schema.String,
  issue: Schema.String
}) {
  override get message() {
    return `invalid update of channel "${this.channel}" by "${this.node}": ${this.issue}`
  }
}

/**
 * A graph that `compile` refused: unreachable node, edge out of END, no entry edge, …
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidGraph extends Schema.TaggedError<InvalidGraph>()("InvalidGraph", {
  graphId: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `invalid graph "${this.graphId}": ${this.reason}`
  }
}

/**
 * A run went past `recursionLimit` supersteps. The last good checkpoint stays.
 *
 * @since 0.1.0
 * @category errors
 */
export class RecursionLimitExceeded extends Schema.TaggedError<RecursionLimitExceeded>()("RecursionLimitExceeded", {
  limit: Schema.Number,
  threadId: Schema.optional(Schema.String)
}) {
  override get message() {
    return `recursion limit of ${this.limit} steps reached`
  }
}

/**
 * Another run of the thread is active (the store's compare-and-set on the thread's head failed).
 *
 * @since 0.1.0
 * @category errors
 */
export class ThreadBusy extends Schema.TaggedError<ThreadBusy>()("ThreadBusy", {
  threadId: Schema.String,
  /** the run holding the thread when the store refused, when one does */
  holder: Schema.optional(Schema.String),
  /** when that run's lease runs out unless it renews it (ms since epoch) */
  leaseUntil: Schema.optional(Schema.Number)
}) {
  override get message() {
    const held = this.holder === undefined
      ? "another run holds it"
      : `run ${this.holder} holds it${this.leaseUntil === undefined ? "" : ` until ${new Date(this.leaseUntil).toISOString()}`}`
    return `thread "${this.threadId}" is busy: ${held}`
  }
}

/**
 * `releaseLease` without `force` while the holder's lease is still running: the holder may be
 * alive (a long node); force it only when you know the holder is gone.
 *
 * @since 0.1.0
 * @category errors
 */
export class LeaseHeld extends Schema.TaggedError<LeaseHeld>()("LeaseHeld", {
  threadId: Schema.String,
  holder: Schema.String,
  leaseUntil: Schema.Number
}) {
  override get message() {
    return `thread "${this.threadId}" is held by run ${this.holder} until ${new Date(this.leaseUntil).toISOString()}: release it with force if that run is gone`
  }
}

/**
 * A run that no longer holds its thread (its lease ran out, another run took the thread over, or
 * an operator released it) tried to start an activity: the side effect is not started.
 *
 * @since 0.1.0
 * @category errors
 */
export class LeaseLost extends Schema.TaggedError<LeaseLost>()("LeaseLost", {
  threadId: Schema.String,
  runId: Schema.String,
  /** who holds the thread now, if anyone */
  holder: Schema.optional(Schema.String)
}) {
  override get message() {
    return `run ${this.runId} no longer holds thread "${this.threadId}"${this.holder === undefined ? "" : ` (run ${this.holder} does)`}: activity not started`
  }
}

/**
 * @since 0.1.0
 * @category errors
 */
export class ThreadNotFound extends Schema.TaggedError<ThreadNotFound>()("ThreadNotFound", {
  threadId: Schema.String
}) {
  override get message() {
    return `thread "${this.threadId}" not found`
  }
}

/**
 * @since 0.1.0
 * @category errors
 */
export class CheckpointNotFound extends Schema.TaggedError<CheckpointNotFound>()("CheckpointNotFound", {
  threadId: Schema.String,
  checkpointId: Schema.optional(Schema.String)
}) {
  override get message() {
    return `checkpoint "${this.checkpointId ?? "head"}" of thread "${this.threadId}" not found`
  }
}

/**
 * A task ran longer than its node's `timeout`; its fiber was interrupted.
 *
 * @since 0.1.0
 * @category errors
 */
export class NodeTimeout extends Schema.TaggedError<NodeTimeout>()("NodeTimeout", {
  node: Schema.String,
  taskId: Schema.String,
  timeoutMillis: Schema.Number
}) {
  override get message() {
    return `node "${this.node}" timed out after ${this.timeoutMillis} ms`
  }
}

/**
 * A node died (a defect, not a typed failure). The cause is rendered in `cause`.
 *
 * @since 0.1.0
 * @category errors
 */
export class NodeFailed extends Schema.TaggedError<NodeFailed>()("NodeFailed", {
  node: Schema.String,
  taskId: Schema.String,
  cause: Schema.String
}) {
  override get message() {
    return `node "${this.node}" died: ${this.cause}`
  }
}

/**
 * `invoke` with new input on a thread that is paused at an interrupt: answer it with `resume`,
 * or fork from a checkpoint.
 *
 * @since 0.1.0
 * @category errors
 */
export class ThreadPaused extends Schema.TaggedError<ThreadPaused>()("ThreadPaused", {
  threadId: Schema.String,
  interruptIds: Schema.Array(Schema.String)
}) {
  override get message() {
    return `thread "${this.threadId}" is paused; resume it (pending: ${this.interruptIds.join(", ")})`
  }
}

/**
 * A node went into a durable sleep (`Task.sleep`) on a persisted thread: the thread is paused
 * until `wakeAt`; `invoke(null, { threadId })` (or a worker) continues it.
 *
 * @since 0.1.0
 * @category errors
 */
export class ThreadSleeping extends Schema.TaggedError<ThreadSleeping>()("ThreadSleeping", {
  threadId: Schema.String,
  wakeAt: Schema.String
}) {
  override get message() {
    return `thread "${this.threadId}" sleeps until ${this.wakeAt}`
  }
}

/**
 * `resume` of a thread that is not paused.
 *
 * @since 0.1.0
 * @category errors
 */
export class ThreadNotPaused extends Schema.TaggedError<ThreadNotPaused>()("ThreadNotPaused", {
  threadId: Schema.String,
  status: Schema.String
}) {
  override get message() {
    return `thread "${this.threadId}" is not paused (status: ${this.status})`
  }
}

/**
 * An answer that names no pending interrupt of the thread (unknown id, or no pending interrupt
 * of that kind, or several of that kind and no id).
 *
 * @since 0.1.0
 * @category errors
 */
export class UnknownInterrupt extends Schema.TaggedError<UnknownInterrupt>()("UnknownInterrupt", {
  threadId: Schema.String,
  interruptId: Schema.optional(Schema.String),
  kind: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `no pending interrupt for answer (${this.kind}${this.interruptId ? " " + this.interruptId : ""}): ${this.reason}`
  }
}

/**
 * @since 0.1.0
 * @category errors
 */
export class InterruptAlreadyAnswered extends Schema.TaggedError<InterruptAlreadyAnswered>()(
  "InterruptAlreadyAnswered",
  { threadId: Schema.String, interruptId: Schema.String }
) {
  override get message() {
    return `interrupt "${this.interruptId}" was already answered`
  }
}

/**
 * An answer that the interrupt kind's response schema rejects.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidResumeValue extends Schema.TaggedError<InvalidResumeValue>()("InvalidResumeValue", {
  kind: Schema.String,
  interruptId: Schema.String,
  issue: Schema.String
}) {
  override get message() {
    return `invalid answer for ${this.kind} interrupt "${this.interruptId}": ${this.issue}`
  }
}

/**
 * A store failure (SQL error, I/O). The operation wrote nothing.
 *
 * @since 0.1.0
 * @category errors
 */
export class StoreError extends Schema.TaggedError<StoreError>()("StoreError", {
  operation: Schema.String,
  cause: Schema.Defect
}) {
  override get message() {
    return `store operation ${this.operation} failed: ${String((this.cause as { readonly message?: unknown } | null | undefined)?.message ?? this.cause)}`
  }
}

/**
 * A stored row that fails to decode (tampered, truncated, or written by an incompatible schema).
 *
 * @since 0.1.0
 * @category errors
 */
export class CorruptSnapshot extends Schema.TaggedError<CorruptSnapshot>()("CorruptSnapshot", {
  threadId: Schema.String,
  checkpointId: Schema.optional(Schema.String),
  issue: Schema.String
}) {
  override get message() {
    return `corrupt snapshot of thread "${this.threadId}": ${this.issue}`
  }
}

/**
 * The thread was written by another version of the graph (structure or schemas changed).
 *
 * @since 0.1.0
 * @category errors
 */
export class SnapshotVersionMismatch extends Schema.TaggedError<SnapshotVersionMismatch>()(
  "SnapshotVersionMismatch",
  { threadId: Schema.String, expected: Schema.String, found: Schema.String }
) {
  override get message() {
    return `thread "${this.threadId}" was written by graph version ${this.found}, this graph is ${this.expected}`
  }
}

/**
 * Errors of reading and writing threads.
 *
 * @since 0.1.0
 * @category errors
 */
export type StoreFailure = StoreError | CorruptSnapshot | SnapshotVersionMismatch

/**
 * The errors the engine itself may raise from `invoke` / `stream` / `resume`.
 *
 * @since 0.1.0
 * @category errors
 */
export type EngineError =
  | InvalidUpdate
  | RecursionLimitExceeded
  | ThreadBusy
  | ThreadNotFound
  | CheckpointNotFound
  | NodeTimeout
  | NodeFailed
  | ThreadPaused
  | ThreadSleeping
  | StoreFailure

/**
 * The errors of `resume` in addition to the engine's.
 *
 * @since 0.1.0
 * @category errors
 */
export type ResumeError = ThreadNotPaused | UnknownInterrupt | InterruptAlreadyAnswered | InvalidResumeValue
