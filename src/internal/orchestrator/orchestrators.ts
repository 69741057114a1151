/**
 * The four orchestrators: one engine (`engine/execute`), four policies.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { SnapshotVersionMismatch, ThreadBusy, ThreadNotPaused } from "../../GraphError.js"
import type * as Interrupt from "../../Interrupt.js"
import * as RunEvent from "../../RunEvent.js"
import type { WorkflowSnapshotEncoded } from "../../Snapshot.js"
import * as Snapshots from "../../Snapshots.js"
import type { AnyCompiled } from "../../StateGraph.js"
import * as Graphs from "../../Graphs.js"
import * as Ids from "../ids.js"
import { prepareAnswers, toPending } from "../engine/answers.js"
import { decodeCheckpoint, renderError } from "../engine/codec.js"
import { execute } from "../engine/execute.js"
import type { NodeState, RunPolicy, RunRequest } from "../engine/model.js"
import {
  AsyncConfig,
  type Capability,
  decodeConfig,
  InvalidPipelineTransition,
  type Orchestrator,
  type OrchestrationRequest,
  type OrchestrationResponse,
  PipelineNotFound,
  StateGraphConfig,
  type Support,
  SyncConfig,
  UnsupportedGraph
} from "./contract.js"
import { jobsOf, loadHead, runInline, type TaskHooks, toResponse } from "./engine.js"
import * as Handover from "./handover.js"
import { type EncodedAnswer, type NewJob, Pipelines } from "./models.js"

const caps = (...c: ReadonlyArray<Capability>): ReadonlySet<Capability> => new Set(c)

const supported: Support = { supported: true }

/** Sync-family orchestrators cannot pause on static breakpoints: they have no resume. */
const noBreakpoints = (graph: AnyCompiled): Support =>
  graph.compiled.interruptBefore.size > 0 || graph.compiled.interruptAfter.size > 0
    ? { supported: false, reason: "the graph has static breakpoints (interruptBefore/After): they need interrupt_support" }
    : supported

const checkRequest = (o: { readonly id: string; readonly supports: (g: AnyCompiled) => Support }, request: OrchestrationRequest) =>
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
const stopPolicy = (stop: typeof SyncConfig.Type["stopAfter"]): RunPolicy =>
  stop === undefined ? {} : "steps" in stop ? { stopAfterSteps: stop.steps } : { stopAfterNodes: new Set(stop.nodes) }

const runRequestOf = (request: OrchestrationRequest): RunRequest =>
  request.resume !== undefined
    ? { _tag: "Resume", answers: request.resume }
    : { _tag: "Input", input: request.initialSnapshot !== undefined ? null : request.input }

/**
 * A thread run by an active pipeline belongs to it (even while no job holds the thread's claim,
 * e.g. during a backoff or a pause): other runs get `ThreadBusy`.
 */
const ensureNoActivePipeline = (threadId: string) =>
  Effect.flatMap(Effect.serviceOption(Pipelines), (p) =>
    Option.isNone(p)
      ? Effect.void
      : Effect.flatMap(p.value.byThread(threadId, ["pending", "running", "paused"]), (active) =>
        // a paused inline pipeline (the `pipeline` orchestrator has no interrupt_support) does not
        // hold its thread: an orchestrator that has answers it
        Option.isSome(active) && (active.value.status !== "paused" || active.value.orchestrator === "async")
          ? Effect.fail(new ThreadBusy({ threadId }))
          : Effect.void))

const recordExecution = (executionId: string, threadId: string, orchestrator: string, pipelineId?: string) =>
  Effect.flatMap(Effect.serviceOption(Pipelines), (p) =>
    Option.isSome(p) ? Effect.ignore(p.value.recordExecution(executionId, threadId, orchestrator, pipelineId)) : Effect.void)

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
      }).pipe(Effect.provide(context)) as any
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
      }).pipe(Effect.provide(context)) as any
  }
  return self
})

// ---------------------------------------------------------------------------------------------
// pipeline (sync + records)
// ---------------------------------------------------------------------------------------------

/** Creates the thread's first checkpoint (or takes over a handover / the head) for a pipeline. */
const startThread = (
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

const injectedJobs = (injected: ReadonlyArray<NodeState>, checkpointId: string): ReadonlyArray<NewJob> =>
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
        const jobIds = new Map<string, string>()
        const jobBase = (taskId: string, node: string, step: number, timestamp: number) => ({
          executionId: cp.executionId,
          threadId,
          pipelineId,
          timestamp,
          jobId: jobIds.get(taskId) ?? "",
          node,
          step
        })
        const steps = new Map<string, number>()
        const hooks: TaskHooks = {
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
      }).pipe(Effect.provide(context)) as any
  }
  return self
})

