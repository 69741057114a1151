/**
 * `npm run example:server` runs as a user would run it, in a fresh directory: the server starts
 * on SQLite and the LangGraph client takes a thread through a pause and a resume.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { describe, expect, it } from "vitest"
import { runNode } from "../fixtures/runNode.js"

const root = path.resolve(import.meta.dirname, "../..")
const tsx = pathToFileURL(path.join(root, "node_modules/tsx/dist/loader.mjs")).href

describe("example:server", () => {
  it("pauses on a question, refuses a wrong answer, resumes with the right one", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "esg-example-server-"))
    const out = await runNode(["--import", tsx, path.join(root, "examples/server.ts"), "--db", path.join(dir, "s.db")], { cwd: dir, timeout: 60_000 })
    expect(out).toMatch(/serving on http:\/\/127\.0\.0\.1:\d+/)
    expect(out).toContain("assistant: approval-flow")
    expect(out).toContain("__interrupt__")
    expect(out).toContain("status: interrupted; question Approval")
    expect(out).toContain("a wrong answer: HTTP 422")
    expect(out).toContain(`"log":["written","approved (ship it)"]`)
    expect(out).toContain("status: idle")
    expect(fs.existsSync(path.join(dir, "s.db"))).toBe(true)
  })
})
