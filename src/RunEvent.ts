/**
 * Lifecycle events of orchestrated runs (FlowDrop's pipeline, job and node events) and the
 * `EventBus` they are published on.
 *
 * Events are `Schema.TaggedClass`es, so they encode to JSON for server-sent events or logs. The
 * bus is an in-process `PubSub`: a worker in another process publishes on its own bus.
 *
 * ```ts
 * const events = EventBus.stream(response.executionId) // every event of one execution
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as PubSub from "effect/PubSub"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

const Base = {
  /** the execution (the snapshot's `executionId`) */
  executionId: Schema.String,
  threadId: Schema.String,
  pipelineId: Schema.optional(Schema.String),
  /** ms since epoch (the Effect `Clock`) */
  timestamp: Schema.Number
}

const PipelineFields = { ...Base, pipelineId: Schema.String, workflowId: Schema.String }

/**
 * @since 0.1.0
 * @category events
 */
export class PipelineCreated extends Schema.TaggedClass<PipelineCreated>()("PipelineCreated", {
  ...PipelineFields,
  orchestrator: Schema.String
}) {}

/**
 * @since 0.1.0
 * @category events
 */
export class PipelineStarted extends Schema.TaggedClass<PipelineStarted>()("PipelineStarted", PipelineFields) {}

/**
 * @since 0.1.0
 * @category events
 */
export class PipelineCompleted extends Schema.TaggedClass<PipelineCompleted>()("PipelineCompleted", PipelineFields) {}

/**
 * @since 0.1.0
 * @category events
 */
export class PipelineFailed extends Schema.TaggedClass<PipelineFailed>()("PipelineFailed", {
  ...PipelineFields,
  error: Schema.String
}) {}

/**
 * @since 0.1.0
 * @category events
 */
export class PipelinePaused extends Schema.TaggedClass<PipelinePaused>()("PipelinePaused", {
  ...PipelineFields,
  reason: Schema.Literal("interrupt", "requested")
}) {}

/**
 * @since 0.1.0
 * @category events
 */
export class PipelineCancelled extends Schema.TaggedClass<PipelineCancelled>()("PipelineCancelled", PipelineFields) {}

const JobFields = {
  ...Base,
  pipelineId: Schema.String,
  jobId: Schema.String,
  node: Schema.String,
  step: Schema.Int
}

/**
 * @since 0.1.0
 * @category events
 */
export class JobCreated extends Schema.TaggedClass<JobCreated>()("JobCreated", JobFields) {}

/**
 * @since 0.1.0
 * @category events
 */
export class JobStarted extends Schema.TaggedClass<JobStarted>()("JobStarted", {
  ...JobFields,
  attempt: Schema.Int,
  workerId: Schema.String
}) {}

/**
 * @since 0.1.0
 * @category events
 */
export class JobCompleted extends Schema.TaggedClass<JobCompleted>()("JobCompleted", {
  ...JobFields,
  attempt: Schema.Int
}) {}

/**
 * @since 0.1.0
 * @category events
 */
export class JobFailed extends Schema.TaggedClass<JobFailed>()("JobFailed", {
  ...JobFields,
  attempt: Schema.Int,
  error: Schema.String
}) {}

/**
 * A job failed and will run again at `runAt`.
 *
 * @since 0.1.0
 * @category events
 */
export class JobRetrying extends Schema.TaggedClass<JobRetrying>()("JobRetrying", {
  ...JobFields,
  attempt: Schema.Int,
  error: Schema.String,
  runAt: Schema.Number
}) {}

const NodeFields = { ...Base, node: Schema.String, taskId: Schema.String, step: Schema.Int }

/**
 * @since 0.1.0
 * @category events
 */
export class NodeStarted extends Schema.TaggedClass<NodeStarted>()("NodeStarted", NodeFields) {}

/**
 * @since 0.1.0
 * @category events
 */
export class NodeCompleted extends Schema.TaggedClass<NodeCompleted>()("NodeCompleted", NodeFields) {}

/**
 * @since 0.1.0
 * @category events
 */
