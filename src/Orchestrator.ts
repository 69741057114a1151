/**
 * Orchestrators decide *where* and *when* the engine's tasks run — never a second engine
 * (FlowDrop's orchestration contract). Four layers share one `Snapshots` service:
 *
 * | id | what it does |
 * | --- | --- |
 * | `stategraph` | the engine as is: a checkpoint per step per thread, interrupts and resume |
 * | `sync` | inline in the caller's fiber, snapshot at the end (or at `stopAfter`, for a handover) |
 * | `pipeline` | sync plus a `Pipeline` record and one `Job` record per task execution |
 * | `async` | tasks become jobs on a durable queue; `Worker` pools run them |
 *
 * The `Orchestrators` registry is built from the orchestrator layers provided:
 *
 * ```ts
 * const Live = Orchestrator.layer({ fallback: "sync" }, Orchestrator.layerSync, Orchestrator.layerAsync)
 * const response = yield* Orchestrator.orchestrate(
 *   { workflowId: graph.id, graph, input, options: { maxConcurrentJobs: 2 } },
 *   { id: "async" }
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Channel from "./Channel.js"
import type * as Graphs from "./Graphs.js"
import * as contract from "./internal/orchestrator/contract.js"
import type { Pipelines } from "./internal/orchestrator/models.js"
import * as impl from "./internal/orchestrator/orchestrators.js"
import type { Snapshots } from "./Snapshots.js"

/**
 * The ten capability names (FlowDrop's).
 *
 * @since 0.1.0
 * @category capabilities
 */
export const Capability: typeof contract.Capability = contract.Capability

/**
 * @since 0.1.0
 * @category capabilities
 */
export type Capability = contract.Capability

/**
 * Every capability name.
 *
 * @since 0.1.0
 * @category capabilities
 */
export const capabilities: ReadonlyArray<Capability> = contract.Capability.literals

/**
 * An orchestrator: `{ id, label, description, capabilities, configSchema, supports, orchestrate }`.
 *
 * @since 0.1.0
 * @category models
 */
export type Orchestrator = contract.Orchestrator

/**
 * `{ workflowId, graph, input, threadId?, initialSnapshot?, resume?, options }`; `options` is
 * decoded with the orchestrator's `configSchema`.
 *
 * @since 0.1.0
 * @category models
 */
export type OrchestrationRequest<S extends Channel.Channels = any, E = any, R = any> = contract.OrchestrationRequest<S, E, R>

/**
 * `{ executionId, status, output?, snapshot, pipelineId?, interrupts, error? }`.
 *
 * @since 0.1.0
 * @category models
 */
export type OrchestrationResponse<S extends Channel.Channels = any> = contract.OrchestrationResponse<S>

/**
 * @since 0.1.0
 * @category models
 */
export type ResponseStatus = contract.ResponseStatus

/**
 * @since 0.1.0
 * @category models
 */
export type PendingInterrupt = contract.PendingInterrupt

/**
 * Whether an orchestrator supports a graph, with the reason when it does not.
 *
 * @since 0.1.0
 * @category models
 */
export type Support = contract.Support

/**
 * The errors of `orchestrate` (a run's own failure is a `failed` response instead).
 *
 * @since 0.1.0
 * @category errors
 */
export type OrchestrateError = contract.OrchestrateError

/**
 * @since 0.1.0
 * @category errors
 */
export const OrchestratorNotFound = contract.OrchestratorNotFound

/**
 * @since 0.1.0
 * @category errors
 */
export type OrchestratorNotFound = contract.OrchestratorNotFound

/**
 * @since 0.1.0
 * @category errors
 */
export const CapabilityMissing = contract.CapabilityMissing

/**
 * @since 0.1.0
 * @category errors
 */
export type CapabilityMissing = contract.CapabilityMissing

/**
 * A config that does not decode; `field` names the offending field.
 *
 * @since 0.1.0
 * @category errors
 */
export const InvalidConfig = contract.InvalidConfig

/**
 * @since 0.1.0
 * @category errors
 */
export type InvalidConfig = contract.InvalidConfig

/**
 * @since 0.1.0
 * @category errors
 */
export const UnsupportedGraph = contract.UnsupportedGraph

/**
 * @since 0.1.0
 * @category errors
 */
export type UnsupportedGraph = contract.UnsupportedGraph

/**
 * A handover snapshot that does not validate against the graph; `code` is
 * `VERSION_MISMATCH | UNKNOWN_NODE | DEPENDENCY_NOT_MET` (WorkflowState's), `WORKFLOW_MISMATCH`
 * or `INVALID_SNAPSHOT` (does not decode).
 *
 * @since 0.1.0
 * @category errors
 */
export const HandoverRefused = contract.HandoverRefused

/**
 * @since 0.1.0
 * @category errors
 */
export type HandoverRefused = contract.HandoverRefused

/**
 * The config of `stategraph`: `{ priority = 0, timeoutMillis? }`.
 *
 * @since 0.1.0
 * @category config
 */
export const StateGraphConfig = contract.StateGraphConfig

/**
 * The config of `sync` and `pipeline`: the base fields and `stopAfter: { steps } | { nodes }`.
 *
 * @since 0.1.0
 * @category config
 */
