/**
 * The reads of the SQL stores: checkpoint rows decoded and rebuilt into snapshots (channel values
 * from their blobs, pending task records), validated with the model's schema; loads, history,
 * listings.
 */
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { type CorruptSnapshot, StoreError } from "../../GraphError.js"
import type { WorkflowSnapshotEncoded } from "../../Snapshot.js"
import type { Backend, ListOptions, ThreadSummary } from "../../Snapshots.js"
import * as Blobs from "./blobs.js"
import type { Context } from "./context.js"
import * as Db from "./db.js"
import {
  type CheckpointRow,
  corrupt,
  danglingInterrupt,
  decodeBlobRows,
  decodeCheckpointRow,
  decodeTaskRow,
  decodeThreadRows,
  byMetadata,
  filterParams,
  formatIssue,
  type ThreadRow,
  validateSnapshot
} from "./rows.js"

const decodeRows = (threadId: string | undefined, raw: ReadonlyArray<unknown>) => {
  const out: Array<CheckpointRow> = []
  for (const r of raw) {
    const decoded = decodeCheckpointRow(r)
    if (Either.isLeft(decoded)) {
      const row = r as any
      return Either.left(
        corrupt(
          typeof row?.thread_id === "string" ? row.thread_id : threadId ?? "",
          typeof row?.checkpoint_id === "string" ? row.checkpoint_id : undefined,
          formatIssue(decoded.left)
        )
      )
    }
    out.push(decoded.right)
  }
  return Either.right(out)
}

/** Rebuilds the snapshots of rows of one thread: channel values from blobs, pending task records. */
/**
 * `givenTasks`: the rows' task records, already read with them (the one-statement load);
 * otherwise they are read here.
 */
const materializeIn = (
  { fanout, Sql }: Context,
  tx: Db.Tx,
  threadId: string,
  rows: ReadonlyArray<CheckpointRow>,
  givenTasks?: ReadonlyArray<{ readonly checkpoint_id: string; readonly record: unknown }>
): Effect.Effect<ReadonlyArray<WorkflowSnapshotEncoded>, CorruptSnapshot | SqlError> =>
  Effect.gen(function*() {
    if (rows.length === 0) return []
    const seeds: Array<readonly [string, string]> = []
    const seen = new Set<string>()
    for (const row of rows) {
      for (const channel in row.channels) {
        const entry = row.channels[channel]!
        if (Blobs.isInline(entry)) continue
        const id = entry[0]
        const k = channel + "\u0000" + id
        if (!seen.has(k)) {
          seen.add(k)
          seeds.push([channel, id])
        }
      }
    }
    const blobRows = seeds.length === 0 ? [] : yield* tx.all(Sql.blobs, [JSON.stringify(seeds), threadId, threadId])
    const blobs = decodeBlobRows(blobRows)
    if (Either.isLeft(blobs)) return yield* Effect.fail(corrupt(threadId, undefined, formatIssue(blobs.left)))
    const reader = Blobs.makeReader(blobs.right, fanout)
    const taskRows = givenTasks ??
      (yield* tx.all(Sql.tasksOf, [threadId, JSON.stringify(rows.map((r) => r.checkpoint_id))]))
    const tasks = new Map<string, Array<unknown>>()
    for (const t of taskRows) {
      const decoded = decodeTaskRow(t)
      if (Either.isLeft(decoded)) {
        return yield* Effect.fail(corrupt(threadId, t?.checkpoint_id, `task record: ${formatIssue(decoded.left)}`))
      }
      const list = tasks.get(decoded.right.checkpoint_id)
      if (list === undefined) tasks.set(decoded.right.checkpoint_id, [decoded.right.record])
      else list.push(decoded.right.record)
    }
    const out: Array<WorkflowSnapshotEncoded> = []
    for (const row of rows) {
      const channels: Record<string, unknown> = {}
      try {
        for (const channel in row.channels) channels[channel] = reader.value(channel, row.channels[channel]!)
      } catch (e) {
        if (e instanceof Blobs.BrokenChain) return yield* Effect.fail(corrupt(threadId, row.checkpoint_id, e.issue))
        throw e
      }
      const candidate: Record<string, unknown> = {
        executionId: row.execution_id,
        workflowId: row.workflow_id,
        workflowVersion: row.workflow_version,
        threadId: row.thread_id,
        checkpointId: row.checkpoint_id,
        parentCheckpointId: row.parent_id,
        step: row.step,
        status: row.status,
        createdAt: row.created_at,
        channels,
        versions: row.body.versions,
        tasks: row.body.tasks,
        joins: row.body.joins,
        nodeStates: row.node_states,
        interrupts: row.interrupts,
        pendingWrites: tasks.get(row.checkpoint_id) ?? [],
        metadata: row.body.metadata
      }
      if (row.body.executionInput === 1) {
        if (row.execution_input === null) {
          return yield* Effect.fail(corrupt(threadId, row.checkpoint_id, "the execution's initial input is missing"))
        }
        candidate.initialInput = row.execution_input
      } else if (row.body.initialInput !== undefined) candidate.initialInput = row.body.initialInput
      if (row.error !== null) candidate.error = row.error
      if (row.pause_reason !== null) candidate.pauseReason = row.pause_reason
      if (row.wake_at !== null) candidate.wakeAt = row.wake_at
      // validated with the model's schema; the stored (encoded) form is returned as it was written
      const decoded = validateSnapshot(candidate)
      if (Either.isLeft(decoded)) return yield* Effect.fail(corrupt(threadId, row.checkpoint_id, formatIssue(decoded.left)))
      const snapshot = candidate as unknown as WorkflowSnapshotEncoded
      const dangling = danglingInterrupt(snapshot)
      if (dangling !== undefined) return yield* Effect.fail(corrupt(threadId, row.checkpoint_id, dangling))
      out.push(snapshot)
    }
    return out
  })

