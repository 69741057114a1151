/**
 * Pipelines and jobs: the records of the `pipeline` and `async` orchestrators, their store (the
 * `Pipelines` service, in the same database as the snapshots: SQLite or Postgres), status queries, and
 * `pause` / `resume` / `cancel`.
 *
 * ```ts
 * const Store = Pipeline.layerSqlite({ filename: "data/app.db" }) // Snapshots + Pipelines, one file
 * const status = yield* Pipeline.pipelineStatus(response.pipelineId!)
 * ```
 *
 * @since 0.1.0
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Schedule from "effect/Schedule"
import type * as Duration from "effect/Duration"
import type * as Redacted from "effect/Redacted"
import { StoreError as StoreErrorClass, type StoreError } from "./GraphError.js"
import * as PgQueue from "./internal/pg/queue.js"
import * as contract from "./internal/orchestrator/contract.js"
import * as models from "./internal/orchestrator/models.js"
import * as sqlStore from "./internal/orchestrator/sqlStore.js"
import * as worker from "./internal/orchestrator/worker.js"
import * as RunEvent from "./RunEvent.js"
import type { NodeStatus, WorkflowSnapshotEncoded } from "./Snapshot.js"
import { Snapshots } from "./Snapshots.js"
import * as SqliteSnapshots from "./SqliteSnapshots.js"

/**
 * @since 0.1.0
 * @category models
 */
export const PipelineStatus = models.PipelineStatus

/**
 * @since 0.1.0
 * @category models
 */
export type PipelineStatus = models.PipelineStatus

/**
 * @since 0.1.0
 * @category models
 */
export const JobStatus = models.JobStatus

/**
 * @since 0.1.0
 * @category models
 */
export type JobStatus = models.JobStatus

/**
 * @since 0.1.0
 * @category models
 */
export const JobCounts = models.JobCounts

/**
 * @since 0.1.0
 * @category models
 */
export type JobCounts = models.JobCounts

/**
 * A pipeline: workflow, thread, status, job counts, the linked snapshot (checkpoint) id.
 *
 * @since 0.1.0
 * @category models
 */
export const Pipeline = models.Pipeline

/**
 * @since 0.1.0
 * @category models
 */
export type Pipeline = models.Pipeline

/**
 * One task execution: node, step, status, attempts, timings, output or error.
 *
 * @since 0.1.0
 * @category models
 */
export const Job = models.Job

/**
 * @since 0.1.0
 * @category models
 */
export type Job = models.Job

/**
 * The store of pipelines and jobs (and the async orchestrator's queue).
 *
 * @since 0.1.0
 * @category tags
 */
export const Pipelines = models.Pipelines

/**
 * @since 0.1.0
 * @category tags
 */
export type Pipelines = models.Pipelines

/**
 * @since 0.1.0
 * @category models
 */
export type Store = models.PipelineStore

/**
 * @since 0.1.0
 * @category errors
 */
export const PipelineNotFound = contract.PipelineNotFound

/**
 * @since 0.1.0
 * @category errors
 */
export type PipelineNotFound = contract.PipelineNotFound

/**
 * @since 0.1.0
 * @category errors
 */
export const InvalidPipelineTransition = contract.InvalidPipelineTransition

/**
 * @since 0.1.0
 * @category errors
 */
export type InvalidPipelineTransition = contract.InvalidPipelineTransition

// ---------------------------------------------------------------------------------------------
// layers
// ---------------------------------------------------------------------------------------------

