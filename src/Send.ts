/**
 * `Send` runs one node once with its own argument in the next step: dynamic fan-out
 * (map-reduce). The argument replaces the state as the node's input; the sends' writes meet in a
 * reducer channel.
 *
 * @since 0.1.0
 */
import * as Predicate from "effect/Predicate"

/**
 * @since 0.1.0
 * @category models
 */
export interface Send<out Node extends string = string, out Arg = unknown> {
  readonly _tag: "Send"
  readonly node: Node
  readonly arg: Arg
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const make = <const Node extends string, const Arg>(node: Node, arg: Arg): Send<Node, Arg> => ({
  _tag: "Send",
  node,
  arg
})

/**
 * @since 0.1.0
 * @category guards
 */
export const isSend = (u: unknown): u is Send => Predicate.isTagged(u, "Send") && "node" in u