const summary = (r: typeof ThreadRow.Type): ThreadSummary => ({
  threadId: r.thread_id,
  workflowId: r.workflow_id,
  head: r.head,
  status: r.status,
  updatedAt: r.updated_at,
  wakeAt: r.wake_at ?? undefined
})

/** `materialize` with every input given reads nothing */
const noTx: Db.Tx = { all: () => Effect.dieMessage("Snapshots: a load without a transaction read more") }

/** The task records folded into the load's row (a JSON array of the records' texts, in write order). */
const taskRecordsOf = (row: CheckpointRow, folded: unknown) => {
  const texts = typeof folded === "string" ? Either.try(() => JSON.parse(folded) as unknown) : Either.right(undefined)
  if (Either.isLeft(texts) || !Array.isArray(texts.right)) {
    return Either.left(corrupt(row.thread_id, row.checkpoint_id, "task records: not a JSON array"))
  }
  return Either.right(texts.right.map((record) => ({ checkpoint_id: row.checkpoint_id, record })))
}

/** @internal */
export const make = (ctx: Context) => {
  const { db, remember, Sql } = ctx
  const materialize = (
    tx: Db.Tx,
    threadId: string,
    rows: ReadonlyArray<CheckpointRow>,
    givenTasks?: ReadonlyArray<{ readonly checkpoint_id: string; readonly record: unknown }>
  ) => materializeIn(ctx, tx, threadId, rows, givenTasks)

  /** Materializes rows that may belong to several threads, keeping their order. */
  const materializeMany = (tx: Db.Tx, rows: ReadonlyArray<CheckpointRow>) =>
    Effect.gen(function*() {
      const byThread = new Map<string, Array<CheckpointRow>>()
      for (const r of rows) {
        const list = byThread.get(r.thread_id)
        if (list === undefined) byThread.set(r.thread_id, [r])
        else list.push(r)
      }
      const byId = new Map<string, WorkflowSnapshotEncoded>()
      for (const [threadId, list] of byThread) {
        for (const s of yield* materialize(tx, threadId, list)) byId.set(s.threadId + "\u0000" + s.checkpointId, s)
      }
      return rows.map((r) => byId.get(r.thread_id + "\u0000" + r.checkpoint_id)!)
    })

  const query = (operation: string, threadId: string | undefined, sql: string, params: ReadonlyArray<unknown>, options?: ListOptions) =>
    db.read(operation, (tx) =>
      Effect.flatMap(tx.all(sql, params), (raw) => {
        const rows = decodeRows(threadId, raw)
        return Either.isLeft(rows) ? Effect.fail(rows.left) : materializeMany(tx, byMetadata(rows.right, options))
      }))

  const summaries = (operation: string, sql: string, params: ReadonlyArray<unknown>) =>
    Effect.flatMap(db.once(operation, sql, params), (raw) => {
      const rows = decodeThreadRows(raw)
      return Either.isLeft(rows)
        ? Effect.fail(new StoreError({ operation, cause: new Error(formatIssue(rows.left)) }))
        : Effect.succeed(rows.right.map(summary))
    })

  const loadInTransaction = (threadId: string, checkpointId: string | undefined) =>
    db.read("load", (tx) =>
      Effect.flatMap(tx.all(Sql.loadOne, [threadId, checkpointId ?? null, threadId]), (raw) => {
        if (raw.length === 0) return Effect.succeed(Option.none())
        const rows = decodeRows(threadId, raw)
        if (Either.isLeft(rows)) return Effect.fail(rows.left)
        return Effect.map(materialize(tx, threadId, rows.right), (s) => loaded(threadId, rows.right[0]!, s[0]!))
      }))

  /**
   * A loaded checkpoint's channel map is kept like a committed one's: the run that loaded it
   * commits on top of it next, in one statement (a worker continuing a thread another process
   * wrote, a resume in a new process)
   */
  const loaded = (threadId: string, row: CheckpointRow, snapshot: WorkflowSnapshotEncoded) => {
    remember(threadId, row.checkpoint_id, row.channels as Blobs.ChannelMap)
    return Option.some(snapshot)
  }

  const load: Backend["load"] = (threadId, checkpointId) =>
    // one statement (the row and its task records) when every channel value is inline in the
    // row; blob values are read in a read transaction with the row, for one consistent view
    Effect.flatMap(db.once("load", Sql.loadWithTasks, [threadId, checkpointId ?? null, threadId]), (raw) => {
      if (raw.length === 0) return Effect.succeed(Option.none())
      const rows = decodeRows(threadId, raw)
      if (Either.isLeft(rows)) return Effect.fail(rows.left)
      const row = rows.right[0]!
      for (const channel in row.channels) {
        if (!Blobs.isInline(row.channels[channel]!)) return loadInTransaction(threadId, checkpointId)
      }
      const records = taskRecordsOf(row, raw[0].task_records)
      if (Either.isLeft(records)) return Effect.fail(records.left)
      return materialize(noTx, threadId, rows.right, records.right).pipe(
        Effect.catchTag("SqlError", (e) => Effect.fail(Db.storeError("load")(e))),
        Effect.map((s) => loaded(threadId, row, s[0]!))
      )
    })

  const history: Backend["history"] = (threadId, options) =>
    db.read("history", (tx) =>
      Effect.flatMap(
        tx.all(Sql.history, [options?.checkpointId ?? null, threadId, threadId, threadId, ...filterParams(options)]),
        (raw) => {
          // an unknown start: no lineage; a missing checkpoint further on: a broken one
          if (raw.length > 0 && raw[0].checkpoint_id === null) return Effect.succeed([])
          const missing = raw.findIndex((r) => r.checkpoint_id === null)
          if (missing > 0) {
            return Effect.fail(corrupt(threadId, undefined, `the lineage links to checkpoint ${raw[missing].lineage_id}, which is missing`))
          }
          const rows = decodeRows(threadId, raw)
          return Either.isLeft(rows) ? Effect.fail(rows.left) : materializeMany(tx, byMetadata(rows.right, options))
        }
      ))

  return { load, history, query, summaries }
}