/**
 * The store on the application's SQLite `SqlClient` (tables created by the @effect/sql
 * Migrator, migrations table `stategraph_queue_migrations`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerClient: Layer.Layer<Pipelines, StoreError, SqlClient.SqlClient> = Layer.scoped(Pipelines, sqlStore.make)

/**
 * Snapshots and pipelines in one SQLite file (WAL): what the `pipeline` and `async`
 * orchestrators and `Worker` need. Processes sharing the file share the queue.
 *
 * A queue ends a run on its thread with every job, so the snapshot store's checkpoint of the
 * WAL when a run ends (`walCheckpointAfterCommits`) is off by default here: SQLite's automatic
 * checkpoints keep the WAL to about 4 MB (`journalSizeLimitBytes` bounds the file after each).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSqlite = (
  config: SqliteSnapshots.Config
): Layer.Layer<Pipelines | Snapshots | SqlClient.SqlClient, StoreError> =>
  Layer.mergeAll(layerClient, SqliteSnapshots.layerClient({ ...config, walCheckpointAfterCommits: config.walCheckpointAfterCommits ?? 0 })).pipe(
    Layer.provideMerge(SqliteSnapshots.layerSqlClient(config))
  )

/**
 * The store on the application's Postgres `SqlClient` (`PgClient.layer(...)`), its tables in
 * `schema` (default `stategraph`, migrations table `stategraph_queue_migrations`). Workers on
 * every machine sharing the database share the queue: a claim takes ready jobs with
 * `FOR UPDATE … SKIP LOCKED`, and a job queued anywhere wakes idle workers everywhere through
 * `LISTEN/NOTIFY` (they poll too, in case a notice is lost).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerPgClient = (
  options?: { readonly schema?: string | undefined }
): Layer.Layer<Pipelines, StoreError, SqlClient.SqlClient> => Layer.scoped(Pipelines, PgQueue.make(options))

/**
 * How `layerPg` connects (see `PgSnapshots.Config` for every pool option).
 *
 * @since 0.1.0
 * @category models
 */
export interface PgConfig {
  /** `postgres://user:password@host:port/database` */
  readonly url?: string | Redacted.Redacted | undefined
  readonly host?: string | undefined
  readonly port?: number | undefined
  readonly database?: string | undefined
  readonly username?: string | undefined
  readonly password?: Redacted.Redacted | undefined
  readonly maxConnections?: number | undefined
  readonly connectTimeout?: Duration.DurationInput | undefined
  readonly applicationName?: string | undefined
  /** the schema of the tables (snapshots and queue), default `stategraph` */
  readonly schema?: string | undefined
  readonly appendFanout?: number | undefined
}

/**
 * Snapshots and pipelines in one Postgres database, on one pool: what API processes, the
 * `pipeline` and `async` orchestrators and `Worker`s on many machines share. Needs the optional
 * peer dependency `@effect/sql-pg` (loaded when the layer is built; a `StoreError` without it).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerPg = (config: PgConfig): Layer.Layer<Pipelines | Snapshots | SqlClient.SqlClient, StoreError> =>
  Layer.unwrapEffect(
    Effect.map(
      Effect.tryPromise({
        try: () => import("./PgSnapshots.js"),
        catch: (cause) => new StoreErrorClass({ operation: "open", cause: new Error(`Pipeline.layerPg needs @effect/sql-pg: ${String(cause)}`) })
      }),
      (Pg) =>
        Layer.mergeAll(layerPgClient(config), Pg.layerClient(config)).pipe(Layer.provideMerge(Pg.layerPgClient(config)))
    )
  )

// ---------------------------------------------------------------------------------------------
// queries
// ---------------------------------------------------------------------------------------------

/**
 * A pipeline with its job counts.
 *
 * @since 0.1.0
 * @category queries
 */
export const pipelineStatus = (pipelineId: string): Effect.Effect<Pipeline, PipelineNotFound | StoreError, Pipelines> =>
  Effect.flatMap(Pipelines, (store) =>
    Effect.flatMap(store.get(pipelineId), (p) =>
      Option.isSome(p) ? Effect.succeed(p.value) : Effect.fail(new contract.PipelineNotFound({ pipelineId }))))

/**
 * The jobs of a pipeline, in creation order.
 *
 * @since 0.1.0
 * @category queries
 */
export const jobs = (pipelineId: string): Effect.Effect<ReadonlyArray<Job>, StoreError, Pipelines> =>
  Effect.flatMap(Pipelines, (store) => store.jobs(pipelineId))

/**
 * @since 0.1.0
 * @category models
 */
export interface NodeStatusView {
  readonly executionId: string
  readonly nodeId: string
  /** `queued` / `running` while a job of the node waits or runs; otherwise the snapshot's */
  readonly status: NodeStatus | "queued"
  readonly attempts: number
  readonly injected: boolean
  readonly output?: unknown
  readonly error?: string | undefined
  /** the node's latest job, for pipelines */
  readonly job?: Job | undefined
}

