/**
 * The graph builder: `make`, `addNode` (a function or a compiled graph as a node), `addEdge`
 * (and joins), `addConditionalEdges`. Public through `StateGraph`.
 */
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import type * as Channel from "../../Channel.js"
import * as Task from "../../Task.js"
import type { END, START } from "../constants.js"
import type * as internalGraph from "../graph.js"
import { type AnyCompiled, TypeId } from "./model.js"
import type { NodeOptions } from "./options.js"
import type {
  AddInput,
  CheckOutput,
  GotosOf,
  HandoffsOf,
  HandoffTargets,
  NewName,
  NodeInputs,
  OutputHint,
  RouteResult,
  SubgraphArg,
  SubgraphError
} from "./types.js"

type Channels = Channel.Channels
type State<S extends Channels> = Channel.State<S>

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
