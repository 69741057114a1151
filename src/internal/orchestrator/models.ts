/**
 * Pipeline and job models and the store interface (the `Pipelines` service). The public
 * `Pipeline` module re-exports these with the layers and operations.
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { StoreError } from "../../GraphError.js"

/** @internal */
export const PipelineStatus = Schema.Literal("pending", "running", "paused", "completed", "failed", "cancelled")
/** @internal */
export type PipelineStatus = typeof PipelineStatus.Type

/** @internal */
export const JobStatus = Schema.Literal("pending", "running", "completed", "failed", "interrupted", "cancelled")
/** @internal */
export type JobStatus = typeof JobStatus.Type

/** @internal */
export class JobCounts extends Schema.Class<JobCounts>("JobCounts")({
  total: Schema.Int,
  pending: Schema.Int,
  running: Schema.Int,
  completed: Schema.Int,
  failed: Schema.Int,
  interrupted: Schema.Int,
  cancelled: Schema.Int
}) {}

/** @internal */
export class Pipeline extends Schema.Class<Pipeline>("Pipeline")({
  id: Schema.String,
  workflowId: Schema.String,
  workflowVersion: Schema.String,
  threadId: Schema.String,
  executionId: Schema.String,
  /** the orchestrator that owns it: `pipeline` (inline) or `async` (queue) */
  orchestrator: Schema.String,
  status: PipelineStatus,
  pauseReason: Schema.optional(Schema.Literal("interrupt", "requested")),
  priority: Schema.Int,
  maxConcurrentJobs: Schema.Int,
  retryStrategy: Schema.Literal("individual", "stop_on_failure"),
  /** the linked snapshot: the thread's checkpoint id when last recorded */
  snapshotId: Schema.NullOr(Schema.String),
  error: Schema.optional(Schema.String),
  jobCounts: JobCounts,
  createdAt: Schema.Number,
  updatedAt: Schema.Number,
  finishedAt: Schema.optional(Schema.Number)
}) {}

/** @internal */
export class Job extends Schema.Class<Job>("Job")({
  id: Schema.String,
  pipelineId: Schema.String,
  /** the task of the step it runs (unique per pipeline) */
  taskId: Schema.String,
  checkpointId: Schema.String,
  node: Schema.String,
  step: Schema.Int,
  status: JobStatus,
  attempts: Schema.Int,
  maxAttempts: Schema.Int,
  /** when it may run next (ms, the Effect `Clock`) */
  runAt: Schema.Number,
  createdAt: Schema.Number,
  startedAt: Schema.optional(Schema.Number),
  finishedAt: Schema.optional(Schema.Number),
  /** the task's writes, channel → encoded value */
  output: Schema.optional(Schema.Unknown),
  error: Schema.optional(Schema.String),
  /** a node state loaded from a handover snapshot: never executed here */
  injected: Schema.Boolean,
  workerId: Schema.optional(Schema.String)
}) {}

/** A job to create. @internal */
export interface NewJob {
  readonly id: string
  readonly taskId: string
  readonly checkpointId: string
  readonly node: string
  readonly step: number
  readonly status?: JobStatus | undefined
  readonly output?: unknown
  readonly injected?: boolean | undefined
  /** a resume job: encoded answers and the tasks it runs */
  readonly resume?: { readonly answers: ReadonlyArray<EncodedAnswer>; readonly tasks: ReadonlyArray<string> } | undefined
}

/** @internal */
export interface EncodedAnswer {
  readonly kind: string
  readonly id: string | undefined
  readonly value: unknown
}

/** What a worker needs of a job's pipeline (fixed at the pipeline's creation). @internal */
export interface PipelineInfo {
  readonly threadId: string
  readonly workflowId: string
  readonly workflowVersion: string
  readonly executionId: string
  readonly retryStrategy: "individual" | "stop_on_failure"
  readonly config: unknown
}

