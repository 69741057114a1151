/**
 * The queue's rows as the store hands them out (jobs, pipelines with their job counts) and a new
 * job's parameters.
 */
import { Job, JobCounts, type NewJob, Pipeline, type PipelineStatus } from "../orchestrator/models.js"

export const parse = (text: unknown): unknown => {
  if (typeof text !== "string") return undefined
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

export const opt = <A>(v: A | null | undefined): A | undefined => (v === null ? undefined : v)

export const toJob = (r: any): Job =>
  new Job({
    id: r.job_id,
    pipelineId: r.pipeline_id,
    taskId: r.task_id,
    checkpointId: r.checkpoint_id,
    node: r.node,
    step: r.step,
    status: r.status,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    runAt: r.run_at,
    createdAt: r.created_at,
    startedAt: opt(r.started_at),
    finishedAt: opt(r.finished_at),
    output: r.output === null ? undefined : parse(r.output),
    error: opt(r.error),
    injected: r.injected === 1,
    workerId: opt(r.worker_id)
  }, { disableValidation: true })

export const toCounts = (rows: ReadonlyArray<any>): JobCounts => {
  const c: Record<string, number> = { pending: 0, running: 0, completed: 0, failed: 0, interrupted: 0, cancelled: 0 }
  let total = 0
  for (const r of rows) {
    c[r.status] = (c[r.status] ?? 0) + r.n
    total += r.n
  }
  return new JobCounts({
    total,
    pending: c.pending!,
    running: c.running!,
    completed: c.completed!,
    failed: c.failed!,
    interrupted: c.interrupted!,
    cancelled: c.cancelled!
  }, { disableValidation: true })
}

export const toPipeline = (r: any, counts: JobCounts): Pipeline =>
  new Pipeline({
    id: r.pipeline_id,
    workflowId: r.workflow_id,
    workflowVersion: r.workflow_version,
    threadId: r.thread_id,
    executionId: r.execution_id,
    orchestrator: r.orchestrator,
    status: r.status,
    pauseReason: opt(r.pause_reason),
    priority: r.priority,
    maxConcurrentJobs: r.max_concurrent,
    retryStrategy: r.retry_strategy,
    snapshotId: r.snapshot_id,
    error: opt(r.error),
    jobCounts: counts,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    finishedAt: opt(r.finished_at)
  }, { disableValidation: true })

export const jobParams = (pipelineId: string, j: NewJob, now: number, runAt: number) => [
  j.id,
  j.taskId,
  j.checkpointId,
  j.node,
  j.step,
  j.status ?? "pending",
  j.step,
  runAt,
  now,
  j.output === undefined ? null : JSON.stringify(j.output),
  j.injected ? 1 : 0,
  j.resume === undefined ? null : JSON.stringify(j.resume),
  j.status === "completed" || j.status === "cancelled" ? now : null,
  pipelineId
]

export const terminal: ReadonlyArray<PipelineStatus> = ["completed", "failed", "cancelled"]
