/**
 * The server's `HttpApi`: the LangGraph-compatible groups (assistants, threads, runs, stateless
 * runs), FlowDrop's snapshots, and the system routes. Each endpoint is annotated with the
 * permission it needs (`RequiredPermission`); the handlers enforce it and the route × permission
 * test reads it from here, so a new route cannot be left out.
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as HttpApiSecurity from "@effect/platform/HttpApiSecurity"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Context from "effect/Context"
import * as Schema from "effect/Schema"
import { BadRequest, Conflict, Forbidden, NotFound, SnapshotRefused, Unauthorized, Unavailable, Unprocessable } from "./errors.js"
import * as I from "../inspector/models.js"
import * as M from "./models.js"

/** The permission an endpoint needs (`none`: public). @internal */
export class RequiredPermission extends Context.Tag("effect-stategraph/Server/RequiredPermission")<
  RequiredPermission,
  M.Permission | "none"
>() {}

/** Who is calling: the token's permissions and the graphs it is scoped to (none: all). @internal */
export interface Principal {
  readonly tokenId: string
  readonly name: string
  readonly permissions: ReadonlySet<M.Permission>
  readonly graphs: ReadonlySet<string> | undefined
}

/** @internal */
export class CurrentPrincipal extends Context.Tag("effect-stategraph/Server/Principal")<CurrentPrincipal, Principal>() {}

/**
 * Bearer tokens, sent as `Authorization: Bearer …` or as LangGraph's client sends its `apiKey`:
 * the `x-api-key` header.
 *
 * @internal
 */
export class Authentication extends HttpApiMiddleware.Tag<Authentication>()("effect-stategraph/Server/Authentication", {
  provides: CurrentPrincipal,
  failure: Unauthorized,
  security: {
    bearer: HttpApiSecurity.bearer,
    apiKey: HttpApiSecurity.apiKey({ key: "x-api-key", in: "header" })
  }
}) {}

const path = <F extends Schema.Struct.Fields>(fields: F) => Schema.Struct(fields)
const ThreadPath = path({ thread_id: Schema.String })
const AssistantPath = path({ assistant_id: Schema.String })
const RunPath = path({ thread_id: Schema.String, run_id: Schema.String })
const Sse = Schema.String.pipe(HttpApiSchema.withEncoding({ kind: "Text", contentType: "text/event-stream" }))
const Values = Schema.Unknown

const need = (p: M.Permission | "none") =>
<E extends HttpApiEndpoint.HttpApiEndpoint.Any>(e: E): E => (e as any).annotate(RequiredPermission, p)


/** @internal */
export class SystemGroup extends HttpApiGroup.make("system")
  .add(
    HttpApiEndpoint.get("ok", "/ok").addSuccess(Schema.Struct({ ok: Schema.Boolean })).addError(Unavailable)
      .annotate(RequiredPermission, "none")
      .annotate(OpenApi.Summary, "Health and readiness: the store answers")
  )
  .add(
    HttpApiEndpoint.get("info", "/info").addSuccess(Schema.Struct({ version: Schema.String, flags: Schema.Unknown }))
      .annotate(RequiredPermission, "none")
  )
{}

/** @internal */
export class AssistantsGroup extends HttpApiGroup.make("assistants")
    .add(need("view")(HttpApiEndpoint.post("search", "/assistants/search").setPayload(M.AssistantSearch).addSuccess(Schema.Array(M.Assistant))))
    .add(need("view")(HttpApiEndpoint.post("count", "/assistants/count").setPayload(M.AssistantSearch).addSuccess(Schema.Number)))
    .add(need("view")(HttpApiEndpoint.get("get", "/assistants/:assistant_id").setPath(AssistantPath).addSuccess(M.Assistant).addError(NotFound)))
    .add(need("view")(HttpApiEndpoint.get("graph", "/assistants/:assistant_id/graph").setPath(AssistantPath).addSuccess(M.AssistantGraph).addError(NotFound)))
    .add(need("view")(HttpApiEndpoint.get("schemas", "/assistants/:assistant_id/schemas").setPath(AssistantPath).addSuccess(M.GraphSchemas).addError(NotFound)))
    .add(need("view")(HttpApiEndpoint.get("subgraphs", "/assistants/:assistant_id/subgraphs").setPath(AssistantPath).addSuccess(Schema.Record({ key: Schema.String, value: M.GraphSchemas })).addError(NotFound)))
    .addError(BadRequest).addError(Forbidden).addError(NotFound).addError(Conflict).addError(Unprocessable).addError(Unavailable)
    .middleware(Authentication)
{}

