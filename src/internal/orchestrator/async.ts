/**
 * The `async` orchestrator: a pipeline on the durable queue, its tasks run as jobs by `Worker`
 * pools in any process; a resume queues a job carrying the checked answers.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import { createHash } from "node:crypto"
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
import { decodeCheckpoint } from "../engine/codec.js"
import {
  AsyncConfig,
  decodeConfig,
  InvalidPipelineTransition,
  type Orchestrator,
  type OrchestrationRequest,
  type OrchestrationResponse,
  PipelineNotFound
} from "./contract.js"
import { caps, checkRequest, ensureNoActivePipeline, injectedJobs, startThread, supported } from "./common.js"
import { jobsOf, loadHead } from "./engine.js"
import { type EncodedAnswer, Pipelines } from "./models.js"

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

/**
 * The id of a start on a named thread: a digest of the thread, the checkpoint it starts from and
 * its input (encoded), so that a retry of the same start computes the same id.
 */
const startId = (graph: AnyCompiled, threadId: string, from: string | null, input: unknown): string => {
  const encoded: Record<string, unknown> = {}
  if (input !== null && typeof input === "object") {
    const given = input as Record<string, unknown>
    for (const c of graph.compiled.codecs) {
      if (given[c.name] === undefined) continue
      encoded[c.name] = Either.getOrElse(c.encodeUpdate(given[c.name]), () => given[c.name])
    }
  }
  let text: string
  try {
    text = JSON.stringify([graph.id, graph.version, threadId, from, input === null ? null : encoded])
  } catch {
    // not JSON (a bigint the codecs left as is): no retry recognises this start
    return Ids.make()
  }
  return `s${createHash("sha256").update(text).digest("hex").slice(0, 31)}`
}

/**
 * Starts a pipeline's thread: its input checkpoint is committed holding the thread's lease for the
 * pipeline, then the pipeline is written. A start cut off between the two (the database restarting)
 * leaves the thread leased to a pipeline that does not exist; its retry recognises it — the head is
 * an input checkpoint whose parent gives the retry the same start id, the lease is that id's, and
 * no pipeline of that id exists — and completes that start, instead of being refused with
 * `ThreadBusy` until the lease ends (and then adding the input a second time).
 */
const start = (deps: Deps, graph: AnyCompiled, request: OrchestrationRequest) =>
  Effect.gen(function*() {
    const { pipelines, store } = deps
    if (request.threadId === undefined || request.initialSnapshot !== undefined) {
      const pipelineId = Ids.make()
      const threadId = request.threadId ?? pipelineId
      if (request.threadId !== undefined) yield* ensureNoActivePipeline(threadId)
      return { pipelineId, threadId, ...(yield* startThread(graph, store, threadId, pipelineId, request)) }
    }
    const threadId = request.threadId
    const head = yield* store.load(threadId)
    if (Option.isSome(head)) {
      const own = startId(graph, threadId, head.value.parentCheckpointId, request.input)
      const lease = (yield* store.leases({ threadId }))[0]
      if (lease?.holder === own && Option.isNone(yield* pipelines.get(own))) {
        const cp = decodeCheckpoint(graph.compiled, head.value)
        if (Either.isLeft(cp)) return yield* Effect.fail(cp.left)
        return { pipelineId: own, threadId, cp: cp.right, injected: [] }
      }
    }
    yield* ensureNoActivePipeline(threadId)
    const pipelineId = startId(graph, threadId, Option.isSome(head) ? head.value.checkpointId : null, request.input)
    return { pipelineId, threadId, ...(yield* startThread(graph, store, threadId, pipelineId, request)) }
  })

/** What the start and the resume of an async pipeline need. */
interface Deps {
  readonly store: Snapshots.Backend
  readonly pipelines: Pipelines["Type"]
}

/** Why a resume found no paused pipeline on the thread, as the error the caller can act on. */
const noPausedPipeline = ({ pipelines, store }: Deps, threadId: string) =>
  Effect.gen(function*() {
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

/** Queues a resume job with the checked answers on the thread's paused `async` pipeline. */
const resumeAsync = (
  deps: Deps,
  graph: AnyCompiled,
  answers: ReadonlyArray<Interrupt.Answer<string, unknown>>,
  onThread: string | undefined
) =>
  Effect.gen(function*() {
    const { pipelines, store } = deps
    if (onThread === undefined) {
      return yield* Effect.fail(new PipelineNotFound({ pipelineId: "", reason: "a resume needs the threadId" }))
    }
    const threadId = onThread
    const pipeline = yield* pipelines.byThread(threadId, ["paused"])
    // only this orchestrator's pipelines are resumed through its queue
    if (Option.isNone(pipeline) || pipeline.value.orchestrator !== id) return yield* noPausedPipeline(deps, threadId)
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
      orchestrator: id,
      executionId: p.executionId,
      threadId,
      status: "running",
      snapshot: head,
      pipelineId: p.id,
      interrupts: []
    }
    return response
  })

const id = "async"

/** @internal */
export const makeAsync = Effect.gen(function*() {
  const store = yield* Snapshots.Snapshots
  const pipelines = yield* Pipelines
  const graphs = yield* Graphs.Graphs
  const context = yield* Effect.context<never>()
  const deps: Deps = { store, pipelines }
  const self: Orchestrator = {
    id,
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
        if (request.resume !== undefined && request.initialSnapshot === undefined) return yield* resumeAsync(deps, graph, request.resume, request.threadId)
        const { cp, injected, pipelineId, threadId } = yield* start(deps, graph, request)
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
          if (request.resume !== undefined) return yield* resumeAsync(deps, graph, request.resume, threadId)
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
      // `execute` fails with `unknown` (engine/execute.ts): what it fails with here are store and
      // resume errors, all in `OrchestrateError`
      }).pipe(Effect.provide(context)) as any
  }
  return self
})

