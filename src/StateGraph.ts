/**
 * The graph builder and the compiled graph: typed nodes, edges, joins, conditional routes and
 * `Send` fan-out, run in bulk-synchronous supersteps with a checkpoint per step per thread.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Schedule from "effect/Schedule"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Mailbox from "effect/Mailbox"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { pipe } from "effect/Function"
import { dual } from "effect/Function"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import type * as Channel from "./Channel.js"
import type { Command } from "./Command.js"
import type * as GraphError from "./GraphError.js"
import { InvalidGraph, ThreadNotFound, ThreadSleeping } from "./GraphError.js"
import * as Interrupt from "./Interrupt.js"
import * as constants from "./internal/constants.js"
import * as internalGraph from "./internal/graph.js"
import { toPending } from "./internal/engine/answers.js"
import { decodeCheckpoint, loadCheckpoint } from "./internal/engine/codec.js"
import { execute, updateState } from "./internal/engine/execute.js"
import type { Checkpoint, NodeState, RunConfig, RunEvent as EngineEvent, RunOutcome, RunRequest } from "./internal/engine/model.js"
import { measuredStore, operationSpan } from "./internal/engine/telemetry.js"
import { withoutStack } from "./internal/pause.js"
import type { Send } from "./Send.js"
import { Snapshots } from "./Snapshots.js"
import * as Task from "./Task.js"

/**
 * The entry of a graph: `addEdge(START, "first")`.
 *
 * @since 0.1.0
 * @category constants
 */
export const START = constants.START

/**
 * @since 0.1.0
 * @category constants
 */
export type START = constants.START

/**
 * The end of a branch: a route returning `END` stops there.
 *
 * @since 0.1.0
 * @category constants
 */
export const END = constants.END

/**
 * @since 0.1.0
 * @category constants
 */
export type END = constants.END

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

// ---------------------------------------------------------------------------------------------
// type-level helpers
// ---------------------------------------------------------------------------------------------

/**
 * Checks a node's output: every key of an update (or a command's update) must be a channel.
 * Wrong value types are caught by the constraint `NodeOutput<S>`.
 *
 * @since 0.1.0
 * @category type-level
 */
export type ValidOutput<S extends Channel.Channels, O> = {
  [K in keyof O]: O extends Command<any, any> ? (K extends "update" ? CheckUpdate<S, O[K]> | undefined : O[K])
    : K extends keyof S ? O[K]
    : never
}

type CheckUpdate<S extends Channel.Channels, U> = { [K in keyof U]: K extends keyof S ? Channel.UpdateOf<S[K]> : never }

/**
 * What a node may return: an update, a command, or nothing.
 *
 * @since 0.1.0
 * @category type-level
 */
export type NodeOutput<S extends Channels> = Channel.Update<S> | Command<Channel.Update<S>, string> | void | undefined

type Channels = Channel.Channels

/**
 * The node names a command routes to (checked when the graph compiles).
 *
 * @since 0.1.0
 * @category type-level
 */
export type GotosOf<O> = O extends Command<any, infer N> ? N : never

/**
 * A `Send` to any node of `Nodes`, with that node's input type.
 *
 * @since 0.1.0
 * @category type-level
 */
export type SendTo<Nodes> = { [K in keyof Nodes & string]: Send<K, Nodes[K]> }[keyof Nodes & string]

/**
 * A route's target: a node, `END`, or a `Send`.
 *
 * @since 0.1.0
 * @category type-level
 */
export type RouteTarget<Nodes> = (keyof Nodes & string) | END | SendTo<Nodes>

/**
 * What a conditional route may return: one target or several.
 *
 * @since 0.1.0
 * @category type-level
 */
export type RouteResult<Nodes> = RouteTarget<Nodes> | ReadonlyArray<RouteTarget<Nodes>>

/**
 * A node name not yet declared (dynamic `string` names and untyped builders are let through).
 *
 * @since 0.1.0
 * @category type-level
 */
export type NewName<Name extends string, Nodes> = string extends Name ? Name
  : 0 extends (1 & Nodes) ? Name
  : Name extends keyof Nodes ? never
  : Name

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
}

/**
 * The builder. `Nodes` maps each declared node to its input type (the state, or a `Send`'s
 * argument); `E` and `R` gather the nodes' errors and requirements; `G` the targets of commands.
 *
 * @since 0.1.0
 * @category models
 */
