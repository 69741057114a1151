/**
 * The `pipeline` orchestrator: sync plus a Pipeline record and one Job record per task execution.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as RunEvent from "../../RunEvent.js"
import * as Snapshots from "../../Snapshots.js"
import * as Ids from "../ids.js"
import { renderError } from "../engine/codec.js"
import { type Orchestrator, SyncConfig, UnsupportedGraph, decodeConfig } from "./contract.js"
import { caps, checkRequest, ensureNoActivePipeline, injectedJobs, noBreakpoints, startThread, stopPolicy } from "./common.js"
import { runInline, type TaskHooks, toResponse } from "./engine.js"
import { Pipelines } from "./models.js"

/**
 * The hooks of an inline pipeline run: a Job record per task execution (created when the task
 * starts, updated when it ends), and the pipeline's snapshot per checkpoint.
 */
const jobHooks = (
  pipelines: Pipelines["Type"],
  run: { readonly executionId: string; readonly threadId: string; readonly pipelineId: string }
): TaskHooks => {
  const { executionId, pipelineId, threadId } = run
  const jobIds = new Map<string, string>()
  const jobBase = (taskId: string, node: string, step: number, timestamp: number) => ({
    executionId,
    threadId,
    pipelineId,
    timestamp,
    jobId: jobIds.get(taskId) ?? "",
    node,
    step
  })
  const steps = new Map<string, number>()
  return {
    started: (taskId, node, step, at) =>
      Effect.gen(function*() {
        const existing = jobIds.get(taskId)
        steps.set(taskId, step)
        if (existing !== undefined) return
        const id = Ids.make()
        jobIds.set(taskId, id)
        yield* pipelines.putJob(pipelineId, {
          id,
          taskId,
          checkpointId: taskId.split("/")[0] ?? "",
          node,
          step,
          status: "running"
        }, { attempts: 1, startedAt: at })
        yield* RunEvent.publish(() => new RunEvent.JobCreated(jobBase(taskId, node, step, at)))
        yield* RunEvent.publish(() => new RunEvent.JobStarted({ ...jobBase(taskId, node, step, at), attempt: 1, workerId: "inline" }))
      }),
    finished: (taskId, node, outcome, at) =>
      Effect.gen(function*() {
        const id = jobIds.get(taskId)
        if (id === undefined) return
        const step = steps.get(taskId) ?? 0
        switch (outcome._tag) {
          case "Done":
            yield* pipelines.updateJob(id, {
              status: "completed",
              attempts: outcome.attempts,
              finishedAt: at,
              ...(outcome.output !== undefined ? { output: outcome.output } : {})
            })
            yield* RunEvent.publish(() => new RunEvent.JobCompleted({ ...jobBase(taskId, node, step, at), attempt: outcome.attempts }))
            return
          case "Failed":
            yield* pipelines.updateJob(id, { status: "failed", attempts: outcome.attempts, finishedAt: at, error: outcome.error })
            yield* RunEvent.publish(() =>
              new RunEvent.JobFailed({ ...jobBase(taskId, node, step, at), attempt: outcome.attempts, error: outcome.error })
            )
            return
          case "Interrupted":
            yield* pipelines.updateJob(id, { status: "interrupted", attempts: outcome.attempts, finishedAt: at })
            return
        }
      }),
    checkpoint: (checkpointId, at) => pipelines.setSnapshot(pipelineId, checkpointId, at)
  }
}

