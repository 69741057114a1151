/**
 * Crash safety, for real: child processes run a long thread on a SQLite file and are SIGKILLed at
 * seeded random moments; each time a new process continues the thread. At the end the state is
 * that of an uninterrupted run, every step is in the history once, no task's write was applied
 * twice, and the file passes `PRAGMA integrity_check`.
 *
 * CRASH_KILLS (default 30) and CRASH_SEED (default 20240611) make a longer or another run.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Snapshots, SqliteSnapshots } from "../../src/index.js"
import { expectedFinal, makeGraph } from "./graph.js"

const KILLS = Number(process.env.CRASH_KILLS ?? 30)
const SEED = Number(process.env.CRASH_SEED ?? 20240611)

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, "../..")
const worker = path.join(here, "worker.ts")

/** mulberry32: a small seeded generator */
const random = (seed: number) => () => {
  seed |= 0
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

type Life = { readonly killed: boolean; readonly done: boolean; readonly stderr: string }

/**
 * Runs the worker on the thread; once it is running its graph, kills it after `killAfter` ms
 * (undefined: lets it finish).
 */
const life = (filename: string, threadId: string, killAfter: number | undefined, durability: Durability) =>
  Effect.async<Life>((resume) => {
    const child = spawn(process.execPath, ["--import", "tsx", worker, filename, threadId, durability], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    let killed = false
    let timer: NodeJS.Timeout | undefined
    child.stdout.on("data", (chunk) => {
      stdout += chunk
      if (killAfter !== undefined && timer === undefined && stdout.includes("READY")) {
        timer = setTimeout(() => {
          killed = child.kill("SIGKILL")
        }, killAfter)
      }
    })
    child.stderr.on("data", (chunk) => {
      stderr += chunk
    })
    child.on("exit", () => {
      if (timer !== undefined) clearTimeout(timer)
      resume(Effect.succeed({ killed: killed && !stdout.includes("DONE"), done: stdout.includes("DONE"), stderr }))
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  })

class File extends Context.Tag("crash/File")<File, string>() {}

const store = (filename: string) =>
  Layer.merge(SqliteSnapshots.layer({ filename }), Layer.succeed(File, filename))

type Durability = "sync" | "async"

describe("crash safety", () => {
  // async durability loses the last few steps' checkpoints to a kill; a continued run computes
  // them again: the same final state, every step once in the history
  for (const [durability, kills] of [["sync", KILLS], ["async", Math.ceil(KILLS / 3)]] as const) {
    crashTest(durability, kills)
  }
})

function crashTest(durability: Durability, KILLS: number) {
  const graph = makeGraph(durability)
  it.scopedLive(`SIGKILL at ${KILLS} seeded random moments (durability ${durability}): the thread ends as if never interrupted`, () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stategraph-crash-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
      const filename = path.join(dir, "crash.db")
      const next = random(SEED)
      let kills = 0
      let threads = 0
      let lives = 0
      while (kills < KILLS) {
        const threadId = `thread-${threads++}`
        // a thread lives through kills until one of its processes finishes it
        while (true) {
          lives++
          // mostly mid-run, sometimes right at the start (claim, first commit)
          const r = next()
          const killAfter = kills >= KILLS ? undefined : r < 0.15 ? Math.floor(r * 40) : Math.floor(20 + next() * 250)
          const outcome = yield* life(filename, threadId, killAfter, durability)
          if (outcome.killed) {
            kills++
            continue
          }
          expect(outcome.stderr).not.toContain("FAILED")
          expect(outcome.done).toBe(true)
          break
        }
        // the thread as stored
        yield* Effect.gen(function*() {
          const state = yield* graph.getState(threadId)
          expect(state.status).toBe("completed")
          // the state of an uninterrupted run: every task's write applied exactly once
          expect(state.values).toEqual(expectedFinal())
          const history = yield* graph.history(threadId)
          // every step once, in order, one lineage from the first checkpoint
          expect(history.map((h) => h.step)).toEqual(Array.from({ length: history.length }, (_, i) => state.step - i))
          expect(history[history.length - 1]!.parentCheckpointId).toBeNull()
          expect(new Set(history.map((h) => h.checkpointId)).size).toBe(history.length)
          const snapshots = yield* Snapshots.Snapshots
          expect(yield* snapshots.listByThread(threadId)).toHaveLength(history.length)
        }).pipe(Effect.provide(store(filename)))
      }
      // the same graph uninterrupted, for reference
      const reference = yield* graph.invoke({ n: 0 }, { threadId: "reference" }).pipe(
        Effect.provide(SqliteSnapshots.layer({ filename: path.join(dir, "reference.db") }))
      )
      expect(reference).toEqual(expectedFinal())
      const check = yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        return yield* sql<{ integrity_check: string }>`PRAGMA integrity_check`
      }).pipe(Effect.provide(SqliteSnapshots.layerSqlClient({ filename })))
      expect(check).toEqual([{ integrity_check: "ok" }])
      expect(kills).toBeGreaterThanOrEqual(KILLS)
      console.log(`crash test (${durability}): ${kills} kills over ${lives} processes, ${threads} threads`)
    }), 600_000)
}