export interface StateGraph<S extends Channels, Nodes extends Record<string, any>, E, R, G extends string = never>
  extends Pipeable
{
  readonly [TypeId]: {
    readonly _S: (_: S) => S
    readonly _Nodes: (_: Nodes) => Nodes
    readonly _E: (_: never) => E
    readonly _R: (_: never) => R
    readonly _G: (_: never) => G
  }
  /** @internal */
  readonly def: internalGraph.GraphDef
}

/**
 * @since 0.1.0
 * @category type-level
 */
export type Any = StateGraph<any, any, any, any, any>

const Proto = {
  [TypeId]: {},
  pipe() {
    return pipeArguments(this, arguments)
  }
}

const fromDef = (def: internalGraph.GraphDef): any => {
  const g = Object.create(Proto)
  g.def = def
  return g
}

/**
 * @since 0.1.0
 * @category guards
 */
export const isStateGraph = (u: unknown): u is Any => typeof u === "object" && u !== null && TypeId in u && "def" in u

/**
 * Starts a graph over the given channels.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <const S extends Channels>(options: {
  readonly id: string
  readonly state: S
}): StateGraph<S, {}, never, never, never> =>
  fromDef({ id: options.id, channels: options.state, nodes: [], edges: [], joins: [], branches: [] })

/**
 * Adds a node. Its input is the state (or, for a node reached by `Send`, the send's argument:
 * annotate the parameter). It returns an update, a `Command`, or nothing.
 *
 * @since 0.1.0
 * @category combinators
 */
export const addNode: {
  <
    S extends Channels,
    Nodes extends Record<string, any>,
    E,
    R,
    G extends string,
    const Name extends string,
    CS extends Channels,
    CN extends Record<string, any>,
    CE,
    CR
  >(
    name: NewName<Name, Nodes>,
    subgraph: CompiledGraph<CS, CN, CE, CR>,
    options?: NodeOptions
  ): (
    self: StateGraph<S, Nodes, E, R, G>
  ) => StateGraph<S, Nodes & { readonly [K in Name]: Channel.State<S> }, E | Task.CallError<CE>, R | CR, G>
  <
    S extends Channels,
    Nodes extends Record<string, any>,
    E,
    R,
    G extends string,
    const Name extends string,
    CS extends Channels,
    CN extends Record<string, any>,
    CE,
    CR
  >(
    self: StateGraph<S, Nodes, E, R, G>,
    name: NewName<Name, Nodes>,
    subgraph: CompiledGraph<CS, CN, CE, CR>,
    options?: NodeOptions
  ): StateGraph<S, Nodes & { readonly [K in Name]: Channel.State<S> }, E | Task.CallError<CE>, R | CR, G>
  <
    S extends Channels,
    Nodes extends Record<string, any>,
    E,
    R,
    G extends string,
    const Name extends string,
    O extends NodeOutput<S> & ValidOutput<S, O>,
    E2 = never,
    R2 = never,
    In = Channel.State<S>
  >(
    name: NewName<Name, Nodes>,
    node: (input: In) => Effect.Effect<O, E2, R2>,
    options?: NodeOptions
  ): (self: StateGraph<S, Nodes, E, R, G>) => StateGraph<S, Nodes & { readonly [K in Name]: In }, E | E2, R | R2, G | GotosOf<O>>
  <
    S extends Channels,
    Nodes extends Record<string, any>,
    E,
    R,
    G extends string,
    const Name extends string,
    O extends NodeOutput<S> & ValidOutput<S, O>,
    E2 = never,
    R2 = never,
    In = Channel.State<S>
  >(
    self: StateGraph<S, Nodes, E, R, G>,
    name: NewName<Name, Nodes>,
    node: (input: In) => Effect.Effect<O, E2, R2>,
    options?: NodeOptions
  ): StateGraph<S, Nodes & { readonly [K in Name]: In }, E | E2, R | R2, G | GotosOf<O>>
} = dual(
  (args) => isStateGraph(args[0]),
  (self: Any, name: string, node: ((input: any) => Effect.Effect<any, any, any>) | AnyCompiled, options?: NodeOptions) =>
    fromDef({
      ...self.def,
      nodes: [...self.def.nodes, {
        name,
        run: typeof node === "function" ? node : subgraphNode(node, self.def.channels),
        retry: options?.retry,
        timeout: options?.timeout,
        metadata: options?.metadata,
        ends: options?.ends
      }]
    })
)

