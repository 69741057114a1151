/**
 * The registry of compiled graphs by workflow id and version: a worker (in this process or
 * another one) looks up the graph of a job here. A job whose graph version is not registered
 * fails with `SnapshotVersionMismatch` instead of running another version.
 *
 * ```ts
 * const workerLayer = Worker.layer({ concurrency: 4 }).pipe(Layer.provide(Graphs.layer([approvalFlow])))
 * ```
 *
 * The services the graphs' nodes need (a mailer, a model client) are what the registry needs:
 * `Graphs.layer([graph])` requires them, so a worker that runs those graphs does not compile
 * without them, and each job runs with them.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { AnyCompiled, CompiledGraph } from "./StateGraph.js"

/**
 * The services a graph's nodes need (none known for an `AnyCompiled`, whose type was erased).
 *
 * @since 0.1.0
 * @category type-level
 */
export type ServicesOf<G> = G extends CompiledGraph<any, any, any, infer R> ? (0 extends 1 & R ? never : R) : never

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
  /** The services of the registered graphs, captured when the registry was made: each job runs with them. */
  readonly services: Context.Context<never>
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
export const make = <const G extends ReadonlyArray<AnyCompiled> = readonly []>(
  graphs?: G
): Effect.Effect<Registry, never, ServicesOf<G[number]>> =>
  Effect.map(Effect.context<ServicesOf<G[number]>>(), (services) => {
    const byKey = new Map<string, AnyCompiled>()
    const key = (id: string, version: string) => `${id}\u0000${version}`
    for (const g of graphs ?? []) byKey.set(key(g.id, g.version), g)
    return {
      register: (graph) => Effect.sync(() => void byKey.set(key(graph.id, graph.version), graph)),
      get: (workflowId, version) => Effect.sync(() => Option.fromNullable(byKey.get(key(workflowId, version)))),
      versions: (workflowId) =>
        Effect.sync(() => [...byKey.values()].filter((g) => g.id === workflowId).map((g) => g.version)),
      services: services as Context.Context<never>
    }
  })

/**
 * A registry of `graphs`, requiring the services their nodes need.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <const G extends ReadonlyArray<AnyCompiled> = readonly []>(
  graphs?: G
): Layer.Layer<Graphs, never, ServicesOf<G[number]>> => Layer.effect(Graphs, make(graphs))
