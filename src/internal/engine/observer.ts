/**
 * The engine's observer: how an orchestrator learns task facts (attempts, outputs) of the run it
 * started — not from a probe wrapped around every node, nor from re-parsed stream parts. Provided
 * by the caller around `execute`; the run reads it once, and the graphs its nodes run (children)
 * do not see it.
 */
import * as Context from "effect/Context"
import type { TaskOutcome } from "./model.js"

/** One task's ending, as the runner saw it (called before the task's events are emitted). @internal */
export interface TaskFact {
  readonly step: number
  readonly outcome: TaskOutcome
}

/** @internal */
export interface Observer {
  readonly taskEnded: (fact: TaskFact) => void
}

/** @internal */
export class EngineObserver extends Context.Reference<EngineObserver>()("effect-stategraph/EngineObserver", {
  defaultValue: (): Observer | undefined => undefined
}) {}
