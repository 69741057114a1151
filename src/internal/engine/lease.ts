/**
 * The run's claim on its thread: renewed while the run runs, given back when it ends (unless
 * the run's last write gave it back already, or the caller keeps it for its next job).
 */
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Runtime from "effect/Runtime"
import type { Backend } from "../../Snapshots.js"
import type { Run } from "./model.js"
import { record } from "./telemetry.js"

/**
 * Renews the run's claim while it runs, so a long step keeps the thread; `run.stopHeartbeat`
 * (called when the run ends) stops it. A plain timer rather than a forked fiber or a scoped
 * resource: most runs end long before the first renewal, and either costs more than the run's own
 * bookkeeping. Leases are wall-clock facts shared with other processes: the timer runs on real
 * time, even under a TestClock.
 *
 * @internal
 */
export const heartbeat = (run: Run, store: Backend) =>
  Effect.flatMap(Effect.runtime<never>(), (runtime) =>
    Effect.sync(() => {
      run.stopHeartbeat?.()
      const { compiled, runId } = run
      const every = Math.max(10, Math.floor(compiled.leaseMillis / 3))
      const renew = Effect.ignore(store.claim(run.threadId!, runId, { workflowId: compiled.id, leaseMillis: compiled.leaseMillis }))
      let stopped = false
      let timer: ReturnType<typeof setTimeout> | undefined
      let renewing: Fiber.RuntimeFiber<void> | undefined
      const tick = () => {
        renewing = Runtime.runFork(runtime)(renew)
        renewing.addObserver(() => {
          renewing = undefined
          if (!stopped) timer = setTimeout(tick, every)
        })
      }
      timer = setTimeout(tick, every)
      run.stopHeartbeat = () => {
        stopped = true
        clearTimeout(timer)
        // a renewal waiting out another connection's lock must not claim the thread once released
        renewing?.unsafeInterruptAsFork(FiberId.none)
      }
    }))

/**
 * Runs `body` holding the thread: at its end the heartbeat stops and the claim is given back,
 * unless the run already released it or keeps it. No Scope for the run: closing one with a
 * finalizer costs more than a short run itself.
 *
 * @internal
 */
export const holding = <A, E, R>(run: Run, store: Backend, threadId: string, body: Effect.Effect<A, E, R>) =>
  Effect.ensuring(
    body,
    Effect.suspend(() => {
      run.stopHeartbeat?.()
      const release = run.policy.keepClaim || run.released ? Effect.void : Effect.ignore(store.release(threadId, run.runId))
      // the step cycle's counts (a refused request ran none)
      return run.tally === undefined ? release : Effect.zipRight(record(run.tally), release)
    })
  )

/** Runs a one-shot write (update, import) under its own claim, released at the end. @internal */
export const withClaim = <A, E, R>(
  store: Backend,
  threadId: string,
  runId: string,
  body: Effect.Effect<A, E, R>
) => Effect.ensuring(body, Effect.ignore(store.release(threadId, runId)))
