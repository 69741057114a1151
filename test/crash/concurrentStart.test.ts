/**
 * Several processes start on one new SQLite file at once: the migrations run once, every process
 * gets a working store.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Snapshots, SqliteSnapshots } from "../../src/index.js"

const here = path.dirname(fileURLToPath(import.meta.url))

const run = (filename: string, threadId: string) =>
  Effect.async<{ readonly code: number | null; readonly stdout: string; readonly stderr: string }>((resume) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(here, "open.ts"), filename, threadId], {
      cwd: path.resolve(here, "../.."),
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk) => (stdout += chunk))
    child.stderr.on("data", (chunk) => (stderr += chunk))
    child.on("exit", (code) => resume(Effect.succeed({ code, stdout, stderr })))
    return Effect.sync(() => child.kill("SIGKILL"))
  })

describe("concurrent start", () => {
  it.scopedLive("six processes open one new file at once: migrations run once, all of them work", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stategraph-open-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
      const filename = path.join(dir, "shared.db")
      const threads = ["p1", "p2", "p3", "p4", "p5", "p6"]
      const results = yield* Effect.forEach(threads, (t) => run(filename, t), { concurrency: "unbounded" })
      for (const r of results) {
        expect(r.stderr).toBe("")
        expect(r.code).toBe(0)
        expect(r.stdout).toContain("DONE")
      }
      yield* Effect.gen(function*() {
        const store = yield* Snapshots.Snapshots
        const summaries = yield* store.listThreads()
        expect(summaries.map((s) => s.threadId).sort()).toEqual(threads)
        expect(summaries.every((s) => s.status === "completed")).toBe(true)
      }).pipe(Effect.provide(SqliteSnapshots.layer({ filename })))
      const migrations = yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        return yield* sql<{ readonly migration_id: number }>`SELECT migration_id FROM stategraph_migrations`
      }).pipe(Effect.provide(SqliteSnapshots.layerSqlClient({ filename })))
      expect(migrations).toEqual([{ migration_id: 1 }, { migration_id: 2 }, { migration_id: 3 }, { migration_id: 4 }, { migration_id: 5 }, { migration_id: 6 }, { migration_id: 7 }])
    }), 120_000)
})
