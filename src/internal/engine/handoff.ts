/**
 * `Command.parent` on its way up: a subgraph's node hands off to its parent graph. The child's
 * run ends with `Handoff` as its failure (the child thread is recorded as completed, its last
 * step's tasks kept); the parent's task that ran the child — a subgraph node or `Task.call` —
 * ends with the command as its output, instead of its edges.
 */
import * as Data from "effect/Data"
import type { ParentCommand } from "../../Command.js"

/** The handoff travelling from the child's run to the parent's task. @internal */
export class Handoff extends Data.TaggedError("Handoff")<{
  readonly graphId: string
  readonly node: string
  readonly command: ParentCommand<unknown, string>
}> {
  override get message() {
    return `node "${this.node}" of graph "${this.graphId}" handed off to its parent graph`
  }
}

/**
 * The first goto of a task that ended by a handoff: its node's static edges, routes and joins do
 * not fire (the command decides where the parent goes). Stored with the task's gotos, so a
 * re-planned step after a crash routes the same way.
 *
 * @internal
 */
export const HANDOFF = "__handoff__" as const

/** Whether a finished task's routing is a handoff's (its gotos start with the marker). @internal */
export const isHandoff = (gotos: ReadonlyArray<unknown>): boolean => gotos.length > 0 && gotos[0] === HANDOFF
