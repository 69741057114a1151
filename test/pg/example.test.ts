/**
 * `npm run example:postgres` as a user would run it: it starts its own throwaway server, two
 * worker processes and an API process, and every pipeline completes.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { describe, expect, it } from "vitest"
import { runNode } from "../fixtures/runNode.js"

const root = path.resolve(import.meta.dirname, "../..")
const tsx = pathToFileURL(path.join(root, "node_modules/tsx/dist/loader.mjs")).href

describe("examples/postgres.ts", () => {
  it("queues on one process, two worker processes run every job, the approvals are answered", async () => {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), "esg-example-pg-"))
    const out = await runNode(["--import", tsx, path.join(root, "examples", "postgres.ts")], { cwd, timeout: 110_000 })
    expect(out).toMatch(/PostgreSQL on 127\.0\.0\.1:\d+ \(throwaway\)/)
    expect(out).toContain("queued 3 pipelines")
    for (const r of ["alpha", "beta", "gamma"]) expect(out).toContain(`approved ${r}`)
    expect(out).toContain("all 3 pipelines completed")
    // 3 pipelines × (plan + 3 reviews + approve + the resumed approve), all run by the two worker processes
    const counts = [...out.matchAll(/pid-(\d+)\/\d: (\d+)/g)]
    expect(new Set(counts.map((m) => m[1])).size).toBe(2)
    expect(counts.reduce((a, m) => a + Number(m[2]), 0)).toBe(18)
    expect(out).toContain("alpha: published=true, 3 reviews")
    fs.rmSync(cwd, { recursive: true, force: true })
  }, 120_000)
})
