/**
 * Handlers of the inspector's routes. Reads go through the same store and the same permission
 * checks as the LangGraph routes; the cleanup is FlowDrop's (older than, statuses) with a dry run,
 * and needs `delete` on every graph (a token scoped to some graphs cannot clean up the others').
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { WorkflowSnapshotEncoded } from "../../Snapshot.js"
import type { AnyCompiled } from "../../StateGraph.js"
import { Pipelines } from "../orchestrator/models.js"
import { Api, CurrentPrincipal, type Principal } from "../server/api.js"
import { allows, requirePermission, ServerContext, type Shared, unavailable } from "../server/context.js"
import { Forbidden } from "../server/errors.js"
import { search, threadFor } from "../server/threads.js"
import * as V from "../server/views.js"
import type * as I from "./models.js"

const iso = (ms: number) => new Date(ms).toISOString()

const graphInfo = (g: AnyCompiled): typeof I.GraphInfo.Type => ({
  graph_id: g.id,
  version: g.version,
  nodes: [...g.nodes],
  mermaid: g.toMermaid(),
  channels: (V.schemas(g).state_schema as { properties: Record<string, unknown> }).properties
})

const checkpointRow = (cp: WorkflowSnapshotEncoded): typeof I.CheckpointRow.Type => ({
  checkpoint_id: cp.checkpointId,
  parent_checkpoint_id: cp.parentCheckpointId,
  execution_id: cp.executionId,
  step: cp.step,
  status: cp.status,
  created_at: iso(cp.createdAt),
  next: [...new Set(cp.tasks.map((t) => t.node))],
  node_states: cp.nodeStates as Record<string, unknown>,
  metadata: cp.metadata
})

const threads = (ctx: Shared, p: Principal, q: typeof I.ThreadQuery.Type) =>
  Effect.gen(function*() {
    const all = yield* search(ctx, p, {})
    const text = (q.q ?? "").trim().toLowerCase()
    const matching = all.filter((t) =>
      (text === "" || t.thread_id.toLowerCase().includes(text)) &&
      (q.graph_id == null || t.metadata.graph_id === q.graph_id)
    )
    const counts: Record<string, number> = { idle: 0, busy: 0, interrupted: 0, error: 0 }
    for (const t of matching) counts[t.status] = (counts[t.status] ?? 0) + 1
    const filtered = q.status == null ? matching : matching.filter((t) => t.status === q.status)
    const offset = Math.max(0, q.offset ?? 0)
    const limit = Math.max(1, Math.min(200, q.limit ?? 20))
    return {
      threads: filtered.slice(offset, offset + limit).map((t) => ({
        thread_id: t.thread_id,
        graph_id: typeof t.metadata.graph_id === "string" ? t.metadata.graph_id : null,
        status: t.status,
        created_at: t.created_at,
        updated_at: t.updated_at,
        questions: Object.values(t.interrupts).reduce((n, list) => n + list.length, 0)
      })),
      total: filtered.length,
      counts
    }
  })

/** @internal */
export const InspectorLive = HttpApiBuilder.group(Api, "inspector", (handlers) =>
  Effect.gen(function*() {
    const ctx = yield* ServerContext
    const as = <A, E, R>(f: (p: Principal) => Effect.Effect<A, E, R>) => Effect.flatMap(CurrentPrincipal, f)
    const pipelines = Context.getOption(ctx.services as Context.Context<Pipelines>, Pipelines)
    return handlers
      .handle("session", () =>
        as((p) =>
          Effect.as(requirePermission(p, "view"), {
            name: p.name,
            permissions: [...p.permissions],
            scope: p.graphs === undefined ? null : [...p.graphs],
            auth: ctx.options.auth,
            graphs: [...ctx.graphs.values()].filter((g) => allows(p, "view", g.id)).map(graphInfo)
          })))
      .handle("threads", ({ payload }) => as((p) => threads(ctx, p, payload)))
      .handle("checkpoints", ({ path }) =>
        as((p) =>
          Effect.gen(function*() {
            const t = yield* threadFor(ctx, p, path.thread_id, "view")
            const all = yield* Effect.mapError(ctx.store.listByThread(path.thread_id, { limit: 1000 }), unavailable("checkpoints"))
            return { head: t.head?.checkpointId ?? null, checkpoints: all.map(checkpointRow) }
          })))
      .handle("pipelines", ({ path }) =>
        as((p) =>
          Effect.gen(function*() {
            yield* threadFor(ctx, p, path.thread_id, "view")
            if (Option.isNone(pipelines)) return { available: false, pipelines: [] }
            const store = pipelines.value
            const newest = yield* Effect.mapError(store.byThread(path.thread_id), unavailable("pipelines"))
            if (Option.isNone(newest)) return { available: true, pipelines: [] }
            const jobs = yield* Effect.mapError(store.jobs(newest.value.id), unavailable("jobs"))
            return { available: true, pipelines: [{ pipeline: newest.value, jobs }] }
          })))
      .handle("cleanup", ({ payload }) =>
        as((p) =>
          Effect.gen(function*() {
            yield* requirePermission(p, "delete")
            if (p.graphs !== undefined) {
              return yield* new Forbidden({ detail: "a cleanup spans every graph: this token is scoped to some", permission: "delete" })
            }
            const count = yield* Effect.mapError(
              ctx.store.cleanup({ olderThan: Date.now() - payload.older_than_ms, statuses: payload.statuses, dryRun: payload.dry_run }),
              unavailable("cleanup")
            )
            return { dry_run: payload.dry_run, count }
          })))
  }))
