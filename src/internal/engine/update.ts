/**
 * Editing a thread's state from outside a run: `updateState` (one update as if a node wrote it)
 * and `bulkUpdateState` (several supersteps of updates, each one step), committed all or none
 * under one claim. A thread that does not exist yet is created; `asNode: END` ends the thread
 * there — no next step, a pause's questions withdrawn.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { InvalidUpdate, ThreadNotFound } from "../../GraphError.js"
import type { Backend, CommitRequest } from "../../Snapshots.js"
import { END, START } from "../constants.js"
import type { Compiled } from "../graph.js"
import * as Ids from "../ids.js"
import * as algo from "./algo.js"
import { emptyCheckpoint, lastNode } from "./checkpoints.js"
import { channelWrites, loadCheckpoint, toEncoded } from "./codec.js"
import { withClaim } from "./lease.js"
import type { Checkpoint } from "./model.js"
import { routesEffect } from "./routes.js"

/** One update of a superstep: written as if `asNode` produced it. @internal */
export interface StateUpdate {
  readonly update: unknown
  readonly asNode?: string | undefined
}

/**
 * Applies `supersteps` in order, each as one step whose updates meet in the reducers as a step's
 * tasks' writes do (two writes to a last-value channel in one superstep are `InvalidUpdate`); the
 * next step is planned from the updates' nodes (none for `END`). Everything is validated before
 * anything is written; the checkpoints are committed in one transaction. Returns the last one.
 *
 * @internal
 */
export const bulkUpdateState = (
  compiled: Compiled,
  store: Backend,
  threadId: string,
  supersteps: ReadonlyArray<ReadonlyArray<StateUpdate>>,
  checkpointId: string | undefined
): Effect.Effect<Checkpoint, unknown, unknown> => {
  const runId = Ids.make()
  return withClaim(store, threadId, runId, Effect.gen(function*() {
    const head = yield* store.claim(threadId, runId, { workflowId: compiled.id, leaseMillis: compiled.leaseMillis })
    if (head === null && checkpointId !== undefined) return yield* Effect.fail(new ThreadNotFound({ threadId }))
    const fresh = head === null
    let base: Checkpoint = fresh
      ? { ...emptyCheckpoint(compiled), executionId: Ids.make() }
      : (yield* loadCheckpoint(compiled, store, threadId, checkpointId ?? head ?? undefined)).cp
    const requests: Array<CommitRequest> = []
    for (const updates of supersteps) {
      const next = yield* superstep(compiled, base, updates)
      requests.push({
        threadId,
        runId,
        expectedHead: requests.length === 0 ? head : base.checkpointId,
        snapshot: toEncoded(compiled, threadId, next.cp),
        writes: channelWrites(next.applied, base.checkpointId === "")
      })
      base = next.cp
    }
    if (requests.length === 0) return base
    if (fresh) {
      // as for new input: a new thread needs every channel that has no initial value
      for (const c of compiled.codecs) {
        if (!c.optional && base.values[c.name] === undefined) {
          return yield* Effect.fail(
            new InvalidUpdate({ node: START, channel: c.name, issue: `a new thread needs a value for "${c.name}" (it has no initial value)` })
          )
        }
      }
    }
    yield* requests.length === 1 ? store.commit(requests[0]!) : store.commitAll(requests)
    return base
  }))
}

/** One superstep of updates on `base`: the next checkpoint and what it applied. */
const superstep = (compiled: Compiled, base: Checkpoint, updates: ReadonlyArray<StateUpdate>) =>
  Effect.gen(function*() {
    const tasks: Array<{ readonly node: string; readonly writes: ReadonlyArray<readonly [string, unknown]>; readonly gotos: ReadonlyArray<any> }> = []
    for (const u of updates) {
      // like LangGraph: without asNode, the update is written as by the last node that ran
      const node = u.asNode ?? lastNode(base) ?? START
      if (node !== START && node !== END && compiled.nodes[node] === undefined) {
        return yield* Effect.fail(new InvalidUpdate({ node, channel: "*", issue: `"${node}" is not a node of the graph` }))
      }
      const output = algo.normalizeOutput(compiled, node, u.update)
      if (Either.isLeft(output)) return yield* Effect.fail(output.left)
      tasks.push({ node, writes: output.right.writes, gotos: output.right.gotos })
    }
    const applied = algo.applyWrites(compiled, base.values, base.versions, tasks)
    if (Either.isLeft(applied)) return yield* Effect.fail(applied.left)
    const id = Ids.make()
    // END: the thread ends here (its routing, and a pause's questions, are dropped)
    const finished = tasks.filter((t) => t.node !== END)
    const routed = yield* routesEffect(compiled, finished, algo.stateView(compiled, applied.right.values))
    // END also drops deferred nodes still waiting
    const joins = finished.length < tasks.length && base.joins[algo.DEFERRED] !== undefined
      ? Object.fromEntries(Object.entries(base.joins).filter(([k]) => k !== algo.DEFERRED))
      : base.joins
    const planned = algo.plan(compiled, id, finished, routed, joins)
    if (Either.isLeft(planned)) {
      return yield* Effect.fail(new InvalidUpdate({ node: tasks.map((t) => t.node).join(","), channel: "*", issue: planned.left }))
    }
    const asNode = updates.length === 1 ? tasks[0]?.node : tasks.map((t) => t.node)
    const cp: Checkpoint = {
      ...base,
      checkpointId: id,
      parentCheckpointId: base.checkpointId === "" ? null : base.checkpointId,
      step: base.step + 1,
      createdAt: Date.now(),
      status: planned.right.tasks.length === 0 ? "completed" : "pending",
      values: applied.right.values,
      versions: applied.right.versions,
      tasks: planned.right.tasks,
      joins: planned.right.joins,
      interrupts: [],
      pending: [],
      pauseReason: undefined,
      wakeAt: undefined,
      metadata: { ...base.metadata, source: "update", asNode }
    }
    return { cp, applied: applied.right }
  })
