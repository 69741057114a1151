/**
 * A compiled graph's reads and edits of its threads: `getState` (with its subgraphs' states),
 * `history`, `searchThreads`, `updateState` and `bulkUpdateState`.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Channel from "../../Channel.js"
import { ThreadNotFound } from "../../GraphError.js"
import { Snapshots } from "../../Snapshots.js"
import { decodeCheckpoint, loadCheckpoint } from "../engine/codec.js"
import type { Checkpoint } from "../engine/model.js"
import { threadState } from "../engine/threadState.js"
import { bulkUpdateState } from "../engine/update.js"
import type * as internalGraph from "../graph.js"
import type { AnyCompiled, CompiledGraph, ThreadState } from "./model.js"

type Compiled = internalGraph.Compiled
type Graph = CompiledGraph<any, string, any, any, any, any>

const toThreadState = (compiled: Compiled, threadId: string, cp: Checkpoint): ThreadState<any, any> =>
  threadState(compiled, threadId, cp) as ThreadState<any, any>

/**
 * `state` with each task of a subgraph node carrying its subgraph's state, when the subgraph has
 * started (its thread is the task's first `Task.call`: `<thread>::<taskId>.0`).
 */
const withSubgraphs = (
  compiled: Compiled,
  threadId: string,
  state: ThreadState<any, any>
): Effect.Effect<ThreadState<any, any>, unknown, Snapshots> =>
  Effect.map(
    Effect.forEach(state.tasks, (t) => {
      const child = compiled.nodes[t.node]?.subgraph as AnyCompiled | undefined
      if (child === undefined) return Effect.succeed(t)
      return child.getState(`${threadId}::${t.id}.0`, { subgraphs: true }).pipe(
        Effect.map((nested) => ({ ...t, state: nested })),
        Effect.catchTag("ThreadNotFound", () => Effect.succeed(t))
      )
    }),
    (tasks) => ({ ...state, tasks })
  )

/** `getState`: the state at the head (or at `checkpointId`). */
export const getState = (compiled: Compiled): Graph["getState"] => (threadId, options) =>
  Effect.flatMap(Snapshots, (store) =>
    Effect.flatMap(
      loadCheckpoint(compiled, store, threadId, options?.checkpointId),
      ({ cp }) => {
        const state = toThreadState(compiled, threadId, cp)
        return options?.subgraphs === true ? withSubgraphs(compiled, threadId, state) : Effect.succeed(state)
      }
    )) as any

/** `history`: the checkpoints from the head (or `checkpointId`) back, newest first. */
export const history = (compiled: Compiled): Graph["history"] => (threadId, options) =>
  Effect.gen(function*() {
    const store = yield* Snapshots
    const rows = yield* store.history(threadId, {
      ...(options?.checkpointId !== undefined ? { checkpointId: options.checkpointId } : {}),
      // a limit of 0 or less asks for nothing (SQLite would read a negative LIMIT as none)
      ...(options?.limit !== undefined ? { limit: Math.max(0, Math.floor(options.limit)) } : {}),
      ...(options?.metadata !== undefined ? { metadata: options.metadata } : {})
    })
    if (rows.length === 0) {
      // nothing read: [] for an existing thread (and checkpoint), else why not
      return yield* Effect.flatMap(store.load(threadId, options?.checkpointId), (o) =>
        Option.isSome(o)
          ? Effect.succeed(undefined)
          : options?.checkpointId !== undefined
          ? loadCheckpoint(compiled, store, threadId, options.checkpointId)
          : Effect.fail(new ThreadNotFound({ threadId }))).pipe(Effect.as([]))
    }
    const out: Array<ThreadState<any, any>> = []
    for (const row of rows) {
      const cp = decodeCheckpoint(compiled, row)
      if (Either.isLeft(cp)) return yield* Effect.fail(cp.left)
      out.push(toThreadState(compiled, threadId, cp.right))
    }
    return out
  }) as any

/** `searchThreads`: the graph's threads as their heads, newest first. */
export const searchThreads = (compiled: Compiled): Graph["searchThreads"] => (options) =>
  Effect.gen(function*() {
    const store = yield* Snapshots
    const rows = yield* store.listByWorkflow(compiled.id, {
      ...(options?.metadata !== undefined ? { metadata: options.metadata } : {}),
      ...(options?.status !== undefined ? { status: options.status } : {}),
      ...(options?.limit !== undefined ? { limit: Math.max(0, Math.floor(options.limit)) } : {}),
      ...(options?.before !== undefined ? { before: options.before } : {})
    })
    const out: Array<ThreadState<any, any>> = []
    for (const row of rows) {
      const cp = decodeCheckpoint(compiled, row)
      if (Either.isLeft(cp)) return yield* Effect.fail(cp.left)
      out.push(toThreadState(compiled, row.threadId, cp.right))
    }
    return out
  }) as any

/** `bulkUpdateState` (and `updateState`, one superstep of one update). */
export const updateSteps = (
  compiled: Compiled,
  threadId: string,
  supersteps: ReadonlyArray<ReadonlyArray<{ readonly update: Channel.Update<any>; readonly asNode?: string | undefined }>>,
  checkpointId: string | undefined
) =>
  Effect.flatMap(Snapshots, (store) =>
    Effect.map(
      bulkUpdateState(compiled, store, threadId, supersteps, checkpointId),
      (cp) => toThreadState(compiled, threadId, cp)
    ))
