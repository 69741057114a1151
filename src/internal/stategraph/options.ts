/**
 * The settings of a graph: a node's options (retry, timeout, cache, defer), the compile options,
 * a run's options, and the error type of a run. Types only. Public through `StateGraph`.
 */
import type * as Duration from "effect/Duration"
import type * as Schedule from "effect/Schedule"
import type * as GraphError from "../../GraphError.js"
import type * as Interrupt from "../../Interrupt.js"
import type { HandoffTo } from "./types.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface NodeOptions {
  /** retried per task with this schedule (interrupts are never retried) */
  readonly retry?: Schedule.Schedule<any, any, never>
  /** each attempt is interrupted after this long and fails with `NodeTimeout` */
  readonly timeout?: Duration.DurationInput
  readonly metadata?: Record<string, unknown>
  /** the nodes this node may route to with `Command.goto` (for validation and drawing) */
  readonly ends?: ReadonlyArray<string>
  /**
   * Cache the node's results: a task whose input has the same key as one that finished within
   * `ttl` ends with that task's writes and routing, without running. `key` reads the node's input
   * (the state, or a `Send`'s argument; default: its JSON). The cache is the compiled graph's, in
   * this process, shared by its threads; `graph.clearCache()` empties it.
   */
  readonly cache?: CachePolicy
  /**
   * run the node's task only once nothing else is left to run: while other tasks are planned it
   * waits (several triggers meet in one run) — map-reduce over branches of different lengths
   */
  readonly defer?: boolean
}

/**
 * A node's cache policy (see `NodeOptions.cache`).
 *
 * @since 0.1.0
 * @category models
 */
export interface CachePolicy<In = any> {
  readonly key?: (input: In) => string
  readonly ttl?: Duration.DurationInput
}

/**
 * @since 0.1.0
 * @category models
 */
export interface CompileOptions<N extends string = string> {
  /** maximum supersteps per run (default 25) */
  readonly recursionLimit?: number
  /** maximum tasks running at once in a step (default unbounded) */
  readonly concurrency?: number | "unbounded"
  /**
   * when a step's checkpoint is committed: `sync` (default) before the next step, `async`
   * overlapping the next step, `exit` only at the end, a pause or a failure
   */
  readonly durability?: "sync" | "async" | "exit"
  /** pause before these nodes run */
  readonly interruptBefore?: ReadonlyArray<N>
  /** pause after these nodes ran */
  readonly interruptAfter?: ReadonlyArray<N>
  /** how long a run's claim on a thread lasts without renewal (default 30 s) */
  readonly leaseMillis?: number
  /** a `Task.sleep` longer than this pauses a persisted thread instead of waiting (default 30 s) */
  readonly sleepThreshold?: Duration.DurationInput
  /**
   * the interrupt kinds the nodes ask (optional): the graph decodes stored requests with them.
   * A kind a node asks in this process is learned anyway; declare them for a process that only
   * reads threads (an API in front of workers). Kinds belong to their graph: two graphs may each
   * have a kind of the same name.
   */
  readonly interrupts?: ReadonlyArray<Interrupt.AnyKind>
  /**
   * the channels `invoke` and `stream` take as input (default: all): another key is refused
   * (`InvalidUpdate`). A subgraph gets only these of its parent's shared channels.
   */
  readonly input?: ReadonlyArray<string>
  /**
   * the channels `invoke` and `resume` return and the `values` stream shows (default: all);
   * the others are private to the nodes. `getState` and `history` show every channel.
   */
  readonly output?: ReadonlyArray<string>
}

/**
 * The interrupts a graph can raise, from its nodes' error types and its breakpoints.
 *
 * @since 0.1.0
 * @category type-level
 */
export type InterruptsOf<E> = Extract<E, Interrupt.Any>

/**
 * The error of `invoke` / `stream` / `resume`: the nodes' own errors, `GraphInterrupted` with the
 * graph's interrupt kinds (only when it has some), and the engine's errors.
 *
 * @since 0.1.0
 * @category type-level
 */
export type RunError<E> =
  | Exclude<E, Interrupt.Any | HandoffTo<any>>
  | ([InterruptsOf<E>] extends [never] ? never : Interrupt.GraphInterrupted<InterruptsOf<E>>)
  | GraphError.EngineError

/**
 * Settings of one run (`invoke`, `stream`, `resume`), over the compiled graph's defaults.
 *
 * @since 0.1.0
 * @category models
 */
export interface PerCallOptions {
  /** maximum supersteps of this run (default: the graph's `recursionLimit`) */
  readonly recursionLimit?: number
  /** maximum tasks running at once in a step (default: the graph's `concurrency`) */
  readonly concurrency?: number | "unbounded"
  /** when this run's checkpoints are committed (default: the graph's `durability`) */
  readonly durability?: "sync" | "async" | "exit"
  /** values the nodes read with `Task.configurable` (and the graphs they run, too) */
  readonly configurable?: Readonly<Record<string, unknown>>
  /** aborting it interrupts the run (as `Effect.interrupt` would): the thread keeps its last checkpoint */
  readonly signal?: AbortSignal
  readonly metadata?: Record<string, unknown>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface RunOptions extends PerCallOptions {
  readonly threadId?: string
  /** continue from this checkpoint instead of the head: a fork (time travel) */
  readonly checkpointId?: string
  /** accept a thread written by another version of the graph */
  readonly allowVersionChange?: boolean
}

/**
 * Options of `resume` and `streamResume`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResumeOptions extends PerCallOptions {
  readonly threadId: string
  /** accept a thread written by another version of the graph */
  readonly allowVersionChange?: boolean
}
