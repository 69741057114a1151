/**
 * examples/memory-agent.ts runs as a user would run it, one process per conversation: what Ada
 * says in one thread, the agent knows in her next thread (a new process, the same SQLite file);
 * Bob's conversations know nothing of hers.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { describe, expect, it } from "vitest"
import { runNode } from "./fixtures/runNode.js"

const root = path.resolve(import.meta.dirname, "..")
const tsx = pathToFileURL(path.join(root, "node_modules/tsx/dist/loader.mjs")).href

const run = (args: ReadonlyArray<string>, cwd: string) =>
  runNode(["--import", tsx, path.join(root, "examples", "memory-agent.ts"), ...args], { cwd, timeout: 60_000 })

describe("examples/memory-agent", () => {
  it("remembers a preference from one thread in another, in another process", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "esg-memory-agent-"))
    const db = path.join(dir, "agent.db")
    try {
      const first = await run(["--db", db, "--user", "ada", "--thread", "ada-1", "I prefer answers in French."], dir)
      expect(first).toContain(`[call save_preference {"key":"language","value":"French"}]`)
      expect(first).toContain(`memories of ada: {"language":"French"}`)
      const second = await run(["--db", db, "--user", "ada", "--thread", "ada-2", "How do I say thank you?"], dir)
      expect(second).toContain("user ada, thread ada-2")
      // a new thread: the first conversation is not in it, the preference is
      expect(second).not.toContain("I prefer answers in French.")
      expect(second).toContain(`In French, as you prefer: "merci".`)
      const bob = await run(["--db", db, "--user", "bob", "--thread", "bob-1", "How do I say thank you?"], dir)
      expect(bob).toContain("(no preferred language saved)")
      expect(bob).toContain("memories of bob: {}")
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
