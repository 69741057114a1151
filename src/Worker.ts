/**
 * The worker pool of the `async` orchestrator. Each worker fiber claims a ready job with a
 * lease (renewed while the job runs), runs its task with the engine, retries it with backoff,
 * and queues the next step's tasks when the job advanced the thread. Workers also reclaim expired
 * leases (a worker killed mid-job loses nothing: the job runs again elsewhere) and wake durable
 * sleepers when due. Pools in several processes share one database.
 *
 * ```ts
 * const Workers = Worker.layer({ concurrency: 4 }).pipe(
 *   Layer.provide(Graphs.layer([graph])),
 *   Layer.provide(Pipeline.layerSqlite({ filename: "data/app.db" }))
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Graphs from "./Graphs.js"
import * as Ids from "./internal/ids.js"
import { Pipelines } from "./internal/orchestrator/models.js"
import * as worker from "./internal/orchestrator/worker.js"
import { Snapshots } from "./Snapshots.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** worker fibers in this pool */
  readonly concurrency: number
  /** how long an idle worker waits before polling again (default 25 ms; in-process enqueues wake it at once) */
  readonly pollInterval?: Duration.DurationInput | undefined
  /** a claimed job's lease; renewed every third of it while the job runs (default 30 s) */
  readonly lease?: Duration.DurationInput | undefined
  /** default: a fresh id per pool */
  readonly workerId?: string | undefined
  /** continue due durable sleepers of threads not run by a pipeline (default true) */
  readonly wakeSleepers?: boolean | undefined
  /** how often expired leases are reclaimed and due sleepers woken (default min(1 s, lease / 2)) */
  readonly maintenanceInterval?: Duration.DurationInput | undefined
  /**
   * the most jobs a worker fiber claims at once (default 16; 1: one at a time). A fiber claims
   * as many as its recent jobs suggest end within half of `batchWindow`, runs them in turn and
   * records how they ended in one transaction
   */
  readonly maxBatch?: number | undefined
  /**
   * how long a worker fiber's batch may take (default 20 ms, at most a quarter of the lease): no
   * job of it starts later; when one still runs then, the jobs not started go back to the queue
   * and the ended ones are recorded at once
   */
  readonly batchWindow?: Duration.DurationInput | undefined
}

const poolOptions = (options: Options): worker.PoolOptions => {
  const leaseMillis = Math.max(30, Duration.toMillis(options.lease ?? Duration.seconds(30)))
  return {
    concurrency: Math.max(1, Math.floor(options.concurrency)),
    pollMillis: Math.max(1, Duration.toMillis(options.pollInterval ?? Duration.millis(25))),
    leaseMillis,
    workerId: options.workerId ?? `worker-${Ids.make()}`,
    wakeSleepers: options.wakeSleepers ?? true,
    maintenanceMillis: options.maintenanceInterval !== undefined
      ? Math.max(1, Duration.toMillis(options.maintenanceInterval))
      : Math.min(1000, Math.floor(leaseMillis / 2)),
    maxBatch: Math.max(1, Math.floor(options.maxBatch ?? 16)),
    // a batch ends well within its jobs' lease: they are not renewed while they wait
    batchWindowMillis: Math.max(1, Math.min(Math.floor(leaseMillis / 4), Duration.toMillis(options.batchWindow ?? Duration.millis(20))))
  }
}

/**
 * Runs a pool until interrupted (for a worker process's main).
 *
 * @since 0.1.0
 * @category running
 */
export const run = (options: Options): Effect.Effect<never, never, Snapshots | Pipelines | Graphs.Graphs> =>
  Effect.scoped(Effect.zipRight(start(options), Effect.never))

/**
 * Forks a pool in the scope.
 *
 * @since 0.1.0
 * @category running
 */
export const start = (options: Options): Effect.Effect<void, never, Snapshots | Pipelines | Graphs.Graphs | Scope.Scope> =>
  Effect.gen(function*() {
    const o = poolOptions(options)
    const deps: worker.Deps = {
      store: yield* Snapshots,
      pipelines: yield* Pipelines,
      graphs: yield* Graphs.Graphs,
      leaseMillis: o.leaseMillis
    }
    for (let i = 0; i < o.concurrency; i++) {
      yield* Effect.forkScoped(worker.workerLoop(deps, `${o.workerId}/${i}`, o) as Effect.Effect<never>)
    }
    yield* Effect.forkScoped(worker.maintenance(deps, o) as Effect.Effect<never>)
  })

/**
 * A pool of `concurrency` worker fibers for the lifetime of the layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<never, never, Snapshots | Pipelines | Graphs.Graphs> =>
  Layer.scopedDiscard(start(options))
