/**
 * The orchestrator examples run as a user would run them.
 */
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { describe, expect, it } from "vitest"
import { runNode } from "./fixtures/runNode.js"

const root = path.resolve(import.meta.dirname, "..")
const tsx = pathToFileURL(path.join(root, "node_modules/tsx/dist/loader.mjs")).href

const run = (script: string) =>
  runNode(["--import", tsx, path.join(root, "examples", script)], { timeout: 60_000 })

describe("orchestrator examples", () => {
  it("handover: sync runs two steps, async workers finish, injected nodes are not re-run", async () => {
    const out = await run("handover.ts")
    expect(out).toContain("sync: running; completed fetch, parse; next summarize")
    expect(out).toContain("pipeline completed: 4 jobs completed")
    expect(out).toMatch(/job fetch\s+completed\s+injected/)
    expect(out).toMatch(/node summarize\s+completed injected=false/)
    expect(out).toContain("each node ran once: fetch → parse → summarize → publish")
  }, 60_000)

  it("workers: two worker processes share the queue and complete every pipeline", async () => {
    const out = await run("workers.ts")
    expect(out).toContain("all 3 pipelines completed")
    // 3 pipelines × (plan + 4 fetches + summarize), each job run once, all by the worker processes
    const counts = [...out.matchAll(/pid-(\d+)\/\d: (\d+)/g)].map((m) => Number(m[2]))
    expect(counts.reduce((a, b) => a + b, 0)).toBe(18)
  }, 60_000)
})