/**
 * Adds an edge. `addEdge(["a", "b"], "c")` is a join: `c` runs once both `a` and `b` have run.
 *
 * @since 0.1.0
 * @category combinators
 */
export const addEdge: {
  <Nodes extends Record<string, any>, const From extends START | (keyof Nodes & string) | ReadonlyArray<keyof Nodes & string>, const To extends (keyof Nodes & string) | END>(
    from: From,
    to: To
  ): <S extends Channels, E, R, G extends string>(
    self: StateGraph<S, Nodes, E, R, G>
  ) => StateGraph<S, Nodes, E, R, G>
  <S extends Channels, Nodes extends Record<string, any>, E, R, G extends string>(
    self: StateGraph<S, Nodes, E, R, G>,
    from: START | (keyof Nodes & string) | ReadonlyArray<keyof Nodes & string>,
    to: (keyof Nodes & string) | END
  ): StateGraph<S, Nodes, E, R, G>
} = dual(3, (self: Any, from: string | ReadonlyArray<string>, to: string) => {
  if (typeof from === "string") return fromDef({ ...self.def, edges: [...self.def.edges, { from, to }] })
  const sources = [...from]
  return fromDef({
    ...self.def,
    joins: [...self.def.joins, { id: `${[...sources].sort().join("+")}->${to}`, sources, target: to }]
  })
})

/**
 * Adds a conditional edge: after `from` runs, `route` reads the new state and returns a target,
 * several, `END`, or `Send`s. `targets` lists the possible targets (for drawing and validation).
 *
 * @since 0.1.0
 * @category combinators
 */
export const addConditionalEdges: {
  <
    S extends Channels,
    Nodes extends Record<string, any>,
    const T extends RouteResult<Nodes>,
    E2 = never,
    R2 = never
  >(
    from: START | (keyof Nodes & string),
    route: (state: Channel.State<S>) => T | Effect.Effect<T, E2, R2>,
    targets?: ReadonlyArray<(keyof Nodes & string) | END>
  ): <E, R, G extends string>(self: StateGraph<S, Nodes, E, R, G>) => StateGraph<S, Nodes, E | E2, R | R2, G>
  <
    S extends Channels,
    Nodes extends Record<string, any>,
    E,
    R,
    G extends string,
    const T extends RouteResult<Nodes>,
    E2 = never,
    R2 = never
  >(
    self: StateGraph<S, Nodes, E, R, G>,
    from: START | (keyof Nodes & string),
    route: (state: Channel.State<S>) => T | Effect.Effect<T, E2, R2>,
    targets?: ReadonlyArray<(keyof Nodes & string) | END>
  ): StateGraph<S, Nodes, E | E2, R | R2, G>
} = dual(
  (args) => isStateGraph(args[0]),
  (self: Any, from: string, route: (state: any) => unknown, targets?: ReadonlyArray<string>) =>
    fromDef({ ...self.def, branches: [...self.def.branches, { from, route, targets }] })
)

/**
 * A compiled graph as a node: the parent's channels that the child also has go in; after the
 * child ends, last-value channels are written back and append (and `messages`) channels get the
 * items the child added. Other reduce channels are passed in but not written back (a reducer
 * cannot be undone).
 */
const subgraphNode = (child: AnyCompiled, parent: Channels) => (state: Record<string, unknown>) => {
  const shared = child.compiled.codecs.map((c) => c.name).filter((name) => parent[name] !== undefined)
  const input: Record<string, unknown> = {}
  for (const name of shared) if (state[name] !== undefined) input[name] = state[name]
  return Effect.map(Task.call(child, input), (result: Record<string, unknown>) => {
    const update: Record<string, unknown> = {}
    for (const name of shared) {
      const kind = parent[name]!._tag
      const after = result[name]
      if (kind === "LastValue" && after !== undefined) update[name] = after
      // messages: the child's new messages (a reducer that appends by default)
      if ((kind === "Append" || ("isAppend" in parent[name]! && parent[name].isAppend !== undefined)) && Array.isArray(after)) {
        const before = (input[name] ?? []) as ReadonlyArray<unknown>
        update[name] = after.slice(Math.min(before.length, after.length))
      }
    }
    return update
  })
}

