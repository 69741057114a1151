/**
 * The storage core of the SQL stores, SQLite and Postgres being two dialects of it (their
 * statements and executors in `sqlite/` and `pg/`): every write operation is atomic on its own; a
 * commit is a compare-and-set on the thread's run owner and head; channel values are stored
 * incrementally (see `blobs.ts`). On SQLite, the single-statement writes (claim, the common commit,
 * settle, putTask, release) that runs issue at the same moment share one write transaction (group
 * commit, see `sqlite/db.ts`).
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { CorruptSnapshot, LeaseHeld, StoreError, ThreadBusy } from "../../GraphError.js"
import { WorkflowSnapshot, type WorkflowSnapshotEncoded } from "../../Snapshot.js"
import type { Backend, ClaimOptions, CommitRequest, Lease, ListOptions, StatusPatch, ThreadSummary } from "../../Snapshots.js"
import * as Blobs from "./blobs.js"
import * as SqliteDb from "../sqlite/db.js"
import * as SqliteSql from "../sqlite/statements.js"
import * as Db from "./db.js"
import { metadataMatches } from "../metadata.js"

// ---------------------------------------------------------------------------------------------
// rows
// ---------------------------------------------------------------------------------------------

const Entry = Schema.Union(
  Schema.Tuple(Schema.String, Schema.NonNegativeInt),
  Schema.Struct({ v: Schema.optional(Schema.Unknown) })
)

const CheckpointRow = Schema.Struct({
  thread_id: Schema.String,
  checkpoint_id: Schema.String,
  parent_id: Schema.NullOr(Schema.String),
  execution_id: Schema.String,
  workflow_id: Schema.String,
  workflow_version: Schema.String,
  step: Schema.Number,
  status: Schema.String,
  created_at: Schema.Number,
  wake_at: Schema.NullOr(Schema.Number),
  pause_reason: Schema.NullOr(Schema.String),
  error: Schema.NullOr(Schema.String),
  interrupts: Schema.parseJson(),
  node_states: Schema.parseJson(),
  channels: Schema.parseJson(Schema.Record({ key: Schema.String, value: Entry })),
  body: Schema.parseJson(Schema.Struct({
    versions: Schema.Unknown,
    tasks: Schema.Unknown,
    joins: Schema.Unknown,
    metadata: Schema.Unknown,
    initialInput: Schema.optional(Schema.Unknown),
    /** set when the initial input is the execution's (stored once in `stategraph_executions`) */
    executionInput: Schema.optional(Schema.Literal(1))
  })),
  execution_input: Schema.NullOr(Schema.parseJson())
})
type CheckpointRow = typeof CheckpointRow.Type

const TaskRow = Schema.Struct({ checkpoint_id: Schema.String, record: Schema.parseJson() })

const BlobRow = Schema.Struct({
  channel: Schema.String,
  blob_id: Schema.String,
  prev: Schema.NullOr(Schema.String),
  data: Schema.String
})

const ThreadRow = Schema.Struct({
  thread_id: Schema.String,
  workflow_id: Schema.String,
  head: Schema.NullOr(Schema.String),
  status: Schema.Literal("pending", "running", "paused", "completed", "failed"),
  updated_at: Schema.Number,
  wake_at: Schema.NullOr(Schema.Number)
})

const decodeCheckpointRow = ParseResult.decodeUnknownEither(CheckpointRow)
const decodeTaskRow = ParseResult.decodeUnknownEither(TaskRow)
const decodeBlobRows = ParseResult.decodeUnknownEither(Schema.Array(BlobRow))
const decodeThreadRows = ParseResult.decodeUnknownEither(Schema.Array(ThreadRow))
const decodeChannelMap = ParseResult.decodeUnknownEither(Schema.parseJson(Schema.Record({ key: Schema.String, value: Entry })))
// the encoded side only: checks the structure without building class instances
const validateSnapshot = ParseResult.validateEither(Schema.encodedSchema(WorkflowSnapshot))

/**
 * A pending question must belong to a task of its checkpoint (the task that asked and re-runs on
 * the answer); a breakpoint after a node names the task that ran before, so it is not checked.
 */
const danglingInterrupt = (s: WorkflowSnapshotEncoded): string | undefined => {
  for (const i of s.interrupts) {
    if (i.status !== "pending" || i.kind === "Breakpoint") continue
    if (!s.tasks.some((t) => t.id === i.taskId)) return `interrupt ${i.id} belongs to task ${i.taskId}, which is not a task of the checkpoint`
  }
  return undefined
}

