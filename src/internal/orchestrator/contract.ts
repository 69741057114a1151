/**
 * The orchestrator contract, its errors and config schemas, and the registry. Implementations
 * (internal/orchestrator/*.ts) import this module; the public `Orchestrator` module re-exports it
 * with the layers, so no import cycle arises.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as Channel from "../../Channel.js"
import type * as Interrupt from "../../Interrupt.js"
import type { WorkflowSnapshot, WorkflowSnapshotEncoded } from "../../Snapshot.js"
import type { AnyCompiled, CompiledGraph } from "../../StateGraph.js"

// ---------------------------------------------------------------------------------------------
// capabilities
// ---------------------------------------------------------------------------------------------

/** @internal */
export const Capability = Schema.Literal(
  "synchronous_execution",
  "async_execution",
  "parallel_execution",
  "retry_support",
  "error_recovery",
  "pipeline_based",
  "job_tracking",
  "stateful",
  "checkpointing",
  "interrupt_support"
)

/** @internal */
export type Capability = typeof Capability.Type

// ---------------------------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------------------------

/** @internal */
export class OrchestratorNotFound extends Schema.TaggedError<OrchestratorNotFound>()("OrchestratorNotFound", {
  id: Schema.String,
  available: Schema.Array(Schema.String)
}) {
  override get message() {
    return `no orchestrator "${this.id}" (available: ${this.available.join(", ") || "none"})`
  }
}

/** @internal */
export class CapabilityMissing extends Schema.TaggedError<CapabilityMissing>()("CapabilityMissing", {
  /** the orchestrator asked for, or undefined when resolving by capabilities only */
  orchestrator: Schema.optional(Schema.String),
  missing: Schema.Array(Schema.String)
}) {
  override get message() {
    return `${this.orchestrator === undefined ? "no orchestrator has" : `orchestrator "${this.orchestrator}" lacks`} ${
      this.missing.join(", ")
    }`
  }
}

/** @internal */
export class InvalidConfig extends Schema.TaggedError<InvalidConfig>()("InvalidConfig", {
  orchestrator: Schema.String,
  /** the offending field, as a dotted path (`backoff.factor`) */
  field: Schema.String,
  issue: Schema.String
}) {
  override get message() {
    return `invalid config for orchestrator "${this.orchestrator}": ${this.field}: ${this.issue}`
  }
}

/** @internal */
export class UnsupportedGraph extends Schema.TaggedError<UnsupportedGraph>()("UnsupportedGraph", {
  orchestrator: Schema.String,
  workflowId: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `orchestrator "${this.orchestrator}" does not support "${this.workflowId}": ${this.reason}`
  }
}

/** @internal */
export const HandoverCode = Schema.Literal(
  "VERSION_MISMATCH",
  "UNKNOWN_NODE",
  "DEPENDENCY_NOT_MET",
  "WORKFLOW_MISMATCH",
  "INVALID_SNAPSHOT"
)

/** @internal */
export class HandoverRefused extends Schema.TaggedError<HandoverRefused>()("HandoverRefused", {
  /** the first error's code */
  code: HandoverCode,
  errors: Schema.Array(Schema.Struct({ code: Schema.String, message: Schema.String, nodeId: Schema.optional(Schema.String) }))
}) {
  override get message() {
    return `handover snapshot refused (${this.code}): ${this.errors.map((e) => e.message).join("; ")}`
  }
}

/** @internal */
export class PipelineNotFound extends Schema.TaggedError<PipelineNotFound>()("PipelineNotFound", {
  pipelineId: Schema.String,
  /** why, when the request named no pipeline id (a thread, an execution) */
  reason: Schema.optional(Schema.String)
}) {
  override get message() {
    return this.reason ?? `pipeline "${this.pipelineId}" not found`
  }
}