// ---------------------------------------------------------------------------------------------
// compiled graph
// ---------------------------------------------------------------------------------------------

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
  | Exclude<E, Interrupt.Any>
  | ([InterruptsOf<E>] extends [never] ? never : Interrupt.GraphInterrupted<InterruptsOf<E>>)
  | GraphError.EngineError

/**
 * @since 0.1.0
 * @category models
 */
export interface RunOptions {
  readonly threadId?: string
  /** continue from this checkpoint instead of the head: a fork (time travel) */
  readonly checkpointId?: string
  /** accept a thread written by another version of the graph */
  readonly allowVersionChange?: boolean
  readonly metadata?: Record<string, unknown>
}

/**
 * @since 0.1.0
 * @category models
 */
export type StreamMode = "values" | "updates" | "events" | "messages" | "custom"

/**
 * A streamed part; `mode` tells which.
 *
 * @since 0.1.0
 * @category models
 */
export type StreamPart<S extends Channels, M extends StreamMode> = Extract<
  | { readonly mode: "values"; readonly step: number; readonly values: Channel.State<S> }
  | {
    readonly mode: "updates"
    readonly step: number
    readonly node: string
    readonly taskId: string
    readonly update: Channel.Update<S>
  }
  | { readonly mode: "events"; readonly event: EngineEvent }
  | {
    readonly mode: "messages"
    readonly node: string
    readonly taskId: string
    readonly messageId: string
    readonly delta: string
  }
  | { readonly mode: "custom"; readonly node: string; readonly taskId: string; readonly data: unknown },
  { readonly mode: M }
>

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
  readonly tasks: ReadonlyArray<{ readonly id: string; readonly node: string }>
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
export interface CompiledGraph<S extends Channels, Nodes extends Record<string, any>, E, R> {
  readonly [TypeId]: { readonly _S: (_: S) => S; readonly _E: (_: never) => E }
  readonly id: string
  /** a stable short hash of the structure */
  readonly version: string
  readonly nodes: ReadonlyArray<keyof Nodes & string>
  /** @internal */
  readonly compiled: internalGraph.Compiled

  /** Runs from `input` (or, with `null`, continues the thread) to the end and returns the state. */
  readonly invoke: {
    (
      input: Channel.Update<S> | null,
      options: RunOptions & { readonly threadId: string }
    ): Effect.Effect<Channel.State<S>, RunError<E>, R | Snapshots>
    (input: Channel.Update<S>, options?: RunOptions): Effect.Effect<Channel.State<S>, RunError<E>, R>
  }
  /** Streams the run's values, updates or events. */
  readonly stream: {
    <const M extends StreamMode = "values">(
      input: Channel.Update<S> | null,
      options: RunOptions & { readonly threadId: string; readonly mode?: M | ReadonlyArray<M> }
    ): Stream.Stream<StreamPart<S, M>, RunError<E>, R | Snapshots>
    <const M extends StreamMode = "values">(
      input: Channel.Update<S>,
      options?: RunOptions & { readonly mode?: M | ReadonlyArray<M> }
    ): Stream.Stream<StreamPart<S, M>, RunError<E>, R>
  }
  /** `resume`, streamed: answers pending interrupts and streams the continued run like `stream`. */
  readonly streamResume: <const M extends StreamMode = "values">(
    options: {
      readonly threadId: string
      readonly allowVersionChange?: boolean
      readonly mode?: M | ReadonlyArray<M>
    },
    ...answers: ReadonlyArray<Interrupt.AnswerFor<InterruptsOf<E>>>
  ) => Stream.Stream<StreamPart<S, M>, RunError<E> | GraphError.ResumeError, R | Snapshots>
  /** Answers pending interrupts and continues the thread. */
  readonly resume: (
    options: { readonly threadId: string; readonly allowVersionChange?: boolean },
    ...answers: ReadonlyArray<Interrupt.AnswerFor<InterruptsOf<E>>>
  ) => Effect.Effect<Channel.State<S>, RunError<E> | GraphError.ResumeError, R | Snapshots>
  /** The state at the head (or at `checkpointId`). */
  readonly getState: (
    threadId: string,
    options?: { readonly checkpointId?: string }
  ) => Effect.Effect<ThreadState<S, InterruptsOf<E>>, ThreadReadError, Snapshots>
  /** The checkpoints from the head (or `checkpointId`) back to the first, newest first. */
  readonly history: (
    threadId: string,
    options?: { readonly checkpointId?: string; readonly limit?: number }
  ) => Effect.Effect<ReadonlyArray<ThreadState<S, InterruptsOf<E>>>, ThreadReadError, Snapshots>
  /** Writes `update` as if `asNode` produced it; the next `invoke(null)` continues from its edges. */
  readonly updateState: (
    threadId: string,
    update: Channel.Update<S>,
    options?: { readonly asNode?: keyof Nodes & string; readonly checkpointId?: string }
  ) => Effect.Effect<ThreadState<S, InterruptsOf<E>>, ThreadReadError | GraphError.InvalidUpdate | GraphError.ThreadBusy, R | Snapshots>
  /** The graph as a Mermaid flowchart. */
  readonly toMermaid: () => string
}

