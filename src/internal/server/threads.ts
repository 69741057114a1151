/**
 * Handlers of the system, assistants and threads groups.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import { randomUUID } from "node:crypto"
import { type Backend, Snapshots } from "../../Snapshots.js"
import type { AnyCompiled } from "../../StateGraph.js"
import { withClaim } from "../engine/lease.js"
import { Api, CurrentPrincipal, type Principal } from "./api.js"
import { allows, authorize, fromEngine, graphOf, loadCheckpoint, requirePermission, ServerContext, type Shared, sqlOr503, unavailable } from "./context.js"
import type { ThreadRow } from "./db.js"
import { Conflict, NotFound } from "./errors.js"
import { decodeUpdate } from "./input.js"
import type * as M from "./models.js"
import { awaitRun, cancelRun } from "./runs.js"
import * as V from "./views.js"

/** A thread known to the server or only to the store (written by the library); 404 otherwise. @internal */
export const resolveThread = (ctx: Shared, threadId: string) =>
  Effect.gen(function*() {
    const row = yield* sqlOr503("thread", ctx.db.getThread(threadId))
    const head = yield* loadCheckpoint(ctx, threadId)
    if (row === undefined && head === undefined) return yield* new NotFound({ detail: `thread "${threadId}" not found` })
    const r: ThreadRow = row ?? {
      thread_id: threadId,
      graph_id: head!.workflowId,
      metadata: "{}",
      created_at: head!.createdAt,
      updated_at: head!.createdAt
    }
    const graphId = r.graph_id ?? head?.workflowId ?? null
    return { row: r, head, graphId, graph: graphId === null ? undefined : ctx.graphs.get(graphId) }
  })

/** Resolves a thread and checks the principal may `permission` it. @internal */
export const threadFor = (ctx: Shared, p: Principal, threadId: string, permission: M.Permission) =>
  Effect.tap(resolveThread(ctx, threadId), (t) => authorize(p, permission, t.graphId))

const busyOf = (ctx: Shared, threadId: string) => Effect.map(sqlOr503("runs", ctx.db.inflight(threadId)), (r) => r.length > 0)

const threadJson = (ctx: Shared, t: Effect.Effect.Success<ReturnType<typeof resolveThread>>) =>
  Effect.map(busyOf(ctx, t.row.thread_id), (busy) => V.thread(t.graph, t.row, t.head, busy))

const matches = (metadata: Record<string, unknown>, filter: Record<string, unknown> | null | undefined) =>
  filter === null || filter === undefined ||
  Object.entries(filter).every(([k, v]) => JSON.stringify(metadata[k]) === JSON.stringify(v))

/** Threads the principal may see, filtered (metadata, ids, status), newest first. @internal */
export const search = (ctx: Shared, p: Principal, q: typeof M.ThreadSearch.Type) =>
  Effect.gen(function*() {
    yield* requirePermission(p, "view")
    const rows = yield* sqlOr503("threads", ctx.db.listThreads())
    const known = new Set(rows.map((r) => r.thread_id))
    // threads the library wrote without the server
    const stored = yield* Effect.mapError(ctx.store.listThreads({ limit: 10_000 }), unavailable("threads"))
    const all: Array<ThreadRow> = [...rows]
    for (const s of stored) {
      if (!known.has(s.threadId)) all.push({ thread_id: s.threadId, graph_id: s.workflowId, metadata: "{}", created_at: s.updatedAt, updated_at: s.updatedAt })
    }
    const ids = q.ids === null || q.ids === undefined ? undefined : new Set(q.ids)
    const out: Array<typeof M.Thread.Type> = []
    for (const r of all) {
      if (ids !== undefined && !ids.has(r.thread_id)) continue
      if (!allows(p, "view", r.graph_id)) continue
      const metadata = JSON.parse(r.metadata) as Record<string, unknown>
      if (!matches(r.graph_id !== null ? { graph_id: r.graph_id, ...metadata } : metadata, q.metadata)) continue
      const head = yield* loadCheckpoint(ctx, r.thread_id)
      const t = V.thread(r.graph_id === null ? undefined : ctx.graphs.get(r.graph_id), r, head, yield* busyOf(ctx, r.thread_id))
      if (q.status !== null && q.status !== undefined && t.status !== q.status) continue
      out.push(t)
    }
    out.sort((a, b) => b.created_at.localeCompare(a.created_at))
    return out
  })

