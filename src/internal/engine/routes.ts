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

type Routed = ReadonlyArray<ReadonlyArray<string | Send>>

/**
 * The targets of the finished tasks' routes, by task (in task order). Routes that return plain
 * targets are evaluated right here and the result is the array itself; from the first route
 * that returns an Effect on, the rest are evaluated in order inside an Effect, which is returned.
 *
 * @internal
 */
export const evaluateRoutes = (
  compiled: Compiled,
  finished: ReadonlyArray<{ readonly node: string }>,
  values: Readonly<Record<string, unknown>>
): Routed | Effect.Effect<Routed, unknown, unknown> => {
  if (!hasBranches(compiled, finished)) return noRoutes
  const out: Array<Array<string | Send>> = finished.map(() => [])
  return routeFrom(compiled, finished, values, out, 0, 0)
}

/** Evaluates the routes from task `i`, branch `j` on, into `out`. */
const routeFrom = (
  compiled: Compiled,
  finished: ReadonlyArray<{ readonly node: string }>,
  values: Readonly<Record<string, unknown>>,
  out: Array<Array<string | Send>>,
  i0: number,
  j0: number
): Routed | Effect.Effect<Routed, unknown, unknown> => {
  for (let i = i0; i < finished.length; i++) {
    const f = finished[i]!
    const branches = compiled.branchesFrom[f.node]
    if (branches === undefined) continue
    for (let j = i === i0 ? j0 : 0; j < branches.length; j++) {
      const b = branches[j]!
      const result = b.route(values)
      if (Effect.isEffect(result)) {
        return Effect.flatMap(result, (r) => {
          const failed = addTargets(f.node, b, r, out[i]!)
          if (failed !== undefined) return Effect.fail(failed)
          const rest = routeFrom(compiled, finished, values, out, i, j + 1)
          return Effect.isEffect(rest) ? rest : Effect.succeed(rest)
        })
      }
      const failed = addTargets(f.node, b, result, out[i]!)
      if (failed !== undefined) return Effect.fail(failed)
    }
  }
  return out
}

/** Adds a route's targets; a target the route did not declare is an `InvalidUpdate`. */
const addTargets = (
  node: string,
  b: { readonly targets?: ReadonlyArray<string> | undefined },
  result: unknown,
  out: Array<string | Send>
): InvalidUpdate | undefined => {
  for (const t of algo.routeTargets(result)) {
    // a route keeps to the targets it declared (the graph's drawing, its version and the
    // compile-time checks are made from them)
    const name = typeof t === "string" ? t : isSend(t) ? t.node : undefined
    if (b.targets !== undefined && name !== undefined && !b.targets.includes(name)) {
      return new InvalidUpdate({
        node,
        channel: "*",
        issue: `route returned "${name}", not one of its targets (${b.targets.join(", ")})`
      })
    }
    out.push(t)
  }
  return undefined
}

/** `evaluateRoutes` as an Effect (for one-shot callers). @internal */
export const routesEffect = (
  compiled: Compiled,
  finished: ReadonlyArray<{ readonly node: string }>,
  values: Readonly<Record<string, unknown>>
): Effect.Effect<Routed, unknown, unknown> => {
  const r = evaluateRoutes(compiled, finished, values)
  return Effect.isEffect(r) ? r : Effect.succeed(r)
}