/**
 * @since 0.1.0
 * @category type-level
 */
export type AnyCompiled = CompiledGraph<any, any, any, any>

/**
 * @since 0.1.0
 * @category type-level
 */
export type StateOf<G> = G extends CompiledGraph<infer S, any, any, any> ? Channel.State<S> : never

type BreakpointsOf<O> = "interruptBefore" extends keyof O ? Interrupt.Breakpoint
  : "interruptAfter" extends keyof O ? Interrupt.Breakpoint
  : never

type CheckGotos<G extends string, Nodes> = [Exclude<G, (keyof Nodes & string) | END>] extends [never] ? unknown
  : { readonly "a Command routes to an undeclared node": Exclude<G, (keyof Nodes & string) | END> }

/**
 * Validates and compiles the graph. Fails with `InvalidGraph` for what types cannot catch
 * (unreachable nodes, an edge out of END, no entry edge).
 *
 * @since 0.1.0
 * @category compiling
 */
export const compile: {
  <Nodes extends Record<string, any>, const O extends CompileOptions<keyof Nodes & string> = {}>(
    options?: O
  ): <S extends Channels, E, R, G extends string>(
    self: StateGraph<S, Nodes, E, R, G> & CheckGotos<G, Nodes>
  ) => Effect.Effect<CompiledGraph<S, Nodes, E | BreakpointsOf<O>, R>, GraphError.InvalidGraph>
  <S extends Channels, Nodes extends Record<string, any>, E, R, G extends string, const O extends CompileOptions<keyof Nodes & string> = {}>(
    self: StateGraph<S, Nodes, E, R, G> & CheckGotos<G, Nodes>,
    options?: O
  ): Effect.Effect<CompiledGraph<S, Nodes, E | BreakpointsOf<O>, R>, GraphError.InvalidGraph>
} = dual(
  (args) => isStateGraph(args[0]),
  (self: Any, options?: CompileOptions) =>
    Effect.suspend(() => {
      const reason = internalGraph.validate(self.def)
      if (reason !== undefined) return Effect.fail(new InvalidGraph({ graphId: self.def.id, reason }))
      for (const n of [...(options?.interruptBefore ?? []), ...(options?.interruptAfter ?? [])]) {
        if (!self.def.nodes.some((d) => d.name === n)) {
          return Effect.fail(new InvalidGraph({ graphId: self.def.id, reason: `breakpoint on unknown node "${n}"` }))
        }
      }
      return Effect.succeed(makeCompiled(internalGraph.compile(self.def, options ?? {})))
    })
)

/**
 * Like `compile`, but throws on an invalid graph: for module-level constants.
 *
 * @since 0.1.0
 * @category compiling
 */
export const compileSync: {
  <Nodes extends Record<string, any>, const O extends CompileOptions<keyof Nodes & string> = {}>(
    options?: O
  ): <S extends Channels, E, R, G extends string>(
    self: StateGraph<S, Nodes, E, R, G> & CheckGotos<G, Nodes>
  ) => CompiledGraph<S, Nodes, E | BreakpointsOf<O>, R>
  <S extends Channels, Nodes extends Record<string, any>, E, R, G extends string, const O extends CompileOptions<keyof Nodes & string> = {}>(
    self: StateGraph<S, Nodes, E, R, G> & CheckGotos<G, Nodes>,
    options?: O
  ): CompiledGraph<S, Nodes, E | BreakpointsOf<O>, R>
} = dual(
  (args) => isStateGraph(args[0]),
  (self: any, options?: CompileOptions) => Effect.runSync(compile(self, options))
)