/**
 * Copies every checkpoint of a thread (all branches, with their ids, parents, pending writes
 * and questions) to a new thread, oldest first and the head last, so the copy's history, forks
 * and time travel are the original's. The values are written whole per checkpoint.
 */
const copyHistory = (graph: AnyCompiled, store: Backend, from: string, to: string, head: string) =>
  Effect.gen(function*() {
    const all = [...(yield* store.listByThread(from))].reverse()
    const ordered = [...all.filter((s) => s.checkpointId !== head), ...all.filter((s) => s.checkpointId === head)]
    const runId = randomUUID()
    yield* withClaim(store, to, runId, Effect.gen(function*() {
      let expected = yield* store.claim(to, runId, { workflowId: graph.id, leaseMillis: graph.compiled.leaseMillis })
      for (const s of ordered) {
        const writes = Object.entries(s.channels).filter(([, v]) => v !== undefined).map(([channel, value]) => ({ channel, mode: "set" as const, value }))
        yield* store.commit({ threadId: to, runId, expectedHead: expected, snapshot: { ...s, threadId: to, channels: {} }, writes })
        expected = s.checkpointId
      }
    }))
  })

/** @internal */
export const SystemLive = HttpApiBuilder.group(Api, "system", (handlers) =>
  Effect.gen(function*() {
    const ctx = yield* ServerContext
    return handlers
      .handle("ok", () =>
        Effect.as(
          Effect.zipRight(sqlOr503("database", ctx.db.ping), Effect.mapError(ctx.store.listThreads({ limit: 1 }), unavailable("store"))),
          { ok: true }
        ))
      .handle("info", () => Effect.succeed({ version: "0.1.0", flags: { assistants: true, crons: false, langsmith: false } }))
  }))

/** @internal */
export const AssistantsLive = HttpApiBuilder.group(Api, "assistants", (handlers) =>
  Effect.gen(function*() {
    const ctx = yield* ServerContext
    const visible = (p: Principal, q: typeof M.AssistantSearch.Type) =>
      [...ctx.graphs.values()].filter((g) =>
        allows(p, "view", g.id) && (q.graph_id == null || q.graph_id === g.id) && (q.name == null || q.name === g.id)
      )
    const get = (id: string) =>
      Effect.flatMap(CurrentPrincipal, (p) => Effect.tap(graphOf(ctx, id), (g) => authorize(p, "view", g.id)))
    return handlers
      .handle("search", ({ payload }) =>
        Effect.flatMap(CurrentPrincipal, (p) =>
          Effect.flatMap(requirePermission(p, "view"), () =>
            Effect.succeed(
              visible(p, payload).slice(payload.offset ?? 0, (payload.offset ?? 0) + (payload.limit ?? 10)).map((g) => V.assistant(g, ctx.startedAt))
            ))))
      .handle("count", ({ payload }) =>
        Effect.flatMap(CurrentPrincipal, (p) =>
          Effect.as(requirePermission(p, "view"), visible(p, payload).length)))
      .handle("get", ({ path }) => Effect.map(get(path.assistant_id), (g) => V.assistant(g, ctx.startedAt)))
      .handle("graph", ({ path }) => Effect.map(get(path.assistant_id), V.drawing))
      .handle("schemas", ({ path }) => Effect.map(get(path.assistant_id), V.schemas))
      .handle("subgraphs", ({ path }) => Effect.as(get(path.assistant_id), {}))
  }))