/** @internal */
export const makePipeline = Effect.gen(function*() {
  const store = yield* Snapshots.Snapshots
  const pipelines = yield* Pipelines
  const context = yield* Effect.context<never>()
  const self: Orchestrator = {
    id: "pipeline",
    label: "Synchronous pipeline",
    description:
      "Sync plus a Pipeline record (status, job counts, linked snapshot) and one Job record per task execution, in the shared database.",
    capabilities: caps("synchronous_execution", "parallel_execution", "retry_support", "pipeline_based", "job_tracking", "checkpointing"),
    configSchema: SyncConfig,
    supports: noBreakpoints,
    orchestrate: (request) =>
      Effect.gen(function*() {
        const config = yield* decodeConfig(self.id, SyncConfig, request.options)
        yield* checkRequest(self, request)
        if (request.resume !== undefined) {
          return yield* Effect.fail(
            new UnsupportedGraph({ orchestrator: self.id, workflowId: request.workflowId, reason: "pipeline has no interrupt_support" })
          )
        }
        const graph = request.graph
        const pipelineId = Ids.make()
        const threadId = request.threadId ?? pipelineId
        if (request.threadId !== undefined) yield* ensureNoActivePipeline(threadId)
        const { cp, injected } = yield* startThread(graph, store, threadId, pipelineId, request)
        const now = yield* Clock.currentTimeMillis
        const base = { executionId: cp.executionId, threadId, pipelineId, timestamp: now, workflowId: graph.id }
        const created = yield* pipelines.createPipeline({
          id: pipelineId,
          workflowId: graph.id,
          workflowVersion: graph.version,
          threadId,
          executionId: cp.executionId,
          orchestrator: self.id,
          status: "running",
          priority: config.priority,
          maxConcurrentJobs: 1,
          maxAttempts: 1,
          retryStrategy: "stop_on_failure",
          orderByStep: true,
          config: Schema.encodeSync(SyncConfig)(config),
          snapshotId: cp.checkpointId,
          now
        }, injectedJobs(injected, cp.checkpointId))
        yield* RunEvent.publish(() => new RunEvent.PipelineCreated({ ...base, orchestrator: self.id }))
        for (const j of created) {
          yield* RunEvent.publish(() => new RunEvent.JobCreated({ ...base, jobId: j.id, node: j.node, step: j.step }))
        }
        yield* RunEvent.publish(() => new RunEvent.PipelineStarted(base))
        const hooks = jobHooks(pipelines, { executionId: cp.executionId, threadId, pipelineId })
        const stop = config.stopAfter
        const result = yield* runInline({
          graph,
          store,
          threadId,
          request: { _tag: "Continue" },
          pipelineId,
          hooks,
          timeoutMillis: config.timeoutMillis,
          runId: pipelineId,
          policy: stopPolicy(stop)
        }).pipe(
          Effect.tapError((e) =>
            Effect.zipRight(
              pipelines.transition(pipelineId, ["running"], "failed", { now, error: renderError(e) }),
              Effect.ignore(store.release(threadId, pipelineId))
            )
          ),
          Effect.onInterrupt(() =>
            Effect.ignore(Effect.zipRight(
              pipelines.transition(pipelineId, ["running"], "cancelled", { now }),
              store.release(threadId, pipelineId)
            ))
          )
        )
        const end = yield* Clock.currentTimeMillis
        const at = { ...base, timestamp: end }
        const finalStatus = result.status === "completed"
          ? "completed"
          : result.status === "failed"
          ? "failed"
          : result.status === "paused"
          ? "paused"
          : "running"
        if (finalStatus === "running") {
          // stopped early for a handover: the pipeline ends here, its snapshot goes on elsewhere
          yield* pipelines.transition(pipelineId, ["running"], "completed", { now: end, snapshotId: result.snapshot.checkpointId })
          yield* RunEvent.publish(() => new RunEvent.PipelineCompleted(at))
        } else {
          yield* pipelines.transition(pipelineId, ["running"], finalStatus, {
            now: end,
            snapshotId: result.snapshot.checkpointId,
            ...(finalStatus === "paused" ? { pauseReason: "interrupt" as const } : {}),
            ...(result.error !== undefined ? { error: renderError(result.error) } : {})
          })
          if (finalStatus === "completed") yield* RunEvent.publish(() => new RunEvent.PipelineCompleted(at))
          if (finalStatus === "failed") yield* RunEvent.publish(() => new RunEvent.PipelineFailed({ ...at, error: renderError(result.error) }))
          if (finalStatus === "paused") yield* RunEvent.publish(() => new RunEvent.PipelinePaused({ ...at, reason: "interrupt" }))
        }
        return toResponse(self.id, threadId, result, pipelineId)
      }).pipe(Effect.provide(context))
  }
  return self
})