/** @internal */
export class ThreadsGroup extends HttpApiGroup.make("threads")
    .add(need("edit")(HttpApiEndpoint.post("create", "/threads").setPayload(M.ThreadCreate).addSuccess(M.Thread).addError(Conflict).addError(NotFound)))
    .add(need("view")(HttpApiEndpoint.post("search", "/threads/search").setPayload(M.ThreadSearch).addSuccess(Schema.Array(M.Thread))))
    .add(need("view")(HttpApiEndpoint.post("count", "/threads/count").setPayload(M.ThreadCount).addSuccess(Schema.Number)))
    .add(need("view")(HttpApiEndpoint.get("get", "/threads/:thread_id").setPath(ThreadPath).addSuccess(M.Thread).addError(NotFound)))
    .add(need("edit")(HttpApiEndpoint.patch("patch", "/threads/:thread_id").setPath(ThreadPath).setPayload(M.ThreadPatch).addSuccess(M.Thread).addError(NotFound)))
    .add(need("delete")(HttpApiEndpoint.del("delete", "/threads/:thread_id").setPath(ThreadPath).addSuccess(HttpApiSchema.NoContent).addError(NotFound).addError(Conflict)))
    .add(need("edit")(HttpApiEndpoint.post("copy", "/threads/:thread_id/copy").setPath(ThreadPath).addSuccess(M.Thread).addError(NotFound).addError(Conflict)))
    .add(need("view")(HttpApiEndpoint.get("state", "/threads/:thread_id/state").setPath(ThreadPath).addSuccess(M.ThreadState).addError(NotFound)))
    .add(need("view")(HttpApiEndpoint.get("stateAt", "/threads/:thread_id/state/:checkpoint_id").setPath(path({ thread_id: Schema.String, checkpoint_id: Schema.String })).addSuccess(M.ThreadState).addError(NotFound)))
    .add(need("view")(HttpApiEndpoint.post("stateAtCheckpoint", "/threads/:thread_id/state/checkpoint").setPath(ThreadPath).setPayload(M.StateAtCheckpoint).addSuccess(M.ThreadState).addError(NotFound)))
    .add(need("edit")(HttpApiEndpoint.post("updateState", "/threads/:thread_id/state").setPath(ThreadPath).setPayload(M.StateUpdate).addSuccess(Schema.Struct({ checkpoint: M.Checkpoint, configurable: Schema.Struct({ thread_id: Schema.String, checkpoint_ns: Schema.String, checkpoint_id: Schema.String }) })).addError(NotFound).addError(Conflict).addError(Unprocessable)))
    .add(need("view")(HttpApiEndpoint.post("history", "/threads/:thread_id/history").setPath(ThreadPath).setPayload(M.HistoryRequest).addSuccess(Schema.Array(M.ThreadState)).addError(NotFound)))
    .add(need("view")(HttpApiEndpoint.get("historyGet", "/threads/:thread_id/history").setPath(ThreadPath).setUrlParams(Schema.Struct({ limit: Schema.optional(Schema.NumberFromString) })).addSuccess(Schema.Array(M.ThreadState)).addError(NotFound)))
    .addError(BadRequest).addError(Forbidden).addError(NotFound).addError(Conflict).addError(Unprocessable).addError(Unavailable)
    .middleware(Authentication)
{}