/** An execution's thread and pipeline, and its own last checkpoint (the head, unless a later execution moved the thread on). */
const lastOfExecution = (executionId: string) =>
  Effect.gen(function*() {
    const store = yield* Pipelines
    const snapshots = yield* Snapshots
    const execution = yield* store.execution(executionId)
    if (Option.isNone(execution)) {
      return yield* Effect.fail(
        new contract.PipelineNotFound({ pipelineId: "", reason: `no pipeline runs execution "${executionId}"` })
      )
    }
    const head = yield* snapshots.load(execution.value.threadId)
    const last = Option.isSome(head) && head.value.executionId === executionId
      ? head
      : Option.fromNullable(
        (yield* snapshots.history(execution.value.threadId, {})).find((c) => c.executionId === executionId)
      )
    return { execution: execution.value, last }
  })

/**
 * An execution's snapshot (FlowDrop's `getSnapshot(executionId)`): the last checkpoint written
 * by that execution, for the `stategraph`, `pipeline` and `async` orchestrators (those that
 * persist). `PipelineNotFound` for an execution none of them recorded, or whose checkpoints were
 * cleaned up.
 *
 * @since 0.1.0
 * @category queries
 */
export const executionSnapshot = (
  executionId: string
): Effect.Effect<
  WorkflowSnapshotEncoded,
  PipelineNotFound | StoreError | import("./GraphError.js").CorruptSnapshot,
  Pipelines | Snapshots
> =>
  Effect.flatMap(lastOfExecution(executionId), ({ last }) =>
    Option.isSome(last)
      ? Effect.succeed(last.value)
      : Effect.fail(new contract.PipelineNotFound({ pipelineId: "", reason: `execution "${executionId}" has no checkpoint left` })))

/**
 * The status of a node in an execution (of the `stategraph`, `pipeline` or `async`
 * orchestrators: those that persist), from that execution's last checkpoint and the node's
 * latest job.
 *
 * @since 0.1.0
 * @category queries
 */
export const nodeStatus = (
  executionId: string,
  nodeId: string
): Effect.Effect<NodeStatusView, PipelineNotFound | StoreError | import("./GraphError.js").CorruptSnapshot, Pipelines | Snapshots> =>
  Effect.gen(function*() {
    const store = yield* Pipelines
    const { execution, last } = yield* lastOfExecution(executionId)
    const state = Option.isSome(last) ? last.value.nodeStates[nodeId] : undefined
    const pipelineJobs = execution.pipelineId === undefined ? [] : yield* store.jobs(execution.pipelineId)
    const job = pipelineJobs.filter((j) => j.node === nodeId).at(-1)
    const status = job?.status === "running"
      ? "running"
      : job?.status === "pending"
      ? "queued"
      : state?.status ?? (job?.status === "failed" ? "failed" : job?.status === "completed" ? "completed" : "pending")
    return {
      executionId,
      nodeId,
      status,
      attempts: state?.attempts ?? job?.attempts ?? 0,
      injected: state?.injected ?? job?.injected ?? false,
      ...(state?.output !== undefined ? { output: state.output } : job?.output !== undefined ? { output: job.output } : {}),
      ...(state?.error !== undefined ? { error: state.error } : job?.error !== undefined ? { error: job.error } : {}),
      ...(job !== undefined ? { job } : {})
    }
  })

// ---------------------------------------------------------------------------------------------
// control
// ---------------------------------------------------------------------------------------------

const eventBase = (p: Pipeline, timestamp: number) => ({
  executionId: p.executionId,
  threadId: p.threadId,
  pipelineId: p.id,
  workflowId: p.workflowId,
  timestamp
})

/**
 * Pauses a running pipeline: running jobs finish, no new job starts until `resume`.
 *
 * @since 0.1.0
 * @category control
 */