const formatIssue = (issue: ParseResult.ParseIssue) => ParseResult.TreeFormatter.formatIssueSync(issue)

const corrupt = (threadId: string, checkpointId: string | undefined, issue: string) =>
  new CorruptSnapshot({ threadId, checkpointId, issue })

const statusParam = (status: ListOptions["status"]): string | null =>
  status === undefined ? null : JSON.stringify(typeof status === "string" ? [status] : status)

const limitParam = (limit: number | undefined) => (limit === undefined ? -1 : Math.max(0, Math.floor(limit)))

/**
 * The parameters every listing statement ends with: before, status, limit. With a metadata
 * filter the statement reads without its limit: the rows are filtered (`byMetadata`), then cut.
 */
const filterParams = (options: ListOptions | undefined): ReadonlyArray<unknown> => [
  options?.before ?? null,
  options?.before ?? null,
  statusParam(options?.status),
  statusParam(options?.status),
  limitParam(options?.metadata === undefined ? options?.limit : undefined)
]

/** The rows whose metadata matches the listing's filter, cut to its limit. */
const byMetadata = <Row extends { readonly body: { readonly metadata: unknown } }>(
  rows: ReadonlyArray<Row>,
  options: ListOptions | undefined
): ReadonlyArray<Row> => {
  if (options?.metadata === undefined) return rows
  const out = rows.filter((r) => metadataMatches(r.body.metadata as Record<string, unknown> | undefined, options.metadata!))
  return options.limit === undefined ? out : out.slice(0, Math.max(0, Math.floor(options.limit)))
}

// ---------------------------------------------------------------------------------------------
// the backend
// ---------------------------------------------------------------------------------------------

/** @internal */
export interface Options {
  /** appends per level before blobs are merged (the K of `blobs.ts`); default 32 */
  readonly appendFanout?: number | undefined
  /** how long an operation retries while another connection holds the write lock; default 5000 */
  readonly busyTimeoutMillis?: number | undefined
  /**
   * When a run releases its thread after at least this many commits since the last time, the
   * WAL is checkpointed (passive), so short runs (chat turns) keep the WAL small without slowing
   * the steps of a long run; default 8. `0` leaves it all to SQLite's automatic checkpoints.
   */
  readonly walCheckpointAfterCommits?: number | undefined
}

/**
 * The statements of a dialect, each with the parameters the SQLite text takes (in that order).
 *
 * @internal
 */
export type Statements = { readonly [K in Exclude<keyof typeof SqliteSql, "commitOne" | "settle" | "BUSY_MESSAGE">]: string } & {
  /**
   * A settle's check, when settle is a transaction: the run holds the thread (and, when it
   * claims, `checkpointId` is the head) and the checkpoint exists; locks the thread row.
   * params: threadId, runId, claim (1|0), checkpointId, threadId, checkpointId
   */
  readonly settleCheck?: string
  /** A checkpoint's interrupts (JSON text), for a claiming resume's check. params: threadId, checkpointId */
  readonly checkpointInterrupts?: string
}

/**
 * What differs between the databases: the statements, and (SQLite) the one-statement commit and
 * settle, whose triggers refuse with `busyMessage`.
 *
 * @internal
 */
export interface Dialect {
  /** span names: `<name>.load`, … */
  readonly name: string
  readonly system: "sqlite" | "postgresql"
  readonly sql: Statements
  readonly oneStatement?: { readonly commit: string; readonly settle: string; readonly busyMessage: string } | undefined
}

/** @internal */
export const sqliteDialect: Dialect = {
  name: "SqliteSnapshots",
  system: "sqlite",
  sql: SqliteSql,
  oneStatement: { commit: SqliteSql.commitOne, settle: SqliteSql.settle, busyMessage: SqliteSql.BUSY_MESSAGE }
}

/** The SQLite store. @internal */
export const make = (
  client: SqlClient.SqlClient,
  exclusive: Connection | undefined,
  options: Options = {}
): Backend => makeWith(SqliteDb.make(client, exclusive, options.busyTimeoutMillis ?? 5000), sqliteDialect, options)