/** @internal */
export class InvalidPipelineTransition extends Schema.TaggedError<InvalidPipelineTransition>()(
  "InvalidPipelineTransition",
  { pipelineId: Schema.String, from: Schema.String, to: Schema.String }
) {
  override get message() {
    return `pipeline ${this.pipelineId} cannot go from ${this.from} to ${this.to}`
  }
}

// ---------------------------------------------------------------------------------------------
// config
// ---------------------------------------------------------------------------------------------

const PositiveInt = Schema.Int.pipe(Schema.positive())

/** @internal */
export const baseFields = {
  /** higher runs first (async: among ready jobs) */
  priority: Schema.optionalWith(Schema.Int, { default: () => 0 }),
  /** sync family: the whole run; async: each job. Milliseconds. */
  timeoutMillis: Schema.optional(Schema.Number.pipe(Schema.positive()))
}

/** @internal */
export const StateGraphConfig = Schema.Struct(baseFields)

/** @internal */
export const StopAfter = Schema.Union(
  Schema.Struct({ steps: PositiveInt }),
  Schema.Struct({ nodes: Schema.NonEmptyArray(Schema.String) })
)

/** @internal */
export const SyncConfig = Schema.Struct({
  ...baseFields,
  /** stop early and return a `running` snapshot (for a handover) */
  stopAfter: Schema.optional(StopAfter)
})

/** @internal */
export const Backoff = Schema.Struct({
  baseMillis: Schema.optionalWith(Schema.Number.pipe(Schema.positive()), { default: () => 1000 }),
  factor: Schema.optionalWith(Schema.Number.pipe(Schema.greaterThanOrEqualTo(1)), { default: () => 2 }),
  maxDelayMillis: Schema.optionalWith(Schema.Number.pipe(Schema.positive()), { default: () => 60_000 }),
  /** attempts in all, the first included */
  maxAttempts: Schema.optionalWith(PositiveInt, { default: () => 3 })
})

/** @internal */
export type Backoff = typeof Backoff.Type

/** @internal */
export const AsyncConfig = Schema.Struct({
  ...baseFields,
  maxConcurrentJobs: Schema.optionalWith(PositiveInt, { default: () => 5 }),
  retryStrategy: Schema.optionalWith(Schema.Literal("individual", "stop_on_failure"), { default: () => "individual" as const }),
  backoff: Schema.optionalWith(Backoff, {
    default: () => ({ baseMillis: 1000, factor: 2, maxDelayMillis: 60_000, maxAttempts: 3 })
  }),
  jobPriorityStrategy: Schema.optionalWith(Schema.Literal("dependency_order", "fifo"), {
    default: () => "dependency_order" as const
  })
})

/** @internal */
export type AsyncConfig = typeof AsyncConfig.Type

/** Decodes a config; the error names the first offending field. @internal */
export const decodeConfig = <A, I>(orchestrator: string, schema: Schema.Schema<A, I>, options: unknown) =>
  Effect.mapError(
    Schema.decodeUnknown(schema, { onExcessProperty: "error", errors: "first" })(options ?? {}),
    (error) => {
      const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
      return new InvalidConfig({
        orchestrator,
        field: issue === undefined || issue.path.length === 0 ? "(root)" : issue.path.map(String).join("."),
        issue: issue?.message ?? error.message
      })
    }
  )

// ---------------------------------------------------------------------------------------------
// request / response / contract
// ---------------------------------------------------------------------------------------------

/** @internal */
export interface OrchestrationRequest<S extends Channel.Channels = any, E = any, R = any> {
  readonly workflowId: string
  readonly graph: CompiledGraph<S, any, E, R>
  /** the input; `null` continues the thread (or a handover snapshot) */
  readonly input: Channel.Update<S> | null
  readonly threadId?: string | undefined
  /** a snapshot from another orchestrator: its completed nodes are injected, not re-run */
  readonly initialSnapshot?: WorkflowSnapshotEncoded | WorkflowSnapshot | undefined
  /** answers to the thread's pending interrupts: resumes it */
  readonly resume?: ReadonlyArray<Interrupt.Answer<string, unknown>> | undefined
  /** decoded with the orchestrator's `configSchema` */
  readonly options?: Readonly<Record<string, unknown>> | undefined
}

