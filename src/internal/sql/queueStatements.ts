/**
 * What a database gives the queue store (`orchestrator/sqlStore.ts`): its statements (SQLite:
 * `sqlite/queue.ts`, Postgres: `pg/queue.ts`) and, beyond one process, its wake-ups.
 */
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { FinishRequest } from "../orchestrator/models.js"

/** The queue's statements of a dialect (SQLite: `sqlite/queue.ts`, Postgres: `pg/queue.ts`). @internal */
export interface QueueStatements {
  /** params: jobId, taskId, checkpointId, node, step, status, orderKey, runAt, createdAt, output, injected, resume, finishedAt, pipelineId */
  readonly insertJob: string
  /** ready jobs in queue order, with `running` (of their pipeline) and the pipeline's fields. params: now, limit */
  readonly readyFirst: string
  /** the same without some pipelines and jobs. params: now, pipelineIdsJson, seqsJson, limit */
  readonly readyExcept: string
  /**
   * when the next job scheduled for later (a retry's backoff, a durable sleep) comes due: the
   * earliest `run_at` after now of a pending job of a running async pipeline. params: now → rows { due }
   */
  readonly nextDue: string
  /** params: workerId, leaseUntil, now, seqsJson */
  readonly claimJobs: string
  /**
   * Postgres: serializes the claims of the pipelines' jobs (a lock held to the transaction's end,
   * taken in order). params: pipelineIdsJson
   */
  readonly lockPipelines?: string
  /**
   * Postgres: the running jobs of pipelines, counted again once they are locked (the count read
   * with the candidates may predate another worker's claim). params: pipelineIdsJson
   */
  readonly runningOf?: string
  /** params: now, jobIdsJson, workerId → rows { status } */
  readonly giveBackJobs: string
  /** params: pipelineId */
  readonly pipelineOf: string
  /** params: pipelineId → rows { status, n } */
  readonly countsOf: string
  /** params: pipelineId, pipelineId → one row { active, failed, error } */
  readonly activeOf: string
  /** params: now, pipelineId */
  readonly cancelPending: string
  /** params: to, now, hasPauseReason, pauseReason, error, snapshotId, terminal, now, pipelineId, ...from */
  readonly transition: (from: number) => string
  /** params: the 17 columns of a pipeline */
  readonly insertPipeline: string
  /** params: executionId, threadId, orchestrator, pipelineId */
  readonly putExecution: string
  /** params: pipelineId */
  readonly jobsOf: string
  /** params: threadId, hasStatuses (1|null), statusesJson */
  readonly byThread: string
  /** params: executionId */
  readonly execution: string
  /** params: snapshotId, now, pipelineId */
  readonly setSnapshot: string
  /** params: leaseUntil, jobId, workerId */
  readonly heartbeat: string
  /** params: pipelineId */
  readonly isRunning: string
  /** params: now */
  readonly reclaim: string
  /** params: threadIdsJson */
  readonly activeThreads: string
  /**
   * How a job ended, by kind; params: the kind's (Completed: output, now; Interrupted: now,
   * interrupts; Requeue: runAt; Retry: runAt, error; Failed: error, now), then startedAt, jobId, workerId
   */
  readonly finish: { readonly [K in FinishRequest["end"]["_tag"]]: string }
  /** params: error (why it was cancelled), now, jobId */
  readonly cancelJob: string
  /** params: snapshotId, now, pipelineId → rows { status } */
  readonly linkSnapshot: string
  /** params: pipelineId → rows { status } */
  readonly pipelineStatus: string
  /** params: pipelineId → rows { n } */
  readonly runningCount: string
  /** params: pipelineId, checkpointId → rows { interrupts } */
  readonly interruptsOf: string
  /** params: status, attempts, startedAt, finishedAt, output, error, jobId */
  readonly updateJob: string
}

/**
 * Wake-ups beyond this process (Postgres: LISTEN/NOTIFY): `notify` tells the other processes that
 * jobs may be ready; `listen` calls `wake` on their notices, for the store's scope.
 *
 * @internal
 */
export interface Wakeups {
  readonly notify: Effect.Effect<void>
  readonly listen: (wake: Effect.Effect<void>) => Effect.Effect<void, never, Scope.Scope>
}
