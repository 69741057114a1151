/**
 * The compiled graph as users see it: its interface (run, stream, resume, inspect and edit
 * threads), a thread's state, and the type-level readers of a compiled graph. Types only (and
 * the type id). Public through `StateGraph`.
 */
import type * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import type * as Channel from "../../Channel.js"
import type { Command } from "../../Command.js"
import type * as GraphError from "../../GraphError.js"
import type * as Interrupt from "../../Interrupt.js"
import type { Snapshots } from "../../Snapshots.js"
import type { END, START } from "../constants.js"
import type { NodeState } from "../engine/model.js"
import type * as internalGraph from "../graph.js"
import type { InterruptsOf, ResumeOptions, RunError, RunOptions } from "./options.js"
import type { StreamMode, StreamOptions, StreamPartOf } from "./streaming.js"

type Channels = Channel.Channels

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("effect-stategraph/StateGraph") as any

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * A thread's state at a checkpoint.
 *
 * @since 0.1.0
 * @category models
 */
export interface ThreadState<S extends Channels, I> {
  readonly threadId: string
  readonly checkpointId: string
  readonly parentCheckpointId: string | null
  readonly executionId: string
  readonly step: number
  readonly status: "pending" | "running" | "paused" | "completed" | "failed"
  readonly createdAt: Date
  readonly values: Channel.State<S>
  /** the nodes the next step will run */
  readonly next: ReadonlyArray<string>
  readonly tasks: ReadonlyArray<{
    readonly id: string
    readonly node: string
    /** with `getState(…, { subgraphs: true })`: the state of the subgraph this task runs (started, paused or handed off) */
    readonly state?: ThreadState<any, Interrupt.Any> | undefined
  }>
  /** every interrupt raised at this checkpoint; `status` says whether it was answered */
  readonly interrupts: ReadonlyArray<Interrupt.Pending<I> & { readonly status: "pending" | "answered" }>
  readonly nodeStates: Readonly<Record<string, NodeState>>
  readonly pauseReason: "interrupt" | "breakpoint" | "sleeping" | undefined
  readonly error: string | undefined
  readonly metadata: Readonly<Record<string, unknown>>
}

type ThreadReadError = GraphError.ThreadNotFound | GraphError.CheckpointNotFound | GraphError.StoreFailure

/**
 * A compiled graph: run it, stream it, resume it, inspect and edit its threads.
 *
 * @since 0.1.0
 * @category models
 */
export interface CompiledGraph<S extends Channels, N extends string, E, R, In extends string = never, Out extends string = never> {
  readonly [TypeId]: { readonly _S: (_: S) => S; readonly _E: (_: never) => E }
  readonly id: string
  /** a stable short hash of the structure */
  readonly version: string
  readonly nodes: ReadonlyArray<N>
  /** @internal */
  readonly compiled: internalGraph.Compiled