/** A claimed job with what the worker needs of its pipeline. @internal */
export interface Claimed extends PipelineInfo {
  readonly job: Job
  readonly resume: { readonly answers: ReadonlyArray<EncodedAnswer>; readonly tasks: ReadonlyArray<string> } | undefined
}

/** @internal */
export interface NewPipeline {
  readonly id: string
  readonly workflowId: string
  readonly workflowVersion: string
  readonly threadId: string
  readonly executionId: string
  readonly orchestrator: string
  readonly status: PipelineStatus
  readonly priority: number
  readonly maxConcurrentJobs: number
  readonly maxAttempts: number
  readonly retryStrategy: "individual" | "stop_on_failure"
  readonly orderByStep: boolean
  readonly config: unknown
  readonly snapshotId: string | null
  readonly now: number
}

/** How a job ended, as the worker records it. @internal */
export type JobEnd =
  | { readonly _tag: "Completed"; readonly output: unknown }
  /** `interrupts`: the job's encoded interrupt records, kept to rebuild the step's full list */
  | { readonly _tag: "Interrupted"; readonly interrupts: ReadonlyArray<unknown> }
  /** back to the queue without counting an attempt (paused thread, racing commit, sleeper) */
  | { readonly _tag: "Requeue"; readonly runAt: number }
  | { readonly _tag: "Retry"; readonly runAt: number; readonly error: string }
  | { readonly _tag: "Failed"; readonly error: string; readonly fatal: boolean }

/** How one job ended, to record. @internal */
export interface FinishRequest {
  readonly claimed: Claimed
  readonly workerId: string
  readonly end: JobEnd
  readonly options: {
    readonly now: number
    /** when the job started running (a batch's jobs are claimed together, then run in turn) */
    readonly startedAt?: number | undefined
    readonly next?: ReadonlyArray<NewJob> | undefined
    readonly snapshotId?: string | undefined
    readonly complete?: boolean | undefined
  }
}

/** What finishing a job did to its pipeline. @internal */
export interface Finished {
  /** false when the job's lease was lost (another worker owns it now) */
  readonly owned: boolean
  readonly created: ReadonlyArray<Job>
  /** the pipeline's new status when this call changed it */
  readonly pipelineStatus: PipelineStatus | undefined
  readonly cancelled: number
  /**
   * The pipeline has failed and no other job of it still runs: the thread can be given back. A
   * sibling still running keeps it, so its task's writes are saved (a continued thread does not
   * run it again); the last one to end gives it back.
   */
  readonly releaseThread?: boolean | undefined
  /** for an interrupted job: the interrupt records of every interrupted job of its checkpoint */
  readonly interrupts?: ReadonlyArray<unknown> | undefined
}

