/**
 * What the orchestrators share: request checks, the engine request and policy of a request, a
 * thread's ownership by an active pipeline, and a pipeline's start.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { ThreadBusy } from "../../GraphError.js"
import type * as Snapshots from "../../Snapshots.js"
import type { AnyCompiled } from "../../StateGraph.js"
import * as Ids from "../ids.js"
import { execute } from "../engine/execute.js"
import type { NodeState, RunPolicy, RunRequest } from "../engine/model.js"
import {
  type Capability,
  type OrchestrationRequest,
  type Support,
  SyncConfig,
  UnsupportedGraph
} from "./contract.js"
import * as Handover from "./handover.js"
import { type NewJob, Pipelines } from "./models.js"


export const caps = (...c: ReadonlyArray<Capability>): ReadonlySet<Capability> => new Set(c)

export const supported: Support = { supported: true }

/** Sync-family orchestrators cannot pause on static breakpoints: they have no resume. */
export const noBreakpoints = (graph: AnyCompiled): Support =>
  graph.compiled.interruptBefore.size > 0 || graph.compiled.interruptAfter.size > 0
    ? { supported: false, reason: "the graph has static breakpoints (interruptBefore/After): they need interrupt_support" }
    : supported

export const checkRequest = (o: { readonly id: string; readonly supports: (g: AnyCompiled) => Support }, request: OrchestrationRequest) =>
  Effect.suspend(() => {
    if (request.workflowId !== request.graph.id) {
      return Effect.fail(
        new UnsupportedGraph({
          orchestrator: o.id,
          workflowId: request.workflowId,
          reason: `the request's workflowId is not the graph's id "${request.graph.id}"`
        })
      )
    }
    const s = o.supports(request.graph)
    return s.supported ? Effect.void : Effect.fail(new UnsupportedGraph({ orchestrator: o.id, workflowId: request.workflowId, reason: s.reason }))
  })

/** A sync orchestrator's `stopAfter` as the engine's run policy. */
export const stopPolicy = (stop: typeof SyncConfig.Type["stopAfter"]): RunPolicy =>
  stop === undefined ? {} : "steps" in stop ? { stopAfterSteps: stop.steps } : { stopAfterNodes: new Set(stop.nodes) }

export const runRequestOf = (request: OrchestrationRequest): RunRequest =>
  request.resume !== undefined
    ? { _tag: "Resume", answers: request.resume }
    : { _tag: "Input", input: request.initialSnapshot !== undefined ? null : request.input }

/**
 * A thread run by an active pipeline belongs to it (even while no job holds the thread's claim,
 * e.g. during a backoff or a pause): other runs get `ThreadBusy`.
 */
export const ensureNoActivePipeline = (threadId: string) =>
  Effect.flatMap(Effect.serviceOption(Pipelines), (p) =>
    Option.isNone(p)
      ? Effect.void
      : Effect.flatMap(p.value.byThread(threadId, ["pending", "running", "paused"]), (active) =>
        // a paused inline pipeline (the `pipeline` orchestrator has no interrupt_support) does not
        // hold its thread: an orchestrator that has answers it
        Option.isSome(active) && (active.value.status !== "paused" || active.value.orchestrator === "async")
          ? Effect.fail(new ThreadBusy({ threadId }))
          : Effect.void))

export const recordExecution = (executionId: string, threadId: string, orchestrator: string, pipelineId?: string) =>
  Effect.flatMap(Effect.serviceOption(Pipelines), (p) =>
    Option.isSome(p) ? Effect.ignore(p.value.recordExecution(executionId, threadId, orchestrator, pipelineId)) : Effect.void)

/** Creates the thread's first checkpoint (or takes over a handover / the head) for a pipeline. */
export const startThread = (
  graph: AnyCompiled,
  store: Snapshots.Backend,
  threadId: string,
  pipelineId: string,
  request: OrchestrationRequest
) =>
  Effect.gen(function*() {
    let injected: ReadonlyArray<NodeState> = []
    if (request.initialSnapshot !== undefined) {
      const imported = yield* Handover.importCheckpoint(graph, store, threadId, request.initialSnapshot)
      injected = Handover.injectedOf(imported)
      // a paused snapshot stays paused here: its questions are answered through this orchestrator
      if (imported.status === "paused") return { cp: imported, injected }
    }
    // record the start only (the input checkpoint): the pipeline runs the steps
    const outcome = yield* execute(graph.compiled, store, runRequestOf(request), { threadId, runId: pipelineId }, {
      keepClaim: true,
      stopAfterSteps: 0
    })
    // stopped before its first step, a run neither pauses, sleeps nor fails
    if (outcome._tag !== "Completed" && outcome._tag !== "Stopped") return yield* Effect.dieMessage(`a run stopped at 0 steps ended ${outcome._tag}`)
    return { cp: outcome.checkpoint, injected }
  })

export const injectedJobs = (injected: ReadonlyArray<NodeState>, checkpointId: string): ReadonlyArray<NewJob> =>
  injected.map((n) => ({
    id: Ids.make(),
    taskId: `injected/${n.nodeId}`,
    checkpointId,
    node: n.nodeId,
    step: -1,
    status: "completed" as const,
    output: n.output,
    injected: true
  }))

