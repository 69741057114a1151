/**
 * What every handler and the run executor share: the server's tables, the snapshot store, the
 * registered graphs (one assistant each), the options, and in-process wake-ups (other processes
 * are seen by polling the database).
 */
import type { SqlError } from "@effect/sql/SqlError"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type { WorkflowSnapshotEncoded } from "../../Snapshot.js"
import type { Backend } from "../../Snapshots.js"
import type { AnyCompiled } from "../../StateGraph.js"
import type { Db } from "./db.js"
import { Conflict, Forbidden, NotFound, Unavailable, Unprocessable } from "./errors.js"
import type { Principal } from "./api.js"
import type { Permission } from "./models.js"

/** @internal */
export interface Resolved {
  /** run executors in this process (0: an API process only; runs are executed by other processes) */
  readonly executors: number
  /** how often an idle executor or a waiting stream looks at the database (ms) */
  readonly pollMillis: number
  /** how long a claimed run stays its executor's without renewal (ms) */
  readonly runLeaseMillis: number
  /**
   * how long a run asked to stop at its next step boundary (double texting `interrupt`) may take
   * to reach it before it is stopped at once, its step in flight abandoned (ms)
   */
  readonly interruptTimeoutMillis: number
  /** how long run events are kept (ms) */
  readonly eventRetentionMillis: number
  readonly maxBodyBytes: number
  readonly maxJsonDepth: number
  /** false: every request is an administrator (development only) */
  readonly auth: boolean
  /**
   * at most `requests` per `perMillis` for each token (a bucket refilled evenly; `shared`: in the
   * database, one budget for every process on it, else one in each process); undefined: no limit
   */
  readonly rateLimit: { readonly requests: number; readonly perMillis: number; readonly shared: boolean } | undefined
}

/** @internal */
export interface Shared {
  readonly db: Db
  readonly store: Backend
  readonly graphs: ReadonlyMap<string, AnyCompiled>
  readonly services: Context.Context<never>
  readonly startedAt: number
  readonly workerId: string
  readonly options: Resolved
  /** who waits for news of a run in this process (streams, waits): woken when it has some */
  readonly waiters: Map<string, Set<() => void>>
  /** a run was queued: a local executor looks for work */
  readonly wakeups: Queue.Queue<void>
  /** stop signals of the runs this process executes */
  readonly stops: Map<string, Deferred.Deferred<string>>
}

/** The stop action of double texting `interrupt`: the run ends at its next step boundary. @internal */
export const STEP = "step"

/** A `STEP` stop that found no step boundary within `interruptTimeoutMillis`: the run was stopped at once. @internal */
export const STEP_TIMEOUT = "step-timeout"

/** @internal */
export class ServerContext extends Context.Tag("effect-stategraph/Server/Context")<ServerContext, Shared>() {}

/** Store and SQL failures are a 503 with the operation (never a 500). @internal */
export const unavailable = (operation: string) => (cause: unknown) =>
  new Unavailable({ detail: `${operation}: ${cause instanceof Error ? cause.message : String(cause)}` })

/** @internal */
export const sqlOr503 = <A>(operation: string, effect: Effect.Effect<A, SqlError>): Effect.Effect<A, Unavailable> =>
  Effect.mapError(effect, unavailable(operation))

/** The head (or a checkpoint) of a thread, if any. @internal */
export const loadCheckpoint = (ctx: Shared, threadId: string, checkpointId?: string) =>
  Effect.map(
    Effect.mapError(ctx.store.load(threadId, checkpointId), unavailable("load")),
    Option.getOrUndefined<WorkflowSnapshotEncoded>
  )

/** @internal */
export const graphOf = (ctx: Shared, id: string): Effect.Effect<AnyCompiled, NotFound> => {
  const g = ctx.graphs.get(id)
  return g === undefined ? Effect.fail(new NotFound({ detail: `assistant "${id}" not found` })) : Effect.succeed(g)
}

/** @internal */
export const allows = (p: Principal, permission: Permission, graphId?: string | null) =>
  (p.permissions.has("administer") || p.permissions.has(permission)) &&
  (p.graphs === undefined || (graphId !== undefined && graphId !== null && p.graphs.has(graphId)))

/** Fails with 403 unless the principal may do `permission` (on `graphId`, when the token is scoped). @internal */
export const authorize = (p: Principal, permission: Permission, graphId?: string | null): Effect.Effect<void, Forbidden> =>
  allows(p, permission, graphId) ? Effect.void : Effect.fail(
    new Forbidden({
      detail: p.permissions.has("administer") || p.permissions.has(permission)
        ? `this token is not scoped to graph "${graphId ?? "(none)"}"`
        : `this token lacks the "${permission}" permission`,
      permission
    })
  )

/** Tells this process's executors to look for work. @internal */
export const wake = (ctx: Shared) => Queue.offer(ctx.wakeups, undefined)

/** Wakes who waits for news of these runs here (other processes see it when they poll). @internal */
export const notify = (ctx: Shared, runIds: ReadonlyArray<string>) =>
  Effect.sync(() => {
    for (const id of runIds) {
      const set = ctx.waiters.get(id)
      if (set === undefined) continue
      ctx.waiters.delete(id)
      for (const f of set) f()
    }
  })

/**
 * Waits for news of a run: from this process at once, from others within `pollMillis` (a run
 * this process executes is only looked at again after ten times that: its news come in-process).
 *
 * @internal
 */
export const waitForRun = (ctx: Shared, runId: string, local = false): Effect.Effect<void> =>
  Effect.raceFirst(
    Effect.async<void>((resume) => {
      const f = () => resume(Effect.void)
      let set = ctx.waiters.get(runId)
      if (set === undefined) ctx.waiters.set(runId, set = new Set())
      set.add(f)
      return Effect.sync(() => {
        const current = ctx.waiters.get(runId)
        current?.delete(f)
        if (current !== undefined && current.size === 0) ctx.waiters.delete(runId)
      })
    }),
    Effect.sleep(local ? ctx.options.pollMillis * 10 : ctx.options.pollMillis)
  )

/** An engine or store error as the HTTP error it means. @internal */
export const fromEngine = (e: unknown): NotFound | Conflict | Unprocessable | Unavailable => {
  const tag = typeof e === "object" && e !== null && "_tag" in e ? String(e._tag) : ""
  const message = typeof e === "object" && e !== null && "message" in e ? String(e.message) : String(e)
  switch (tag) {
    case "ThreadNotFound":
    case "CheckpointNotFound":
      return new NotFound({ detail: message })
    case "ThreadBusy":
    case "ThreadPaused":
    case "ThreadSleeping":
    case "ThreadNotPaused":
    case "LeaseHeld":
      return new Conflict({ detail: message })
    case "InvalidUpdate":
    case "InvalidResumeValue":
    case "UnknownInterrupt":
    case "InterruptAlreadyAnswered":
    case "SnapshotVersionMismatch":
      return new Unprocessable({ detail: message, code: tag, ...(typeof e === "object" && e !== null && "issue" in e ? { issue: String(e.issue) } : {}) })
    default:
      return new Unavailable({ detail: message })
  }
}

/** Fails with 403 unless the principal has `permission` (on some graph: listings filter by scope). @internal */
export const requirePermission = (p: Principal, permission: Permission): Effect.Effect<void, Forbidden> =>
  p.permissions.has("administer") || p.permissions.has(permission)
    ? Effect.void
    : Effect.fail(new Forbidden({ detail: `this token lacks the "${permission}" permission`, permission }))