/** @internal */
export const ThreadsLive = HttpApiBuilder.group(Api, "threads", (handlers) =>
  Effect.gen(function*() {
    const ctx = yield* ServerContext
    const withPrincipal = <A, E, R>(f: (p: Principal) => Effect.Effect<A, E, R>) => Effect.flatMap(CurrentPrincipal, f)
    const history = (p: Principal, threadId: string, limit: number, checkpointId?: string, before?: string) =>
      Effect.gen(function*() {
        const t = yield* threadFor(ctx, p, threadId, "view")
        const rows = yield* Effect.mapError(
          ctx.store.history(threadId, {
            limit: Math.max(0, Math.min(1000, limit)),
            ...(checkpointId !== undefined ? { checkpointId } : {}),
            ...(before !== undefined ? { before } : {})
          }),
          fromEngine
        )
        return rows.map((cp) => V.threadState(t.graph, cp))
      })
    return handlers
      .handle("create", ({ payload }) =>
        withPrincipal((p) =>
          Effect.gen(function*() {
            const metadata = { ...(payload.metadata ?? {}) }
            const requested = payload.graph_id ?? (typeof metadata.graph_id === "string" ? metadata.graph_id : undefined)
            if (requested !== undefined) yield* graphOf(ctx, requested)
            delete metadata.graph_id
            yield* authorize(p, "edit", requested)
            const threadId = payload.thread_id ?? randomUUID()
            const now = Date.now()
            const inserted = yield* sqlOr503("create thread", Effect.flatMap(loadCheckpoint(ctx, threadId).pipe(Effect.orDie), (head) =>
              head !== undefined ? Effect.succeed(false) : ctx.db.insertThread({
                thread_id: threadId,
                graph_id: requested ?? null,
                metadata: JSON.stringify(metadata),
                created_at: now,
                updated_at: now
              })))
            if (!inserted && payload.if_exists !== "do_nothing") {
              return yield* new Conflict({ detail: `thread "${threadId}" exists` })
            }
            return yield* threadJson(ctx, yield* resolveThread(ctx, threadId))
          })))
      .handle("search", ({ payload }) =>
        withPrincipal((p) =>
          Effect.map(search(ctx, p, payload), (all) => all.slice(payload.offset ?? 0, (payload.offset ?? 0) + (payload.limit ?? 10)))))
      .handle("count", ({ payload }) => withPrincipal((p) => Effect.map(search(ctx, p, payload), (all) => all.length)))
      .handle("get", ({ path }) => withPrincipal((p) => Effect.flatMap(threadFor(ctx, p, path.thread_id, "view"), (t) => threadJson(ctx, t))))
      .handle("patch", ({ path, payload }) =>
        withPrincipal((p) =>
          Effect.gen(function*() {
            const t = yield* threadFor(ctx, p, path.thread_id, "edit")
            const metadata = { ...JSON.parse(t.row.metadata), ...(payload.metadata ?? {}) }
            const now = Date.now()
            const exists = yield* sqlOr503("thread", ctx.db.getThread(path.thread_id))
            if (exists === undefined) {
              yield* sqlOr503("thread", ctx.db.insertThread({ ...t.row, metadata: JSON.stringify(metadata), updated_at: now }))
            } else yield* sqlOr503("thread", ctx.db.updateThread(path.thread_id, { metadata: JSON.stringify(metadata) }, now))
            return yield* threadJson(ctx, yield* resolveThread(ctx, path.thread_id))
          })))
      .handle("delete", ({ path }) =>
        withPrincipal((p) =>
          Effect.gen(function*() {
            yield* threadFor(ctx, p, path.thread_id, "delete")
            // its runs are stopped first, so none writes to it afterwards
            for (const r of yield* sqlOr503("runs", ctx.db.inflight(path.thread_id))) {
              yield* Effect.ignore(cancelRun(ctx, r, "interrupt"))
              yield* awaitRun(ctx, r.run_id)
            }
            yield* Effect.mapError(ctx.store.deleteThread(path.thread_id), unavailable("delete"))
            yield* sqlOr503("delete", ctx.db.deleteThread(path.thread_id))
          })))
      .handle("copy", ({ path }) =>
        withPrincipal((p) =>
          Effect.gen(function*() {
            const t = yield* threadFor(ctx, p, path.thread_id, "edit")
            const threadId = randomUUID()
            const now = Date.now()
            if (t.head !== undefined) {
              if (t.graph === undefined) return yield* new NotFound({ detail: `graph "${t.graphId}" is not registered` })
              yield* Effect.mapError(copyHistory(t.graph, ctx.store, path.thread_id, threadId, t.head.checkpointId), fromEngine)
            }
            yield* sqlOr503("copy", ctx.db.insertThread({ ...t.row, thread_id: threadId, created_at: now, updated_at: now }))
            return yield* threadJson(ctx, yield* resolveThread(ctx, threadId))
          })))
      .handle("state", ({ path }) =>
        withPrincipal((p) =>
          Effect.map(threadFor(ctx, p, path.thread_id, "view"), (t) =>
            t.head === undefined ? V.emptyState(path.thread_id) : V.threadState(t.graph, t.head))))
      .handle("stateAt", ({ path }) =>
        withPrincipal((p) => stateAt(ctx, p, path.thread_id, path.checkpoint_id)))
      .handle("stateAtCheckpoint", ({ path, payload }) =>
        withPrincipal((p) => stateAt(ctx, p, path.thread_id, payload.checkpoint.checkpoint_id ?? undefined)))
      .handle("updateState", ({ path, payload }) =>
        withPrincipal((p) =>
          Effect.gen(function*() {
            const t = yield* threadFor(ctx, p, path.thread_id, "edit")
            if (t.graph === undefined) return yield* new NotFound({ detail: `graph "${t.graphId}" is not registered` })
            if (yield* busyOf(ctx, path.thread_id)) return yield* new Conflict({ detail: `thread "${path.thread_id}" is busy with a run` })
            const values = yield* decodeUpdate(t.graph, payload.values, "values")
            const checkpointId = payload.checkpoint_id ?? payload.checkpoint?.checkpoint_id ?? undefined
            const state = yield* t.graph.updateState(path.thread_id, values, {
              ...(payload.as_node != null ? { asNode: payload.as_node } : {}),
              ...(checkpointId !== undefined ? { checkpointId } : {})
            }).pipe(
              Effect.provideService(Snapshots, ctx.store),
              Effect.provide(ctx.services),
              Effect.mapError(fromEngine)
            )
            return {
              checkpoint: { thread_id: path.thread_id, checkpoint_ns: "", checkpoint_id: state.checkpointId, checkpoint_map: null },
              configurable: { thread_id: path.thread_id, checkpoint_ns: "", checkpoint_id: state.checkpointId }
            }
          })))
      .handle("history", ({ path, payload }) =>
        withPrincipal((p) =>
          history(p, path.thread_id, payload.limit ?? 10, payload.checkpoint?.checkpoint_id ?? undefined, payload.before?.checkpoint_id ?? undefined)))
      .handle("historyGet", ({ path, urlParams }) => withPrincipal((p) => history(p, path.thread_id, urlParams.limit ?? 10)))
  }))

const stateAt = (ctx: Shared, p: Principal, threadId: string, checkpointId: string | undefined) =>
  Effect.gen(function*() {
    const t = yield* threadFor(ctx, p, threadId, "view")
    const cp = checkpointId === undefined ? t.head : yield* loadCheckpoint(ctx, threadId, checkpointId)
    if (cp === undefined) return yield* new NotFound({ detail: `checkpoint "${checkpointId}" of thread "${threadId}" not found` })
    return V.threadState(t.graph, cp)
  })
