/**
 * The bodies of the inspector's own routes (`/inspector/api/*`): who the caller is and the graphs
 * it may see (with their Mermaid drawings), a page of threads with counts per status, every
 * checkpoint of a thread (all branches), a thread's pipelines and jobs, and the cleanup form.
 */
import * as Schema from "effect/Schema"

const Json = Schema.Unknown
const opt = <S extends Schema.Schema.Any>(s: S) => Schema.optional(Schema.NullOr(s))

/** @internal */
export const GraphInfo = Schema.Struct({
  graph_id: Schema.String,
  version: Schema.String,
  nodes: Schema.Array(Schema.String),
  /** `graph.toMermaid()`: the page draws it */
  mermaid: Schema.String,
  /** channel name → JSON Schema of its update (for the start and update-state forms) */
  channels: Schema.Record({ key: Schema.String, value: Json })
})

/** @internal */
export const Session = Schema.Struct({
  name: Schema.String,
  permissions: Schema.Array(Schema.String),
  /** the graphs the token is scoped to (null: all) */
  scope: Schema.NullOr(Schema.Array(Schema.String)),
  auth: Schema.Boolean,
  graphs: Schema.Array(GraphInfo)
})

/** @internal */
export const ThreadQuery = Schema.Struct({
  /** a substring of the thread id */
  q: opt(Schema.String),
  graph_id: opt(Schema.String),
  status: opt(Schema.Literal("idle", "busy", "interrupted", "error")),
  limit: opt(Schema.Int),
  offset: opt(Schema.Int)
})

/** @internal */
export const ThreadRow = Schema.Struct({
  thread_id: Schema.String,
  graph_id: Schema.NullOr(Schema.String),
  status: Schema.String,
  created_at: Schema.String,
  updated_at: Schema.String,
  /** pending questions */
  questions: Schema.Number
})

/** @internal */
export const ThreadPage = Schema.Struct({
  threads: Schema.Array(ThreadRow),
  /** threads matching the query (all pages) */
  total: Schema.Number,
  /** threads matching the query but its status, per status */
  counts: Schema.Record({ key: Schema.String, value: Schema.Number })
})

/** @internal */
export const CheckpointRow = Schema.Struct({
  checkpoint_id: Schema.String,
  parent_checkpoint_id: Schema.NullOr(Schema.String),
  execution_id: Schema.String,
  step: Schema.Number,
  status: Schema.String,
  created_at: Schema.String,
  next: Schema.Array(Schema.String),
  /** FlowDrop's node states of the checkpoint */
  node_states: Schema.Record({ key: Schema.String, value: Json }),
  metadata: Schema.Record({ key: Schema.String, value: Json })
})

/** @internal */
export const Checkpoints = Schema.Struct({
  head: Schema.NullOr(Schema.String),
  checkpoints: Schema.Array(CheckpointRow)
})

/** @internal */
export const Pipelines = Schema.Struct({
  /** false: no pipeline store in this server (runs are the server's own queue only) */
  available: Schema.Boolean,
  pipelines: Schema.Array(Schema.Struct({ pipeline: Json, jobs: Schema.Array(Json) }))
})

/** @internal */
export const CleanupRequest = Schema.Struct({
  older_than_ms: Schema.Number.pipe(Schema.nonNegative()),
  statuses: Schema.Array(Schema.Literal("pending", "running", "paused", "completed", "failed")).pipe(Schema.minItems(1)),
  dry_run: Schema.Boolean
})

/** @internal */
export const CleanupResult = Schema.Struct({
  dry_run: Schema.Boolean,
  /** checkpoints removed (dry run: that would be) */
  count: Schema.Number
})
