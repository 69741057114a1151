/**
 * Durable sleep: a sleep longer than the graph's threshold pauses the thread with its wake-up
 * time journaled.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { TaskScope } from "../task.js"
import { SleepPause } from "./errors.js"
import { mismatch } from "./journal.js"

export const sleepIn = (scope: TaskScope, now: number, target: () => number): Effect.Effect<void> => {
  const index = scope.journalIndex++
  const entry = scope.journal[index]
  let wakeAt: number
  let persist: Effect.Effect<void> = Effect.void
  if (entry !== undefined && entry !== null) {
    if (entry.type !== "sleep") return Effect.die(mismatch(scope, index, "sleep", entry))
    wakeAt = entry.wakeAt
  } else {
    wakeAt = target()
    scope.journal[index] = { name: "sleep", type: "sleep", wakeAt }
    persist = Effect.orDie(scope.persist)
  }
  const remaining = wakeAt - now
  if (remaining <= 0) return persist
  if (!scope.durable || remaining <= scope.sleepThresholdMillis) {
    return Effect.zipRight(persist, Effect.sleep(Duration.millis(remaining)))
  }
  return Effect.suspend(() => {
    // several sleeping children (Task.forEach): the task wakes for the first of them
    scope.pause.sleep = scope.pause.sleep === undefined ? wakeAt : Math.min(scope.pause.sleep, wakeAt)
    return Effect.die(new SleepPause({ wakeAt }))
  })
}

// ---------------------------------------------------------------------------------------------
// streaming from a node
// ---------------------------------------------------------------------------------------------