/** @internal */
export interface PipelineStore {
  readonly createPipeline: (pipeline: NewPipeline, jobs: ReadonlyArray<NewJob>) => Effect.Effect<ReadonlyArray<Job>, StoreError>
  readonly get: (pipelineId: string) => Effect.Effect<Option.Option<Pipeline>, StoreError>
  readonly jobs: (pipelineId: string) => Effect.Effect<ReadonlyArray<Job>, StoreError>
  /** the newest pipeline of a thread, optionally with one of these statuses */
  readonly byThread: (
    threadId: string,
    statuses?: ReadonlyArray<PipelineStatus>
  ) => Effect.Effect<Option.Option<Pipeline>, StoreError>
  /** execution id → thread (every orchestrator that persists records its executions) */
  readonly recordExecution: (
    executionId: string,
    threadId: string,
    orchestrator: string,
    pipelineId: string | undefined
  ) => Effect.Effect<void, StoreError>
  readonly execution: (
    executionId: string
  ) => Effect.Effect<Option.Option<{ readonly threadId: string; readonly pipelineId: string | undefined }>, StoreError>
  /**
   * Moves a pipeline from one of `from` to `to` (compare-and-set); returns whether it moved.
   * `cancelled` / `failed` also cancel its pending jobs.
   */
  readonly transition: (
    pipelineId: string,
    from: ReadonlyArray<PipelineStatus>,
    to: PipelineStatus,
    patch?: {
      readonly pauseReason?: "interrupt" | "requested" | null
      readonly error?: string
      readonly snapshotId?: string
      readonly now: number
    }
  ) => Effect.Effect<boolean, StoreError>
  /** inline (pipeline orchestrator) job records */
  readonly putJob: (pipelineId: string, job: NewJob, fields: Partial<JobRecordFields>) => Effect.Effect<void, StoreError>
  readonly updateJob: (jobId: string, fields: Partial<JobRecordFields>) => Effect.Effect<void, StoreError>
  readonly setSnapshot: (pipelineId: string, snapshotId: string, now: number) => Effect.Effect<void, StoreError>
  /** queue: creates jobs unless a job of the task exists; returns the created ones */
  readonly enqueue: (pipelineId: string, jobs: ReadonlyArray<NewJob>, now: number) => Effect.Effect<ReadonlyArray<Job>, StoreError>
  /**
   * queue: claims up to `max` ready jobs of running pipelines in one transaction, in queue order,
   * without taking a pipeline past its concurrency limit (fewer when fewer are ready)
   */
  readonly claim: (
    workerId: string,
    now: number,
    leaseUntil: number,
    max: number
  ) => Effect.Effect<ReadonlyArray<Claimed>, StoreError>
  /**
   * queue: claimed jobs that were not started go back to the queue without counting an attempt
   * (cancelled when their pipeline ended meanwhile); returns how many are ready again
   */
  readonly giveBack: (jobIds: ReadonlyArray<string>, workerId: string, now: number) => Effect.Effect<number, StoreError>
  readonly heartbeat: (jobId: string, workerId: string, leaseUntil: number) => Effect.Effect<boolean, StoreError>
  /** whether the pipeline is running (its claimed jobs may start) */
  readonly isRunning: (pipelineId: string) => Effect.Effect<boolean, StoreError>
  /**
   * Records how jobs ended, all in one transaction, each as if alone and in order: the job's
   * record, the next jobs (deduplicated), the linked snapshot and the pipeline's move (completed,
   * failed). Does not `signal`: the caller does, after publishing its events.
   */
  readonly finish: (items: ReadonlyArray<FinishRequest>) => Effect.Effect<ReadonlyArray<Finished>, StoreError>
  /** running jobs whose lease ended go back to the queue; returns how many */
  readonly reclaim: (now: number) => Effect.Effect<number, StoreError>
  /** resume: the interrupted jobs of a paused pipeline give way to one resume job */
  readonly resumeWith: (pipelineId: string, job: NewJob, now: number) => Effect.Effect<ReadonlyArray<Job>, StoreError>
  /** threads of active pipelines (sleepers of these are woken by their jobs, not by invoke) */
  readonly activeThreads: (threadIds: ReadonlyArray<string>) => Effect.Effect<ReadonlySet<string>, StoreError>
  /** in-process wake-up: resolves when jobs may be ready (enqueue, resume) */
  readonly signal: Effect.Effect<void>
  readonly awaitWork: (millis: number) => Effect.Effect<void>
  /** the wake-up count now; `awaitWorkSince` returns at once when it moved since */
  readonly ticket: Effect.Effect<number>
  /**
   * Waits for a wake-up, at most `millis`, and never past the moment the next job scheduled for
   * later comes due (`now` is the time of the claim that found nothing, on the worker's clock).
   */
  readonly awaitWorkSince: (millis: number, ticket: number, now?: number) => Effect.Effect<void>
}

/** @internal */
export interface JobRecordFields {
  readonly status: JobStatus
  readonly attempts: number
  readonly startedAt: number
  readonly finishedAt: number
  readonly output: unknown
  readonly error: string
}

/** @internal */
export class Pipelines extends Context.Tag("effect-stategraph/Pipelines")<Pipelines, PipelineStore>() {}