/**
 * The engine's outcome as the public API reports it: the checkpoint when it completed or stopped,
 * else the typed failure — `GraphInterrupted` for a pause, `ThreadSleeping` for a durable
 * sleep, the node's error for a failure.
 *
 * @internal
 */
export const fromOutcome = (compiled: internalGraph.Compiled, threadId: string | undefined) => (outcome: RunOutcome): Effect.Effect<Checkpoint, unknown> => {
  switch (outcome._tag) {
    case "Completed":
    case "Stopped":
      return Effect.succeed(outcome.checkpoint)
    case "Paused":
      return Effect.fail(withoutStack(() =>
        new Interrupt.GraphInterrupted<Interrupt.Interrupt<string, unknown, unknown>>({
          threadId,
          checkpointId: outcome.checkpoint.checkpointId,
          interrupts: outcome.interrupts.map(toPending(compiled))
        })
      ))
    case "Sleeping":
      return Effect.fail(new ThreadSleeping({ threadId: threadId ?? "", wakeAt: new Date(outcome.wakeAt).toISOString() }))
    case "Failed":
      return Effect.fail(outcome.error)
  }
}

const toThreadState = (compiled: internalGraph.Compiled, threadId: string, cp: Checkpoint): ThreadState<any, any> => ({
  threadId,
  checkpointId: cp.checkpointId,
  parentCheckpointId: cp.parentCheckpointId,
  executionId: cp.executionId,
  step: cp.step,
  status: cp.status,
  createdAt: new Date(cp.createdAt),
  values: cp.values,
  next: [...new Set(cp.tasks.map((t) => t.node))],
  tasks: cp.tasks.map((t) => ({ id: t.id, node: t.node })),
  interrupts: cp.interrupts.map((r) => ({ ...toPending(compiled)(r), status: r.status })),
  nodeStates: cp.nodeStates,
  pauseReason: cp.pauseReason,
  error: cp.error,
  metadata: cp.metadata
})

const modesOf = (mode: StreamMode | ReadonlyArray<StreamMode> | undefined): ReadonlySet<string> =>
  new Set(mode === undefined ? ["values"] : typeof mode === "string" ? [mode] : mode)