  /**
   * Runs from `input` (or, with `null`, continues the thread) to the end and returns the state.
   * A `Command` as input writes its update (any channel) and runs its `goto` targets next.
   */
  readonly invoke: {
    (
      input: InputOf<S, In> | RunCommand<S, N> | null,
      options: RunOptions & { readonly threadId: string }
    ): Effect.Effect<OutputOf<S, Out>, RunError<E>, R | Snapshots>
    (input: InputOf<S, In> | RunCommand<S, N>, options?: RunOptions): Effect.Effect<OutputOf<S, Out>, RunError<E>, R>
  }
  /** Streams the run's values, updates or events. */
  readonly stream: {
    <const M extends StreamMode = "values", const Sub extends boolean = false>(
      input: InputOf<S, In> | RunCommand<S, N> | null,
      options: RunOptions & StreamOptions<M, Sub> & { readonly threadId: string }
    ): Stream.Stream<StreamPartOf<S, M, Sub>, RunError<E>, R | Snapshots>
    <const M extends StreamMode = "values", const Sub extends boolean = false>(
      input: InputOf<S, In> | RunCommand<S, N>,
      options?: RunOptions & StreamOptions<M, Sub>
    ): Stream.Stream<StreamPartOf<S, M, Sub>, RunError<E>, R>
  }
  // (resume and streamResume are methods, not function-typed properties: any graph is an
  // `AnyCompiled` whatever its answers — the optional input/output parameters make the
  // compiler compare compiled graphs member by member)
  /** `resume`, streamed: answers pending interrupts and streams the continued run like `stream`. */
  streamResume<const M extends StreamMode = "values", const Sub extends boolean = false>(
    options: ResumeOptions & ResumeUpdate<S> & StreamOptions<M, Sub>,
    ...answers: ReadonlyArray<Interrupt.AnswerFor<InterruptsOf<E>>>
  ): Stream.Stream<StreamPartOf<S, M, Sub>, RunError<E> | GraphError.ResumeError, R | Snapshots>
  /** Answers pending interrupts and continues the thread. */
  resume(
    options: ResumeOptions & ResumeUpdate<S>,
    ...answers: ReadonlyArray<Interrupt.AnswerFor<InterruptsOf<E>>>
  ): Effect.Effect<OutputOf<S, Out>, RunError<E> | GraphError.ResumeError, R | Snapshots>
  /** The state at the head (or at `checkpointId`). */
  readonly getState: (
    threadId: string,
    /** `subgraphs`: each task of a subgraph node that has started carries its subgraph's state (nested all the way down) */
    options?: { readonly checkpointId?: string; readonly subgraphs?: boolean }
  ) => Effect.Effect<ThreadState<S, InterruptsOf<E>>, ThreadReadError, Snapshots>
  /**
   * The checkpoints from the head (or `checkpointId`) back to the first, newest first; with
   * `metadata`, only those whose metadata has each key with that value.
   */
  readonly history: (
    threadId: string,
    options?: { readonly checkpointId?: string; readonly limit?: number; readonly metadata?: Readonly<Record<string, unknown>> }
  ) => Effect.Effect<ReadonlyArray<ThreadState<S, InterruptsOf<E>>>, ThreadReadError, Snapshots>
  /**
   * This graph's threads, as their heads, newest first: filtered by their head's status and
   * metadata (each key with that value: the `metadata` given to `invoke` stays on a thread).
   */
  readonly searchThreads: (options?: {
    readonly metadata?: Readonly<Record<string, unknown>>
    readonly status?: ThreadState<S, never>["status"] | ReadonlyArray<ThreadState<S, never>["status"]>
    readonly limit?: number
    /** only threads whose head checkpoint is older than this one (the last one of a page) */
    readonly before?: string
  }) => Effect.Effect<ReadonlyArray<ThreadState<S, InterruptsOf<E>>>, GraphError.StoreFailure, Snapshots>
  /**
   * Writes `update` as if `asNode` produced it (default: the last node that ran); the next
   * `invoke(null)` continues from its edges. On a thread that does not exist yet it creates the
   * thread (seeding a conversation; `asNode` defaults to `START`, so `invoke(null)` runs the
   * graph from its entry). `asNode: END` ends the thread there: no next step, and a pause's
   * questions are withdrawn (status `completed`).
   */
  readonly updateState: (
    threadId: string,
    update: Channel.Update<S>,
    options?: { readonly asNode?: N | START | END; readonly checkpointId?: string }
  ) => Effect.Effect<ThreadState<S, InterruptsOf<E>>, ThreadReadError | GraphError.InvalidUpdate | GraphError.ThreadBusy, R | Snapshots>
  /**
   * Several supersteps of updates, all or none: each superstep is one step (one checkpoint) whose
   * updates meet in the reducers as a step's tasks' writes do. Returns the last state.
   */
  readonly bulkUpdateState: (
    threadId: string,
    supersteps: ReadonlyArray<ReadonlyArray<{ readonly update: Channel.Update<S>; readonly asNode?: N | START | END }>>,
    options?: { readonly checkpointId?: string }
  ) => Effect.Effect<ThreadState<S, InterruptsOf<E>>, ThreadReadError | GraphError.InvalidUpdate | GraphError.ThreadBusy, R | Snapshots>
  /** Empties the cache of the nodes with a cache policy (of these nodes only, when given). */
  readonly clearCache: (nodes?: ReadonlyArray<N>) => Effect.Effect<void>
  /** The graph as a Mermaid flowchart. */
  readonly toMermaid: () => string
}

/**
 * A `Command` given to `invoke` or `stream` on a thread: `Command.goto(…)` routes to nodes of the
 * graph (or `END`, or `Send`s to them), `Command.update(…)` writes the state's channels, both as
 * one step before the run goes on (see `invoke`).
 *
 * @since 0.1.0
 * @category type-level
 */
export type RunCommand<S extends Channels, N extends string> = Command<Channel.Update<S>, N | END> & {
  /** not a `Command.parent` (a subgraph node's output) */
  readonly graph?: never
}

/**
 * The state update `resume` and `streamResume` may apply with the answers, in the same step.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResumeUpdate<S extends Channels> {
  /**
   * written to the state (any channel) with the answers, as one checkpoint before the paused
   * step runs again: all or nothing (a wrong answer or update writes neither)
   */
  readonly update?: Channel.Update<S> | undefined
}

/**
 * What `invoke` takes: an update of the graph's input channels (all, when it declares none).
 *
 * @since 0.1.0
 * @category type-level
 */
export type InputOf<S extends Channels, In extends string> = [In] extends [never] ? Channel.Update<S>
  : Channel.Update<Pick<S, In & keyof S>>

/**
 * What `invoke` returns: the graph's output channels (all, when it declares none).
 *
 * @since 0.1.0
 * @category type-level
 */
export type OutputOf<S extends Channels, Out extends string> = [Out] extends [never] ? Channel.State<S>
  : Channel.State<Pick<S, Out & keyof S>>

/**
 * @since 0.1.0
 * @category type-level
 */
export type AnyCompiled = CompiledGraph<any, any, any, any, any, any>

/**
 * @since 0.1.0
 * @category type-level
 */
export type StateOf<G> = G extends CompiledGraph<infer S, any, any, any, any, any> ? Channel.State<S> : never

/**
 * The node names of a compiled graph.
 *
 * @since 0.1.0
 * @category type-level
 */
export type NodesOf<G> = G extends CompiledGraph<any, infer N, any, any, any, any> ? N : never

/**
 * What `invoke`, `stream` and `resume` of a compiled graph fail with.
 *
 * @since 0.1.0
 * @category type-level
 */
export type ErrorOf<G> = G extends CompiledGraph<any, any, infer E, any, any, any> ? RunError<E> : never

/**
 * The `GraphInterrupted` failure of a compiled graph (`never` when it cannot pause).
 *
 * @since 0.1.0
 * @category type-level
 */
export type InterruptedOf<G> = Extract<ErrorOf<G>, { readonly _tag: "GraphInterrupted" }>
