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
 * @since 0.1.0
 * @category guards
 */
export const isCommand = (u: unknown): u is Command<unknown, string> => Predicate.isTagged(u, "Command")