export const pause = (pipelineId: string): Effect.Effect<void, PipelineNotFound | InvalidPipelineTransition | StoreError, Pipelines> =>
  Effect.gen(function*() {
    const store = yield* Pipelines
    const p = yield* pipelineStatus(pipelineId)
    if (p.orchestrator !== "async" && p.status === "running") return yield* inlineRun(p, "paused")
    const now = yield* Clock.currentTimeMillis
    const moved = yield* store.transition(pipelineId, ["running", "pending"], "paused", { now, pauseReason: "requested" })
    if (!moved) return yield* Effect.fail(new contract.InvalidPipelineTransition({ pipelineId, from: p.status, to: "paused" }))
    yield* RunEvent.publish(() => new RunEvent.PipelinePaused({ ...eventBase(p, now), reason: "requested" }))
  })

/** An inline run (the `pipeline` orchestrator) runs in its caller's fiber: only that fiber can stop it. */
const inlineRun = (p: { readonly id: string; readonly orchestrator: string }, to: string) =>
  Effect.fail(
    new contract.InvalidPipelineTransition({
      pipelineId: p.id,
      from: `running inline in its caller (${p.orchestrator}): interrupt the caller's fiber to stop it`,
      to
    })
  )

/**
 * Resumes a pipeline paused by `pause`. (A pipeline paused on interrupts is resumed with the
 * answers, through the orchestrator.)
 *
 * @since 0.1.0
 * @category control
 */
export const resume = (pipelineId: string): Effect.Effect<void, PipelineNotFound | InvalidPipelineTransition | StoreError, Pipelines> =>
  Effect.gen(function*() {
    const store = yield* Pipelines
    const p = yield* pipelineStatus(pipelineId)
    if (p.status !== "paused" || p.pauseReason === "interrupt") {
      return yield* Effect.fail(
        new contract.InvalidPipelineTransition({ pipelineId, from: p.pauseReason === "interrupt" ? "paused (interrupt)" : p.status, to: "running" })
      )
    }
    const now = yield* Clock.currentTimeMillis
    const moved = yield* store.transition(pipelineId, ["paused"], "running", { now, pauseReason: null })
    if (!moved) return yield* Effect.fail(new contract.InvalidPipelineTransition({ pipelineId, from: p.status, to: "running" }))
    yield* RunEvent.publish(() => new RunEvent.PipelineStarted(eventBase(p, now)))
  })

/**
 * Cancels a pipeline: its queued jobs are cancelled, running ones finish but queue nothing
 * more, and the thread is released.
 *
 * @since 0.1.0
 * @category control
 */
export const cancel = (
  pipelineId: string
): Effect.Effect<void, PipelineNotFound | InvalidPipelineTransition | StoreError, Pipelines | Snapshots> =>
  Effect.gen(function*() {
    const store = yield* Pipelines
    const snapshots = yield* Snapshots
    const p = yield* pipelineStatus(pipelineId)
    if (p.orchestrator !== "async" && p.status === "running") return yield* inlineRun(p, "cancelled")
    const now = yield* Clock.currentTimeMillis
    const moved = yield* store.transition(pipelineId, ["pending", "running", "paused"], "cancelled", { now })
    if (!moved) return yield* Effect.fail(new contract.InvalidPipelineTransition({ pipelineId, from: p.status, to: "cancelled" }))
    yield* Effect.ignore(snapshots.release(p.threadId, pipelineId))
    yield* RunEvent.publish(() => new RunEvent.PipelineCancelled(eventBase(p, now)))
  })

// ---------------------------------------------------------------------------------------------
// backoff
// ---------------------------------------------------------------------------------------------

/**
 * The retry `Schedule` of a backoff config: exponential from `baseMillis` by `factor`, each
 * delay capped at `maxDelayMillis`, `maxAttempts - 1` retries.
 *
 * @since 0.1.0
 * @category backoff
 */
export const backoffSchedule: (backoff: typeof contract.Backoff.Type) => Schedule.Schedule<unknown, unknown> = worker.backoffSchedule

/**
 * The delay before retry number `retry` (1 = after the first failure), none when the schedule
 * allows no more.
 *
 * @since 0.1.0
 * @category backoff
 */
export const retryDelay: (schedule: Schedule.Schedule<unknown, unknown>, retry: number) => Effect.Effect<Option.Option<number>> =
  worker.retryDelay
