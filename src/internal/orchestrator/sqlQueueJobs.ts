/**
 * The queue store's job methods: enqueue, claim, heartbeats, how jobs end, reclaiming expired
 * leases. `signal` wakes idle workers (here, and in other processes when the dialect can).
 */
import * as Effect from "effect/Effect"
import type { Claimed, Job, PipelineStore } from "./models.js"
import { jobParams, parse, toJob } from "../sql/queueRows.js"
import { finishIn, transitionIn } from "./sqlQueueTx.js"
import type { QueueContext } from "./sqlStore.js"

/** @internal */
export const jobMethods = ({ db, Q, signal, infoOf }: QueueContext) => ({
    enqueue: (pipelineId, jobs, now) =>
      db.write("enqueue", (tx) =>
        Effect.gen(function*() {
          const created: Array<Job> = []
          for (const j of jobs) {
            for (const r of yield* tx.all(Q.insertJob, jobParams(pipelineId, j, now, now))) created.push(toJob(r))
          }
          return created
        })).pipe(Effect.tap((created) => (created.length > 0 ? signal : Effect.void))),

    claim: (workerId, now, leaseUntil, max) =>
      db.write("claim", (tx) =>
        Effect.gen(function*() {
          // in queue order; a pipeline reaching its limit with the jobs taken is left out of the
          // next look, so the claim goes on with the jobs after its own
          const taken: Array<any> = []
          const running = new Map<string, number>()
          const full: Array<string> = []
          while (taken.length < max) {
            const wanted = max - taken.length
            const candidates = yield* (taken.length === 0
              ? tx.all(Q.readyFirst, [now, wanted])
              : tx.all(Q.readyExcept, [now, JSON.stringify(full), JSON.stringify(taken.map((c) => c.seq)), wanted]))
            for (const c of candidates) {
              const n = running.get(c.pipeline_id) ?? c.running
              if (n >= c.max_concurrent) continue
              running.set(c.pipeline_id, n + 1)
              taken.push(c)
              if (n + 1 >= c.max_concurrent) full.push(c.pipeline_id)
            }
            if (candidates.length < wanted) break
          }
          if (Q.runningOf !== undefined && taken.length > 0) {
            // once the pipelines are locked their running count is exact; the candidates' may be old
            const pipelineIds = JSON.stringify([...new Set(taken.map((c) => c.pipeline_id))])
            if (Q.lockPipelines !== undefined) yield* tx.all(Q.lockPipelines, [pipelineIds])
            const counts = new Map<string, number>()
            for (const r of yield* tx.all(Q.runningOf, [pipelineIds])) {
              counts.set(r.pipeline_id, r.n)
            }
            const kept = taken.filter((c) => {
              const n = counts.get(c.pipeline_id) ?? 0
              if (n >= c.max_concurrent) return false
              counts.set(c.pipeline_id, n + 1)
              return true
            })
            taken.length = 0
            taken.push(...kept)
          }
          if (taken.length === 0) return []
          // the rows were read pending in this write transaction (and locked): each one is claimed
          yield* tx.all(Q.claimJobs, [workerId, leaseUntil, now, JSON.stringify(taken.map((c) => c.seq))])
          return taken.map((c): Claimed => ({
            job: toJob({ ...c, status: "running", worker_id: workerId, attempts: c.attempts + 1, started_at: now, error: null }),
            ...infoOf(c),
            resume: c.resume === null ? undefined : parse(c.resume) as any
          }))
        })),

    giveBack: (jobIds, workerId, now) =>
      jobIds.length === 0
        ? Effect.succeed(0)
        : Effect.map(db.once("giveBack", Q.giveBackJobs, [now, JSON.stringify(jobIds), workerId]), (rows) => {
          // the signal wakes the other workers: the jobs are ready again
          return rows.filter((r) => r.status === "pending").length
        }).pipe(Effect.tap((n) => (n > 0 ? signal : Effect.void))),

    heartbeat: (jobId, workerId, leaseUntil) =>
      Effect.map(
        db.once(
          "heartbeat",
          Q.heartbeat,
          [leaseUntil, jobId, workerId]
        ),
        (rows) => rows.length > 0
      ),

    isRunning: (pipelineId) =>
      Effect.map(
        db.once("isRunning", Q.isRunning, [pipelineId]),
        (rows) => rows.length > 0
      ),

    finish: (items) =>
      items.length === 0 ? Effect.succeed([]) : db.write("finishJobs", (tx) => Effect.forEach(items, (item) => finishIn(Q, tx, item))).pipe(
        // a job put back for later (a retry's backoff, a durable sleep): idle workers, here and
        // in other processes, learn when it comes due
        Effect.tap(() => (items.some((i) => i.end._tag === "Requeue" || i.end._tag === "Retry") ? signal : Effect.void))
      ),

    reclaim: (now) =>
      Effect.map(
        db.once(
          "reclaim",
          Q.reclaim,
          [now]
        ),
        (rows) => rows.length
      ).pipe(Effect.tap((n) => (n > 0 ? signal : Effect.void))),

    resumeWith: (pipelineId, job, now) =>
      db.write("resumePipeline", (tx) =>
        Effect.gen(function*() {
          const created: Array<Job> = []
          for (const r of yield* tx.all(Q.insertJob, jobParams(pipelineId, job, now, now))) created.push(toJob(r))
          yield* transitionIn(Q, tx, pipelineId, ["paused"], "running", { now, pauseReason: null })
          return created
        })),

    activeThreads: (threadIds) =>
      threadIds.length === 0
        ? Effect.succeed(new Set<string>())
        : Effect.map(
          db.once(
            "activeThreads",
            Q.activeThreads,
            [JSON.stringify(threadIds)]
          ),
          (rows) => new Set(rows.map((r) => r.thread_id as string))
        )
}) satisfies Partial<PipelineStore>
