import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"

/** One entry of a task's journal (encoded, JSON-safe). @internal */
export type JournalEntry =
  | {
    readonly name: string
    readonly type: "activity"
    readonly exit: "success" | "failure"
    readonly value: unknown
  }
  | {
    readonly name: string
    readonly type: "forEach"
    /** item index → encoded result of the finished children */
    readonly children: Record<string, { readonly exit: "success" | "failure"; readonly value: unknown }>
  }
  | { readonly name: string; readonly type: "sleep"; readonly wakeAt: number }
  | {
    readonly name: string
    readonly type: "call"
    readonly threadId: string | undefined
    readonly exit?: "success" | "failure" | undefined
    readonly value?: unknown
  }

/** A child interrupt surfacing through a task (Task.call / subgraph). @internal */
export interface ChildInterrupt {
  readonly id: string
  readonly kind: string
  readonly request: unknown
  readonly node: string
}

/**
 * What a running task knows about itself: its id, its answers (for `ask`), its journal, and
 * how to persist it. Carried in a `Context.Reference`, so it never shows in a node's `R`.
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
  /** the journal, shared across attempts of the task (encoded entries) */
  readonly journal: Array<JournalEntry>
  journalIndex: number
  /** saves the journal now (a no-op without a store) */
  readonly persist: Effect.Effect<void, unknown>
  /** whether the thread is persisted (durable sleep pauses instead of waiting) */
  readonly durable: boolean
  readonly sleepThresholdMillis: number
  /** set when a durable sleep paused the task */
  pendingSleep: number | undefined
  /** set when a child graph paused on interrupts */
  pendingChild: ReadonlyArray<ChildInterrupt> | undefined
  /** answers forwarded to child graphs: interrupt id → encoded answer */
  readonly forwarded: Readonly<Record<string, { readonly kind: string; readonly value: unknown }>>
  readonly emit: ((part: any) => Effect.Effect<void>) | undefined
  readonly modes: ReadonlySet<string>
  /** the store backend, for child graphs */
  readonly store: unknown
}

/**
 * Holds the running task's scope. A run provides one holder for its one-task steps (set per
 * task, no per-task context change on the hot path); tasks of a parallel step get their own.
 *
 * @internal
 */
export interface ScopeHolder {
  scope: TaskScope | undefined
}

/** @internal */
export class CurrentTask extends Context.Reference<CurrentTask>()("effect-stategraph/CurrentTask", {
  defaultValue: (): ScopeHolder => ({ scope: undefined })
}) {}

/** @internal */
export const interruptId = (taskId: string, index: number): string => `${taskId}#${index}`
