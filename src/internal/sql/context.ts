/**
 * The state one SQL store shares between its parts (commit, read, settle, cleanup): the executor,
 * the dialect, and the caches of what this process committed (channel maps of recent
 * checkpoints, each thread's current execution), with the WAL checkpoint policy (SQLite).
 */
import * as Effect from "effect/Effect"
import { ThreadBusy } from "../../GraphError.js"
import * as Blobs from "./blobs.js"
import type * as Db from "./db.js"
import type { Dialect, Options, Statements } from "./dialect.js"

/** @internal */
export interface Context {
  readonly db: Db.Db
  readonly dialect: Dialect
  readonly Sql: Statements
  readonly one: Dialect["oneStatement"]
  readonly fanout: number
  /** channel maps of recent checkpoints (immutable once written), by thread and checkpoint */
  readonly maps: Map<string, Blobs.ChannelMap>
  readonly remember: (threadId: string, checkpointId: string, map: Blobs.ChannelMap) => void
  /**
   * The execution each thread's last commit here belonged to (its row in `stategraph_executions`
   * exists) and that execution's stored initial input (JSON text).
   */
  readonly executions: Map<string, { readonly executionId: string; readonly input: string | null }>
  /** an execution's input as stored (JSON text), encoded once per input object */
  readonly inputText: (input: unknown) => string | null
  readonly busy: (threadId: string) => Effect.Effect<never, ThreadBusy>
  /** counts a commit towards the next WAL checkpoint */
  readonly noteCommit: () => void
  /** checkpoints the WAL when enough commits were made since the last time (SQLite) */
  readonly walCheckpoint: Effect.Effect<void>
}

/** @internal */
export const make = (db: Db.Db, dialect: Dialect, options: Options = {}): Context => {
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
  const checkpointAfter = Math.max(0, Math.floor(options.walCheckpointAfterCommits ?? 8))
  const background = checkpointAfter === 0 ? undefined : options.requestCheckpoint
  let commitsSinceCheckpoint = 0
  let commitsSincePassive = 0
  const noteCommit = background === undefined
    ? () => {
      commitsSinceCheckpoint++
    }
    : () => {
      commitsSinceCheckpoint++
      // a passive checkpoint in the background thread: the store never waits for it
      if (++commitsSincePassive >= checkpointAfter) {
        commitsSincePassive = 0
        background(false)
      }
    }
  // TRUNCATE empties the WAL file; on a busy database (another process reading or writing, the
  // background checkpointer's pass) it gives up at once (the store's connection has busy_timeout
  // 0): the next release tries again, and SQLite's own auto-checkpoint bounds the WAL meanwhile
  const truncateHere = Effect.matchEffect(db.once("checkpoint", "PRAGMA wal_checkpoint(TRUNCATE)", []), {
    onFailure: () => Effect.void,
    onSuccess: (rows) =>
      Effect.sync(() => {
        if (Number(rows[0]?.busy ?? 0) === 0) commitsSinceCheckpoint = 0
      })
  })
  const walCheckpoint = background !== undefined
    ? Effect.suspend(() => {
      if (commitsSinceCheckpoint < checkpointAfter) return Effect.void
      commitsSincePassive = 0
      if (!background(true)) return truncateHere
      commitsSinceCheckpoint = 0
      return Effect.void
    })
    : Effect.suspend(() => {
      if (checkpointAfter === 0 || commitsSinceCheckpoint < checkpointAfter) return Effect.void
      return truncateHere
    })
  return {
    db,
    dialect,
    Sql,
    one,
    fanout,
    maps,
    remember,
    executions,
    inputText,
    busy,
    noteCommit,
    walCheckpoint
  }
}
