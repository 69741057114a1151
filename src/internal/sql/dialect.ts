/**
 * What the storage core is given: a dialect (its statements and, on SQLite, the one-statement
 * commit and settle) and the store's options.
 */
import * as SqliteSql from "../sqlite/statements.js"

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
  /**
   * Asks a background checkpointer for a WAL checkpoint (SQLite, `sqlite/checkpointer.ts`): then
   * every `walCheckpointAfterCommits` commits ask it for a passive one, a run that releases its
   * thread after as many commits since the last time for one that empties the WAL file, and no
   * checkpoint runs on the store's own connection (the JavaScript thread never waits for their
   * disk flushes) unless the checkpointer answers `false` (it fell behind: the WAL is emptied here).
   */
  readonly requestCheckpoint?: ((truncate: boolean) => boolean) | undefined
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
  /**
   * The common commit as one statement that refuses by returning no row (Postgres: a
   * data-modifying CTE), with the parameters of SQLite's `commitOne`. Used when `oneStatement`
   * is not given.
   */
  readonly commitOne?: string | undefined
  /**
   * A settle that answers no pending interrupt, as one statement that refuses by returning no
   * row (Postgres), with the parameters of SQLite's `settle`. Used when `oneStatement` is not
   * given; other settles are a transaction.
   */
  readonly settleOne?: string | undefined
}

/** @internal */
export const sqliteDialect: Dialect = {
  name: "SqliteSnapshots",
  system: "sqlite",
  sql: SqliteSql,
  oneStatement: { commit: SqliteSql.commitOne, settle: SqliteSql.settle, busyMessage: SqliteSql.BUSY_MESSAGE }
}