// ---------------------------------------------------------------------------------------------
// async
// ---------------------------------------------------------------------------------------------

/**
 * Checks answers against the paused head before they are queued, with the engine's own rules
 * (`engine/answers`): what the queued job carries is each answered interrupt's id and encoded value.
 */
const prepareQueued = (graph: AnyCompiled, head: WorkflowSnapshotEncoded, threadId: string, answers: ReadonlyArray<unknown>) =>
  Effect.gen(function*() {
    const cp = decodeCheckpoint(graph.compiled, head)
    if (Either.isLeft(cp)) return yield* Effect.fail(cp.left)
    const prepared = prepareAnswers(cp.right, threadId, answers, graph.compiled.kinds)
    if (Either.isLeft(prepared)) return yield* Effect.fail(prepared.left)
    const encoded: Array<EncodedAnswer> = prepared.right.answered.map((a) => ({ kind: a.record.kind, id: a.record.id, value: a.value }))
    const tasks = new Set<string>()
    for (const a of prepared.right.answered) if (head.tasks.some((t) => t.id === a.record.taskId)) tasks.add(a.record.taskId)
    const pending = head.interrupts.filter((i) => i.status === "pending")
    return { encoded, tasks: [...tasks], nodes: [...new Set(pending.map((i) => i.node))] }
  })

