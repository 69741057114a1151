/**
 * The bodies of the LangGraph-compatible API, as `@langchain/langgraph-sdk` sends and reads them
 * (snake_case), and FlowDrop's snapshot bodies.
 */
import * as Schema from "effect/Schema"

const Json = Schema.Unknown
const Metadata = Schema.Record({ key: Schema.String, value: Schema.Unknown })
const opt = <S extends Schema.Schema.Any>(s: S) => Schema.optional(Schema.NullOr(s))

/** @internal */
export const Permission = Schema.Literal("view", "edit", "delete", "administer")
/** @internal */
export type Permission = typeof Permission.Type

/** @internal */
export const Assistant = Schema.Struct({
  assistant_id: Schema.String,
  graph_id: Schema.String,
  config: Json,
  context: Json,
  created_at: Schema.String,
  updated_at: Schema.String,
  metadata: Metadata,
  version: Schema.Number,
  name: Schema.String,
  description: Schema.NullOr(Schema.String)
})

/** @internal */
export const AssistantSearch = Schema.Struct({
  graph_id: opt(Schema.String),
  name: opt(Schema.String),
  metadata: opt(Metadata),
  limit: opt(Schema.Int),
  offset: opt(Schema.Int)
})

/** @internal */
export const AssistantGraph = Schema.Struct({
  nodes: Schema.Array(Schema.Struct({ id: Schema.String, name: Schema.String, data: Json, metadata: Json })),
  edges: Schema.Array(Schema.Struct({ source: Schema.String, target: Schema.String, conditional: Schema.Boolean }))
})

/** @internal */
export const GraphSchemas = Schema.Struct({
  graph_id: Schema.String,
  input_schema: Json,
  output_schema: Json,
  state_schema: Json,
  config_schema: Json,
  context_schema: Json
})

/** A pending question, the way LangGraph's client reads it; `kind` and `response_schema` are ours. @internal */
export const Interrupt = Schema.Struct({
  id: Schema.String,
  value: Json,
  kind: Schema.String,
  when: Schema.String,
  resumable: Schema.Boolean,
  ns: Schema.Array(Schema.String),
  response_schema: Schema.optional(Json)
})

/** @internal */
export const ThreadStatus = Schema.Literal("idle", "busy", "interrupted", "error")

/** @internal */
export const Thread = Schema.Struct({
  thread_id: Schema.String,
  created_at: Schema.String,
  updated_at: Schema.String,
  state_updated_at: Schema.String,
  metadata: Metadata,
  status: ThreadStatus,
  values: Json,
  interrupts: Schema.Record({ key: Schema.String, value: Schema.Array(Interrupt) }),
  error: Schema.NullOr(Schema.String)
})

/** @internal */
export const ThreadCreate = Schema.Struct({
  thread_id: opt(Schema.String),
  metadata: opt(Metadata),
  if_exists: opt(Schema.Literal("raise", "do_nothing")),
  graph_id: opt(Schema.String)
})

/** @internal */
export const ThreadPatch = Schema.Struct({ metadata: opt(Metadata) })

/** @internal */
export const ThreadSearch = Schema.Struct({
  metadata: opt(Metadata),
  ids: opt(Schema.Array(Schema.String)),
  status: opt(ThreadStatus),
  limit: opt(Schema.Int),
  offset: opt(Schema.Int)
})

/** @internal */
export const ThreadCount = Schema.Struct({ metadata: opt(Metadata), status: opt(ThreadStatus) })

/** @internal */
export const Checkpoint = Schema.Struct({
  thread_id: Schema.String,
  checkpoint_ns: Schema.String,
  checkpoint_id: Schema.NullOr(Schema.String),
  checkpoint_map: Schema.NullOr(Json)
})

/** @internal */
export const ThreadTask = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  error: Schema.NullOr(Schema.String),
  interrupts: Schema.Array(Interrupt),
  checkpoint: Schema.NullOr(Checkpoint),
  state: Schema.Null
})

/** @internal */
export const ThreadState = Schema.Struct({
  values: Json,
  next: Schema.Array(Schema.String),
  checkpoint: Checkpoint,
  metadata: Metadata,
  created_at: Schema.NullOr(Schema.String),
  parent_checkpoint: Schema.NullOr(Checkpoint),
  tasks: Schema.Array(ThreadTask),
  interrupts: Schema.Array(Interrupt)
})

/** @internal */
export const StateUpdate = Schema.Struct({
  values: opt(Json),
  as_node: opt(Schema.String),
  checkpoint_id: opt(Schema.String),
  checkpoint: opt(Schema.Struct({ checkpoint_id: opt(Schema.String) }))
})

/** @internal */
export const StateAtCheckpoint = Schema.Struct({
  checkpoint: Schema.Struct({ checkpoint_id: opt(Schema.String) })
})

/** @internal */
export const HistoryRequest = Schema.Struct({
  limit: opt(Schema.Int),
  before: opt(Schema.Struct({ checkpoint_id: opt(Schema.String) })),
  checkpoint: opt(Schema.Struct({ checkpoint_id: opt(Schema.String) }))
})

/** @internal */
export const MultitaskStrategy = Schema.Literal("reject", "interrupt", "rollback", "enqueue")

/** @internal */
export const RunStatus = Schema.Literal("pending", "running", "error", "success", "timeout", "interrupted")