export class NodeFailed extends Schema.TaggedClass<NodeFailed>()("NodeFailed", {
  ...NodeFields,
  error: Schema.String
}) {}

/**
 * The run paused on interrupts (human input); resume it through the orchestrator.
 *
 * @since 0.1.0
 * @category events
 */
export class Interrupted extends Schema.TaggedClass<Interrupted>()("Interrupted", {
  ...Base,
  checkpointId: Schema.String,
  interrupts: Schema.Array(Schema.Struct({ id: Schema.String, kind: Schema.String, node: Schema.String }))
}) {}

/**
 * @since 0.1.0
 * @category events
 */
export class CheckpointSaved extends Schema.TaggedClass<CheckpointSaved>()("CheckpointSaved", {
  ...Base,
  checkpointId: Schema.String,
  step: Schema.Int
}) {}

/**
 * Every lifecycle event.
 *
 * @since 0.1.0
 * @category events
 */
export const RunEvent = Schema.Union(
  PipelineCreated,
  PipelineStarted,
  PipelineCompleted,
  PipelineFailed,
  PipelinePaused,
  PipelineCancelled,
  JobCreated,
  JobStarted,
  JobCompleted,
  JobFailed,
  JobRetrying,
  NodeStarted,
  NodeCompleted,
  NodeFailed,
  Interrupted,
  CheckpointSaved
)

/**
 * @since 0.1.0
 * @category events
 */
export type RunEvent = typeof RunEvent.Type

/**
 * The bus lifecycle events are published on.
 *
 * @since 0.1.0
 * @category tags
 */
export class EventBus extends Context.Tag("effect-stategraph/EventBus")<EventBus, {
  readonly pubsub: PubSub.PubSub<RunEvent>
  readonly publish: (event: RunEvent) => Effect.Effect<void>
}>() {
  /**
   * The events of one execution, from the moment of subscription. `id` is the execution id, or
   * its pipeline id or thread id (known before the run starts, so nothing is missed).
   *
   * @since 0.1.0
   */
  static stream(id: string): Stream.Stream<RunEvent, never, EventBus> {
    return Stream.unwrapScoped(
      Effect.map(
        EventBus,
        (bus) =>
          Stream.filter(
            Stream.fromPubSub(bus.pubsub),
            (e) => e.executionId === id || e.pipelineId === id || e.threadId === id
          )
      )
    )
  }

  /**
   * Subscribes now (in the scope) and returns the events of `id` from this moment: use it when
   * the stream is consumed after starting the run.
   *
   * @since 0.1.0
   */
  static subscribe(id: string): Effect.Effect<Stream.Stream<RunEvent>, never, EventBus | Scope.Scope> {
    return Effect.map(
      Effect.flatMap(EventBus, (bus) => PubSub.subscribe(bus.pubsub)),
      (queue) =>
        Stream.filter(Stream.fromQueue(queue), (e) => e.executionId === id || e.pipelineId === id || e.threadId === id)
    )
  }

  /**
   * Every event, from the moment of subscription.
   *
   * @since 0.1.0
   */
  static readonly all: Stream.Stream<RunEvent, never, EventBus> = Stream.unwrapScoped(
    Effect.map(EventBus, (bus) => Stream.fromPubSub(bus.pubsub))
  )
}

/**
 * An unbounded in-process bus.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<EventBus> = Layer.scoped(
  EventBus,
  Effect.map(
    Effect.acquireRelease(PubSub.unbounded<RunEvent>(), PubSub.shutdown),
    (pubsub) => ({ pubsub, publish: (event: RunEvent) => Effect.asVoid(PubSub.publish(pubsub, event)) })
  )
)

/**
 * Publishes on the bus when one is provided; a no-op otherwise (a lazy event is then never
 * built).
 *
 * @since 0.1.0
 * @category combinators
 */
export const publish = (event: RunEvent | (() => RunEvent)): Effect.Effect<void> =>
  Effect.flatMap(
    Effect.serviceOption(EventBus),
    (bus) => (bus._tag === "Some" ? bus.value.publish(typeof event === "function" ? event() : event) : Effect.void)
  )
