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
import type { Command, ParentCommand } from "./Command.js"
import type * as GraphError from "./GraphError.js"
import { InvalidGraph, ThreadNotFound, ThreadSleeping } from "./GraphError.js"
import * as Interrupt from "./Interrupt.js"
import * as constants from "./internal/constants.js"
import * as internalGraph from "./internal/graph.js"
import { toPending } from "./internal/engine/answers.js"
import { decodeCheckpoint, loadCheckpoint } from "./internal/engine/codec.js"
import { execute } from "./internal/engine/execute.js"
import { bulkUpdateState } from "./internal/engine/update.js"
import type { Checkpoint, NodeState, RunConfig, RunEvent as EngineEvent, RunOutcome, RunRequest } from "./internal/engine/model.js"
import { measuredStore, operationSpan } from "./internal/engine/telemetry.js"
import { threadState } from "./internal/engine/threadState.js"
import { withoutStack } from "./internal/pause.js"
import type { Send } from "./Send.js"
import { Snapshots } from "./Snapshots.js"
import { Configurable } from "./internal/task.js"
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
 * Stands in a node's update where a key is not a channel of the graph; the compiler reports it at
 * the node's return: `Type 'number' is not assignable to type 'NotAChannel<"nope">'`.
 *
 * @since 0.1.0
 * @category type-level
 */
export interface NotAChannel<Key extends string> {
  readonly "✗ not a channel of this graph": Key
}

/**
 * Stands in a node's update where a channel gets a value of the wrong type; names the channel and
 * the type it accepts: `Type 'string' is not assignable to type 'WrongUpdate<"n", number>'`.
 *
 * @since 0.1.0
 * @category type-level
 */
export interface WrongUpdate<Channel extends string, Expected> {
  readonly "✗ wrong update for channel": Channel
  readonly expects: Expected
}

/**
 * Stands in for a node's output that is neither an update object, a `Command`, nor nothing.
 *
 * @since 0.1.0
 * @category type-level
 */
export interface NotAnUpdate {
  readonly "✗ a node returns an update object, a Command, or nothing": never
}

/**
 * An update with each key checked: a channel's key keeps its value when the channel accepts it,
 * else becomes `WrongUpdate`; a key that is not a channel becomes `NotAChannel`.
 *
 * @since 0.1.0
 * @category type-level
 */
export type CheckUpdate<S extends Channels, U> = {
  [K in keyof U]: K extends keyof S ? ([U[K]] extends [Channel.UpdateOf<S[K]>] ? U[K] : WrongUpdate<K & string, Channel.UpdateOf<S[K]>>)
    : NotAChannel<K & string>
}

/**
 * A node's output as it should be: what the node returns when it is right, so a mistake is
 * reported at the key that is wrong, naming the channel and the type it accepts.
 *
 * @since 0.1.0
 * @category type-level
 */
export type CheckOutput<S extends Channels, O> = [O] extends [void | undefined] ? O
  : O extends void | undefined ? O
  // for the parent graph: its update is checked by the parent, its targets when the parent compiles
  : O extends ParentCommand<any, any> ? O
  : O extends Command<infer U, infer N> ? Command<CheckUpdate<S, U>, N>
  : O extends ReadonlyArray<any> ? NotAnUpdate
  : O extends object ? CheckUpdate<S, O>
  : NotAnUpdate

/**
 * Kept for compatibility: the check `CheckOutput` does, as a constraint.
 *
 * @since 0.1.0
 * @category type-level
 */
export type ValidOutput<S extends Channel.Channels, O> = {
  [K in keyof O]: O extends Command<any, any> ? (K extends "update" ? CheckUpdate<S, O[K]> | undefined : O[K])
    : K extends keyof S ? O[K]
    : never
}

/**
 * What a node may return: an update, a command, or nothing.
 *
 * @since 0.1.0
 * @category type-level
 */