/** @internal */
export type ResponseStatus = "pending" | "running" | "paused" | "completed" | "failed" | "cancelled"

/** @internal */
export interface PendingInterrupt {
  readonly id: string
  readonly kind: string
  readonly request: unknown
  readonly node: string
  readonly taskId: string
}

/** @internal */
export interface OrchestrationResponse<S extends Channel.Channels = any> {
  readonly orchestrator: string
  readonly executionId: string
  readonly threadId: string
  readonly status: ResponseStatus
  /** the final state (completed runs) */
  readonly output?: Channel.State<S> | undefined
  /** the head snapshot when the call returned: feed it to another orchestrator to hand over */
  readonly snapshot: WorkflowSnapshotEncoded
  readonly pipelineId?: string | undefined
  readonly interrupts: ReadonlyArray<PendingInterrupt>
  /** the failure of a failed run */
  readonly error?: unknown
}

/** @internal */
export type Support = { readonly supported: true } | { readonly supported: false; readonly reason: string }

/** @internal */
export interface Orchestrator {
  readonly id: string
  readonly label: string
  readonly description: string
  readonly capabilities: ReadonlySet<Capability>
  readonly configSchema: Schema.Schema<any, any>
  readonly supports: (graph: AnyCompiled) => Support
  readonly orchestrate: <S extends Channel.Channels, E, R>(
    request: OrchestrationRequest<S, E, R>
  ) => Effect.Effect<OrchestrationResponse<S>, OrchestrateError, R>
}

/** Errors of `orchestrate` (a run's own failure is a `failed` response, not an error). @internal */
export type OrchestrateError =
  | InvalidConfig
  | UnsupportedGraph
  | HandoverRefused
  | PipelineNotFound
  | import("../../GraphError.js").StoreFailure
  | import("../../GraphError.js").ThreadBusy
  | import("../../GraphError.js").ThreadNotFound
  | import("../../GraphError.js").CheckpointNotFound
  | import("../../GraphError.js").ThreadPaused
  | import("../../GraphError.js").ResumeError

/** The engine errors that are not a run's own failure: they fail `orchestrate`. @internal */
export const infrastructureTags: ReadonlySet<string> = new Set([
  "StoreError",
  "CorruptSnapshot",
  "SnapshotVersionMismatch",
  "ThreadBusy",
  "ThreadNotFound",
  "CheckpointNotFound",
  "ThreadPaused",
  "ThreadNotPaused",
  "UnknownInterrupt",
  "InterruptAlreadyAnswered",
  "InvalidResumeValue",
  "HandoverRefused",
  "InvalidConfig",
  "UnsupportedGraph",
  "PipelineNotFound"
])

// ---------------------------------------------------------------------------------------------
// registry
// ---------------------------------------------------------------------------------------------

/** Where orchestrator layers register themselves. @internal */
export class Registrations extends Context.Tag("effect-stategraph/Orchestrator/Registrations")<Registrations, {
  readonly add: (orchestrator: Orchestrator) => Effect.Effect<void>
  readonly all: () => ReadonlyArray<Orchestrator>
}>() {}

/** @internal */
export interface RegistryOptions {
  /** used when the id asked for is unknown, and when nothing is asked for */
  readonly fallback?: string | undefined
}

/** @internal */
export interface ResolveOptions {
  readonly id?: string | undefined
  readonly require?: ReadonlyArray<Capability> | undefined
}

