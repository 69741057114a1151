/**
 * The commit of the SQL stores: a compare-and-set on the thread's run owner and head with the new
 * checkpoint, its channel values stored incrementally (`blobs.ts`). The common commit is one
 * statement where the dialect has it (SQLite); otherwise, and for first commits, merges and forks,
 * several statements in one write transaction.
 */
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { StoreError } from "../../GraphError.js"
import type { WorkflowSnapshotEncoded } from "../../Snapshot.js"
import type { Backend, ClaimOptions, CommitRequest } from "../../Snapshots.js"
import * as Blobs from "./blobs.js"
import type { Context } from "./context.js"
import type * as Db from "./db.js"
import { corrupt, decodeChannelMap, formatIssue } from "./rows.js"

/** The stored initial input of the commit's execution, noting the execution when new. */
const executionInputOf = ({ executions, Sql }: Context) => (tx: Db.Tx, threadId: string, executionId: string, input: string | null) => {
  const known = executions.get(threadId)
  if (known !== undefined && known.executionId === executionId) return Effect.succeed(known.input)
  const note = (stored: string | null) => {
    executions.delete(threadId)
    executions.set(threadId, { executionId, input: stored })
    // bounded: a process serving many threads keeps only the recent ones
    if (executions.size > 4096) executions.delete(executions.keys().next().value!)
    if (executions.size > 4096) executions.delete(executions.keys().next().value!)
    return stored
  }
  return Effect.flatMap(tx.all(Sql.noteExecution, [executionId, threadId, input]), (inserted) =>
    inserted.length > 0
      ? Effect.succeed(note(input))
      : Effect.map(tx.all(Sql.executionInput, [executionId, threadId]), (rows) => note(rows[0]?.initial_input ?? null)))
}

/** Takes the claim inside a write transaction: the thread must be free (or the run's) at `head`. */
const claimInOf = ({ busy, Sql }: Context) => (tx: Db.Tx, threadId: string, runId: string, claim: ClaimOptions, head: string | null) => {
  const now = Date.now()
  return Effect.flatMap(
    tx.all(Sql.claimAt, [threadId, claim.workflowId, now, runId, now + claim.leaseMillis, now, head]),
    (rows) => (rows.length === 0 || (rows[0].head ?? null) !== head ? busy(threadId) : Effect.void)
  )
}

const storedMapOf = ({ Sql }: Context) => (tx: Db.Tx, threadId: string, checkpointId: string) =>
  Effect.flatMap(tx.all(Sql.channelsOf, [threadId, checkpointId]), (rows) => {
    if (rows.length === 0) return Effect.succeed(undefined)
    const decoded = decodeChannelMap(rows[0].channels)
    return Either.isLeft(decoded)
      ? Effect.fail(new StoreError({ operation: "commit", cause: corrupt(threadId, checkpointId, formatIssue(decoded.left)) }))
      : Effect.succeed(decoded.right as Blobs.ChannelMap)
  })

/** The items of the `count` newest blobs of a chain (oldest first) and the blob below them. */
const mergeableOf = ({ Sql }: Context) => (tx: Db.Tx, threadId: string, channel: string, top: string, count: number) =>
  Effect.flatMap(tx.all(Sql.chain, [threadId, channel, top, threadId, channel, count]), (rows) => {
    if (rows.length < count || rows[count - 1].prev === null) {
      return Effect.fail(
        new StoreError({
          operation: "commit",
          cause: corrupt(threadId, undefined, `channel "${channel}": the chain below blob ${top} is broken`)
        })
      )
    }
    const items: Array<unknown> = []
    try {
      for (let i = count - 1; i >= 0; i--) {
        const part = JSON.parse(rows[i].data)
        if (!Array.isArray(part)) throw new Error(`blob ${rows[i].blob_id} is not an array`)
        for (const x of part) items.push(x)
      }
    } catch (e) {
      return Effect.fail(
        new StoreError({ operation: "commit", cause: corrupt(threadId, undefined, `channel "${channel}": ${(e as Error).message}`) })
      )
    }
    return Effect.succeed({ items, below: rows[count - 1].prev as string })
  })