/** @internal */
export const makeAsync = Effect.gen(function*() {
  const store = yield* Snapshots.Snapshots
  const pipelines = yield* Pipelines
  const graphs = yield* Graphs.Graphs
  const context = yield* Effect.context<never>()
  const self: Orchestrator = {
    id: "async",
    label: "Asynchronous",
    description:
      "Returns at once with a pipeline id; the tasks become jobs on a durable queue in the same database, run by `Worker` pools in any process.",
    capabilities: caps(
      "async_execution",
      "parallel_execution",
      "retry_support",
      "error_recovery",
      "pipeline_based",
      "job_tracking",
      "stateful",
      "checkpointing",
      "interrupt_support"
    ),
    configSchema: AsyncConfig,
    supports: () => supported,
    orchestrate: (request) =>
      Effect.gen(function*() {
        const config = yield* decodeConfig(self.id, AsyncConfig, request.options)
        yield* checkRequest(self, request)
        const graph = request.graph
        yield* graphs.register(graph)
        if (request.resume !== undefined && request.initialSnapshot === undefined) return yield* resumeAsync(request.resume)
        const pipelineId = Ids.make()
        const threadId = request.threadId ?? pipelineId
        if (request.threadId !== undefined) yield* ensureNoActivePipeline(threadId)
        const { cp, injected } = yield* startThread(graph, store, threadId, pipelineId, request)
        const now = yield* Clock.currentTimeMillis
        const paused = cp.status === "paused"
        const done = cp.tasks.length === 0
        const created = yield* pipelines.createPipeline({
          id: pipelineId,
          workflowId: graph.id,
          workflowVersion: graph.version,
          threadId,
          executionId: cp.executionId,
          orchestrator: self.id,
          status: done ? "completed" : "running",
          priority: config.priority,
          maxConcurrentJobs: config.maxConcurrentJobs,
          maxAttempts: config.backoff.maxAttempts,
          retryStrategy: config.retryStrategy,
          orderByStep: config.jobPriorityStrategy === "dependency_order",
          config: Schema.encodeSync(AsyncConfig)(config),
          snapshotId: cp.checkpointId,
          now
        }, [...injectedJobs(injected, cp.checkpointId), ...(paused ? [] : jobsOf(cp))])
        if (done) yield* Effect.ignore(store.release(threadId, pipelineId))
        const base = { executionId: cp.executionId, threadId, pipelineId, timestamp: now, workflowId: graph.id }
        yield* RunEvent.publish(() => new RunEvent.PipelineCreated({ ...base, orchestrator: self.id }))
        for (const j of created) yield* RunEvent.publish(() => new RunEvent.JobCreated({ ...base, jobId: j.id, node: j.node, step: j.step }))
        yield* RunEvent.publish(() => new RunEvent.PipelineStarted(base))
        if (paused) {
          // a handed-over paused snapshot: the pipeline waits for its answers, like one a worker paused
          yield* pipelines.transition(pipelineId, ["running"], "paused", { now, pauseReason: "interrupt" })
          yield* RunEvent.publish(() => new RunEvent.PipelinePaused({ ...base, reason: "interrupt" }))
          if (request.resume !== undefined) return yield* resumeAsync(request.resume, threadId)
          const pending = cp.interrupts.filter((i) => i.status === "pending").map(toPending(graph.compiled))
          return {
            orchestrator: self.id,
            executionId: cp.executionId,
            threadId,
            status: "paused",
            snapshot: yield* loadHead(store, threadId),
            pipelineId,
            interrupts: pending.map((i) => ({ id: i.id, kind: i.kind, request: i.request, node: i.node, taskId: i.taskId }))
          } satisfies OrchestrationResponse<any>
        }
        if (done) yield* RunEvent.publish(() => new RunEvent.PipelineCompleted(base))
        else yield* pipelines.signal
        const snapshot = yield* loadHead(store, threadId)
        const response: OrchestrationResponse<any> = {
          orchestrator: self.id,
          executionId: cp.executionId,
          threadId,
          status: done ? "completed" : "running",
          snapshot,
          pipelineId,
          interrupts: [],
          ...(done ? { output: cp.values } : {})
        }
        return response

        /** Why a resume found no paused pipeline on the thread, as the error the caller can act on. */
        function noPausedPipeline(threadId: string) {
          return Effect.gen(function*() {
            const head = yield* loadHead(store, threadId)
            if (Option.isSome(yield* pipelines.byThread(threadId, ["running"]))) {
              return yield* Effect.fail(new ThreadBusy({ threadId }))
            }
            if (head.status === "paused") {
              return yield* Effect.fail(
                new PipelineNotFound({
                  pipelineId: "",
                  reason: `thread "${threadId}" is paused, but by no pipeline of this orchestrator: ` +
                    `resume it with the orchestrator that paused it`
                })
              )
            }
            return yield* Effect.fail(new ThreadNotPaused({ threadId, status: head.status }))
          })
        }

        function resumeAsync(answers: ReadonlyArray<Interrupt.Answer<string, unknown>>, onThread = request.threadId) {
          return Effect.gen(function*() {
            if (onThread === undefined) {
              return yield* Effect.fail(new PipelineNotFound({ pipelineId: "", reason: "a resume needs the threadId" }))
            }
            const threadId = onThread
            const pipeline = yield* pipelines.byThread(threadId, ["paused"])
            // only this orchestrator's pipelines are resumed through its queue
            if (Option.isNone(pipeline) || pipeline.value.orchestrator !== self.id) return yield* noPausedPipeline(threadId)
            const p = pipeline.value
            if (p.pauseReason !== "interrupt") {
              return yield* Effect.fail(new InvalidPipelineTransition({ pipelineId: p.id, from: `paused (${p.pauseReason})`, to: "resumed with answers" }))
            }
            const head = yield* loadHead(store, threadId)
            // the queued job would run the pipeline's own graph version: a request with another
            // version is refused, as the engine refuses it (a changed graph never silently runs old state)
            if (head.workflowVersion !== graph.version) {
              return yield* Effect.fail(
                new SnapshotVersionMismatch({ threadId, expected: graph.version, found: head.workflowVersion })
              )
            }
            const prepared = yield* prepareQueued(graph, head, threadId, answers)
            const now = yield* Clock.currentTimeMillis
            const created = yield* pipelines.resumeWith(p.id, {
              id: Ids.make(),
              taskId: `resume/${Ids.make()}`,
              checkpointId: head.checkpointId,
              node: prepared.nodes.join(","),
              step: head.step,
              resume: { answers: prepared.encoded, tasks: prepared.tasks }
            }, now)
            const base = { executionId: p.executionId, threadId, pipelineId: p.id, timestamp: now, workflowId: p.workflowId }
            for (const j of created) yield* RunEvent.publish(() => new RunEvent.JobCreated({ ...base, jobId: j.id, node: j.node, step: j.step }))
            yield* RunEvent.publish(() => new RunEvent.PipelineStarted(base))
            yield* pipelines.signal
            const response: OrchestrationResponse<any> = {
              orchestrator: self.id,
              executionId: p.executionId,
              threadId,
              status: "running",
              snapshot: head,
              pipelineId: p.id,
              interrupts: []
            }
            return response
          })
        }
      }).pipe(Effect.provide(context)) as any
  }
  return self
})

