import { Context } from "effect"

/**
 * What a running task knows about itself: its id, its answers (for `ask`), and its journal.
 * Carried in a `Context.Reference`, so it never shows in a node's `R`.
 *
 * @internal
 */
export interface TaskScope {
  readonly threadId: string | undefined
  readonly checkpointId: string
  readonly taskId: string
  readonly node: string
  /** encoded answers, in ask order */
  readonly answers: ReadonlyArray<unknown>
  askIndex: number
  /** set when the task failed with an interrupt: the encoded request */
  pendingAsk: { readonly kind: string; readonly request: unknown; readonly index: number } | undefined
}

/** @internal */
export class CurrentTask extends Context.Reference<CurrentTask>()("effect-stategraph/CurrentTask", {
  defaultValue: (): TaskScope | undefined => undefined
}) {}

/** @internal */
export const interruptId = (taskId: string, index: number): string => `${taskId}#${index}`