/** The store on a dialect's executor and statements. @internal */
export const makeWith = (db: Db.Db, dialect: Dialect, options: Options = {}): Backend => {
  const Sql = dialect.sql
  const one = dialect.oneStatement
  const fanout = Math.max(2, Math.floor(options.appendFanout ?? Blobs.DEFAULT_FANOUT))

  /** Channel maps of recent checkpoints (immutable once written): a run's next commit needs its parent's. */
  const maps = new Map<string, Blobs.ChannelMap>()
  const remember = (threadId: string, checkpointId: string, map: Blobs.ChannelMap) => {
    const key = threadId + "\u0000" + checkpointId
    maps.delete(key)
    maps.set(key, map)
    if (maps.size > 512) maps.delete(maps.keys().next().value!)
  }

  /**
   * The execution each thread's last commit here belonged to (its row in `stategraph_executions`
   * exists) and that execution's stored initial input (JSON text).
   */
  const executions = new Map<string, { readonly executionId: string; readonly input: string | null }>()

  /** The stored initial input of the commit's execution, noting the execution when new. */
  const executionInput = (tx: Db.Tx, threadId: string, executionId: string, input: string | null) => {
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

  /** An execution's input as stored; each checkpoint of it carries the same object: encoded once. */
  const inputTexts = new WeakMap<object, string>()
  const inputText = (input: unknown): string | null => {
    if (input === undefined) return null
    if (typeof input !== "object" || input === null) return JSON.stringify(input)
    let text = inputTexts.get(input)
    if (text === undefined) inputTexts.set(input, text = JSON.stringify(input))
    return text
  }

  const busy = (threadId: string) => Effect.fail(new ThreadBusy({ threadId }))

  /** Takes the claim inside a write transaction: the thread must be free (or the run's) at `head`. */
  const claimIn = (tx: Db.Tx, threadId: string, runId: string, claim: ClaimOptions, head: string | null) => {
    const now = Date.now()
    return Effect.flatMap(
      tx.all(Sql.claimAt, [threadId, claim.workflowId, now, runId, now + claim.leaseMillis, now, head]),
      (rows) => (rows.length === 0 || (rows[0].head ?? null) !== head ? busy(threadId) : Effect.void)
    )
  }

  const checkpointAfter = Math.max(0, Math.floor(options.walCheckpointAfterCommits ?? 8))
  let commitsSinceCheckpoint = 0
  const walCheckpoint = Effect.suspend(() => {
    if (checkpointAfter === 0 || commitsSinceCheckpoint < checkpointAfter) return Effect.void
    commitsSinceCheckpoint = 0
    // TRUNCATE empties the WAL file; on a busy database (another process reading or writing) it
    // gives up at once (the store's connection has busy_timeout 0) and SQLite's own
    // auto-checkpoint takes over
    return Effect.ignore(db.once("checkpoint", "PRAGMA wal_checkpoint(TRUNCATE)", []))
  })

  // ----- commit ------------------------------------------------------------------------------

  const storedMap = (tx: Db.Tx, threadId: string, checkpointId: string) =>
    Effect.flatMap(tx.all(Sql.channelsOf, [threadId, checkpointId]), (rows) => {
      if (rows.length === 0) return Effect.succeed(undefined)
      const decoded = decodeChannelMap(rows[0].channels)
      return Either.isLeft(decoded)
        ? Effect.fail(new StoreError({ operation: "commit", cause: corrupt(threadId, checkpointId, formatIssue(decoded.left)) }))
        : Effect.succeed(decoded.right as Blobs.ChannelMap)
    })

  /**
   * The channels a new checkpoint inherits: its parent's. A parent that was never stored (a run
   * with `exit` durability links to its last in-memory step) falls back to the head it replaces.
   */
  const baseMap = (
    tx: Db.Tx,
    req: CommitRequest
  ): Effect.Effect<{ readonly map: Blobs.ChannelMap; readonly parent: string | null }, SqlError | StoreError> => {
    const parent = req.snapshot.parentCheckpointId
    if (parent === null) return Effect.succeed({ map: {}, parent })
    if (parent === req.expectedHead) {
      const cached = maps.get(req.threadId + "\u0000" + parent)
      if (cached !== undefined) return Effect.succeed({ map: cached, parent })
    }
    return Effect.flatMap(storedMap(tx, req.threadId, parent), (map) => {
      if (map !== undefined) return Effect.succeed({ map, parent })
      // the parent was never stored: the checkpoint follows the head it replaces, in values and
      // in lineage (a stored link always names a stored checkpoint)
      if (req.expectedHead === null || req.expectedHead === parent) return Effect.succeed({ map: {}, parent: req.expectedHead })
      return Effect.map(storedMap(tx, req.threadId, req.expectedHead), (m) => ({ map: m ?? {}, parent: req.expectedHead }))
    })
  }

  /** The items of the `count` newest blobs of a chain (oldest first) and the blob below them. */
  const mergeable = (tx: Db.Tx, threadId: string, channel: string, top: string, count: number) =>
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
  const planChannel = (
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

  const writeChannel = (
    tx: Db.Tx,
    threadId: string,
    checkpointId: string,
    channel: string,
    write: Blobs.Pending,
    previous: Blobs.Entry | undefined
  ): Effect.Effect<Blobs.Entry, SqlError | StoreError> => {
    const plan = planChannel(checkpointId, write, previous)
    if ("entry" in plan) {
      return plan.blob === undefined
        ? Effect.succeed(plan.entry)
        : Effect.as(tx.all(Sql.insertBlob, [threadId, channel, checkpointId, plan.blob.prev, plan.blob.data]), plan.entry)
    }
    return Effect.flatMap(mergeable(tx, threadId, channel, plan.top, plan.merge), ({ below, items }) => {
      for (const x of (write as Extract<Blobs.Pending, { _tag: "append" }>).items) items.push(x)
      return Effect.as(
        tx.all(Sql.insertBlob, [threadId, channel, checkpointId, below, JSON.stringify(items)]),
        [checkpointId, plan.n + 1] as const
      )
    })
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

  const isBusyRaise = (e: StoreError) => one !== undefined && String((e.cause as any)?.cause?.message ?? "").includes(one.busyMessage)

  /**
   * The common commit as one statement, when all it needs is known here: the parent's channel map
   * (the run's previous commit), the execution, no merge, no pending writes. Otherwise undefined.
   * `done` updates the caches once the statement ran.
   */
  const planOne = (req: CommitRequest): { readonly params: ReadonlyArray<unknown>; readonly done: () => void } | undefined => {
    const s = req.snapshot
    if (one === undefined || s.pendingWrites.length > 0) return undefined
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
      commitsSinceCheckpoint++
    }
    return { params, done }
  }

  const commit: Backend["commit"] = (req) => {
    const plan = planOne(req)
    const done = plan === undefined
      ? commitMany(req)
      : db.writeOnce("commit", one!.commit, plan.params).pipe(
        Effect.catchIf(isBusyRaise, () => busy(req.threadId)),
        Effect.map(plan.done)
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
      commitsSinceCheckpoint++
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
        return Effect.map(tx.all(one!.commit, plan.params), plan.done)
      }, { discard: true })).pipe(
        Effect.catchIf((e): e is StoreError => e._tag === "StoreError" && isBusyRaise(e), () => busy(requests[0]!.threadId)),
        Effect.tapError(() => forget)
      )
    return requests.some((r) => r.release) ? Effect.zipLeft(done, walCheckpoint) : done
  }

  // ----- reading -----------------------------------------------------------------------------

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
  const materialize = (
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

  const summary = (r: typeof ThreadRow.Type): ThreadSummary => ({
    threadId: r.thread_id,
    workflowId: r.workflow_id,
    head: r.head,
    status: r.status,
    updatedAt: r.updated_at,
    wakeAt: r.wake_at ?? undefined
  })

  const summaries = (operation: string, sql: string, params: ReadonlyArray<unknown>) =>
    Effect.flatMap(db.once(operation, sql, params), (raw) => {
      const rows = decodeThreadRows(raw)
      return Either.isLeft(rows)
        ? Effect.fail(new StoreError({ operation, cause: new Error(formatIssue(rows.left)) }))
        : Effect.succeed(rows.right.map(summary))
    })

  // ----- deleting ----------------------------------------------------------------------------

  /** After checkpoints of a thread were deleted: drop their task records and unreachable blobs, move a lost head. */
  const repair = (tx: Db.Tx, threadId: string, deleted: ReadonlySet<string>) =>
    Effect.gen(function*() {
      executions.delete(threadId)
      yield* tx.all(Sql.deleteOrphanTasks, [threadId, threadId])
      yield* tx.all(Sql.forgetEmptyExecutions, [threadId, threadId])
      yield* tx.all(Sql.sweepBlobs, [threadId, threadId, threadId])
      yield* tx.all(Sql.cutOrphans, [threadId, threadId])
      const head = (yield* tx.all(Sql.threadHead, [threadId]))[0]?.head as string | null | undefined
      if (head === undefined || head === null || !deleted.has(head)) return
      const newest = (yield* tx.all(Sql.newestCheckpoint, [threadId]))[0]
      yield* tx.all(Sql.resetHead, [
        newest?.checkpoint_id ?? null,
        newest?.status ?? "pending",
        newest?.wake_at ?? null,
        threadId
      ])
      if (newest === undefined) yield* tx.all(Sql.dropEmptyThread, [threadId, Date.now()])
    })

  const deleted = (rows: ReadonlyArray<any>) => {
    const byThread = new Map<string, Set<string>>()
    for (const r of rows) {
      const set = byThread.get(r.thread_id)
      if (set === undefined) byThread.set(r.thread_id, new Set([r.checkpoint_id]))
      else set.add(r.checkpoint_id)
    }
    return byThread
  }

  // ----- the interface -----------------------------------------------------------------------

  const setStatusIn = (tx: Db.Tx, threadId: string, runId: string, checkpointId: string, patch: StatusPatch) =>
    Effect.gen(function*() {
      const rows = yield* tx.all(Sql.setStatus, [
            patch.status,
            JSON.stringify(patch.interrupts),
            patch.nodeStates === undefined ? null : JSON.stringify(patch.nodeStates),
            "error" in patch ? 1 : 0,
            patch.error ?? null,
            "pauseReason" in patch ? 1 : 0,
            patch.pauseReason ?? null,
            "wakeAt" in patch ? 1 : 0,
            patch.wakeAt ?? null,
            threadId,
            checkpointId,
            threadId,
            runId
          ])
          if (rows.length === 0) return yield* busy(threadId)
          yield* tx.all(Sql.touchThread, [Date.now(), checkpointId, patch.status, checkpointId, rows[0].wake_at, threadId])
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

  const toLeases = (rows: ReadonlyArray<any>): ReadonlyArray<Lease> => {
    const now = Date.now()
    return rows.map((r) => ({
      threadId: r.thread_id,
      workflowId: r.workflow_id,
      holder: r.run_id,
      until: Number(r.lease_until),
      alive: Number(r.lease_until) > now
    }))
  }

  /**
   * A refusal names who holds the thread and until when: read after the refusing statement (never
   * inside its transaction), and only on that path.
   */
  const naming = <A extends ReadonlyArray<any>, B, E>(f: (...args: A) => Effect.Effect<B, E>) => (...args: A) =>
    Effect.catchIf(
      f(...args),
      (e): e is E & ThreadBusy => e instanceof ThreadBusy && e.holder === undefined,
      (e) =>
        db.once("leases", Sql.leases, [e.threadId, e.threadId, null, null]).pipe(
          Effect.map(toLeases),
          Effect.orElseSucceed(() => []),
          Effect.flatMap((found) =>
            Effect.fail(found.length === 0 ? e : new ThreadBusy({ threadId: e.threadId, holder: found[0]!.holder, leaseUntil: found[0]!.until }))
          )
        )
    )

  /** A settle as one transaction, where the dialect has no one-statement settle. */
  /** Whether each of `ids` is a pending interrupt in the stored interrupts text. */
  const stillPending = (text: unknown, ids: ReadonlyArray<string>): boolean => {
    if (typeof text !== "string") return false
    let stored: unknown
    try {
      stored = JSON.parse(text)
    } catch {
      return false
    }
    return Array.isArray(stored) &&
      ids.every((id) => stored.some((i: { readonly id?: unknown; readonly status?: unknown }) => i?.id === id && i?.status === "pending"))
  }

  const settleTx: Backend["settle"] = (threadId, runId, checkpointId, { claim, patch, records, release }) =>
    db.write("settle", (tx) =>
      Effect.gen(function*() {
        if (claim !== undefined) {
          const now = Date.now()
          yield* tx.all(Sql.claim, [threadId, claim.workflowId, now, runId, now + claim.leaseMillis, now])
        }
        const held = yield* tx.all(Sql.settleCheck!, [threadId, runId, claim !== undefined ? 1 : 0, checkpointId, threadId, checkpointId])
        if (held.length === 0) return yield* busy(threadId)
        if (claim?.pending !== undefined && claim.pending.length > 0) {
          // read under the thread row's lock: another resume may have answered them and paused again
          const [row] = yield* tx.all(Sql.checkpointInterrupts!, [threadId, checkpointId])
          if (!stillPending(row?.interrupts, claim.pending)) return yield* busy(threadId)
        }
        for (const r of records) yield* tx.all(Sql.upsertTask, [threadId, checkpointId, r.taskId, JSON.stringify(r)])
        if (patch !== undefined) yield* setStatusIn(tx, threadId, runId, checkpointId, patch)
        if (release) yield* tx.all(Sql.release, [threadId, runId])
      }))

  const backend: Backend = {
    leases: (options) =>
      Effect.map(
        db.once("leases", Sql.leases, [
          options?.threadId ?? null,
          options?.threadId ?? null,
          options?.workflowId ?? null,
          options?.workflowId ?? null
        ]),
        toLeases
      ),

    releaseLease: (threadId, options) =>
      db.write("releaseLease", (tx) =>
        Effect.gen(function*() {
          const [lease] = toLeases(yield* tx.all(Sql.leases, [threadId, threadId, null, null]))
          if (lease === undefined) return Option.none()
          if (lease.alive && options?.force !== true) {
            return yield* new LeaseHeld({ threadId, holder: lease.holder, leaseUntil: lease.until })
          }
          yield* tx.all(Sql.fence, [threadId, lease.holder])
          yield* tx.all(Sql.breakLease, [threadId, lease.holder])
          return Option.some(lease)
        })),

    claim: (threadId, runId, { leaseMillis, workflowId }) =>
      Effect.suspend(() => {
        const now = Date.now()
        return Effect.flatMap(
          db.writeOnce("claim", Sql.claim, [threadId, workflowId, now, runId, now + leaseMillis, now]),
          (rows) => (rows.length === 0 ? busy(threadId) : Effect.succeed((rows[0].head ?? null) as string | null))
        )
      }),

    release: (threadId, runId) => Effect.zipRight(db.writeOnce("release", Sql.release, [threadId, runId]), walCheckpoint),

    commit,

    commitAll,

    // SQLite: one statement, the settle view's trigger does it all, atomically
    settle: one === undefined ? settleTx : (threadId, runId, checkpointId, { claim, patch, records, release }) =>
      Effect.suspend(() => {
        const now = Date.now()
        return db.writeOnce("settle", one.settle, [
          threadId,
          runId,
          checkpointId,
          JSON.stringify(records.map((r) => [r.taskId, JSON.stringify(r)])),
          patch !== undefined ? 1 : 0,
          patch?.status ?? null,
          patch !== undefined ? JSON.stringify(patch.interrupts) : null,
          patch?.nodeStates === undefined ? null : JSON.stringify(patch.nodeStates),
          patch !== undefined && "error" in patch ? 1 : 0,
          patch?.error ?? null,
          patch !== undefined && "pauseReason" in patch ? 1 : 0,
          patch?.pauseReason ?? null,
          patch !== undefined && "wakeAt" in patch ? 1 : 0,
          patch?.wakeAt ?? null,
          release ? 1 : 0,
          claim !== undefined ? 1 : 0,
          claim?.workflowId ?? null,
          claim !== undefined ? now + claim.leaseMillis : 0,
          now,
          claim?.pending === undefined ? null : JSON.stringify(claim.pending)
        ]).pipe(
          Effect.catchIf(isBusyRaise, () => busy(threadId)),
          Effect.zipLeft(release ? walCheckpoint : Effect.void)
        )
      }),

    putTask: (threadId, runId, checkpointId, record) =>
      Effect.flatMap(
        db.writeOnce("putTask", Sql.putTask, [
          threadId,
          checkpointId,
          record.taskId,
          JSON.stringify(record),
          threadId,
          runId,
          threadId,
          checkpointId
        ]),
        (rows) => (rows.length === 0 ? busy(threadId) : Effect.void)
      ),

    setStatus: (threadId, runId, checkpointId, patch) =>
      db.write("setStatus", (tx) => setStatusIn(tx, threadId, runId, checkpointId, patch)),

    load: (threadId, checkpointId) =>
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
      }),

    history: (threadId, options) =>
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
        )),

    listByThread: (threadId, options) =>
      query("listByThread", threadId, Sql.listByThread, [
        threadId,
        ...filterParams(options)
      ], options),

    listByWorkflow: (workflowId, options) =>
      query("listByWorkflow", undefined, Sql.listByWorkflow, [
        workflowId,
        ...filterParams(options)
      ], options),

    listThreads: (options) =>
      summaries("listThreads", Sql.listThreads, [
        statusParam(options?.status),
        statusParam(options?.status),
        options?.workflowId ?? null,
        options?.workflowId ?? null,
        limitParam(options?.limit)
      ]),

    dueSleepers: (now, limit) => summaries("dueSleepers", Sql.dueSleepers, [now, limitParam(limit)]),

    delete: (executionId) =>
      db.write("delete", (tx) =>
        Effect.gen(function*() {
          let n = 0
          for (const { thread_id } of yield* tx.all(Sql.threadsOfExecution, [executionId])) {
            const rows = yield* tx.all(Sql.deleteExecution, [thread_id, executionId])
            n += rows.length
            yield* repair(tx, thread_id, new Set(rows.map((r) => r.checkpoint_id)))
          }
          yield* tx.all(Sql.forgetExecution, [executionId])
          return n
        })),

    deleteThread: (threadId) =>
      db.write("deleteThread", (tx) =>
        Effect.gen(function*() {
          const rows = yield* tx.all(Sql.deleteThreadCheckpoints, [threadId])
          yield* tx.all(Sql.deleteThreadBlobs, [threadId])
          yield* tx.all(Sql.deleteThreadTasks, [threadId])
          yield* tx.all(Sql.deleteThreadExecutions, [threadId])
          executions.delete(threadId)
          yield* tx.all(Sql.deleteThreadRow, [threadId])
          yield* tx.all(Sql.deleteThreadFences, [threadId])
          for (const key of maps.keys()) if (key.startsWith(threadId + "\u0000")) maps.delete(key)
          return rows.length
        })),

    cleanup: ({ batchSize, dryRun, olderThan, onBatch, statuses }) =>
      Effect.gen(function*() {
        const wanted = JSON.stringify(statuses ?? ["completed", "failed"])
        // removing a batch does not change which other checkpoints are candidates
        if (dryRun === true) {
          return yield* db.read("cleanup", (tx) =>
            Effect.map(tx.all(Sql.cleanupCandidates, [wanted, olderThan, -1]), (rows) => rows.length))
        }
        const batch = Math.max(1, Math.floor(batchSize ?? 500))
        let total = 0
        while (true) {
          const n = yield* db.write("cleanup", (tx) =>
            Effect.gen(function*() {
              const candidates = yield* tx.all(Sql.cleanupCandidates, [wanted, olderThan, batch])
              if (candidates.length === 0) return 0
              const rows = yield* tx.all(Sql.deleteCheckpoints, [
                JSON.stringify(candidates.map((c) => [c.thread_id, c.checkpoint_id]))
              ])
              for (const [threadId, ids] of deleted(rows)) yield* repair(tx, threadId, ids)
              return candidates.length
            }))
          total += n
          if (onBatch !== undefined && n > 0) yield* onBatch(total)
          if (n < batch) return total
        }
      })
  }
  // a span for each operation off the hot path (claim, commit, putTask, setStatus and release
  // run once per step or per run and stay lean)
  const spanOptions = { attributes: { "db.system.name": dialect.system }, kind: "client", captureStackTrace: false } as const
  const traced = <A extends ReadonlyArray<any>, B, E>(name: string, f: (...args: A) => Effect.Effect<B, E>) => (...args: A) =>
    Effect.withSpan(f(...args), `${dialect.name}.${name}`, spanOptions)
  return {
    ...backend,
    claim: naming(backend.claim),
    commit: naming(backend.commit),
    commitAll: naming(backend.commitAll),
    settle: naming(backend.settle),
    putTask: naming(backend.putTask),
    setStatus: naming(backend.setStatus),
    leases: traced("leases", backend.leases),
    releaseLease: traced("releaseLease", backend.releaseLease),
    load: traced("load", backend.load),
    history: traced("history", backend.history),
    listByThread: traced("listByThread", backend.listByThread),
    listByWorkflow: traced("listByWorkflow", backend.listByWorkflow),
    listThreads: traced("listThreads", backend.listThreads),
    dueSleepers: traced("dueSleepers", backend.dueSleepers),
    delete: traced("delete", backend.delete),
    deleteThread: traced("deleteThread", backend.deleteThread),
    cleanup: traced("cleanup", backend.cleanup)
  }
}