export const SyncConfig = contract.SyncConfig

/**
 * The config of `async`: `maxConcurrentJobs = 5`, `retryStrategy = "individual"`,
 * `backoff = { baseMillis: 1000, factor: 2, maxDelayMillis: 60000, maxAttempts: 3 }`,
 * `jobPriorityStrategy = "dependency_order"`, and the base fields.
 *
 * @since 0.1.0
 * @category config
 */
export const AsyncConfig = contract.AsyncConfig

/**
 * @since 0.1.0
 * @category config
 */
export type AsyncConfig = contract.AsyncConfig

/**
 * Decodes an orchestrator's config (defaults filled in); fails with `InvalidConfig`.
 *
 * @since 0.1.0
 * @category config
 */
export const decodeConfig = (orchestrator: Orchestrator, options: unknown): Effect.Effect<any, InvalidConfig> =>
  contract.decodeConfig(orchestrator.id, orchestrator.configSchema, options)

// ---------------------------------------------------------------------------------------------
// registry
// ---------------------------------------------------------------------------------------------

/**
 * The registry of the orchestrators provided: resolve by id, by capabilities, with a fallback.
 *
 * @since 0.1.0
 * @category tags
 */
export const Orchestrators = contract.Orchestrators

/**
 * @since 0.1.0
 * @category tags
 */
export type Orchestrators = contract.Orchestrators

/**
 * Where orchestrator layers register themselves (provided by `layerRegistry`).
 *
 * @since 0.1.0
 * @category tags
 */
export const Registrations = contract.Registrations

/**
 * @since 0.1.0
 * @category tags
 */
export type Registrations = contract.Registrations

/**
 * @since 0.1.0
 * @category models
 */
export type RegistryOptions = contract.RegistryOptions

/**
 * @since 0.1.0
 * @category models
 */
export type ResolveOptions = contract.ResolveOptions

/**
 * An empty registry; orchestrator layers built on it register themselves.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerRegistry: (options?: RegistryOptions) => Layer.Layer<Orchestrators | Registrations> = contract.layerRegistry

/**
 * A layer registering a custom orchestrator.
 *
 * @since 0.1.0
 * @category layers
 */
export const register: <E, R>(make: Effect.Effect<Orchestrator, E, R>) => Layer.Layer<never, E, R | Registrations> =
  contract.register

/**
 * The registry built from the orchestrator layers given.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <Layers extends ReadonlyArray<Layer.Layer<never, any, any>>>(
  options: RegistryOptions,
  ...orchestrators: Layers
): Layer.Layer<
  Orchestrators,
  Layers[number] extends Layer.Layer<never, infer E, any> ? E : never,
  Exclude<Layers[number] extends Layer.Layer<never, any, infer R> ? R : never, Registrations>
> =>
  Layer.provideMerge(
    Layer.mergeAll(Layer.empty, ...(orchestrators as ReadonlyArray<Layer.Layer<never, any, any>>)),
    contract.layerRegistry(options)
  ) as any

/**
 * Resolves an orchestrator: by id (the fallback when unknown), by required capabilities, or the
 * fallback when nothing is asked for.
 *
 * @since 0.1.0
 * @category accessors
 */
export const resolve = (options?: ResolveOptions): Effect.Effect<Orchestrator, OrchestratorNotFound | CapabilityMissing, Orchestrators> =>
  Effect.flatMap(Orchestrators, (r) => r.resolve(options))

/**
 * Resolves an orchestrator and runs the request with it.
 *
 * @since 0.1.0
 * @category accessors
 */
export const orchestrate = <S extends Channel.Channels, E, R>(
  request: OrchestrationRequest<S, E, R>,
  options?: ResolveOptions
): Effect.Effect<OrchestrationResponse<S>, OrchestrateError | OrchestratorNotFound | CapabilityMissing, R | Orchestrators> =>
  Effect.flatMap(Orchestrators, (r) => r.orchestrate(request, options)).pipe(
    Effect.withSpan("Orchestrator.orchestrate", {
      attributes: {
        "stategraph.graph": request.workflowId,
        "stategraph.thread": request.threadId ?? "",
        "stategraph.orchestrator": options?.id ?? ""
      }
    })
  )

// ---------------------------------------------------------------------------------------------
// the four orchestrators
// ---------------------------------------------------------------------------------------------

/**
 * `stategraph`: the engine as is, on the shared `Snapshots` store.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerStateGraph: Layer.Layer<never, never, Snapshots | Registrations> = contract.register(impl.makeStateGraph)

/**
 * `sync`: inline, on a private in-memory store; the snapshot travels in the response.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSync: Layer.Layer<never, never, Registrations> = contract.register(impl.makeSync)

/**
 * `pipeline`: sync plus pipeline and job records (needs `Pipelines`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerPipeline: Layer.Layer<never, never, Snapshots | Pipelines | Registrations> = contract.register(
  impl.makePipeline
)

/**
 * `async`: a durable queue in the `Pipelines` database, run by `Worker` pools; registers the
 * graphs it is given in `Graphs`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerAsync: Layer.Layer<never, never, Snapshots | Pipelines | Graphs.Graphs | Registrations> = contract.register(
  impl.makeAsync
)

