/**
 * WAL checkpoints off the hot path: a worker thread with its own connection to the store's file
 * runs `PRAGMA wal_checkpoint(PASSIVE)` when asked. A checkpoint's cost is its disk flushes (the
 * WAL, then the database file: ~1–1.5 ms here, 90–130 µs per fsync), which on the store's own
 * connection would block the JavaScript thread, since better-sqlite3 is synchronous. A passive
 * checkpoint takes no write lock: the store's commits go on meanwhile; once it has copied every
 * frame, the store's next write starts the WAL over from its beginning (the file is reused, not
 * regrown). If the worker falls behind, SQLite's own automatic checkpoint (1,000 pages, on the
 * store's connection) still bounds the WAL.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import { Worker } from "node:worker_threads"

/** @internal */
export interface Checkpointer {
  /**
   * Asks for a checkpoint, and with `truncate` for the WAL file to be emptied after it; requests
   * made while one runs are merged into the next. A truncate request answers `false` when the
   * WAL file is already above `inlineAboveBytes` (the worker fell behind) or the thread could not
   * be started: the caller should empty it itself too, so the file stays bounded however busy
   * the machine is.
   */
  readonly request: (truncate: boolean) => boolean
}

// CommonJS, evaluated in the worker: the driver is required by its resolved path. A request
// runs passive checkpoints until one finds no new frame (the store went on writing during the
// previous one's disk flushes; at most 8 rounds), so that the store's next write starts the WAL
// over; a "truncate" request then empties the WAL file (it needs the write lock for an instant,
// and waits up to 20 ms in this thread for the store's write in progress)
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads")
const Database = require(workerData.driver)
const db = new Database(workerData.filename, { fileMustExist: true })
db.pragma("busy_timeout = 0")
db.pragma("synchronous = " + workerData.synchronous)
const passive = db.prepare("PRAGMA wal_checkpoint(PASSIVE)")
const truncate = db.prepare("PRAGMA wal_checkpoint(TRUNCATE)")
let asked = false
let truncateAsked = false
const run = () => {
  const thenTruncate = truncateAsked
  asked = false
  truncateAsked = false
  try {
    let last = -1
    for (let i = 0; i < 8; i++) {
      const r = passive.get()
      if (r.busy !== 0 || r.log === last || r.log <= 0) break
      last = r.log
    }
    if (thenTruncate) {
      // waits (this thread only) for the store's write in progress, if any
      db.pragma("busy_timeout = 20")
      truncate.get()
      db.pragma("busy_timeout = 0")
    }
  } catch {}
}
parentPort.on("message", (m) => {
  if (m === "close") {
    db.close()
    parentPort.close()
    return
  }
  if (m === "truncate") truncateAsked = true
  if (!asked) {
    asked = true
    setImmediate(run)
  }
})
`

interface Running {
  readonly worker: Worker
  alive: boolean
}

/** The worker, or undefined when it cannot be started (SQLite's automatic checkpoints remain). */
const spawn = (filename: string, synchronous: "NORMAL" | "FULL"): Running | undefined => {
  try {
    const driver = createRequire(import.meta.url).resolve("better-sqlite3")
    const worker = new Worker(WORKER, { eval: true, workerData: { driver, filename, synchronous } })
    // never keeps the process alive; a failure to open leaves the store to SQLite's checkpoints
    worker.unref()
    const running: Running = { worker, alive: true }
    worker.on("error", () => {
      running.alive = false
    })
    worker.on("exit", () => {
      running.alive = false
    })
    return running
  } catch {
    return undefined
  }
}

/** Ends the worker: it finishes a checkpoint in progress, closes its connection and exits. */
const stop = (running: Running): Effect.Effect<void> =>
  !running.alive ? Effect.void : Effect.async<void>((resume) => {
    const timer = setTimeout(() => {
      void running.worker.terminate().finally(() => resume(Effect.void))
    }, 2000)
    running.worker.once("exit", () => {
      clearTimeout(timer)
      resume(Effect.void)
    })
    running.worker.postMessage("close")
  })

/**
 * The checkpointer of `filename` for the scope. Its thread starts at the first request (a store
 * that never makes `walCheckpointAfterCommits` commits costs nothing: a worker thread is ~10 MB
 * of RSS here) and ends when the scope closes. A request answers `false` when the thread cannot
 * be started.
 *
 * @internal
 */
export const start = (
  filename: string,
  synchronous: "NORMAL" | "FULL",
  inlineAboveBytes: number
): Effect.Effect<Checkpointer, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => ({ running: undefined as Running | undefined, failed: false })),
      (state) => (state.running === undefined ? Effect.void : stop(state.running))
    ),
    (state): Checkpointer => {
      const walBytes = () => {
        try {
          return fs.statSync(filename + "-wal").size
        } catch {
          return 0
        }
      }
      return {
        request: (truncate) => {
          if (state.running === undefined && !state.failed) {
            state.running = spawn(filename, synchronous)
            state.failed = state.running === undefined
          }
          if (state.running === undefined || !state.running.alive) return false
          state.running.worker.postMessage(truncate ? "truncate" : "passive")
          // fallen behind: the caller empties the WAL too (whoever gets the lock first does it)
          return !(truncate && walBytes() > inlineAboveBytes)
        }
      }
    }
  )
