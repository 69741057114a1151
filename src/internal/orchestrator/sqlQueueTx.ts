/**
 * The queue store's writes inside a caller's transaction, shared by its methods: a pipeline's
 * status transition, how one job ended, a job's fields; and the per-pipeline facts a claim needs.
 */
import * as Effect from "effect/Effect"
import type * as Db from "../sql/db.js"
import type { QueueStatements } from "../sql/queueStatements.js"
import { jobParams, parse, terminal, toJob } from "../sql/queueRows.js"
import type { FinishRequest, Finished, Job, JobRecordFields, PipelineInfo, PipelineStatus } from "./models.js"

/** A cache of what a worker needs of a pipeline (it never changes after the pipeline is created). @internal */
export const makeInfoOf = () => {
  /** What a worker needs of a pipeline never changes after its creation: kept per pipeline. */
  const pipelineInfo = new Map<string, PipelineInfo>()
  /** Stored configs, parsed once per distinct text (pipelines of one workflow share theirs). */
  const configs = new Map<string, unknown>()
  return (r: any): PipelineInfo => {
    const known = pipelineInfo.get(r.pipeline_id)
    if (known !== undefined) return known
    let config = configs.get(r.config)
    if (config === undefined) {
      config = parse(r.config) ?? {}
      if (configs.size > 256) configs.clear()
      configs.set(r.config, config)
    }
    const fresh: PipelineInfo = {
      threadId: r.thread_id,
      workflowId: r.workflow_id,
      workflowVersion: r.workflow_version,
      executionId: r.execution_id,
      retryStrategy: r.retry_strategy,
      config
    }
    if (pipelineInfo.size > 4096) pipelineInfo.clear()
    pipelineInfo.set(r.pipeline_id, fresh)
    return fresh
  }
}

/** The pipeline's row, read in `tx`. @internal */
export const pipelineRow = (Q: QueueStatements, tx: Db.Tx, pipelineId: string) =>
  Effect.map(tx.all(Q.pipelineOf, [pipelineId]), (rows) => rows[0] as any | undefined)

/** Moves a pipeline from one of `from` to `to` (false: it was not in `from`). @internal */
export const transitionIn = (
  Q: QueueStatements,
  tx: Db.Tx,
  pipelineId: string,
  from: ReadonlyArray<PipelineStatus>,
  to: PipelineStatus,
  patch: { readonly pauseReason?: "interrupt" | "requested" | null; readonly error?: string; readonly snapshotId?: string; readonly now: number }
) =>
  Effect.gen(function*() {
    const rows = yield* tx.all(
      Q.transition(from.length),
      [
        to,
        patch.now,
        "pauseReason" in patch ? 1 : 0,
        patch.pauseReason ?? null,
        patch.error ?? null,
        patch.snapshotId ?? null,
        terminal.includes(to) ? 1 : 0,
        patch.now,
        pipelineId,
        ...from
      ]
    )
    if (rows.length === 0) return false
    if (to === "cancelled" || to === "failed") yield* tx.all(Q.cancelPending, [patch.now, pipelineId])
    return true
  })

