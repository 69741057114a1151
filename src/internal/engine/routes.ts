/**
 * Conditional routes, evaluated on the state after a step's writes. A route may be an Effect,
 * so this is the one effectful part of planning; `algo.plan` takes its results.
 */
import * as Effect from "effect/Effect"
import { InvalidUpdate } from "../../GraphError.js"
import { isSend, type Send } from "../../Send.js"
import type { Compiled } from "../graph.js"
import * as algo from "./algo.js"

const noRoutes: ReadonlyArray<ReadonlyArray<string | Send>> = []

/** Whether any finished node has conditional routes. @internal */
export const hasBranches = (compiled: Compiled, finished: ReadonlyArray<{ readonly node: string }>) => {
  for (let i = 0; i < finished.length; i++) if (compiled.branchesFrom[finished[i]!.node] !== undefined) return true
  return false
}

/** The targets of the finished tasks' routes, by task (in task order). @internal */
export const evaluateRoutes = (
  compiled: Compiled,
  finished: ReadonlyArray<{ readonly node: string }>,
  values: Readonly<Record<string, unknown>>
): Effect.Effect<ReadonlyArray<ReadonlyArray<string | Send>>, unknown, unknown> => {
  if (!hasBranches(compiled, finished)) return Effect.succeed(noRoutes)
  return Effect.forEach(finished, (f) => {
    const branches = compiled.branchesFrom[f.node]
    if (branches === undefined) return Effect.succeed([])
    return Effect.flatMap(
      Effect.forEach(branches, (b) => {
        const result = b.route(values)
        return Effect.map(Effect.isEffect(result) ? result : Effect.succeed(result), (r) => [b, r] as const)
      }),
      (results) => {
        const out: Array<string | Send> = []
        for (const [b, r] of results) {
          for (const t of algo.routeTargets(r)) {
            // a route keeps to the targets it declared (the graph's drawing, its version and the
            // compile-time checks are made from them)
            const name = typeof t === "string" ? t : isSend(t) ? t.node : undefined
            if (b.targets !== undefined && name !== undefined && !b.targets.includes(name)) {
              return Effect.fail(
                new InvalidUpdate({
                  node: f.node,
                  channel: "*",
                  issue: `route returned "${name}", not one of its targets (${b.targets.join(", ")})`
                })
              )
            }
            out.push(t)
          }
        }
        return Effect.succeed(out)
      }
    )
  })
}