export type NodeOutput<S extends Channels> =
  | Channel.Update<S>
  | Command<Channel.Update<S>, string>
  | ParentCommand<object, string>
  | void
  | undefined

/**
 * What a node's output is inferred against: `NodeOutput` gives literal types their context
 * (`{ status: "done" }` stays `"done"`), anything else is let through to `CheckOutput`, which says
 * what is wrong.
 *
 * @since 0.1.0
 * @category type-level
 */
export type OutputHint<S extends Channels> = NodeOutput<S> | {} | null

type Channels = Channel.Channels
type State<S extends Channels> = Channel.State<S>

/**
 * The node names a command routes to (checked when the graph compiles).
 *
 * @since 0.1.0
 * @category type-level
 */
export type GotosOf<O> = O extends ParentCommand<any, any> ? never : O extends Command<any, infer N> ? N : never

/**
 * Marks, in a graph's error type, the parent nodes its nodes hand off to with `Command.parent`:
 * a parent that adds the graph as a node checks them as that node's gotos when it compiles.
 * Never an actual error (`RunError` leaves it out).
 *
 * @since 0.1.0
 * @category type-level
 */
export interface HandoffTo<out Node extends string> {
  readonly "✓ hands off to the parent's node": Node
}

/**
 * The handoff marks a node's output adds to the graph's error type.
 *
 * @since 0.1.0
 * @category type-level
 */
export type HandoffsOf<O> = O extends ParentCommand<any, infer N> ? HandoffTo<N> : never

/**
 * The parent nodes a subgraph hands off to (from its error type's marks).
 *
 * @since 0.1.0
 * @category type-level
 */
export type HandoffTargets<E> = E extends HandoffTo<infer N> ? N : never

/**
 * Each node's input: the state, or the argument of the `Send`s that reach it (the nodes in `I`).
 *
 * @since 0.1.0
 * @category type-level
 */
export type NodeInputs<S extends Channels, N extends string, I> = {
  readonly [K in N]: K extends keyof I ? I[K] : Channel.State<S>
}

/**
 * The inputs a builder records: only the nodes whose input is not the state (a `Send`'s argument),
 * so the builder's type does not repeat the state per node.
 *
 * @since 0.1.0
 * @category type-level
 */
export type AddInput<S extends Channels, I, Name extends string, In> = (<T>() => T extends In ? 1 : 2) extends
  (<T>() => T extends Channel.State<S> ? 1 : 2) ? I
  : I & { readonly [K in Name]: In }

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
export type NewName<Name extends string, N extends string> = string extends Name ? Name
  : 0 extends (1 & N) ? Name
  : string extends N ? Name
  : Name extends N ? never
  : Name

/**
 * A compiled graph given to `addNode` as a node (nothing when the node is a function, so the
 * compiler checks a function node against the function type alone and says what is wrong there).
 *
 * @since 0.1.0
 * @category type-level
 */
export type SubgraphArg<CS extends Channels, CN extends string, CE, CR> = [CS] extends [never] ? never
  : CompiledGraph<CS, CN, CE, CR, any, any>

/**
 * The errors a subgraph node adds to its parent: those of `Task.call` (none for a function node).
 *
 * @since 0.1.0
 * @category type-level
 */
export type SubgraphError<CS, CE> = [CS] extends [never] ? never : Task.CallError<Exclude<CE, HandoffTo<any>>>

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
 * The builder. `N` is the union of the declared node names; `E` and `R` gather the nodes' errors
 * and requirements; `G` the targets of commands; `I` the input of each node reached by `Send`
 * with an argument other than the state (every other node reads the state).
 *
 * @since 0.1.0
 * @category models
 */
export interface StateGraph<S extends Channels, N extends string, E, R, G extends string = never, I = {}>
  extends Pipeable
{
  readonly [TypeId]: {
    readonly _S: (_: S) => S
    readonly _N: (_: never) => N
    readonly _E: (_: never) => E
    readonly _R: (_: never) => R
    readonly _G: (_: never) => G
    readonly _I: (_: I) => I
  }
  /** @internal */
  readonly def: internalGraph.GraphDef
}