/** @internal */
export class RunsGroup extends HttpApiGroup.make("runs")
    .add(need("edit")(HttpApiEndpoint.post("create", "/threads/:thread_id/runs").setPath(ThreadPath).setPayload(M.RunCreate).addSuccess(M.Run).addError(NotFound).addError(Conflict).addError(Unprocessable)))
    .add(need("edit")(HttpApiEndpoint.post("stream", "/threads/:thread_id/runs/stream").setPath(ThreadPath).setPayload(M.RunCreate).addSuccess(Sse).addError(NotFound).addError(Conflict).addError(Unprocessable)))
    .add(need("edit")(HttpApiEndpoint.post("wait", "/threads/:thread_id/runs/wait").setPath(ThreadPath).setPayload(M.RunCreate).addSuccess(Values).addError(NotFound).addError(Conflict).addError(Unprocessable)))
    .add(need("view")(HttpApiEndpoint.get("list", "/threads/:thread_id/runs").setPath(ThreadPath).setUrlParams(M.RunList).addSuccess(Schema.Array(M.Run)).addError(NotFound)))
    .add(need("view")(HttpApiEndpoint.get("get", "/threads/:thread_id/runs/:run_id").setPath(RunPath).addSuccess(M.Run).addError(NotFound)))
    .add(need("delete")(HttpApiEndpoint.del("delete", "/threads/:thread_id/runs/:run_id").setPath(RunPath).addSuccess(HttpApiSchema.NoContent).addError(NotFound).addError(Conflict)))
    .add(need("edit")(HttpApiEndpoint.post("cancel", "/threads/:thread_id/runs/:run_id/cancel").setPath(RunPath).setUrlParams(M.CancelParams).addSuccess(HttpApiSchema.Empty(202)).addError(NotFound).addError(Conflict)))
    .add(need("view")(HttpApiEndpoint.get("join", "/threads/:thread_id/runs/:run_id/join").setPath(RunPath).addSuccess(Values).addError(NotFound)))
    .add(need("view")(HttpApiEndpoint.get("joinStream", "/threads/:thread_id/runs/:run_id/stream").setPath(RunPath).setUrlParams(M.StreamParams).setHeaders(M.LastEventId).addSuccess(Sse).addError(NotFound)))
    .add(need("edit")(HttpApiEndpoint.post("createStateless", "/runs").setPayload(M.RunCreate).addSuccess(M.Run).addError(NotFound).addError(Conflict).addError(Unprocessable)))
    .add(need("edit")(HttpApiEndpoint.post("streamStateless", "/runs/stream").setPayload(M.RunCreate).addSuccess(Sse).addError(NotFound).addError(Conflict).addError(Unprocessable)))
    .add(need("edit")(HttpApiEndpoint.post("waitStateless", "/runs/wait").setPayload(M.RunCreate).addSuccess(Values).addError(NotFound).addError(Conflict).addError(Unprocessable)))
    .addError(BadRequest).addError(Forbidden).addError(NotFound).addError(Conflict).addError(Unprocessable).addError(Unavailable)
    .middleware(Authentication)
{}

const ExecutionPath = path({ executionId: Schema.String })

/** FlowDrop's snapshot REST API. @internal */
export class SnapshotsGroup extends HttpApiGroup.make("snapshots")
    .add(need("view")(HttpApiEndpoint.get("get", "/api/snapshots/:executionId").setPath(ExecutionPath).addSuccess(M.SnapshotResponse).addError(NotFound)))
    .add(need("edit")(HttpApiEndpoint.post("save", "/api/snapshots").setPayload(M.SnapshotSave).addSuccess(M.SnapshotResponse, { status: 201 }).addError(SnapshotRefused).addError(NotFound).addError(Conflict)))
    .add(need("view")(HttpApiEndpoint.get("list", "/api/snapshots").setUrlParams(M.SnapshotQuery).addSuccess(M.SnapshotList)))
    .add(need("delete")(HttpApiEndpoint.del("delete", "/api/snapshots/:executionId").setPath(ExecutionPath).addSuccess(M.SnapshotDeleted).addError(NotFound)))
    .addError(BadRequest).addError(Forbidden).addError(NotFound).addError(Conflict).addError(Unprocessable).addError(Unavailable)
    .middleware(Authentication)
{}

/** What the web inspector (`/inspector`) reads beyond the LangGraph API. @internal */
export class InspectorGroup extends HttpApiGroup.make("inspector")
    .add(need("view")(HttpApiEndpoint.get("session", "/inspector/api/session").addSuccess(I.Session)))
    .add(need("view")(HttpApiEndpoint.post("threads", "/inspector/api/threads").setPayload(I.ThreadQuery).addSuccess(I.ThreadPage)))
    .add(need("view")(HttpApiEndpoint.get("checkpoints", "/inspector/api/threads/:thread_id/checkpoints").setPath(ThreadPath).addSuccess(I.Checkpoints).addError(NotFound)))
    .add(need("view")(HttpApiEndpoint.get("pipelines", "/inspector/api/threads/:thread_id/pipelines").setPath(ThreadPath).addSuccess(I.Pipelines).addError(NotFound)))
    .add(need("delete")(HttpApiEndpoint.post("cleanup", "/inspector/api/cleanup").setPayload(I.CleanupRequest).addSuccess(I.CleanupResult)))
    .addError(BadRequest).addError(Forbidden).addError(NotFound).addError(Conflict).addError(Unprocessable).addError(Unavailable)
    .middleware(Authentication)
{}

/** @internal */
export class Api extends HttpApi.make("effect-stategraph")
  .add(SystemGroup)
  .add(AssistantsGroup)
  .add(ThreadsGroup)
  .add(RunsGroup)
  .add(SnapshotsGroup)
  .add(InspectorGroup)
  .annotate(OpenApi.Title, "effect-stategraph server")
  .annotate(OpenApi.Description, "LangGraph-compatible threads, runs and assistants; FlowDrop snapshots")
{}
