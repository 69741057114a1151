/**
 * The rows of the SQL stores as read back (schemas and decoders) and the checks a read makes
 * before it hands a snapshot out; the parameters the listing statements end with.
 */
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { CorruptSnapshot } from "../../GraphError.js"
import { WorkflowSnapshot, type WorkflowSnapshotEncoded } from "../../Snapshot.js"
import type { ListOptions } from "../../Snapshots.js"
import { metadataMatches } from "../metadata.js"

export const Entry = Schema.Union(
  Schema.Tuple(Schema.String, Schema.NonNegativeInt),
  Schema.Struct({ v: Schema.optional(Schema.Unknown) })
)

export const CheckpointRow = Schema.Struct({
  thread_id: Schema.String,
  checkpoint_id: Schema.String,
  parent_id: Schema.NullOr(Schema.String),
  execution_id: Schema.String,
  workflow_id: Schema.String,
  workflow_version: Schema.String,
  step: Schema.Number,
  status: Schema.String,
  created_at: Schema.Number,
  wake_at: Schema.NullOr(Schema.Number),
  pause_reason: Schema.NullOr(Schema.String),
  error: Schema.NullOr(Schema.String),
  interrupts: Schema.parseJson(),
  node_states: Schema.parseJson(),
  channels: Schema.parseJson(Schema.Record({ key: Schema.String, value: Entry })),
  body: Schema.parseJson(Schema.Struct({
    versions: Schema.Unknown,
    tasks: Schema.Unknown,
    joins: Schema.Unknown,
    metadata: Schema.Unknown,
    initialInput: Schema.optional(Schema.Unknown),
    /** set when the initial input is the execution's (stored once in `stategraph_executions`) */
    executionInput: Schema.optional(Schema.Literal(1))
  })),
  execution_input: Schema.NullOr(Schema.parseJson())
})
export type CheckpointRow = typeof CheckpointRow.Type

export const TaskRow = Schema.Struct({ checkpoint_id: Schema.String, record: Schema.parseJson() })

export const BlobRow = Schema.Struct({
  channel: Schema.String,
  blob_id: Schema.String,
  prev: Schema.NullOr(Schema.String),
  data: Schema.String
})

export const ThreadRow = Schema.Struct({
  thread_id: Schema.String,
  workflow_id: Schema.String,
  head: Schema.NullOr(Schema.String),
  status: Schema.Literal("pending", "running", "paused", "completed", "failed"),
  updated_at: Schema.Number,
  wake_at: Schema.NullOr(Schema.Number)
})

export const decodeCheckpointRow = ParseResult.decodeUnknownEither(CheckpointRow)
export const decodeTaskRow = ParseResult.decodeUnknownEither(TaskRow)
export const decodeBlobRows = ParseResult.decodeUnknownEither(Schema.Array(BlobRow))
export const decodeThreadRows = ParseResult.decodeUnknownEither(Schema.Array(ThreadRow))
export const decodeChannelMap = ParseResult.decodeUnknownEither(Schema.parseJson(Schema.Record({ key: Schema.String, value: Entry })))
// the encoded side only: checks the structure without building class instances
export const validateSnapshot = ParseResult.validateEither(Schema.encodedSchema(WorkflowSnapshot))

/**
 * A pending question must belong to a task of its checkpoint (the task that asked and re-runs on
 * the answer); a breakpoint after a node names the task that ran before, so it is not checked.
 */
export const danglingInterrupt = (s: WorkflowSnapshotEncoded): string | undefined => {
  for (const i of s.interrupts) {
    if (i.status !== "pending" || i.kind === "Breakpoint") continue
    if (!s.tasks.some((t) => t.id === i.taskId)) return `interrupt ${i.id} belongs to task ${i.taskId}, which is not a task of the checkpoint`
  }
  return undefined
}

export const formatIssue = (issue: ParseResult.ParseIssue) => ParseResult.TreeFormatter.formatIssueSync(issue)

export const corrupt = (threadId: string, checkpointId: string | undefined, issue: string) =>
  new CorruptSnapshot({ threadId, checkpointId, issue })

export const statusParam = (status: ListOptions["status"]): string | null =>
  status === undefined ? null : JSON.stringify(typeof status === "string" ? [status] : status)

export const limitParam = (limit: number | undefined) => (limit === undefined ? -1 : Math.max(0, Math.floor(limit)))

/**
 * The parameters every listing statement ends with: before, status, limit. With a metadata
 * filter the statement reads without its limit: the rows are filtered (`byMetadata`), then cut.
 */
export const filterParams = (options: ListOptions | undefined): ReadonlyArray<unknown> => [
  options?.before ?? null,
  options?.before ?? null,
  statusParam(options?.status),
  statusParam(options?.status),
  limitParam(options?.metadata === undefined ? options?.limit : undefined)
]

/** The rows whose metadata matches the listing's filter, cut to its limit. */
export const byMetadata = <Row extends { readonly body: { readonly metadata: unknown } }>(
  rows: ReadonlyArray<Row>,
  options: ListOptions | undefined
): ReadonlyArray<Row> => {
  if (options?.metadata === undefined) return rows
  const out = rows.filter((r) => metadataMatches(r.body.metadata as Record<string, unknown> | undefined, options.metadata!))
  return options.limit === undefined ? out : out.slice(0, Math.max(0, Math.floor(options.limit)))
}
