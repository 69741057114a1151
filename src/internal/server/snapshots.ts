/**
 * FlowDrop's snapshot REST API on the snapshot store. A posted snapshot is validated with
 * `WorkflowState` (version, unknown nodes, dependencies) and refused with FlowDrop's code; a
 * valid one becomes the head of its thread (its completed nodes injected), with the nodes whose
 * dependencies are completed planned as its next tasks.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import { NodeSnapshot, WorkflowSnapshot, type WorkflowSnapshotEncoded } from "../../Snapshot.js"
import type { AnyCompiled } from "../../StateGraph.js"
import * as WorkflowState from "../../WorkflowState.js"
import { START } from "../constants.js"
import { importCheckpoint } from "../orchestrator/handover.js"
import { Api, CurrentPrincipal, type Principal } from "./api.js"
import { allows, authorize, fromEngine, graphOf, requirePermission, ServerContext, type Shared, unavailable } from "./context.js"
import { NotFound, SnapshotRefused } from "./errors.js"
import type * as M from "./models.js"
import { flowDrop } from "./views.js"

/** Heads of the threads of the graphs the principal may see, newest first. */
const heads = (ctx: Shared, p: Principal, permission: M.Permission, workflowId: string | undefined, limit: number) =>
  Effect.gen(function*() {
    const ids = workflowId !== undefined ? [workflowId] : [...ctx.graphs.keys()]
    const out: Array<WorkflowSnapshotEncoded> = []
    for (const id of ids) {
      if (!allows(p, permission, id)) continue
      out.push(...yield* Effect.mapError(ctx.store.listByWorkflow(id, { limit }), unavailable("list")))
    }
    return out.sort((a, b) => b.createdAt - a.createdAt).slice(0, limit)
  })

const unscoped: Principal = { tokenId: "", name: "", permissions: new Set(["administer"]), graphs: undefined }

/** The latest checkpoint of an execution: heads first, then each thread's older checkpoints. */
const findExecution = (ctx: Shared, p: Principal, permission: M.Permission, executionId: string) =>
  Effect.gen(function*() {
    yield* requirePermission(p, permission)
    // every graph's: a token scoped elsewhere is refused (403), not told it does not exist
    const all = yield* heads(ctx, unscoped, permission, undefined, 100_000)
    const head = all.find((h) => h.executionId === executionId)
    if (head !== undefined) return head
    for (const h of all) {
      const older = yield* Effect.mapError(ctx.store.listByThread(h.threadId), unavailable("list"))
      const found = older.find((c) => c.executionId === executionId)
      if (found !== undefined) return found
    }
    return yield* new NotFound({ detail: `Workflow snapshot not found: ${executionId}` })
  })

/** The posted FlowDrop snapshot as a full snapshot of the graph. */
const build = (graph: AnyCompiled, body: typeof M.SnapshotSave.Type) =>
  Effect.gen(function*() {
    const base = yield* WorkflowState.createSnapshot({
      workflowId: body.workflowId,
      workflowVersion: body.workflowVersion,
      ...(body.initialInput !== undefined ? { initialInput: body.initialInput } : {}),
      ...(body.threadId !== undefined ? { threadId: body.threadId } : {}),
      ...(body.executionId !== undefined ? { executionId: body.executionId } : {}),
      ...(body.metadata !== undefined ? { metadata: body.metadata } : {})
    })
    const nodeStates: Record<string, NodeSnapshot> = {}
    for (const [key, n] of Object.entries(body.nodeStates ?? {})) {
      nodeStates[key] = new NodeSnapshot({
        nodeId: n.nodeId ?? key,
        status: n.status,
        ...(n.output !== undefined ? { output: n.output } : {}),
        ...(n.error !== undefined && n.error !== null ? { error: n.error } : {}),
        injected: n.injected ?? false,
        executionOrder: n.executionOrder ?? 0,
        attempts: 0,
        metadata: n.metadata ?? {}
      })
    }
    // next: the nodes not completed whose dependencies are (or that follow START)
    const done = (n: string) => nodeStates[n]?.status === "completed"
    const next = graph.nodes.filter((n) => {
      if (done(n)) return false
      const deps = graph.compiled.dependencies[n] ?? []
      const fromStart = graph.compiled.def.edges.some((e) => e.from === START && e.to === n)
      return deps.length > 0 ? deps.every(done) || (fromStart && Object.keys(nodeStates).length === 0) : fromStart
    })
    const tasks = body.status === "completed" ? [] : next.map((node) => ({ id: `${base.checkpointId}/${node}`, node, send: false }))
    return new WorkflowSnapshot({
      ...base,
      status: body.status ?? "pending",
      nodeStates,
      tasks
    })
  })