/** @internal */
export interface Registry {
  readonly all: Effect.Effect<ReadonlyArray<Orchestrator>>
  readonly resolve: (options?: ResolveOptions) => Effect.Effect<Orchestrator, OrchestratorNotFound | CapabilityMissing>
  readonly orchestrate: <S extends Channel.Channels, E, R>(
    request: OrchestrationRequest<S, E, R>,
    options?: ResolveOptions
  ) => Effect.Effect<OrchestrationResponse<S>, OrchestrateError | OrchestratorNotFound | CapabilityMissing, R>
}

/** @internal */
export class Orchestrators extends Context.Tag("effect-stategraph/Orchestrators")<Orchestrators, Registry>() {}

const missingOf = (o: Orchestrator, require: ReadonlyArray<Capability>) => require.filter((c) => !o.capabilities.has(c))

/** @internal */
export const makeRegistry = (options: RegistryOptions): { registry: Registry; registrations: Registrations["Type"] } => {
  const list: Array<Orchestrator> = []
  const registrations = {
    add: (o: Orchestrator) =>
      Effect.sync(() => {
        const i = list.findIndex((x) => x.id === o.id)
        if (i >= 0) list[i] = o
        else list.push(o)
      }),
    all: () => list
  }
  const byId = (id: string) => list.find((o) => o.id === id)
  const notFound = (id: string) => new OrchestratorNotFound({ id, available: list.map((o) => o.id) })
  const check = (o: Orchestrator, require: ReadonlyArray<Capability>) => {
    const missing = missingOf(o, require)
    return missing.length === 0 ? Effect.succeed(o) : Effect.fail(new CapabilityMissing({ orchestrator: o.id, missing }))
  }
  const resolve = (opts?: ResolveOptions): Effect.Effect<Orchestrator, OrchestratorNotFound | CapabilityMissing> =>
    Effect.suspend((): Effect.Effect<Orchestrator, OrchestratorNotFound | CapabilityMissing> => {
      const require = opts?.require ?? []
      if (opts?.id !== undefined) {
        const found = byId(opts.id)
        if (found !== undefined) return check(found, require)
        if (options.fallback === undefined) return Effect.fail(notFound(opts.id))
        const fallback = byId(options.fallback)
        return fallback === undefined ? Effect.fail(notFound(opts.id)) : check(fallback, require)
      }
      if (require.length > 0) {
        const preferred = options.fallback === undefined ? undefined : byId(options.fallback)
        if (preferred !== undefined && missingOf(preferred, require).length === 0) return Effect.succeed(preferred)
        const match = list.find((o) => missingOf(o, require).length === 0)
        if (match !== undefined) return Effect.succeed(match)
        const provided = new Set(list.flatMap((o) => [...o.capabilities]))
        const missing = require.filter((c) => !provided.has(c))
        return Effect.fail(new CapabilityMissing({ missing: missing.length > 0 ? missing : require }))
      }
      const chosen = options.fallback !== undefined ? byId(options.fallback) : list[0]
      return chosen === undefined ? Effect.fail(notFound(options.fallback ?? "(default)")) : Effect.succeed(chosen)
    })
  const registry: Registry = {
    all: Effect.sync(() => [...list]),
    resolve,
    orchestrate: (request, opts) => Effect.flatMap(resolve(opts), (o) => o.orchestrate(request))
  }
  return { registry, registrations }
}

/** The registry and the registration point of the orchestrator layers built on it. @internal */
export const layerRegistry = (options: RegistryOptions = {}): Layer.Layer<Orchestrators | Registrations> =>
  Layer.effectContext(Effect.sync(() => {
    const { registrations, registry } = makeRegistry(options)
    return Context.make(Orchestrators, registry).pipe(Context.add(Registrations, registrations))
  }))

/** A layer registering one orchestrator. @internal */
export const register = <E, R>(make: Effect.Effect<Orchestrator, E, R>): Layer.Layer<never, E, R | Registrations> =>
  Layer.effectDiscard(Effect.flatMap(Effect.zip(make, Registrations), ([o, reg]) => reg.add(o)))