/**
 * What a write of a channel stores: its new entry, and the blob row to insert (none for an
 * inline value), or `merge` when the append carries into a merge of older blobs.
 */
const planChannelOf = ({ fanout }: Context) => (
  checkpointId: string,
  write: Blobs.Pending,
  previous: Blobs.Entry | undefined
):
  | { readonly entry: Blobs.Entry; readonly blob?: { readonly prev: string | null; readonly data: string } }
  | { readonly merge: number; readonly top: string; readonly n: number } =>
{
  if (write._tag === "set" || previous === undefined || Blobs.isInline(previous)) {
    // a whole value: the written one, or an inline value with the new items appended
    const value = write._tag === "set"
      ? write.value
      : previous !== undefined && Blobs.isInline(previous) && Array.isArray(previous.v)
      ? previous.v.concat(write.items)
      : write.items
    const json = JSON.stringify(value)
    if (json === undefined) return { entry: {} }
    if (json.length <= Blobs.INLINE_MAX) return { entry: { v: JSON.parse(json) } }
    return { entry: [checkpointId, 0], blob: { prev: null, data: json } }
  }
  const [top, n] = previous
  const c = Blobs.carries(n, fanout)
  if (c === 0) return { entry: [checkpointId, n + 1], blob: { prev: top, data: JSON.stringify(write.items) } }
  return { merge: c * (fanout - 1), top, n }
}

const checkpointBody = (s: WorkflowSnapshotEncoded, sameInput: boolean) =>
  JSON.stringify({
    versions: s.versions,
    tasks: s.tasks,
    joins: s.joins,
    metadata: s.metadata,
    ...(sameInput ? { executionInput: 1 } : { initialInput: s.initialInput })
  })

/** The checkpoint row's columns after thread_id (both commit paths write the same row). */
const checkpointRow = (s: WorkflowSnapshotEncoded, map: Blobs.ChannelMap, inputInExecutions: boolean) => [
  s.checkpointId,
  s.parentCheckpointId,
  s.executionId,
  s.workflowId,
  s.workflowVersion,
  s.step,
  s.status,
  s.createdAt,
  s.wakeAt ?? null,
  s.pauseReason ?? null,
  s.error ?? null,
  JSON.stringify(s.interrupts),
  JSON.stringify(s.nodeStates),
  JSON.stringify(map),
  checkpointBody(s, inputInExecutions)
]

/**
 * The channels a new checkpoint inherits: its parent's. A parent that was never stored (a run
 * with `exit` durability links to its last in-memory step) falls back to the head it replaces.
 */
const baseMapOf = (ctx: Context) => (
  tx: Db.Tx,
  req: CommitRequest
): Effect.Effect<{ readonly map: Blobs.ChannelMap; readonly parent: string | null }, SqlError | StoreError> => {
  const parent = req.snapshot.parentCheckpointId
  if (parent === null) return Effect.succeed({ map: {}, parent })
  if (parent === req.expectedHead) {
    const cached = ctx.maps.get(req.threadId + "\u0000" + parent)
    if (cached !== undefined) return Effect.succeed({ map: cached, parent })
  }
  return Effect.flatMap(storedMapOf(ctx)(tx, req.threadId, parent), (map) => {
    if (map !== undefined) return Effect.succeed({ map, parent })
    // the parent was never stored: the checkpoint follows the head it replaces, in values and
    // in lineage (a stored link always names a stored checkpoint)
    if (req.expectedHead === null || req.expectedHead === parent) return Effect.succeed({ map: {}, parent: req.expectedHead })
    return Effect.map(storedMapOf(ctx)(tx, req.threadId, req.expectedHead), (m) => ({ map: m ?? {}, parent: req.expectedHead }))
  })
}