/**
 * @since 0.1.0
 * @category type-level
 */
export type Any = StateGraph<any, any, any, any, any, any>

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
}): StateGraph<S, never, never, never, never, {}> =>
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
    N extends string,
    E,
    R,
    G extends string,
    I,
    const Name extends string,
    O extends OutputHint<S> = void,
    E2 = never,
    R2 = never,
    In = Channel.State<S>,
    CS extends Channels = never,
    CN extends string = never,
    CE = never,
    CR = never
  >(
    name: NewName<Name, N>,
    node: ((input: In) => Effect.Effect<O & CheckOutput<S, O>, E2, R2>) | SubgraphArg<CS, CN, CE, CR>,
    options?: NodeOptions
  ): (
    self: StateGraph<S, N, E, R, G, I>
  ) => StateGraph<
    S,
    N | Name,
    E | E2 | SubgraphError<CS, CE> | HandoffsOf<O>,
    R | R2 | CR,
    G | GotosOf<O> | HandoffTargets<CE>,
    AddInput<S, I, Name, [CS] extends [never] ? In : State<S> | Channel.Update<CS>>
  >
  <
    S extends Channels,
    N extends string,
    E,
    R,
    G extends string,
    I,
    const Name extends string,
    O extends OutputHint<S> = void,
    E2 = never,
    R2 = never,
    In = Channel.State<S>,
    CS extends Channels = never,
    CN extends string = never,
    CE = never,
    CR = never
  >(
    self: StateGraph<S, N, E, R, G, I>,
    name: NewName<Name, N>,
    node: ((input: In) => Effect.Effect<O & CheckOutput<S, O>, E2, R2>) | SubgraphArg<CS, CN, CE, CR>,
    options?: NodeOptions
  ): StateGraph<
    S,
    N | Name,
    E | E2 | SubgraphError<CS, CE> | HandoffsOf<O>,
    R | R2 | CR,
    G | GotosOf<O> | HandoffTargets<CE>,
    AddInput<S, I, Name, [CS] extends [never] ? In : State<S> | Channel.Update<CS>>
  >
} = dual(
  (args) => isStateGraph(args[0]),
  (self: Any, name: string, node: ((input: any) => Effect.Effect<any, any, any>) | AnyCompiled, options?: NodeOptions) =>
    fromDef({
      ...self.def,
      nodes: [...self.def.nodes, {
        name,
        run: typeof node === "function" ? node : subgraphNode(node, self.def.channels),
        subgraph: typeof node === "function" ? undefined : node,
        retry: options?.retry,
        timeout: options?.timeout,
        metadata: options?.metadata,
        ends: options?.ends,
        cache: options?.cache,
        defer: options?.defer
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
  <N extends string, const From extends START | N | ReadonlyArray<N>, const To extends N | END>(
    from: From,
    to: To
  ): <S extends Channels, E, R, G extends string, I>(
    self: StateGraph<S, N, E, R, G, I>
  ) => StateGraph<S, N, E, R, G, I>
  <S extends Channels, N extends string, E, R, G extends string, I>(
    self: StateGraph<S, N, E, R, G, I>,
    from: START | N | ReadonlyArray<N>,
    to: N | END
  ): StateGraph<S, N, E, R, G, I>
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
    N extends string,
    I,
    const T extends RouteResult<NodeInputs<S, N, I>>,
    E2 = never,
    R2 = never
  >(
    from: START | NoInfer<N>,
    route: (state: Channel.State<S>) => T | Effect.Effect<T, E2, R2>,
    targets?: ReadonlyArray<NoInfer<N> | END>
  ): <E, R, G extends string>(self: StateGraph<S, N, E, R, G, I>) => StateGraph<S, N, E | E2, R | R2, G, I>
  <
    S extends Channels,
    N extends string,
    E,
    R,
    G extends string,
    I,
    const T extends RouteResult<NodeInputs<S, N, I>>,
    E2 = never,
    R2 = never
  >(
    self: StateGraph<S, N, E, R, G, I>,
    from: START | NoInfer<N>,
    route: (state: Channel.State<S>) => T | Effect.Effect<T, E2, R2>,
    targets?: ReadonlyArray<NoInfer<N> | END>
  ): StateGraph<S, N, E | E2, R | R2, G, I>
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
  const accepts = child.compiled.input
  const shared = child.compiled.codecs.map((c) => c.name).filter((name) => parent[name] !== undefined)
  // the child's input channels of what the node is given go in — the parent's state, or a
  // Send's argument (which may hold the child's own channels) — and what it returns (its output
  // channels) that the parent shares comes back
  const input: Record<string, unknown> = {}
  const given: Record<string, unknown> = state !== null && typeof state === "object" ? state : {}
  for (const c of child.compiled.codecs) {
    if (accepts !== undefined && !accepts.has(c.name)) continue
    if (given[c.name] !== undefined) input[c.name] = given[c.name]
  }
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

/**
 * @since 0.1.0
 * @category models
 */
export type StreamMode = "values" | "updates" | "events" | "messages" | "custom" | "tasks" | "checkpoints" | "debug"

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
  | { readonly mode: "custom"; readonly node: string; readonly taskId: string; readonly data: unknown }
  | TaskPart<S>
  | { readonly mode: "checkpoints"; readonly checkpoint: ThreadState<S, Interrupt.Any> }
  | DebugPart<S>,
  { readonly mode: M }
>

/**
 * A `tasks` stream part: a task started (with its input: the state, or a `Send`'s argument) or
 * finished — done (`result`: its update), failed (`error`), interrupted (`interrupts`), sleeping,
 * or `handoff` (its subgraph handed off to this graph with `Command.parent`; `result` is the update).
 *
 * @since 0.1.0
 * @category models
 */
export type TaskPart<S extends Channels> =
  | {
    readonly mode: "tasks"
    readonly event: "started"
    readonly step: number
    readonly node: string
    readonly taskId: string
    readonly input: unknown
  }
  | {
    readonly mode: "tasks"
    readonly event: "finished"
    readonly step: number
    readonly node: string
    readonly taskId: string
    readonly status: "done" | "failed" | "interrupted" | "sleeping" | "handoff"
    readonly result?: Channel.Update<S> | undefined
    readonly error?: string | undefined
    readonly interrupts: ReadonlyArray<{ readonly id: string; readonly kind: string; readonly request: unknown }>
    /** for a node with a cache policy: whether the result came from the cache */
    readonly cache?: "hit" | "miss" | undefined
  }

/**
 * A `debug` stream part: every `tasks` part (`type` `task` when it starts, `task_result` when it
 * ends) and every `checkpoints` part (`checkpoint`), with the step and a timestamp.
 *
 * @since 0.1.0
 * @category models
 */
export type DebugPart<S extends Channels> =
  | {
    readonly mode: "debug"
    readonly type: "task" | "task_result"
    readonly step: number
    readonly timestamp: string
    readonly payload: Omit<TaskPart<S>, "mode">
  }
  | {
    readonly mode: "debug"
    readonly type: "checkpoint"
    readonly step: number
    readonly timestamp: string
    readonly payload: ThreadState<S, Interrupt.Any>
  }

/**
 * A part of a subgraph, streamed with `subgraphs: true`: `namespace` is its place under the run
 * (`"node:taskId"` of each parent task, outermost first); its values are the subgraph's.
 *
 * @since 0.1.0
 * @category models
 */
export type SubgraphPart<M extends StreamMode> = StreamPart<any, M> & { readonly namespace: ReadonlyArray<string> }

/**
 * What `stream` yields: the graph's own parts, and with `subgraphs: true` its subgraphs' too.
 *
 * @since 0.1.0
 * @category models
 */
export type StreamPartOf<S extends Channels, M extends StreamMode, Sub extends boolean> =
  | StreamPart<S, M>
  | (true extends Sub ? SubgraphPart<M> : never)

/**
 * Options of `stream` and `streamResume`.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamOptions<M extends StreamMode, Sub extends boolean> {
  /** one mode or several (default `values`) */
  readonly mode?: M | ReadonlyArray<M>
  /** also stream the parts of subgraphs (and of graphs their nodes run), with their `namespace` */
  readonly subgraphs?: Sub
}

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

  /** Runs from `input` (or, with `null`, continues the thread) to the end and returns the state. */
  readonly invoke: {
    (
      input: InputOf<S, In> | null,
      options: RunOptions & { readonly threadId: string }
    ): Effect.Effect<OutputOf<S, Out>, RunError<E>, R | Snapshots>
    (input: InputOf<S, In>, options?: RunOptions): Effect.Effect<OutputOf<S, Out>, RunError<E>, R>
  }
  /** Streams the run's values, updates or events. */
  readonly stream: {
    <const M extends StreamMode = "values", const Sub extends boolean = false>(
      input: InputOf<S, In> | null,
      options: RunOptions & StreamOptions<M, Sub> & { readonly threadId: string }
    ): Stream.Stream<StreamPartOf<S, M, Sub>, RunError<E>, R | Snapshots>
    <const M extends StreamMode = "values", const Sub extends boolean = false>(
      input: InputOf<S, In>,
      options?: RunOptions & StreamOptions<M, Sub>
    ): Stream.Stream<StreamPartOf<S, M, Sub>, RunError<E>, R>
  }
  // (resume and streamResume are methods, not function-typed properties: any graph is an
  // `AnyCompiled` whatever its answers — the optional input/output parameters make the
  // compiler compare compiled graphs member by member)
  /** `resume`, streamed: answers pending interrupts and streams the continued run like `stream`. */
  streamResume<const M extends StreamMode = "values", const Sub extends boolean = false>(
    options: ResumeOptions & StreamOptions<M, Sub>,
    ...answers: ReadonlyArray<Interrupt.AnswerFor<InterruptsOf<E>>>
  ): Stream.Stream<StreamPartOf<S, M, Sub>, RunError<E> | GraphError.ResumeError, R | Snapshots>
  /** Answers pending interrupts and continues the thread. */
  resume(
    options: ResumeOptions,
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

type CheckChannels<C extends string, S> = [Exclude<C, keyof S>] extends [never] ? unknown
  : { readonly "input or output names a channel the graph does not have": Exclude<C, keyof S> }

type InputsOf<O> = O extends { readonly input: ReadonlyArray<infer K extends string> } ? K : never
type OutputsOf<O> = O extends { readonly output: ReadonlyArray<infer K extends string> } ? K : never

type BreakpointsOf<O> = "interruptBefore" extends keyof O ? Interrupt.Breakpoint
  : "interruptAfter" extends keyof O ? Interrupt.Breakpoint
  : never

type CheckGotos<G extends string, N extends string> = [Exclude<G, N | END>] extends [never] ? unknown
  : { readonly "a Command routes to an undeclared node": Exclude<G, N | END> }

/**
 * Validates and compiles the graph. Fails with `InvalidGraph` for what types cannot catch
 * (unreachable nodes, an edge out of END, no entry edge).
 *
 * @since 0.1.0
 * @category compiling
 */
export const compile: {
  <N extends string, const O extends CompileOptions<N> = {}>(
    options?: O
  ): <S extends Channels, E, R, G extends string, I>(
    self: StateGraph<S, N, E, R, G, I> & CheckGotos<G, N> & CheckChannels<InputsOf<O> | OutputsOf<O>, S>
  ) => Effect.Effect<CompiledGraph<S, N, E | BreakpointsOf<O>, R, InputsOf<O>, OutputsOf<O>>, GraphError.InvalidGraph>
  <S extends Channels, N extends string, E, R, G extends string, I, const O extends CompileOptions<N> = {}>(
    self: StateGraph<S, N, E, R, G, I> & CheckGotos<G, N> & CheckChannels<InputsOf<O> | OutputsOf<O>, S>,
    options?: O
  ): Effect.Effect<CompiledGraph<S, N, E | BreakpointsOf<O>, R, InputsOf<O>, OutputsOf<O>>, GraphError.InvalidGraph>
} = dual(
  (args) => isStateGraph(args[0]),
  (self: Any, options?: CompileOptions) =>
    Effect.suspend(() => {
      const reason = internalGraph.validate(self.def)
      if (reason !== undefined) return Effect.fail(new InvalidGraph({ graphId: self.def.id, reason }))
      for (const c of [...(options?.input ?? []), ...(options?.output ?? [])]) {
        if (self.def.channels[c] === undefined) {
          return Effect.fail(new InvalidGraph({ graphId: self.def.id, reason: `input or output names "${c}", not a channel of the graph` }))
        }
      }
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
  <N extends string, const O extends CompileOptions<N> = {}>(
    options?: O
  ): <S extends Channels, E, R, G extends string, I>(
    self: StateGraph<S, N, E, R, G, I> & CheckGotos<G, N> & CheckChannels<InputsOf<O> | OutputsOf<O>, S>
  ) => CompiledGraph<S, N, E | BreakpointsOf<O>, R, InputsOf<O>, OutputsOf<O>>
  <S extends Channels, N extends string, E, R, G extends string, I, const O extends CompileOptions<N> = {}>(
    self: StateGraph<S, N, E, R, G, I> & CheckGotos<G, N> & CheckChannels<InputsOf<O> | OutputsOf<O>, S>,
    options?: O
  ): CompiledGraph<S, N, E | BreakpointsOf<O>, R, InputsOf<O>, OutputsOf<O>>
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

const toThreadState = (compiled: internalGraph.Compiled, threadId: string, cp: Checkpoint): ThreadState<any, any> =>
  threadState(compiled, threadId, cp) as ThreadState<any, any>

/**
 * `state` with each task of a subgraph node carrying its subgraph's state, when the subgraph has
 * started (its thread is the task's first `Task.call`: `<thread>::<taskId>.0`).
 */
const withSubgraphs = (
  compiled: internalGraph.Compiled,
  threadId: string,
  state: ThreadState<any, any>
): Effect.Effect<ThreadState<any, any>, unknown, Snapshots> =>
  Effect.map(
    Effect.forEach(state.tasks, (t) => {
      const child = compiled.nodes[t.node]?.subgraph as AnyCompiled | undefined
      if (child === undefined) return Effect.succeed(t)
      return child.getState(`${threadId}::${t.id}.0`, { subgraphs: true }).pipe(
        Effect.map((nested) => ({ ...t, state: nested })),
        Effect.catchTag("ThreadNotFound", () => Effect.succeed(t))
      )
    }),
    (tasks) => ({ ...state, tasks })
  )

/** The compiled graph with this call's settings over its defaults (the same object without any). */
const withSettings = (compiled: internalGraph.Compiled, options: PerCallOptions | undefined): internalGraph.Compiled => {
  if (options === undefined) return compiled
  const { concurrency, durability, recursionLimit } = options
  if (recursionLimit === undefined && concurrency === undefined && durability === undefined) return compiled
  return {
    ...compiled,
    recursionLimit: recursionLimit ?? compiled.recursionLimit,
    concurrency: concurrency ?? compiled.concurrency,
    durability: durability ?? compiled.durability
  }
}

/** A run with its call's `configurable` values (for `Task.configurable`) and its abort `signal`. */
const perCall = <A, E, R>(options: PerCallOptions | undefined, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
  if (options === undefined) return effect
  let out = effect
  if (options.configurable !== undefined) out = Effect.provideService(out, Configurable, options.configurable)
  if (options.signal !== undefined) out = abortable(options.signal, out)
  return out
}

/** Interrupts `effect` when `signal` aborts (at once when it already has). */
const abortable = <A, E, R>(signal: AbortSignal, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.suspend(() => {
    if (signal.aborted) return Effect.interrupt
    return Effect.raceFirst(
      effect,
      Effect.async<never>((resume) => {
        const onAbort = () => resume(Effect.interrupt)
        signal.addEventListener("abort", onAbort, { once: true })
        return Effect.sync(() => signal.removeEventListener("abort", onAbort))
      })
    )
  })

/** The `debug` mode: each `tasks` and `checkpoints` part also as a `debug` part (and as itself when asked for). */
const debugEmit = (requested: ReadonlySet<string>, offer: (part: any) => Effect.Effect<void>) => (part: any): Effect.Effect<void> => {
  const own = requested.has(part.mode) ? offer(part) : Effect.void
  if (part.mode !== "tasks" && part.mode !== "checkpoints") return own
  const { mode: _, namespace, ...payload } = part
  const debug = part.mode === "checkpoints"
    ? { mode: "debug", type: "checkpoint", step: part.checkpoint.step, timestamp: new Date().toISOString(), payload: part.checkpoint }
    : { mode: "debug", type: part.event === "started" ? "task" : "task_result", step: part.step, timestamp: new Date().toISOString(), payload }
  return Effect.zipRight(own, offer(namespace === undefined ? debug : { ...debug, namespace }))
}

const pick = (keys: ReadonlyArray<string>, values: Readonly<Record<string, unknown>>) => {
  const out: Record<string, unknown> = {}
  for (const k of keys) if (values[k] !== undefined) out[k] = values[k]
  return out
}

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
    perCall(options, withStore(options?.threadId, (store) =>
      Effect.flatMap(
        store === undefined ? Effect.succeed(undefined) : measuredStore(store),
        (measured) => {
          const graph = withSettings(compiled, options)
          return Effect.flatMap(execute(graph, measured, request, {
            threadId: options?.threadId,
            checkpointId: options?.checkpointId,
            allowVersionChange: options?.allowVersionChange,
            metadata: options?.metadata,
            ...extra
          }), fromOutcome(graph, options?.threadId))
        }
      )))
  /** A run whose parts come out as a Stream; the run is interrupted when the stream stops early. */
  const streamOf = (
    request: RunRequest,
    options: (RunOptions & StreamOptions<StreamMode, boolean>) | undefined
  ) =>
    Stream.unwrapScoped(Effect.gen(function*() {
      const mailbox = yield* Mailbox.make<any, any>()
      const requested = modesOf(options?.mode)
      const offer = compiled.output === undefined
        ? (part: any) => mailbox.offer(part).pipe(Effect.asVoid)
        // the graph's own values parts show its output channels (a subgraph's show its own)
        : (part: any) =>
          mailbox.offer(part.mode === "values" && part.namespace === undefined ? { ...part, values: pick(compiled.output!, part.values) } : part)
            .pipe(Effect.asVoid)
      yield* run(request, options, {
        emit: requested.has("debug") ? debugEmit(requested, offer) : offer,
        modes: requested.has("debug") ? new Set([...requested, "tasks", "checkpoints"]) : requested,
        subgraphs: options?.subgraphs === true
      }).pipe(
        Effect.asVoid,
        span(request._tag === "Resume" ? "streamResume" : "stream", options?.threadId),
        Mailbox.into(mailbox),
        Effect.forkScoped
      )
      return Mailbox.toStream(mailbox)
    }))
  /** What a run returns: its output channels (every channel when it declares none). */
  const output = (cp: Checkpoint) => (compiled.output === undefined ? cp.values : pick(compiled.output, cp.values))
  const self: AnyCompiled = {
    [TypeId]: { _S: (_: any) => _, _E: (_: never) => _ },
    id: compiled.id,
    version: compiled.version,
    nodes: compiled.def.nodes.map((n) => n.name),
    compiled,
    invoke: ((input: unknown, options?: RunOptions) =>
      Effect.map(run({ _tag: "Input", input }, options, {}), output).pipe(span("invoke", options?.threadId))) as any,
    stream: ((input: unknown, options?: RunOptions & { readonly mode?: StreamMode | ReadonlyArray<StreamMode> }) =>
      streamOf({ _tag: "Input", input }, options)) as any,
    streamResume: ((options: any, ...answers: ReadonlyArray<any>) => streamOf({ _tag: "Resume", answers }, options)) as any,
    resume: (options, ...answers) =>
      Effect.map(run({ _tag: "Resume", answers }, options, {}), output).pipe(
        span("resume", options.threadId)
      ) as any,
    getState: (threadId, options) =>
      Effect.flatMap(Snapshots, (store) =>
        Effect.flatMap(
          loadCheckpoint(compiled, store, threadId, options?.checkpointId),
          ({ cp }) => {
            const state = toThreadState(compiled, threadId, cp)
            return options?.subgraphs === true ? withSubgraphs(compiled, threadId, state) : Effect.succeed(state)
          }
        )).pipe(span("getState", threadId)) as any,
    history: (threadId, options) =>
      Effect.gen(function*() {
        const store = yield* Snapshots
        const rows = yield* store.history(threadId, {
          ...(options?.checkpointId !== undefined ? { checkpointId: options.checkpointId } : {}),
          // a limit of 0 or less asks for nothing (SQLite would read a negative LIMIT as none)
          ...(options?.limit !== undefined ? { limit: Math.max(0, Math.floor(options.limit)) } : {}),
          ...(options?.metadata !== undefined ? { metadata: options.metadata } : {})
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
    searchThreads: (options) =>
      Effect.gen(function*() {
        const store = yield* Snapshots
        const rows = yield* store.listByWorkflow(compiled.id, {
          ...(options?.metadata !== undefined ? { metadata: options.metadata } : {}),
          ...(options?.status !== undefined ? { status: options.status } : {}),
          ...(options?.limit !== undefined ? { limit: Math.max(0, Math.floor(options.limit)) } : {}),
          ...(options?.before !== undefined ? { before: options.before } : {})
        })
        const out: Array<ThreadState<any, any>> = []
        for (const row of rows) {
          const cp = decodeCheckpoint(compiled, row)
          if (Either.isLeft(cp)) return yield* Effect.fail(cp.left)
          out.push(toThreadState(compiled, row.threadId, cp.right))
        }
        return out
      }).pipe(span("searchThreads", undefined)) as any,
    updateState: (threadId, update, options) =>
      Effect.flatMap(Snapshots, (store) =>
        Effect.map(
          bulkUpdateState(compiled, store, threadId, [[{ update, asNode: options?.asNode }]], options?.checkpointId),
          (cp) => toThreadState(compiled, threadId, cp)
        )).pipe(span("updateState", threadId)) as any,
    bulkUpdateState: (threadId, supersteps, options) =>
      Effect.flatMap(Snapshots, (store) =>
        Effect.map(
          bulkUpdateState(compiled, store, threadId, supersteps, options?.checkpointId),
          (cp) => toThreadState(compiled, threadId, cp)
        )).pipe(span("bulkUpdateState", threadId)) as any,
    clearCache: (nodes) =>
      Effect.sync(() => {
        if (nodes === undefined) return compiled.cache.clear()
        for (const key of [...compiled.cache.keys()]) {
          if (nodes.some((n) => key.startsWith(`${n}\u0000`))) compiled.cache.delete(key)
        }
      }),
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
