/**
 * The store boundary: checkpoints and task writes are decoded with the graph's channel schemas
 * when read and encoded when written. Nothing here runs a node or touches a run's state.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { CheckpointNotFound, CorruptSnapshot, type StoreError, ThreadNotFound } from "../../GraphError.js"
import type { TaskRecord, WorkflowSnapshotEncoded } from "../../Snapshot.js"
import type { Backend, ChannelWrite } from "../../Snapshots.js"
import type { Compiled } from "../graph.js"
import * as algo from "./algo.js"
import type { Checkpoint, Done } from "./model.js"

const corrupt = (threadId: string, checkpointId: string | undefined, issue: string) =>
  new CorruptSnapshot({ threadId, checkpointId, issue })

/** Decodes a stored checkpoint with the graph's channel schemas. @internal */
export const decodeCheckpoint = (
  compiled: Compiled,
  enc: WorkflowSnapshotEncoded
): Either.Either<Checkpoint, CorruptSnapshot> => {
  const values: Record<string, unknown> = {}
  for (const key in enc.channels) {
    const codec = compiled.codecByName[key]
    if (codec === undefined) {
      return Either.left(corrupt(enc.threadId, enc.checkpointId, `unknown channel "${key}"`))
    }
    const decoded = codec.decodeValue(enc.channels[key])
    if (Either.isLeft(decoded)) {
      return Either.left(
        corrupt(enc.threadId, enc.checkpointId, `channel "${key}": ${algo.formatIssue(decoded.left)}`)
      )
    }
    values[key] = decoded.right
  }
  // a channel no update has written yet reads as its initial value, as in the run
  for (const c of compiled.codecs) {
    if (c.initial !== undefined && !(c.name in values)) values[c.name] = c.initial()
  }
  return Either.right({
    executionId: enc.executionId,
    checkpointId: enc.checkpointId,
    parentCheckpointId: enc.parentCheckpointId,
    step: enc.step,
    createdAt: enc.createdAt,
    status: enc.status,
    values,
    versions: enc.versions,
    tasks: enc.tasks,
    joins: enc.joins,
    nodeStates: enc.nodeStates,
    interrupts: enc.interrupts,
    pending: enc.pendingWrites,
    pauseReason: enc.pauseReason,
    wakeAt: enc.wakeAt,
    error: enc.error,
    initialInput: enc.initialInput,
    metadata: enc.metadata
  })
}

/** A task's writes with each value encoded by its channel's update schema. @internal */
export const encodeWrites = (
  compiled: Compiled,
  writes: ReadonlyArray<readonly [string, unknown]>
): ReadonlyArray<readonly [string, unknown]> =>
  writes.map(([channel, value]) => {
    const codec = compiled.codecByName[channel]!
    const enc = codec.encodeUpdate(value)
    return [channel, Either.getOrElse(enc, () => value)] as const
  })

/** The stored writes of a finished task, decoded. @internal */
export const decodeWrites = (
  compiled: Compiled,
  threadId: string,
  record: TaskRecord
): Either.Either<ReadonlyArray<readonly [string, unknown]>, CorruptSnapshot> => {
  const out: Array<readonly [string, unknown]> = []
  for (const [channel, value] of record.writes) {
    const codec = compiled.codecByName[channel]
    if (codec === undefined) return Either.left(corrupt(threadId, undefined, `unknown channel "${channel}"`))
    const dec = codec.decodeUpdate(value)
    if (Either.isLeft(dec)) {
      return Either.left(corrupt(threadId, undefined, `pending write of ${record.taskId}: ${algo.formatIssue(dec.left)}`))
    }
    out.push([channel, dec.right])
  }
  return Either.right(out)
}

/** A checkpoint as the store takes it: its channels travel separately, as `ChannelWrite`s. @internal */
export const toEncoded = (
  compiled: Compiled,
  threadId: string,
  cp: Checkpoint
): WorkflowSnapshotEncoded => {
  // assigned in order rather than spread conditionally (which builds the object key by key);
  // the optional fields sit before `metadata`, as they always did
  const out: Omit<{ -readonly [K in keyof WorkflowSnapshotEncoded]: WorkflowSnapshotEncoded[K] }, "metadata"> & {
    metadata?: WorkflowSnapshotEncoded["metadata"]
  } = {
    executionId: cp.executionId,
    workflowId: compiled.id,
    workflowVersion: compiled.version,
    threadId,
    checkpointId: cp.checkpointId,
    parentCheckpointId: cp.parentCheckpointId,
    step: cp.step,
    status: cp.status,
    createdAt: cp.createdAt,
    channels: {},
    versions: cp.versions,
    tasks: cp.tasks,
    joins: cp.joins,
    nodeStates: cp.nodeStates,
    interrupts: cp.interrupts,
    pendingWrites: []
  }
  if (cp.initialInput !== undefined) out.initialInput = cp.initialInput
  if (cp.pauseReason !== undefined) out.pauseReason = cp.pauseReason
  if (cp.wakeAt !== undefined) out.wakeAt = cp.wakeAt
  if (cp.error !== undefined) out.error = cp.error
  out.metadata = cp.metadata
  return out as WorkflowSnapshotEncoded
}

