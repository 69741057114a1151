/**
 * `Task.call`: a compiled graph run as a child of the current task, checkpointed under a
 * namespace of the parent's thread; its interrupts pause the parent.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Channel from "../../Channel.js"
import * as Interrupt from "../../Interrupt.js"
import { Snapshots } from "../../Snapshots.js"
import type { AnyCompiled, CompiledGraph } from "../../StateGraph.js"
import type { CallError } from "../../Task.js"
import { checkedAnswer } from "../engine/answers.js"
import { Handoff } from "../engine/handoff.js"
import { withoutStack } from "../pause.js"
import { CurrentTask, type TaskScope } from "../task.js"
import { ChildFailed, ChildPaused } from "./errors.js"
import { mismatch } from "./journal.js"

const encodeState = (graph: AnyCompiled, values: Record<string, unknown>) => {
  const out: Record<string, unknown> = {}
  for (const c of graph.compiled.codecs) {
    if (values[c.name] === undefined) continue
    out[c.name] = Either.getOrElse(c.encodeValue(values[c.name]), () => values[c.name])
  }
  return out
}

const decodeState = (graph: AnyCompiled, encoded: unknown): Either.Either<Record<string, unknown>, string> => {
  const out: Record<string, unknown> = {}
  const rec = (encoded ?? {}) as Record<string, unknown>
  for (const c of graph.compiled.codecs) {
    if (rec[c.name] === undefined) continue
    const dec = c.decodeValue(rec[c.name])
    if (Either.isLeft(dec)) return Either.left(`channel ${c.name}`)
    out[c.name] = dec.right
  }
  return Either.right(out)
}

export const callImpl = <S extends Channel.Channels, N extends string, E, R>(
  child: CompiledGraph<S, N, E, R>,
  input: Channel.Update<S>,
  options?: { readonly threadId?: string }
): Effect.Effect<Channel.State<S>, CallError<E>, R> =>
  Effect.flatMap(CurrentTask, ({ scope }): Effect.Effect<any, any, any> => {
    const failed = (threadId: string | undefined) => (error: unknown) =>
      new ChildFailed({ graphId: child.id, threadId, error })
    if (scope === undefined || scope.store === undefined || scope.threadId === undefined) {
      // nothing to persist: run the child inline; its interrupts cannot be resumed from here
      return Effect.mapError(child.invoke(input), (e: any) =>
        e?._tag === "GraphInterrupted" ? pauseWith(scope, undefined, e) : e instanceof Handoff ? e : failed(undefined)(e))
    }
    const index = scope.journalIndex++
    const entry = scope.journal[index]
    if (entry !== undefined && entry !== null && entry.type !== "call") {
      return Effect.fail(mismatch(scope, index, "call", entry))
    }
    const threadId = options?.threadId ?? `${scope.threadId}::${scope.taskId}.${scope.path}${index}`
    const store = scope.store as import("../../Snapshots.js").Backend
    if (entry?.type === "call" && entry.exit === "success") {
      const dec = decodeState(child, entry.value)
      return Either.isRight(dec) ? Effect.succeed(dec.right) : Effect.dieMessage(`journal of task ${scope.taskId}: child state does not decode (${dec.left})`)
    }
    const started = entry?.type === "call"
    const run: Effect.Effect<any, any, any> = started
      ? Effect.flatMap(child.getState(threadId), (state): Effect.Effect<any, any, any> => {
        // a child that handed off to its parent is completed with its last step's tasks kept:
        // continuing it re-runs that step, whose node hands off again
        if (state.status === "completed" && state.next.length === 0) return Effect.succeed(state.values)
        if (state.status !== "paused") return child.invoke(null, { threadId })
        if (state.pauseReason === "sleeping") return child.invoke(null, { threadId })
        // the parent checked and encoded these answers; the child's asking node decodes its own
        const answers: Array<Interrupt.Answer<string, unknown>> = []
        for (const i of state.interrupts) {
          if (i.status !== "pending") continue
          const given = scope.forwarded[i.id]
          if (given !== undefined) answers.push(checkedAnswer(i.kind, i.id, given.value))
        }
        if (answers.length === 0) {
          // still waiting on the child's questions
          return Effect.fail(withoutStack(() =>
            new Interrupt.GraphInterrupted<any>({
              threadId,
              checkpointId: state.checkpointId,
              interrupts: state.interrupts.filter((i) => i.status === "pending")
            })
          ))
        }
        return child.resume({ threadId }, ...(answers as any))
      })
      : Effect.zipRight(
        Effect.sync(() => {
          scope.journal[index] = { name: child.id, type: "call", threadId }
        }).pipe(Effect.zipRight(Effect.orDie(scope.persist))),
        child.invoke(input, { threadId })
      )
    return run.pipe(
      Effect.provideService(Snapshots, store),
      Effect.tap((values) =>
        Effect.suspend(() => {
          scope.journal[index] = { name: child.id, type: "call", threadId, exit: "success", value: encodeState(child, values) }
          return Effect.orDie(scope.persist)
        })
      ),
      Effect.catchAll((e: any): Effect.Effect<never, unknown> =>
        e?._tag === "GraphInterrupted"
          ? Effect.flatMap(Effect.orDie(store.load(threadId)), (head) =>
            Effect.fail(pauseWith(scope, threadId, e, Option.getOrUndefined(head)?.interrupts, child.compiled.kinds)))
          : Effect.fail(e instanceof Handoff ? e : failed(threadId)(e))
      )
    )
  }) as any

const pauseWith = (
  scope: TaskScope | undefined,
  threadId: string | undefined,
  error: Interrupt.GraphInterrupted<any>,
  records?: ReadonlyArray<{ readonly id: string; readonly kind: string; readonly request: unknown; readonly node: string; readonly status: string }>,
  kinds?: ReadonlyMap<string, Interrupt.AnyKind>
) => {
  if (scope !== undefined) {
    // the parent decodes the child's requests with the child's kinds
    for (const r of records ?? []) {
      const kind = kinds?.get(r.kind)
      if (kind !== undefined && !scope.kinds.has(r.kind)) scope.kinds.set(r.kind, kind)
    }
    // several child graphs may pause in one task (Task.forEach): their interrupts add up
    scope.pause.child.push(
      ...(records !== undefined
        ? records.filter((r) => r.status === "pending").map((r) => ({ id: r.id, kind: r.kind, request: r.request, node: r.node }))
        : error.interrupts.map((i: any) => ({ id: i.id, kind: i.kind, request: i.request, node: i.node })))
    )
  }
  return scope === undefined ? error : new ChildPaused({ threadId })
}
