/**
 * A node may return a `Command` instead of a plain update to combine writing (`update`) with
 * routing (`goto` a node, several nodes, `END`, or `Send`s). (A child graph's interrupts are
 * answered through the parent's `resume`, by interrupt id: see `Task.call`.)
 *
 * @since 0.1.0
 */
import * as Predicate from "effect/Predicate"
import type { END } from "./internal/constants.js"
import type { Send } from "./Send.js"

/**
 * Where a command may route: a node name, `END`, or a `Send`.
 *
 * @since 0.1.0
 * @category models
 */
export type Goto<Node extends string = string> = Node | END | Send<Node, any>

/**
 * @since 0.1.0
 * @category models
 */
export interface Command<out Update = {}, out Node extends string = never> {
  readonly _tag: "Command"
  readonly update: Update | undefined
  readonly goto: ReadonlyArray<Goto<Node>>
}

/**
 * The graph a `Command.parent` is addressed to: the parent of the graph whose node returns it.
 *
 * @since 0.1.0
 * @category constants
 */
export const PARENT = "__parent__" as const

/**
 * @since 0.1.0
 * @category constants
 */
export type PARENT = typeof PARENT

/**
 * A command for the parent graph, returned by a node of a subgraph: the handoff of multi-agent
 * graphs. The subgraph stops there (the returning node's own update is the parent's, not the
 * child's), and the parent's task of the subgraph node ends with `update` written to the
 * parent's channels and `goto` as its routing — instead of the subgraph node's edges.
 *
 * @since 0.1.0
 * @category models
 */
export interface ParentCommand<out Update = {}, out Node extends string = never> {
  readonly _tag: "Command"
  readonly graph: PARENT
  readonly update: Update | undefined
  readonly goto: ReadonlyArray<Goto<Node>>
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const make = <const Update extends object = {}, const Node extends string = never>(options: {
  readonly update?: Update
  readonly goto?: Goto<Node> | ReadonlyArray<Goto<Node>>
}): Command<Update, Node> => ({
  _tag: "Command",
  update: options.update,
  goto: options.goto === undefined ? [] : Array.isArray(options.goto) ? options.goto : [options.goto as Goto<Node>]
})

/**
 * Route to one target or several (nodes, `END`, `Send`s), optionally writing an update too.
 *
 * @since 0.1.0
 * @category constructors
 */
export const goto = <const Node extends string, const Update extends object = {}>(
  goto: Goto<Node> | ReadonlyArray<Goto<Node>>,
  update?: Update
): Command<Update, Node> => make(update === undefined ? { goto } : { goto, update })

/**
 * Write an update, optionally routing too.
 *
 * @since 0.1.0
 * @category constructors
 */
export const update = <const Update extends object, const Node extends string = never>(
  update: Update,
  goto?: Goto<Node> | ReadonlyArray<Goto<Node>>
): Command<Update, Node> => make(goto === undefined ? { update } : { update, goto })

/**
 * A handoff to the parent graph: `Command.parent<"billing" | "support">("billing", { topic })`.
 * The subgraph cannot know its parent's node names, so name them in the type argument (a
 * union of the parent's nodes); the parent checks them when it compiles (the subgraph node's
 * handoff targets count as its `Command.goto`s) and, for a target it cannot check, at run time
 * (`InvalidUpdate`). The update is validated by the parent's channels when the parent applies it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parent = <const Node extends string, const Update extends object = {}>(
  goto: Goto<Node> | ReadonlyArray<Goto<Node>>,
  update?: Update
): ParentCommand<Update, Node> => ({
  _tag: "Command",
  graph: PARENT,
  update,
  goto: Array.isArray(goto) ? goto : [goto as Goto<Node>]
})

/**
 * Whether a command is addressed to the parent graph.
 *
 * @since 0.1.0
 * @category guards
 */
export const isParentCommand = (u: unknown): u is ParentCommand<unknown, string> =>
  Predicate.isTagged(u, "Command") && (u as { readonly graph?: unknown }).graph === PARENT

/**
 * @since 0.1.0
 * @category guards
 */
export const isCommand = (u: unknown): u is Command<unknown, string> => Predicate.isTagged(u, "Command")
