/**
 * The four orchestrators: one engine (`engine/execute`), four policies. `stategraph` and `sync`
 * are here; `pipeline` and `async` in modules of their own.
 */
import * as Effect from "effect/Effect"
import * as Snapshots from "../../Snapshots.js"
import * as Ids from "../ids.js"
import { decodeConfig, type Orchestrator, StateGraphConfig, SyncConfig, UnsupportedGraph } from "./contract.js"
import { caps, checkRequest, ensureNoActivePipeline, noBreakpoints, recordExecution, runRequestOf, stopPolicy, supported } from "./common.js"
import { runInline, toResponse } from "./engine.js"
import * as Handover from "./handover.js"

export { makeAsync } from "./async.js"
export { makePipeline } from "./pipeline.js"

// ---------------------------------------------------------------------------------------------
// stategraph
// ---------------------------------------------------------------------------------------------

/** @internal */
export const makeStateGraph = Effect.gen(function*() {
  const store = yield* Snapshots.Snapshots
  const context = yield* Effect.context<never>()
  const self: Orchestrator = {
    id: "stategraph",
    label: "StateGraph",
    description: "The engine as is: supersteps, loops, a checkpoint per step per thread in the shared store, interrupts and resume.",
    capabilities: caps(
      "synchronous_execution",
      "parallel_execution",
      "retry_support",
      "error_recovery",
      "stateful",
      "checkpointing",
      "interrupt_support"
    ),
    configSchema: StateGraphConfig,
    supports: () => supported,
    orchestrate: (request) =>
      Effect.gen(function*() {
        const config = yield* decodeConfig(self.id, StateGraphConfig, request.options)
        yield* checkRequest(self, request)
        const threadId = request.threadId ?? Ids.make()
        if (request.threadId !== undefined) yield* ensureNoActivePipeline(threadId)
        if (request.initialSnapshot !== undefined) yield* Handover.importInto(request.graph, store, threadId, request.initialSnapshot)
        const result = yield* runInline({
          graph: request.graph,
          store,
          threadId,
          request: runRequestOf(request),
          timeoutMillis: config.timeoutMillis
        })
        yield* recordExecution(result.executionId, threadId, self.id)
        return toResponse(self.id, threadId, result)
      }).pipe(Effect.provide(context))
  }
  return self
})

// ---------------------------------------------------------------------------------------------
// sync
// ---------------------------------------------------------------------------------------------

/** @internal */
export const makeSync = Effect.gen(function*() {
  const context = yield* Effect.context<never>()
  const self: Orchestrator = {
    id: "sync",
    label: "Synchronous",
    description:
      "Runs inline in the caller's fiber on a private in-memory store and returns the snapshot at the end, at a pause or at `stopAfter` (for a handover). Fails fast.",
    capabilities: caps("synchronous_execution", "parallel_execution", "retry_support", "checkpointing"),
    configSchema: SyncConfig,
    supports: noBreakpoints,
    orchestrate: (request) =>
      Effect.gen(function*() {
        const config = yield* decodeConfig(self.id, SyncConfig, request.options)
        yield* checkRequest(self, request)
        if (request.resume !== undefined) {
          return yield* Effect.fail(
            new UnsupportedGraph({
              orchestrator: self.id,
              workflowId: request.workflowId,
              reason: "sync has no interrupt_support: hand the snapshot over to an orchestrator that has"
            })
          )
        }
        const store = yield* Snapshots.makeMemory
        const threadId = request.threadId ?? Ids.make()
        if (request.initialSnapshot !== undefined) yield* Handover.importInto(request.graph, store, threadId, request.initialSnapshot)
        const stop = config.stopAfter
        const result = yield* runInline({
          graph: request.graph,
          store,
          threadId,
          request: runRequestOf(request),
          timeoutMillis: config.timeoutMillis,
          policy: stopPolicy(stop)
        })
        return toResponse(self.id, threadId, result)
      }).pipe(Effect.provide(context))
  }
  return self
})

