/**
 * Handlers of the runs group: background runs, waited runs, streamed runs (SSE from the event
 * log), their listing, cancel and join; and stateless runs.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import { Api, CurrentPrincipal, type Principal } from "./api.js"
import { authorize, ServerContext, type Shared, sqlOr503 } from "./context.js"
import { Conflict } from "./errors.js"
import type * as M from "./models.js"
import { awaitRun, cancelRun, createRun, getRun, runJson, runResult, terminal } from "./runs.js"
import * as Sse from "./sse.js"
import { threadFor } from "./threads.js"

const location = (threadId: string, runId: string) => ({ "content-location": `/threads/${threadId}/runs/${runId}` })

const created = (ctx: Shared, p: Principal, threadId: string | undefined, payload: M.RunCreate) =>
  Effect.map(createRun(ctx, p, threadId, payload), (row) =>
    HttpServerResponse.unsafeJson(runJson(row), { headers: location(row.thread_id, row.run_id) }))

const waited = (ctx: Shared, p: Principal, threadId: string | undefined, payload: M.RunCreate) =>
  Effect.flatMap(createRun(ctx, p, threadId, payload), (row) =>
    Effect.map(runResult(ctx, row.run_id, row.thread_id), (result) =>
      HttpServerResponse.unsafeJson(result, { headers: location(row.thread_id, row.run_id) })))

const streamed = (ctx: Shared, p: Principal, threadId: string | undefined, payload: M.RunCreate) =>
  Effect.map(createRun(ctx, p, threadId, payload), (row) =>
    Sse.response(
      ctx,
      row.thread_id,
      row.run_id,
      0,
      payload.on_disconnect === "cancel" ? Effect.ignore(cancelRun(ctx, row, "interrupt")) : undefined
    ))

/** A run of a thread the principal may `permission`. */
const runFor = (ctx: Shared, p: Principal, threadId: string, runId: string, permission: M.Permission) =>
  Effect.flatMap(getRun(ctx, threadId, runId), (row) => Effect.as(authorize(p, permission, row.assistant_id), row))

/** @internal */
export const RunsLive = HttpApiBuilder.group(Api, "runs", (handlers) =>
  Effect.gen(function*() {
    const ctx = yield* ServerContext
    const as = <A, E, R>(f: (p: Principal) => Effect.Effect<A, E, R>) => Effect.flatMap(CurrentPrincipal, f)
    return handlers
      .handle("create", ({ path, payload }) => as((p) => created(ctx, p, path.thread_id, payload)))
      .handle("stream", ({ path, payload }) => as((p) => streamed(ctx, p, path.thread_id, payload)))
      .handle("wait", ({ path, payload }) => as((p) => waited(ctx, p, path.thread_id, payload)))
      .handle("createStateless", ({ payload }) => as((p) => created(ctx, p, undefined, payload)))
      .handle("streamStateless", ({ payload }) => as((p) => streamed(ctx, p, undefined, payload)))
      .handle("waitStateless", ({ payload }) => as((p) => waited(ctx, p, undefined, payload)))
      .handle("list", ({ path, urlParams }) =>
        as((p) =>
          Effect.gen(function*() {
            yield* threadFor(ctx, p, path.thread_id, "view")
            const limit = Math.max(0, Math.min(1000, Math.floor(urlParams.limit ?? 10)))
            const offset = Math.max(0, Math.floor(urlParams.offset ?? 0))
            const rows = yield* sqlOr503("runs", ctx.db.listRuns(path.thread_id, limit, offset, urlParams.status))
            return rows.map(runJson)
          })))
      .handle("get", ({ path }) => as((p) => Effect.map(runFor(ctx, p, path.thread_id, path.run_id, "view"), runJson)))
      .handle("delete", ({ path }) =>
        as((p) =>
          Effect.gen(function*() {
            const row = yield* runFor(ctx, p, path.thread_id, path.run_id, "delete")
            if (!terminal(row.status)) return yield* new Conflict({ detail: `run "${row.run_id}" is ${row.status}: cancel it first` })
            yield* sqlOr503("delete run", ctx.db.deleteRun(row.run_id))
          })))
      .handle("cancel", ({ path, urlParams }) =>
        as((p) =>
          Effect.gen(function*() {
            const row = yield* runFor(ctx, p, path.thread_id, path.run_id, "edit")
            yield* cancelRun(ctx, row, urlParams.action ?? "interrupt")
            if (urlParams.wait === "1" || urlParams.wait === "true") yield* awaitRun(ctx, row.run_id)
          })))
      .handle("join", ({ path }) =>
        as((p) => Effect.flatMap(runFor(ctx, p, path.thread_id, path.run_id, "view"), (row) => runResult(ctx, row.run_id, row.thread_id))))
      .handle("joinStream", ({ path, headers }) =>
        as((p) =>
          Effect.map(runFor(ctx, p, path.thread_id, path.run_id, "view"), (row) =>
            Sse.response(ctx, row.thread_id, row.run_id, Sse.lastEventId(headers["last-event-id"])))))
  }))
