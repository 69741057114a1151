/**
 * A `Command` as a run's input (`invoke(Command.goto(…))`), and a resume that also updates the
 * state (`resume({ threadId, update }, …answers)`): the checkpoint each writes before its run.
 * Pure but for ids and the clock: a refusal writes nothing.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { type Command, isParentCommand } from "../../Command.js"
import { InvalidUpdate } from "../../GraphError.js"
import * as Send from "../../Send.js"
import type { ChannelWrite } from "../../Snapshots.js"
import { START } from "../constants.js"
import type { Compiled } from "../graph.js"
import * as Ids from "../ids.js"
import * as algo from "./algo.js"
import { answerRecords, type Prepared } from "./answers.js"
import { advanced } from "./checkpoints.js"
import { channelWrites } from "./codec.js"
import { HANDOFF } from "./handoff.js"
import type { Checkpoint } from "./model.js"
import { routesEffect } from "./routes.js"

/** A checkpoint to commit before the run, with its channel writes. @internal */
export interface Prepped {
  readonly cp: Checkpoint
  readonly writes: ReadonlyArray<ChannelWrite>
}

/** The update's writes, as START's, applied on `base`: every channel of the graph may be written. */
const applied = (compiled: Compiled, base: Checkpoint, update: unknown) =>
  Either.flatMap(algo.validateUpdate(compiled, START, update), (writes) =>
    Either.map(
      algo.applyWrites(compiled, base.values, base.versions, [{ node: START, writes }]),
      (applied) => ({ writes, applied })
    ))

/** The first of the channels a new thread needs that `values` lacks, as a refusal. */
const missing = (compiled: Compiled, values: Readonly<Record<string, unknown>>): InvalidUpdate | undefined => {
  for (const c of compiled.codecs) {
    if (!c.optional && values[c.name] === undefined) {
      return new InvalidUpdate({ node: START, channel: c.name, issue: `a new thread needs a value for "${c.name}" (it has no initial value)` })
    }
  }
  return undefined
}

/**
 * The checkpoint of a `Command` given as input on `base`: its update written as by START, then
 * the next step — its `goto` targets (nodes, `Send`s; `END`: none) when it has any; without,
 * the thread's own next tasks (none on a finished thread: the update is written, nothing runs),
 * and on a new thread the graph's entry (the update is then the input).
 *
 * @internal
 */
export const commandCheckpoint = (
  compiled: Compiled,
  base: Checkpoint,
  command: Command<unknown, string>,
  options: { readonly fresh: boolean; readonly executionId: string; readonly metadata: Record<string, unknown> }
): Effect.Effect<Prepped, unknown, unknown> =>
  Effect.gen(function*() {
    if (isParentCommand(command)) {
      return yield* Effect.fail(
        new InvalidUpdate({ node: START, channel: "*", issue: "Command.parent is returned by a subgraph's node, not given as a run's input" })
      )
    }
    const goto = Array.isArray(command.goto) ? command.goto : []
    const done = applied(compiled, base, command.update)
    if (Either.isLeft(done)) return yield* Effect.fail(done.left)
    const { applied: after, writes } = done.right
    if (options.fresh) {
      const refusal = missing(compiled, after.values)
      if (refusal !== undefined) return yield* Effect.fail(refusal)
    }
    // without goto, an open thread goes on with its own next tasks (re-planned under the new id)
    const continuing = goto.length === 0 && base.tasks.length > 0
    const targets = goto.length > 0
      ? goto
      : continuing
      ? base.tasks.map((t) => (t.send ? Send.make(t.node, t.arg) : t.node))
      : undefined
    const id = Ids.make()
    const routed = targets === undefined && options.fresh
      ? yield* routesEffect(compiled, [{ node: START }], algo.stateView(compiled, after.values))
      : []
    // HANDOFF first: the command routes, not START's edges
    const finished = [{ node: START, gotos: targets === undefined ? (options.fresh ? [] : [HANDOFF]) : [HANDOFF, ...targets] }]
    const planned = algo.plan(compiled, id, finished, routed, base.joins)
    if (Either.isLeft(planned)) return yield* Effect.fail(new InvalidUpdate({ node: START, channel: "*", issue: planned.left }))
    const initialInput: Record<string, unknown> = {}
    for (const [k, v] of writes) initialInput[k] = Either.getOrElse(compiled.codecByName[k]!.encodeUpdate(v), () => v)
    const next = advanced(base, {
      id,
      now: Date.now(),
      applied: after,
      planned: planned.right,
      nodeStates: continuing ? base.nodeStates : {},
      metadata: options.metadata
    })
    const cp: Checkpoint = continuing
      ? next
      : { ...next, executionId: options.executionId, initialInput }
    return { cp, writes: channelWrites(after, base.checkpointId === "") }
  })

/**
 * The checkpoint of a resume with an update: the paused checkpoint's step, its tasks (same ids:
 * a paused subgraph's thread is named after its task) and their records with the answers, its
 * interrupts marked answered, the update applied to its values. Committed as one checkpoint
 * before the paused step runs; a refused update writes nothing.
 *
 * @internal
 */
export const resumedCheckpoint = (
  compiled: Compiled,
  base: Checkpoint,
  prepared: Prepared,
  update: unknown
): Either.Either<Prepped, InvalidUpdate> =>
  Either.map(applied(compiled, base, update), ({ applied: after }) => {
    const records = answerRecords(base, prepared)
    const answered = new Set(records.map((r) => r.taskId))
    const cp: Checkpoint = {
      ...base,
      checkpointId: Ids.make(),
      parentCheckpointId: base.checkpointId,
      step: base.step + 1,
      createdAt: Date.now(),
      status: "running",
      values: after.values,
      versions: after.versions,
      interrupts: prepared.interrupts,
      pending: [...base.pending.filter((r) => !answered.has(r.taskId)), ...records],
      pauseReason: undefined,
      wakeAt: undefined,
      metadata: { ...base.metadata, source: "resume" }
    }
    return { cp, writes: channelWrites(after, false) }
  })