/** @internal */
export const SnapshotsLive = HttpApiBuilder.group(Api, "snapshots", (handlers) =>
  Effect.gen(function*() {
    const ctx = yield* ServerContext
    const as = <A, E, R>(f: (p: Principal) => Effect.Effect<A, E, R>) => Effect.flatMap(CurrentPrincipal, f)
    return handlers
      .handle("get", ({ path }) =>
        as((p) =>
          Effect.gen(function*() {
            const cp = yield* findExecution(ctx, p, "view", path.executionId)
            yield* authorize(p, "view", cp.workflowId)
            return { success: true as const, snapshot: flowDrop(cp) }
          })))
      .handle("list", ({ urlParams: query }) =>
        as((p) =>
          Effect.gen(function*() {
            const urlParams = { ...query, workflowId: query.workflowId ?? query.workflow_id, threadId: query.threadId ?? query.thread_id }
            const limit = Math.max(0, Math.min(1000, Math.floor(urlParams.limit ?? 50)))
            yield* requirePermission(p, "view")
            let rows: ReadonlyArray<WorkflowSnapshotEncoded>
            if (urlParams.threadId !== undefined) {
              const all = yield* Effect.mapError(ctx.store.listByThread(urlParams.threadId), unavailable("list"))
              rows = all.filter((c) => allows(p, "view", c.workflowId) && (urlParams.workflowId === undefined || c.workflowId === urlParams.workflowId))
                .slice(0, limit)
            } else {
              if (urlParams.workflowId !== undefined) yield* authorize(p, "view", urlParams.workflowId)
              rows = yield* heads(ctx, p, "view", urlParams.workflowId, limit)
            }
            return { success: true as const, snapshots: rows.map(flowDrop), count: rows.length }
          })))
      .handle("save", ({ payload }) =>
        as((p) =>
          Effect.gen(function*() {
            const graph = yield* graphOf(ctx, payload.workflowId)
            yield* authorize(p, "edit", graph.id)
            const snapshot = yield* build(graph, payload)
            const cp = yield* importCheckpoint(graph, ctx.store, snapshot.threadId, snapshot).pipe(
              Effect.mapError((e) =>
                e._tag === "HandoverRefused"
                  ? new SnapshotRefused({ success: false, error: e.errors[0]?.message ?? e.code, code: e.code, errors: e.errors })
                  : fromEngine(e)
              )
            )
            const stored = yield* Effect.mapError(ctx.store.load(snapshot.threadId, cp.checkpointId), unavailable("load"))
            if (stored._tag === "None") return yield* new NotFound({ detail: "the saved snapshot is gone" })
            return { success: true as const, snapshot: flowDrop(stored.value) }
          })))
      .handle("delete", ({ path }) =>
        as((p) =>
          Effect.gen(function*() {
            const cp = yield* findExecution(ctx, p, "delete", path.executionId)
            yield* authorize(p, "delete", cp.workflowId)
            const deleted = yield* Effect.mapError(ctx.store.delete(path.executionId), unavailable("delete"))
            return { success: true as const, executionId: path.executionId, deleted }
          })))
  }))
