/**
 * The errors that cross HTTP: `Schema.TaggedError`s with their status. Each body carries
 * `detail` (what LangGraph's server puts there) and, for refused input, the schema issue.
 */
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as Schema from "effect/Schema"

/** 401: no token, an unknown one, or a revoked one. @internal */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()(
  "Unauthorized",
  { detail: Schema.String },
  HttpApiSchema.annotations({ status: 401 })
) {}

/** 403: the token lacks the permission, or is not scoped to the graph. @internal */
export class Forbidden extends Schema.TaggedError<Forbidden>()(
  "Forbidden",
  { detail: Schema.String, permission: Schema.String },
  HttpApiSchema.annotations({ status: 403 })
) {}

/** 404. @internal */
export class NotFound extends Schema.TaggedError<NotFound>()(
  "NotFound",
  { detail: Schema.String },
  HttpApiSchema.annotations({ status: 404 })
) {}

/** 409: a thread busy with a run (`multitask_strategy: "reject"`), an existing id. @internal */
export class Conflict extends Schema.TaggedError<Conflict>()(
  "Conflict",
  { detail: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {}

/** 422: input the graph refuses (an update, an answer): `issue` is the schema's. @internal */
export class Unprocessable extends Schema.TaggedError<Unprocessable>()(
  "Unprocessable",
  {
    detail: Schema.String,
    issue: Schema.optional(Schema.String),
    code: Schema.optional(Schema.String),
    interrupt_id: Schema.optional(Schema.String)
  },
  HttpApiSchema.annotations({ status: 422 })
) {}

/** 400: a request the server cannot read (bad JSON, too deep). @internal */
export class BadRequest extends Schema.TaggedError<BadRequest>()(
  "BadRequest",
  { detail: Schema.String },
  HttpApiSchema.annotations({ status: 400 })
) {}

/** 503: the store does not answer. @internal */
export class Unavailable extends Schema.TaggedError<Unavailable>()(
  "Unavailable",
  { detail: Schema.String },
  HttpApiSchema.annotations({ status: 503 })
) {}

/**
 * FlowDrop's refusal of a snapshot (`POST /api/snapshots`): `success: false`, the first error's
 * code (`VERSION_MISMATCH`, `UNKNOWN_NODE`, `DEPENDENCY_NOT_MET`, …) and every error.
 *
 * @internal
 */
export class SnapshotRefused extends Schema.TaggedError<SnapshotRefused>()(
  "SnapshotRefused",
  {
    success: Schema.Literal(false),
    error: Schema.String,
    code: Schema.String,
    errors: Schema.Array(Schema.Struct({ code: Schema.String, message: Schema.String, nodeId: Schema.optional(Schema.String) }))
  },
  HttpApiSchema.annotations({ status: 422 })
) {}
