/**
 * The errors of `Task` (re-exported from `Task.ts`) and the markers a paused task fails with.
 *
 * @internal
 */
import * as Data from "effect/Data"
import * as Schema from "effect/Schema"
/**
 * The journal no longer matches the node's calls (the code changed between runs).
 *
 * @since 0.1.0
 * @category errors
 */
export class JournalMismatch extends Schema.TaggedError<JournalMismatch>()("JournalMismatch", {
  taskId: Schema.String,
  index: Schema.Number,
  expected: Schema.String,
  found: Schema.String
}) {
  override get message() {
    return `journal of task ${this.taskId} does not match at call ${this.index}: the node now calls ${this.expected}, the journal holds ${this.found}`
  }
}

/**
 * An activity ran longer than its `timeout`.
 *
 * @since 0.1.0
 * @category errors
 */
export class ActivityTimeout extends Schema.TaggedError<ActivityTimeout>()("ActivityTimeout", {
  name: Schema.String,
  timeoutMillis: Schema.Number
}) {}

/**
 * A `forEach` ran out of time; `partial` holds the results that finished (by item index).
 *
 * @since 0.1.0
 * @category errors
 */
export class FanOutTimeout<A = unknown> extends Data.TaggedError("FanOutTimeout")<{
  readonly timeoutMillis: number
  readonly partial: ReadonlyMap<number, A>
}> {
  override get message() {
    return `fan-out timed out after ${this.timeoutMillis} ms with ${this.partial.size} results`
  }
}

/**
 * A child graph failed; `error` is its typed error.
 *
 * @since 0.1.0
 * @category errors
 */
export class ChildFailed<E = unknown> extends Data.TaggedError("ChildFailed")<{
  readonly graphId: string
  readonly threadId: string | undefined
  readonly error: E
}> {
  override get message() {
    const e = this.error as { readonly _tag?: unknown; readonly message?: unknown } | undefined
    return `child graph "${this.graphId}" failed: ${e?._tag ?? ""} ${e?.message ?? String(e)}`
  }
}

/** The marker a task fails with when its child graph paused (the loop reads the scope). @internal */
export class ChildPaused extends Data.TaggedError("ChildPaused")<{ readonly threadId: string | undefined }> {}

/** The marker of a durable sleep (a defect: user code cannot catch it by accident). @internal */
export class SleepPause extends Data.TaggedError("SleepPause")<{ readonly wakeAt: number }> {}
