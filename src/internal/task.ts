import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { AnyKind } from "../Interrupt.js"

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
    /** item index → that child's own journal (its activities, calls, sleeps, forEach) */
    readonly journals?: Record<string, ReadonlyArray<JournalEntry>> | undefined
  }
  | { readonly name: string; readonly type: "sleep"; readonly wakeAt: number }
  | {
    readonly name: string
    readonly type: "call"
    readonly threadId: string | undefined
    readonly exit?: "success" | "failure" | undefined
    readonly value?: unknown
  }

/** What paused a task: its asks (each with its key), its child graphs' interrupts, a durable sleep. @internal */
export interface PauseState {
  readonly asks: Array<{ readonly kind: string; readonly request: unknown; readonly key: string }>
  readonly child: Array<ChildInterrupt>
  sleep: number | undefined
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
  /**
   * Where this scope sits in the task: "" for the task itself, `<journal index>.<item>/` (nested)
   * for a child of `Task.forEach`. Its asks, journal and child threads are its own.
   */
  readonly path: string
  /** encoded answers of the task's own asks (path ""), in ask order */
  readonly answers: ReadonlyArray<unknown>
  /** encoded answers of nested asks (a `Task.forEach` child's), by ask key (path + index) */
  readonly keyedAnswers: Readonly<Record<string, unknown>>
  askIndex: number
  /** the journal of this scope (encoded entries; a forEach child's lives in its forEach entry) */
  readonly journal: Array<JournalEntry>
  journalIndex: number
  /** saves the journal now (a no-op without a store) */
  readonly persist: Effect.Effect<void, unknown>
  /** whether the thread is persisted (durable sleep pauses instead of waiting) */
  readonly durable: boolean
  readonly sleepThresholdMillis: number
  /** what paused the task in this attempt; shared by the task's nested scopes */
  readonly pause: PauseState
  readonly forwarded: Readonly<Record<string, { readonly kind: string; readonly value: unknown }>>
  readonly emit: ((part: any) => Effect.Effect<void>) | undefined
  readonly modes: ReadonlySet<string>
  /** the running graph's place under the streamed run: [] for the root, `node:taskId` per level */
  readonly namespace: ReadonlyArray<string>
  /** the streamed run asked for its subgraphs' parts (`stream(…, { subgraphs: true })`) */
  readonly subgraphs: boolean
  /** the store backend, for child graphs */
  readonly store: unknown
  /** the run holding the thread: an activity starts only while it still does */
  readonly runId?: string | undefined
  /** the interrupt kinds of the running graph, by kind name (declared, or learned when asked) */
  readonly kinds: Map<string, AnyKind>
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

/** The running activity's idempotency key (see `Task.idempotencyKey`). @internal */
export class CurrentActivity extends Context.Reference<CurrentActivity>()("effect-stategraph/CurrentActivity", {
  defaultValue: (): { readonly key: string | undefined } => ({ key: undefined })
}) {}

/** @internal */
export const interruptId = (taskId: string, key: string | number): string => `${taskId}#${key}`

/** The `configurable` values of the current run (`invoke(…, { configurable })`). @internal */
export class Configurable extends Context.Reference<Configurable>()("effect-stategraph/Configurable", {
  defaultValue: (): Readonly<Record<string, unknown>> => ({})
}) {}
