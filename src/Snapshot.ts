/**
 * The snapshot models: what the store keeps of each checkpoint of a thread, in their encoded
 * (JSON) form. Channel values are encoded with their channel's schema; decoding them again is the
 * graph's job, so stored bytes never revive classes or run code.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * @since 0.1.0
 * @category ids
 */
export const ThreadId = Schema.String.pipe(Schema.brand("ThreadId"))

/**
 * @since 0.1.0
 * @category ids
 */
export const CheckpointId = Schema.String.pipe(Schema.brand("CheckpointId"))

/**
 * @since 0.1.0
 * @category models
 */
export const SnapshotStatus = Schema.Literal("pending", "running", "paused", "completed", "failed")

/**
 * @since 0.1.0
 * @category models
 */
export type SnapshotStatus = typeof SnapshotStatus.Type

/**
 * @since 0.1.0
 * @category models
 */
export const NodeStatus = Schema.Literal("pending", "running", "completed", "failed", "interrupted", "skipped")

/**
 * @since 0.1.0
 * @category models
 */
export type NodeStatus = typeof NodeStatus.Type

/**
 * The state of one node in an execution (FlowDrop's `NodeSnapshot`).
 *
 * @since 0.1.0
 * @category models
 */
export class NodeSnapshot extends Schema.Class<NodeSnapshot>("NodeSnapshot")({
  nodeId: Schema.String,
  status: NodeStatus,
  output: Schema.optional(Schema.Unknown),
  error: Schema.optional(Schema.String),
  injected: Schema.Boolean,
  executionOrder: Schema.Int,
  attempts: Schema.Int,
  metadata: Schema.Record({ key: Schema.String, value: Schema.Unknown })
}) {}

/**
 * A task the step will run (or ran): a node, and for a `Send` its argument.
 *
 * @since 0.1.0
 * @category models
 */
export const TaskSpec = Schema.Struct({
  id: Schema.String,
  node: Schema.String,
  send: Schema.Boolean,
  arg: Schema.optional(Schema.Unknown)
})

/**
 * @since 0.1.0
 * @category models
 */
export type TaskSpec = typeof TaskSpec.Type

/**
 * An interrupt raised in a checkpoint's step; `request` is encoded with the kind's schema.
 *
 * @since 0.1.0
 * @category models
 */
export const InterruptRecord = Schema.Struct({
  id: Schema.String,
  kind: Schema.String,
  request: Schema.Unknown,
  node: Schema.String,
  taskId: Schema.String,
  status: Schema.Literal("pending", "answered"),
  /** set when the interrupt was raised by a child graph of the task (Task.call, subgraph) */
  child: Schema.optional(Schema.Boolean)
})

/**
 * @since 0.1.0
 * @category models
 */
export type InterruptRecord = typeof InterruptRecord.Type

/**
 * What one task of a step left behind before the step was committed: its writes when it
 * finished (the "pending writes"), the answers it has been given, its journal.
 *
 * @since 0.1.0
 * @category models
 */
export const TaskRecord = Schema.Struct({
  taskId: Schema.String,
  node: Schema.String,
  status: Schema.Literal("running", "done", "interrupted", "failed", "sleeping"),
  /** [channel, encoded update] in the order the node wrote them */
  writes: Schema.Array(Schema.Tuple(Schema.String, Schema.Unknown)),
  /** routing decided by the node (Command.goto): node names or sends */
  gotos: Schema.Array(Schema.Unknown),
  /** encoded answers, in ask order */
  answers: Schema.Array(Schema.Unknown),
  /** encoded answers of nested asks (`Task.forEach` children), by ask key */
  keyedAnswers: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
  /** journaled activity results (Task.activity) */
  journal: Schema.Array(Schema.Unknown),
  /** answers for a child graph's interrupts: interrupt id → { kind, encoded value } */
  forwarded: Schema.optional(Schema.Record({
    key: Schema.String,
    value: Schema.Struct({ kind: Schema.String, value: Schema.Unknown })
  })),
  error: Schema.optional(Schema.String)
})

/**
 * @since 0.1.0
 * @category models
 */
export type TaskRecord = typeof TaskRecord.Type

/**
 * One checkpoint of a thread: the state after a step and the tasks of the next one.
 *
 * @since 0.1.0
 * @category models
 */
export class WorkflowSnapshot extends Schema.Class<WorkflowSnapshot>("WorkflowSnapshot")({
  executionId: Schema.String,
  workflowId: Schema.String,
  workflowVersion: Schema.String,
  threadId: Schema.String,
  checkpointId: Schema.String,
  parentCheckpointId: Schema.NullOr(Schema.String),
  step: Schema.Int,
  status: SnapshotStatus,
  createdAt: Schema.Number,
  /** channel name → encoded value */
  channels: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  /** channel name → version (incremented on each write) */
  versions: Schema.Record({ key: Schema.String, value: Schema.Int }),
  tasks: Schema.Array(TaskSpec),
  /** join id → sources seen since its target last ran */
  joins: Schema.Record({ key: Schema.String, value: Schema.Array(Schema.String) }),
  nodeStates: Schema.Record({ key: Schema.String, value: NodeSnapshot }),
  interrupts: Schema.Array(InterruptRecord),
  pendingWrites: Schema.Array(TaskRecord),
  initialInput: Schema.optional(Schema.Unknown),
  error: Schema.optional(Schema.String),
  /** why the thread is paused: an interrupt, a breakpoint, or a durable sleep */
  pauseReason: Schema.optional(Schema.Literal("interrupt", "breakpoint", "sleeping")),
  wakeAt: Schema.optional(Schema.Number),
  metadata: Schema.Record({ key: Schema.String, value: Schema.Unknown })
}) {}

/**
 * The encoded form a backend stores.
 *
 * @since 0.1.0
 * @category models
 */
export type WorkflowSnapshotEncoded = typeof WorkflowSnapshot.Encoded
