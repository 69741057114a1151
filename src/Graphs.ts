/**
 * The registry of compiled graphs by workflow id and version: a worker (in this process or
 * another one) looks up the graph of a job here. A job whose graph version is not registered
 * fails with `SnapshotVersionMismatch` instead of running another version.
 *
 * ```ts
 * const workerLayer = Worker.layer({ concurrency: 4 }).pipe(Layer.provide(Graphs.layer([approvalFlow])))
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { AnyCompiled } from "./StateGraph.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Registry {
  /** Registers a graph (idempotent). */
  readonly register: (graph: AnyCompiled) => Effect.Effect<void>
  readonly get: (workflowId: string, version: string) => Effect.Effect<Option.Option<AnyCompiled>>
  /** The registered versions of a workflow. */
  readonly versions: (workflowId: string) => Effect.Effect<ReadonlyArray<string>>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Graphs extends Context.Tag("effect-stategraph/Graphs")<Graphs, Registry>() {}

/**
 * A registry holding `graphs` (more may be registered later, e.g. by the async orchestrator for
 * the graphs it is given).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (graphs: ReadonlyArray<AnyCompiled> = []): Effect.Effect<Registry> =>
  Effect.sync(() => {
    const byKey = new Map<string, AnyCompiled>()
    const key = (id: string, version: string) => `${id}\u0000${version}`
    for (const g of graphs) byKey.set(key(g.id, g.version), g)
    return {
      register: (graph) => Effect.sync(() => void byKey.set(key(graph.id, graph.version), graph)),
      get: (workflowId, version) => Effect.sync(() => Option.fromNullable(byKey.get(key(workflowId, version)))),
      versions: (workflowId) =>
        Effect.sync(() => [...byKey.values()].filter((g) => g.id === workflowId).map((g) => g.version))
    }
  })

/**
 * @since 0.1.0
 * @category layers
 */
export const layer = (graphs: ReadonlyArray<AnyCompiled> = []): Layer.Layer<Graphs> => Layer.effect(Graphs, make(graphs))