const writeChannelOf = (ctx: Context) => (
  tx: Db.Tx,
  threadId: string,
  checkpointId: string,
  channel: string,
  write: Blobs.Pending,
  previous: Blobs.Entry | undefined
): Effect.Effect<Blobs.Entry, SqlError | StoreError> => {
  const plan = planChannelOf(ctx)(checkpointId, write, previous)
  if ("entry" in plan) {
    return plan.blob === undefined
      ? Effect.succeed(plan.entry)
      : Effect.as(tx.all(ctx.Sql.insertBlob, [threadId, channel, checkpointId, plan.blob.prev, plan.blob.data]), plan.entry)
  }
  return Effect.flatMap(mergeableOf(ctx)(tx, threadId, channel, plan.top, plan.merge), ({ below, items }) => {
    for (const x of (write as Extract<Blobs.Pending, { _tag: "append" }>).items) items.push(x)
    return Effect.as(
      tx.all(ctx.Sql.insertBlob, [threadId, channel, checkpointId, below, JSON.stringify(items)]),
      [checkpointId, plan.n + 1] as const
    )
  })
}

/** @internal */
export const make = (ctx: Context) => {
  const { busy, db, executions, inputText, maps, noteCommit, one, remember, Sql, walCheckpoint } = ctx
  /** the one-statement commit: SQLite's (refused by its trigger's RAISE) or Postgres' (refused: no row) */
  const oneCommit = one?.commit ?? ctx.dialect.commitOne
  const executionInput = executionInputOf(ctx)
  const claimIn = claimInOf(ctx)
  const planChannel = planChannelOf(ctx)
  const baseMap = baseMapOf(ctx)
  const writeChannel = writeChannelOf(ctx)

  const isBusyRaise = (e: StoreError) => one !== undefined && String((e.cause as any)?.cause?.message ?? "").includes(one.busyMessage)

  /**
   * The common commit as one statement, when all it needs is known here: the parent's channel map
   * (the run's previous commit), the execution, no merge, no pending writes. Otherwise undefined.
   * `done` updates the caches once the statement ran.
   */
  const planOne = (req: CommitRequest): { readonly params: ReadonlyArray<unknown>; readonly done: () => void } | undefined => {
    const s = req.snapshot
    if (oneCommit === undefined || s.pendingWrites.length > 0) return undefined
    let base: Blobs.ChannelMap | undefined
    if (s.parentCheckpointId === null) base = req.expectedHead === null ? {} : undefined
    else if (s.parentCheckpointId === req.expectedHead) base = maps.get(req.threadId + "\u0000" + s.parentCheckpointId)
    const known = executions.get(req.threadId)
    const input = inputText(s.initialInput)
    // the execution's row: known here, or written by the trigger with the execution's first
    // checkpoint (the one carrying the input); a checkpoint without input does not need it
    const sameExecution = known !== undefined && known.executionId === s.executionId
    if (base === undefined) return undefined
    // the input lives in the executions table when it is the execution's (new row, or same text)
    const newExecution = !sameExecution && input !== null
    const inExecutions = newExecution || (sameExecution && input !== null && input === known.input)
    const map: Record<string, Blobs.Entry> = { ...base }
    const blobs: Array<readonly [string, string | null, string]> = []
    for (const [channel, write] of Blobs.fold(req.writes)) {
      const plan = planChannel(s.checkpointId, write, base[channel])
      if (!("entry" in plan)) return undefined
      map[channel] = plan.entry
      if (plan.blob !== undefined) blobs.push([channel, plan.blob.prev, plan.blob.data])
    }
    // leases are wall-clock facts shared with other processes
    const now = Date.now()
    const params = [
      req.threadId,
      req.runId,
      req.expectedHead,
      ...checkpointRow(s, map, inExecutions),
      JSON.stringify(blobs),
      req.release ? 1 : 0,
      newExecution ? input : null,
      sameExecution ? 0 : 1,
      req.claim !== undefined ? 1 : 0,
      req.claim !== undefined ? now + req.claim.leaseMillis : 0,
      now
    ]
    const done = () => {
      remember(req.threadId, s.checkpointId, map)
      if (!sameExecution) {
        // the row now exists; a checkpoint after the first never carries the input again
        executions.delete(req.threadId)
        executions.set(req.threadId, { executionId: s.executionId, input: newExecution ? input : null })
        if (executions.size > 4096) executions.delete(executions.keys().next().value!)
      }
      noteCommit()
    }
    return { params, done }
  }

  const commit: Backend["commit"] = (req) => {
    const plan = planOne(req)
    const done = plan === undefined
      ? commitMany(req)
      : one !== undefined
      ? db.writeOnce("commit", oneCommit!, plan.params).pipe(
        Effect.catchIf(isBusyRaise, () => busy(req.threadId)),
        Effect.map(plan.done)
      )
      : Effect.flatMap(
        db.writeOnce("commit", oneCommit!, plan.params),
        (rows) => (rows.length === 0 ? busy(req.threadId) : Effect.sync(plan.done))
      )
    return req.release ? Effect.zipLeft(done, walCheckpoint) : done
  }

  /** A commit as several statements: first commits, merges, forks. */
  const commitManyIn = (tx: Db.Tx, req: CommitRequest) =>
    Effect.gen(function*() {
      const s = req.snapshot
      if (req.claim !== undefined) yield* claimIn(tx, req.threadId, req.runId, req.claim, req.expectedHead)
      const moved = yield* tx.all(Sql.moveHead, [
        s.checkpointId,
        s.status,
        s.wakeAt ?? null,
        s.createdAt,
        req.threadId,
        req.runId,
        req.expectedHead
      ])
      if (moved.length === 0) return yield* busy(req.threadId)
      const input = inputText(s.initialInput)
      const stored = yield* executionInput(tx, req.threadId, s.executionId, input)
      const sameInput = input !== null && input === stored
      const { map: base, parent } = yield* baseMap(tx, req)
      const map: Record<string, Blobs.Entry> = { ...base }
      for (const [channel, write] of Blobs.fold(req.writes)) {
        map[channel] = yield* writeChannel(tx, req.threadId, s.checkpointId, channel, write, base[channel])
      }
      yield* tx.all(Sql.insertCheckpoint, [
        req.threadId,
        ...checkpointRow(parent === s.parentCheckpointId ? s : { ...s, parentCheckpointId: parent }, map, sameInput)
      ])
      for (const r of s.pendingWrites) {
        yield* tx.all(Sql.upsertTask, [req.threadId, s.checkpointId, r.taskId, JSON.stringify(r)])
      }
      if (req.release) yield* tx.all(Sql.release, [req.threadId, req.runId])
      remember(req.threadId, s.checkpointId, map)
      noteCommit()
    })

  const commitMany = (req: CommitRequest) =>
    db.write("commit", (tx) => commitManyIn(tx, req)).pipe(
      Effect.tapError(() => Effect.sync(() => executions.delete(req.threadId)))
    )

  /** Several commits in order in one write transaction (a run's `async` durability). */
  const commitAll: Backend["commitAll"] = (requests) => {
    if (requests.length === 1) return commit(requests[0]!)
    const forget = Effect.sync(() => {
      // the transaction rolled back: nothing of it may be taken for stored
      for (const r of requests) {
        maps.delete(r.threadId + "\u0000" + r.snapshot.checkpointId)
        executions.delete(r.threadId)
      }
    })
    const done = db.write("commit", (tx) =>
      Effect.forEach(requests, (req) => {
        const plan = planOne(req)
        if (plan === undefined) return commitManyIn(tx, req)
        return one !== undefined
          ? Effect.map(tx.all(oneCommit!, plan.params), plan.done)
          : Effect.flatMap(tx.all(oneCommit!, plan.params), (rows) => (rows.length === 0 ? busy(req.threadId) : Effect.sync(plan.done)))
      }, { discard: true })).pipe(
        Effect.catchIf((e): e is StoreError => e._tag === "StoreError" && isBusyRaise(e), () => busy(requests[0]!.threadId)),
        Effect.tapError(() => forget)
      )
    return requests.some((r) => r.release) ? Effect.zipLeft(done, walCheckpoint) : done
  }

  return { commit, commitAll, isBusyRaise }
}