const withStore = <A, E, R>(
  threadId: string | undefined,
  f: (store: import("./Snapshots.js").Backend | undefined) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, any> => threadId === undefined ? f(undefined) : Effect.flatMap(Snapshots, f)

/** @internal */
export const makeCompiled = (compiled: internalGraph.Compiled): AnyCompiled => {
  /** A span per public operation, named after it, with the graph and the thread. */
  const span = (operation: string, threadId: string | undefined) =>
    operationSpan(`StateGraph.${operation}`, { "stategraph.graph": compiled.id, "stategraph.thread": threadId ?? "" })
  const run = (request: RunRequest, options: RunOptions | undefined, extra: Partial<RunConfig>) =>
    withStore(options?.threadId, (store) =>
      Effect.flatMap(
        store === undefined ? Effect.succeed(undefined) : measuredStore(store),
        (measured) =>
          Effect.flatMap(execute(compiled, measured, request, {
            threadId: options?.threadId,
            checkpointId: options?.checkpointId,
            allowVersionChange: options?.allowVersionChange,
            metadata: options?.metadata,
            ...extra
          }), fromOutcome(compiled, options?.threadId))
      ))
  /** A run whose parts come out as a Stream; the run is interrupted when the stream stops early. */
  const streamOf = (
    request: RunRequest,
    options: (RunOptions & { readonly mode?: StreamMode | ReadonlyArray<StreamMode> }) | undefined
  ) =>
    Stream.unwrapScoped(Effect.gen(function*() {
      const mailbox = yield* Mailbox.make<any, any>()
      yield* run(request, options, {
        emit: (part) => mailbox.offer(part).pipe(Effect.asVoid),
        modes: modesOf(options?.mode)
      }).pipe(
        Effect.asVoid,
        span(request._tag === "Resume" ? "streamResume" : "stream", options?.threadId),
        Mailbox.into(mailbox),
        Effect.forkScoped
      )
      return Mailbox.toStream(mailbox)
    }))
  const self: AnyCompiled = {
    [TypeId]: { _S: (_: any) => _, _E: (_: never) => _ },
    id: compiled.id,
    version: compiled.version,
    nodes: compiled.def.nodes.map((n) => n.name),
    compiled,
    invoke: ((input: unknown, options?: RunOptions) =>
      Effect.map(run({ _tag: "Input", input }, options, {}), (cp) => cp.values).pipe(span("invoke", options?.threadId))) as any,
    stream: ((input: unknown, options?: RunOptions & { readonly mode?: StreamMode | ReadonlyArray<StreamMode> }) =>
      streamOf({ _tag: "Input", input }, options)) as any,
    streamResume: ((options: any, ...answers: ReadonlyArray<any>) => streamOf({ _tag: "Resume", answers }, options)) as any,
    resume: (options, ...answers) =>
      Effect.map(run({ _tag: "Resume", answers }, options, {}), (cp) => cp.values).pipe(
        span("resume", options.threadId)
      ) as any,
    getState: (threadId, options) =>
      Effect.flatMap(Snapshots, (store) =>
        Effect.map(
          loadCheckpoint(compiled, store, threadId, options?.checkpointId),
          ({ cp }) => toThreadState(compiled, threadId, cp)
        )).pipe(span("getState", threadId)) as any,
    history: (threadId, options) =>
      Effect.gen(function*() {
        const store = yield* Snapshots
        const rows = yield* store.history(threadId, {
          ...(options?.checkpointId !== undefined ? { checkpointId: options.checkpointId } : {}),
          // a limit of 0 or less asks for nothing (SQLite would read a negative LIMIT as none)
          ...(options?.limit !== undefined ? { limit: Math.max(0, Math.floor(options.limit)) } : {})
        })
        if (rows.length === 0) {
          // nothing read: [] for an existing thread (and checkpoint), else why not
          return yield* Effect.flatMap(store.load(threadId, options?.checkpointId), (o) =>
            Option.isSome(o)
              ? Effect.succeed(undefined)
              : options?.checkpointId !== undefined
              ? loadCheckpoint(compiled, store, threadId, options.checkpointId)
              : Effect.fail(new ThreadNotFound({ threadId }))).pipe(Effect.as([]))
        }
        const out: Array<ThreadState<any, any>> = []
        for (const row of rows) {
          const cp = decodeCheckpoint(compiled, row)
          if (Either.isLeft(cp)) return yield* Effect.fail(cp.left)
          out.push(toThreadState(compiled, threadId, cp.right))
        }
        return out
      }).pipe(span("history", threadId)) as any,
    updateState: (threadId, update, options) =>
      Effect.flatMap(Snapshots, (store) =>
        Effect.map(
          updateState(compiled, store, threadId, update, options?.asNode, options?.checkpointId),
          (cp) => toThreadState(compiled, threadId, cp)
        )).pipe(span("updateState", threadId)) as any,
    toMermaid: () => mermaid(compiled.def)
  }
  return self
}

const mermaidId = (name: string) => (name === START ? "__start__" : name === END ? "__end__" : name.replace(/[^A-Za-z0-9_]/g, "_"))

const mermaid = (def: internalGraph.GraphDef): string => {
  const lines = ["flowchart TD", `  __start__([START])`]
  for (const n of def.nodes) lines.push(`  ${mermaidId(n.name)}[${JSON.stringify(n.name)}]`)
  lines.push(`  __end__([END])`)
  for (const e of def.edges) lines.push(`  ${mermaidId(e.from)} --> ${mermaidId(e.to)}`)
  for (const j of def.joins) for (const s of j.sources) lines.push(`  ${mermaidId(s)} ==> ${mermaidId(j.target)}`)
  for (const n of def.nodes) for (const t of n.ends ?? []) lines.push(`  ${mermaidId(n.name)} -.-> ${mermaidId(t)}`)
  for (const b of def.branches) {
    const targets = b.targets ?? [...def.nodes.map((n) => n.name), END]
    for (const t of targets) lines.push(`  ${mermaidId(b.from)} -.-> ${mermaidId(t)}`)
  }
  return lines.join("\n")
}

void pipe
