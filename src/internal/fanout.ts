/**
 * Runs the tasks of a parallel step, each on its own fiber, started at once on the caller's
 * stack. A task that finishes without suspending (most nodes: a pure update) costs a fiber and
 * nothing else: no scheduler round-trip, no `forEach` bookkeeping. `Effect.forEach` with
 * `concurrency: "unbounded"` costs ~18 µs a task here against ~2.5 µs for this.
 *
 * Semantics match `Effect.forEach(…, { concurrency: "unbounded" })`: results in input order, the
 * first failure interrupts the others (awaited) and fails the whole, interrupting the caller
 * interrupts every task still running.
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Runtime from "effect/Runtime"

export const forkAll = <A, E, R>(
  count: number,
  effectAt: (i: number) => Effect.Effect<A, E, R>,
  /** each task's context (e.g. its own task scope), from the caller's */
  contextAt?: (i: number, base: Context.Context<R>) => Context.Context<R>
): Effect.Effect<Array<A>, E, R> =>
  Effect.flatMap(Effect.runtime<R>(), (rt) => {
    const out = new Array<A>(count)
    const running: Array<Fiber.RuntimeFiber<A, E>> = []
    const slots: Array<number> = []
    for (let i = 0; i < count; i++) {
      const runtime = contextAt === undefined
        ? rt
        : Runtime.make({ context: contextAt(i, rt.context), fiberRefs: rt.fiberRefs, runtimeFlags: rt.runtimeFlags })
      const fiber = Runtime.runFork(runtime)(effectAt(i))
      const exit = fiber.unsafePoll()
      if (exit === null) {
        running.push(fiber)
        slots.push(i)
      } else if (Exit.isSuccess(exit)) {
        out[i] = exit.value
      } else {
        return Effect.zipRight(Fiber.interruptAll(running), Effect.failCause(exit.cause))
      }
    }
    if (running.length === 0) return Effect.succeed(out)
    return Effect.async<Array<A>, E>((resume) => {
      let left = running.length
      let settled = false
      running.forEach((fiber, k) =>
        fiber.addObserver((exit) => {
          if (settled) return
          if (Exit.isSuccess(exit)) {
            out[slots[k]!] = exit.value
            if (--left === 0) {
              settled = true
              resume(Effect.succeed(out))
            }
            return
          }
          settled = true
          const others = running.filter((f) => f !== fiber)
          resume(Effect.zipRight(Fiber.interruptAll(others), Effect.failCause(exit.cause)))
        })
      )
      // the caller was interrupted: so are the tasks still running
      return Effect.suspend(() => {
        settled = true
        return Fiber.interruptAll(running)
      })
    })
  })