/** Records how one job ended (see `PipelineStore.finish`), in the caller's transaction. @internal */
export function finishIn(Q: QueueStatements, tx: Db.Tx, { claimed, end, options, workerId }: FinishRequest) {
  return Effect.gen(function*() {
    const { job } = claimed
    const now = options.now
    const startedAt = options.startedAt ?? null
    let params: Array<unknown>
    switch (end._tag) {
      case "Completed":
        params = [end.output === undefined ? null : JSON.stringify(end.output), now]
        break
      case "Interrupted":
        params = [now, JSON.stringify(end.interrupts)]
        break
      case "Requeue":
        params = [end.runAt]
        break
      case "Retry":
        params = [end.runAt, end.error]
        break
      case "Failed":
        params = [end.error, now]
        break
    }
    const owned = (yield* tx.all(Q.finish[end._tag], [...params, startedAt, job.id, workerId])).length > 0
    if (!owned && end._tag !== "Completed") return { owned, created: [], pipelineStatus: undefined, cancelled: 0 } satisfies Finished
    // Postgres (read committed): two jobs of a pipeline ending at once would each count the other
    // as still running, and neither would fail the pipeline or give its thread back. The
    // pipeline's lock (the claims' one, taken after the job's row as claims do) puts them in turn.
    if (Q.lockPipelines !== undefined) yield* tx.all(Q.lockPipelines, [JSON.stringify([job.pipelineId])])
    if (end._tag === "Completed" && options.complete === true) {
      // the run's last job: the pipeline completes, its snapshot linked, in one statement
      const patch = options.snapshotId === undefined ? { now } : { now, snapshotId: options.snapshotId }
      if (yield* transitionIn(Q, tx, job.pipelineId, ["running", "paused"], "completed", patch)) {
        return { owned, created: [], pipelineStatus: "completed", cancelled: 0 } satisfies Finished
      }
    }
    // the pipeline's status, linking the new snapshot on the way
    const p = options.snapshotId !== undefined
      ? (yield* tx.all(
        Q.linkSnapshot,
        [options.snapshotId, now, job.pipelineId]
      ))[0]
      : (yield* tx.all(Q.pipelineStatus, [job.pipelineId]))[0]
    const noneRunning = Effect.map(
      tx.all(Q.runningCount, [job.pipelineId]),
      (rows) => (rows[0]?.n ?? 0) === 0
    )
    if (p === undefined) return { owned, created: [], pipelineStatus: undefined, cancelled: 0 }
    if ((p.status === "cancelled" || p.status === "failed") && (end._tag === "Requeue" || end._tag === "Retry")) {
      // the pipeline ended while the job ran: it does not go back to the queue
      yield* tx.all(Q.cancelJob, [
        `the pipeline was ${p.status === "cancelled" ? "cancelled" : "failed by another job"} while this job ran`,
        now,
        job.id
      ])
      const releaseThread = p.status === "failed" && (yield* noneRunning)
      return { owned, created: [], pipelineStatus: undefined, cancelled: 1, releaseThread }
    }
    const created: Array<Job> = []
    if (options.next !== undefined && (p.status === "running" || p.status === "paused")) {
      for (const j of options.next) {
        for (const r of yield* tx.all(Q.insertJob, jobParams(job.pipelineId, j, now, now))) created.push(toJob(r))
      }
    }
    let interrupts: Array<unknown> | undefined
    if (end._tag === "Interrupted") {
      interrupts = []
      const rows = yield* tx.all(
        Q.interruptsOf,
        [job.pipelineId, job.checkpointId]
      )
      for (const r of rows) {
        const list = parse(r.interrupts)
        if (Array.isArray(list)) interrupts.push(...list)
      }
    }
    let pipelineStatus: PipelineStatus | undefined
    if (options.complete === true) {
      if (yield* transitionIn(Q, tx, job.pipelineId, ["running", "paused"], "completed", { now })) pipelineStatus = "completed"
    } else if (end._tag === "Failed" && (end.fatal || claimed.retryStrategy === "stop_on_failure")) {
      if (yield* transitionIn(Q, tx, job.pipelineId, ["running", "paused"], "failed", { now, error: end.error })) {
        pipelineStatus = "failed"
      }
    } else if (end._tag === "Failed" || end._tag === "Completed") {
      // individual strategy: once nothing can run any more, a pipeline with a failed job has failed
      const a = (yield* tx.all(Q.activeOf, [job.pipelineId, job.pipelineId]))[0]
      if ((a?.active ?? 0) === 0 && (a?.failed ?? 0) > 0) {
        const error: string = a?.error ?? (end._tag === "Failed" ? end.error : "a job failed")
        if (yield* transitionIn(Q, tx, job.pipelineId, ["running"], "failed", { now, error })) pipelineStatus = "failed"
      }
    }
    // a failed pipeline's thread is given back by the last of its jobs to end
    const releaseThread = (pipelineStatus === "failed" || p.status === "failed") && (yield* noneRunning)
    return { owned, created, pipelineStatus, cancelled: 0, interrupts, releaseThread } satisfies Finished
  })
}

/** @internal */
export function updateIn(Q: QueueStatements, tx: Db.Tx, jobId: string, f: Partial<JobRecordFields>) {
  return tx.all(
    Q.updateJob,
    [
      f.status ?? null,
      f.attempts ?? null,
      f.startedAt ?? null,
      f.finishedAt ?? null,
      f.output === undefined ? null : JSON.stringify(f.output),
      f.error ?? null,
      jobId
    ]
  )
}
