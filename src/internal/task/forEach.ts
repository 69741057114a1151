/**
 * `Task.forEach`: a child per item, each journaled like an activity, in a scope of its own.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { LeaseLost } from "../../GraphError.js"
import type { ForEachOptions } from "../../Task.js"
import { CurrentTask, type JournalEntry, type TaskScope } from "../task.js"
import { ActivityTimeout, FanOutTimeout, JournalMismatch } from "./errors.js"
import { encodeExit, type ExitEntry, isPause, json, mismatch, replay } from "./journal.js"

export const forEachImpl = <In, A, E, R>(
  items: Iterable<In>,
  f: (item: In, index: number) => Effect.Effect<A, E, R>,
  mode: "all" | "first" | "anyError",
  options: ForEachOptions<A, E> | undefined
): Effect.Effect<any, any, R> =>
  Effect.flatMap(CurrentTask, ({ scope }) => {
    const list = Array.from(items)
    if (list.length === 0) return Effect.succeed(mode === "first" ? Option.none() : [])
    const success = options?.success ?? json
    const failure = Schema.Union(ActivityTimeout, JournalMismatch, LeaseLost, options?.error ?? json) as Schema.Schema<E, any, never>
    const results = new Map<number, A>()
    let children: Record<string, ExitEntry> = {}
    let journals: Record<string, ReadonlyArray<JournalEntry>> = {}
    let index = -1
    if (scope !== undefined) {
      index = scope.journalIndex++
      const entry = scope.journal[index]
      if (entry !== undefined && entry !== null) {
        if (entry.type !== "forEach") return Effect.fail(mismatch(scope, index, "forEach", entry))
        children = { ...entry.children }
        journals = { ...entry.journals }
      } else {
        scope.journal[index] = { name: "forEach", type: "forEach", children: {} }
      }
    }
    const lock = Effect.unsafeMakeSemaphore(1)
    const save = (parent: TaskScope) => {
      parent.journal[index] = { name: "forEach", type: "forEach", children, journals }
      // children finish concurrently: persist one at a time, each with the latest journal
      return lock.withPermits(1)(Effect.orDie(parent.persist))
    }
    const record = (i: number, exit: Exit.Exit<A, E>) =>
      Effect.suspend(() => {
        if (Exit.isSuccess(exit)) results.set(i, exit.value)
        if (scope === undefined || isPause(exit)) return Effect.void
        const encoded = encodeExit(exit, success, failure)
        if (Option.isNone(encoded)) return Effect.void
        children = { ...children, [String(i)]: encoded.value }
        return save(scope)
      })
    /**
     * A child runs in its own scope: its asks, activities, calls and sleeps are keyed by its item
     * (`<forEach index>.<item>/`), so they are found again whatever order the children run or
     * finish in; its journal lives in this forEach's entry.
     */
    const inScope = (parent: TaskScope, i: number, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
      const journal: Array<JournalEntry> = [...(journals[String(i)] ?? [])]
      const own: TaskScope = {
        ...parent,
        path: `${parent.path}${index}.${i}/`,
        askIndex: 0,
        journal,
        journalIndex: 0,
        persist: Effect.suspend(() => {
          journals = { ...journals, [String(i)]: [...journal] }
          return save(parent)
        })
      }
      return Effect.provideService(effect, CurrentTask, { scope: own })
    }
    const child = (item: In, i: number): Effect.Effect<A, E, R> => {
      const done = children[String(i)]
      if (scope !== undefined && done !== undefined) {
        return Effect.tap(replay(scope, done, success, failure), (a) => Effect.sync(() => results.set(i, a)))
      }
      const body = scope === undefined ? f(item, i) : inScope(scope, i, f(item, i))
      return Effect.flatMap(Effect.exit(body), (exit) => Effect.zipRight(record(i, exit), exit))
    }
    let run: Effect.Effect<any, any, R>
    if (mode === "first") {
      const winner = Object.entries(children).find(([, c]) => c.exit === "success")
      if (scope !== undefined && winner !== undefined) {
        run = Effect.map(replay(scope, winner[1], success, failure), Option.some)
      } else {
        run = Effect.map(Effect.raceAll(list.map((item, i) => child(item, i))), Option.some)
      }
    } else if (mode === "anyError") {
      run = Effect.forEach(list, child, { concurrency: options?.concurrency ?? "unbounded" })
    } else {
      run = Effect.flatMap(
        Effect.forEach(list, (item, i) => Effect.exit(child(item, i)), { concurrency: options?.concurrency ?? "unbounded" }),
        (exits): Effect.Effect<Array<A>, E> => {
          const firstFailure = exits.find(Exit.isFailure)
          return firstFailure !== undefined
            ? Effect.failCause(firstFailure.cause)
            : Effect.succeed(exits.map((e) => (e as Exit.Success<A, E>).value))
        }
      )
    }
    if (options?.timeout !== undefined) {
      const millis = Duration.toMillis(options.timeout)
      run = Effect.timeoutFail(run, {
        duration: options.timeout,
        onTimeout: () => new FanOutTimeout({ timeoutMillis: millis, partial: new Map(results) })
      })
    }
    return run
  })
