/**
 * Every example runs non-interactively, as a user would run it, in a fresh directory.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { describe, expect, it } from "vitest"
import { runNode } from "./fixtures/runNode.js"

const root = path.resolve(import.meta.dirname, "..")
// the examples run where a user would run them; tsx is resolved from the project
const tsx = pathToFileURL(path.join(root, "node_modules/tsx/dist/loader.mjs")).href

const run = (script: string, args: ReadonlyArray<string>, cwd: string) =>
  runNode(["--import", tsx, path.join(root, "examples", script), ...args], { cwd, timeout: 60_000 })

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "esg-examples-"))

describe("examples", () => {
  it("demo: pauses in one process and resumes in a second one", async () => {
    const dir = tmp()
    const out = await run("demo.ts", ["--db", path.join(dir, "demo.db")], dir)
    expect(out).toContain("flowchart TD")
    expect(out).toContain("⏸  paused: Confirmation")
    const pids = [...out.matchAll(/── process (\d+)/g)].map((m) => m[1])
    expect(new Set(pids).size).toBe(2)
    expect(out).toContain("Done: Ada has the meeting notes.")
    expect(out).toMatch(/step\s+3 completed/)
    expect(out).toContain("Confirmation:answered")
  })

  it("approval-flow: paused, rejected from one command, approved from another", async () => {
    const dir = tmp()
    const db = path.join(dir, "approval.db")
    const first = await run("approval-flow.ts", ["--db", db, "--thread", "t1"], dir)
    expect(first).toContain("paused at Approval")
    expect(first).toContain("a first draft")
    const second = await run("approval-flow.ts", ["--db", db, "--thread", "t1", "--reject", "shorter"], dir)
    expect(second).toContain(`revised after \\"shorter\\"`)
    const third = await run("approval-flow.ts", ["--db", db, "--thread", "t1", "--approve"], dir)
    expect(third).toContain("published:")
    expect(third).toContain("completed after 2 revision(s)")
  })

  it("resume-thread: lists paused threads and resumes one with a command-line answer", async () => {
    const dir = tmp()
    const db = path.join(dir, "approval.db")
    await run("approval-flow.ts", ["--db", db, "--thread", "a"], dir)
    await run("approval-flow.ts", ["--db", db, "--thread", "b"], dir)
    const list = await run("resume-thread.ts", ["--db", db], dir)
    expect(list).toMatch(/^a\s+Approval/m)
    expect(list).toMatch(/^b\s+Approval/m)
    const resumed = JSON.parse((await run("resume-thread.ts", ["--db", db, "--thread", "b", "--approve"], dir)).split("\n").filter((l) => !l.startsWith("published")).join("\n"))
    expect(resumed.status).toBe("completed")
    expect(resumed.values.published).toBe(true)
    const after = await run("resume-thread.ts", ["--db", db], dir)
    expect(after).toMatch(/^a\s+Approval/m)
    expect(after).not.toMatch(/^b\s+Approval/m)
  })

  it("chat-agent: the second run continues the same conversation", async () => {
    const dir = tmp()
    const db = path.join(dir, "chat.db")
    const first = await run("chat-agent.ts", ["--db", db], dir)
    expect(first).toContain("new thread chat-1")
    expect(first).toContain("That is 42.")
    const second = await run("chat-agent.ts", ["--db", db], dir)
    expect(second).toContain("continuing thread chat-1")
    expect(second).toContain("You have said 4 thing(s)")
  })

  it("tool-approval: approved sends, rejected is fed back to the model", async () => {
    const dir = tmp()
    const approved = await run("tool-approval.ts", ["--approve"], dir)
    expect(approved).toContain(`e-mail "Meeting notes" sent to ada@example.com`)
    expect(approved).toContain("Done: Ada has the meeting notes.")
    const rejected = await run("tool-approval.ts", ["--reject"], dir)
    expect(rejected).not.toContain("sent to ada@example.com\"")
    expect(rejected).toContain("The user rejected this tool call")
    expect(rejected).toContain("OK, I did not send the e-mail.")
  })
})
