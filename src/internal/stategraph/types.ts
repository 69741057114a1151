/**
 * The builder's type-level checks: what a node may return and how a mistake is reported (at the
 * key that is wrong, naming the channel and the type it accepts), the names and inputs a builder
 * records, routes, handoffs and subgraph nodes. Types only. Public through `StateGraph`.
 */
import type * as Channel from "../../Channel.js"
import type { Command, ParentCommand } from "../../Command.js"
import type { Send } from "../../Send.js"
import type * as Task from "../../Task.js"
import type { END } from "../constants.js"
import type { CompiledGraph } from "./model.js"


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
  // several updates (or commands) at once: each is checked
  : O extends ReadonlyArray<infer I> ? ReadonlyArray<CheckListed<S, I>>
  : O extends object ? CheckUpdate<S, O>
  : NotAnUpdate

/**
 * An item of a node's list of updates: an update or a `Command`, checked as a node's output is
 * (a list inside a list, or a `Command.parent`, is not an update).
 *
 * @since 0.1.0
 * @category type-level
 */
export type CheckListed<S extends Channels, I> = I extends ParentCommand<any, any> ? NotAnUpdate
  : I extends Command<infer U, infer N> ? Command<CheckUpdate<S, U>, N>
  : I extends ReadonlyArray<any> ? NotAnUpdate
  : I extends object ? CheckUpdate<S, I>
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
  | ReadonlyArray<Channel.Update<S> | Command<Channel.Update<S>, string>>
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


/**
 * The node names a command routes to (checked when the graph compiles).
 *
 * @since 0.1.0
 * @category type-level
 */
export type GotosOf<O> = O extends ParentCommand<any, any> ? never : O extends Command<any, infer N> ? N
  : O extends ReadonlyArray<infer I> ? GotosOf<I>
  : never

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