/** @internal */
export const Run = Schema.Struct({
  run_id: Schema.String,
  thread_id: Schema.String,
  assistant_id: Schema.String,
  created_at: Schema.String,
  updated_at: Schema.String,
  status: RunStatus,
  metadata: Metadata,
  multitask_strategy: Schema.NullOr(MultitaskStrategy),
  kwargs: Json
})

const Breakpoints = Schema.Union(Schema.Literal("*"), Schema.Array(Schema.String))

/** @internal */
export const Command = Schema.Struct({
  resume: Schema.optional(Json),
  update: opt(Json),
  goto: opt(Schema.Union(Schema.String, Schema.Array(Schema.String)))
})

/** What creating a run takes (the client's snake_case payload; fields we do not use are ignored). @internal */
export const RunCreate = Schema.Struct({
  assistant_id: Schema.String,
  input: opt(Json),
  command: opt(Command),
  metadata: opt(Metadata),
  config: opt(Json),
  context: opt(Json),
  stream_mode: opt(Schema.Union(Schema.String, Schema.Array(Schema.String))),
  stream_subgraphs: opt(Schema.Boolean),
  stream_resumable: opt(Schema.Boolean),
  interrupt_before: opt(Breakpoints),
  interrupt_after: opt(Breakpoints),
  checkpoint_id: opt(Schema.String),
  checkpoint: opt(Schema.Struct({ checkpoint_id: opt(Schema.String) })),
  multitask_strategy: opt(MultitaskStrategy),
  if_not_exists: opt(Schema.Literal("create", "reject")),
  on_completion: opt(Schema.Literal("delete", "keep")),
  on_disconnect: opt(Schema.Literal("cancel", "continue")),
  after_seconds: opt(Schema.Number)
})
/** @internal */
export type RunCreate = typeof RunCreate.Type

/** @internal */
export const RunList = Schema.Struct({
  limit: Schema.optional(Schema.NumberFromString),
  offset: Schema.optional(Schema.NumberFromString),
  status: Schema.optional(RunStatus)
})

/** @internal */
export const CancelParams = Schema.Struct({
  wait: Schema.optional(Schema.Literal("0", "1", "true", "false")),
  action: Schema.optional(Schema.Literal("interrupt", "rollback"))
})

/** @internal */
export const StreamParams = Schema.Struct({
  cancel_on_disconnect: Schema.optional(Schema.String),
  stream_mode: Schema.optional(Schema.Union(Schema.String, Schema.Array(Schema.String)))
})

/** @internal */
export const LastEventId = Schema.Struct({ "last-event-id": Schema.optional(Schema.String) })

// ---------------------------------------------------------------------------------------------
// FlowDrop snapshots
// ---------------------------------------------------------------------------------------------

/** @internal */
export const FlowDropNode = Schema.Struct({
  nodeId: Schema.String,
  status: Schema.String,
  output: Schema.optional(Json),
  error: Schema.optional(Schema.NullOr(Schema.String)),
  injected: Schema.Boolean,
  executionOrder: Schema.Number,
  attempts: Schema.optional(Schema.Number),
  metadata: Schema.optional(Metadata)
})

/** @internal */
export const FlowDropSnapshot = Schema.Struct({
  executionId: Schema.String,
  workflowId: Schema.String,
  workflowVersion: Schema.String,
  threadId: Schema.String,
  checkpointId: Schema.String,
  status: Schema.String,
  nodeStates: Schema.Record({ key: Schema.String, value: FlowDropNode }),
  initialInput: Schema.optional(Json),
  messages: Schema.optional(Json),
  metadata: Metadata,
  createdAt: Schema.String
})

/** @internal */
export const SnapshotResponse = Schema.Struct({ success: Schema.Literal(true), snapshot: FlowDropSnapshot })

/** @internal */
export const SnapshotList = Schema.Struct({
  success: Schema.Literal(true),
  snapshots: Schema.Array(FlowDropSnapshot),
  count: Schema.Number
})

/** @internal */
export const SnapshotDeleted = Schema.Struct({ success: Schema.Literal(true), executionId: Schema.String, deleted: Schema.Number })

/** What `POST /api/snapshots` takes: FlowDrop's snapshot, most fields optional. @internal */
export const SnapshotSave = Schema.Struct({
  workflowId: Schema.String,
  workflowVersion: Schema.String,
  executionId: Schema.optional(Schema.String),
  threadId: Schema.optional(Schema.String),
  status: Schema.optional(Schema.Literal("pending", "running", "paused", "completed", "failed")),
  nodeStates: Schema.optional(Schema.Record({
    key: Schema.String,
    value: Schema.Struct({
      nodeId: Schema.optional(Schema.String),
      status: Schema.Literal("pending", "running", "completed", "failed", "interrupted", "skipped"),
      output: Schema.optional(Json),
      error: Schema.optional(Schema.NullOr(Schema.String)),
      injected: Schema.optional(Schema.Boolean),
      executionOrder: Schema.optional(Schema.Int),
      metadata: Schema.optional(Metadata)
    })
  })),
  initialInput: Schema.optional(Json),
  metadata: Schema.optional(Metadata)
})

/** @internal */
export const SnapshotQuery = Schema.Struct({
  workflowId: Schema.optional(Schema.String),
  threadId: Schema.optional(Schema.String),
  /** FlowDrop's PHP spelling */
  workflow_id: Schema.optional(Schema.String),
  thread_id: Schema.optional(Schema.String),
  limit: Schema.optional(Schema.NumberFromString)
})