/** The channel writes of a step: appended items for append channels (unless `full`), else whole values. @internal */
export const channelWrites = (applied: algo.Applied, full: boolean): ReadonlyArray<ChannelWrite> => {
  const out: Array<ChannelWrite> = []
  for (const codec of applied.changed) {
    const value = applied.values[codec.name]
    const appendable = codec.kind === "Append" || (codec.isAppend !== undefined && !applied.rewritten?.has(codec.name))
    if (appendable && !full) {
      out.push({ channel: codec.name, mode: "append", value: Either.getOrThrow(codec.encodeItems(applied.appended[codec.name] ?? [])) })
    } else {
      // an append channel's array may grow in place later: the store gets a copy
      out.push({ channel: codec.name, mode: "set", value: Either.getOrThrow(codec.encodeValue(algo.released(value))) })
    }
  }
  return out
}

/** Whole values of the given channels (all that have one when `channels` is omitted). @internal */
export const wholeWrites = (
  compiled: Compiled,
  values: Readonly<Record<string, unknown>>,
  channels?: Iterable<string>
): Array<ChannelWrite> => {
  const names = channels === undefined
    ? compiled.codecs.filter((c) => values[c.name] !== undefined).map((c) => c.name)
    : [...channels]
  return names.map((channel) => ({
    channel,
    mode: "set",
    value: Either.getOrThrow(compiled.codecByName[channel]!.encodeValue(algo.released(values[channel])))
  }))
}

/** The record of a finished task: its encoded writes and routing, answers and journal. @internal */
export const doneRecord = (compiled: Compiled, o: Done): TaskRecord => ({
  taskId: o.task.id,
  node: o.task.node,
  status: "done",
  writes: encodeWrites(compiled, o.output.writes),
  gotos: o.output.gotos,
  answers: o.memory.answers,
  ...(o.memory.keyedAnswers !== undefined ? { keyedAnswers: o.memory.keyedAnswers } : {}),
  journal: o.memory.journal
})

/** An error as a checkpoint or an event stores it: `Tag: message`. @internal */
export const renderError = (error: unknown): string => {
  if (error instanceof Error) {
    const tag = tagOf(error) ?? error.name
    return error.message ? `${tag}: ${error.message}` : String(tag)
  }
  try {
    return JSON.stringify(error)
  } catch {
    return String(error)
  }
}

/** The `_tag` of a tagged value. @internal */
export const tagOf = (u: unknown): string | undefined => {
  if (typeof u !== "object" || u === null || !("_tag" in u)) return undefined
  return typeof u._tag === "string" ? u._tag : undefined
}

/** Loads and decodes a checkpoint (default: head). @internal */
export const loadCheckpoint = (
  compiled: Compiled,
  store: Backend,
  threadId: string,
  checkpointId: string | undefined
): Effect.Effect<
  { readonly cp: Checkpoint; readonly version: string },
  ThreadNotFound | CheckpointNotFound | CorruptSnapshot | StoreError
> =>
  Effect.flatMap(store.load(threadId, checkpointId), (opt): Effect.Effect<
    { readonly cp: Checkpoint; readonly version: string },
    ThreadNotFound | CheckpointNotFound | CorruptSnapshot
  > => {
    if (Option.isNone(opt)) {
      return checkpointId === undefined
        ? Effect.fail(new ThreadNotFound({ threadId }))
        : Effect.fail(new CheckpointNotFound({ threadId, checkpointId }))
    }
    const decoded = decodeCheckpoint(compiled, opt.value)
    return Either.isLeft(decoded)
      ? Effect.fail(decoded.left)
      : Effect.succeed({ cp: decoded.right, version: opt.value.workflowVersion })
  })
