/**
 * The `stategraph` CLI: every command through `Cli.run` in this process, against a real SQLite
 * file named by a real config file (the bin as a spawned process: process.test.ts).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Fiber } from "effect"
import { SqliteSnapshots } from "effect-stategraph"
import * as Cli from "effect-stategraph/Cli"
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest"
import { approval, stuck, twoQuestions } from "./graphs.js"

const graphsModule = path.join(import.meta.dirname, "graphs.ts")

let dir = ""
let config = ""
let db = ""

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "esg-cli-"))
  config = path.join(dir, "stategraph.config.mjs")
  db = path.join(dir, "threads.db")
  fs.writeFileSync(
    config,
    `export default { graphs: ${JSON.stringify(["approval", "twoQuestions", "crawl", "stuck"].map((e) => `${graphsModule}:${e}`))}, store: { sqlite: "threads.db" } }\n`
  )
})

afterEach(() => vi.restoreAllMocks())

/** Runs the CLI in this process; resolves to its exit code and what it printed. */
const cli = async (...args: ReadonlyArray<string>) => {
  const lines: Array<string> = []
  const log = vi.spyOn(console, "log").mockImplementation((...xs: Array<unknown>) => void lines.push(xs.join(" ")))
  const exit = await Effect.runPromise(Effect.exit(Cli.run(["node", "stategraph", "--config", config, ...args])))
  log.mockRestore()
  return { code: Cli.exitCode(exit), out: lines.join("\n"), exit }
}

const json = async (...args: ReadonlyArray<string>) => {
  const r = await cli(...args, "--json")
  expect(r.code).toBe(0)
  return JSON.parse(r.out)
}

/** Starts threads of the approval graph in this process; each pauses on its review. */
const seed = (...threadIds: ReadonlyArray<string>) =>
  Effect.runPromise(
    Effect.forEach(threadIds, (threadId) => Effect.ignore(approval.invoke({ draft: threadId }, { threadId }))).pipe(
      Effect.provide(SqliteSnapshots.layer({ filename: db }))
    )
  )

describe("stategraph threads", () => {
  it("list: a table of threads, filters, JSON; a bad status is a usage error", async () => {
    await seed("t-1", "t-2")
    const table = await cli("threads", "list")
    expect(table.code).toBe(0)
    expect(table.out.split("\n")[0]).toMatch(/^THREAD\s+GRAPH\s+STATUS\s+UPDATED\s+PENDING$/)
    expect(table.out).toMatch(/t-2\s+cli-approval\s+paused\s+\S+ \S+\s+1/)
    const rows = await json("threads", "list", "--status", "paused", "--graph", "cli-approval")
    expect(rows.map((r: { threadId: string }) => r.threadId).sort()).toEqual(["t-1", "t-2"])
    expect(await json("threads", "list", "--status", "completed")).toEqual([])
    expect((await cli("threads", "list", "--status", "sleepy")).code).toBe(2)
  })

  it("show: state, next nodes and the pending question with its answer schema; unknown thread exits 3", async () => {
    await seed("t-1")
    const doc = await json("threads", "show", "t-1")
    expect(doc).toMatchObject({ threadId: "t-1", graph: "cli-approval", status: "paused", next: ["review"], values: { draft: "t-1!" } })
    expect(doc.pending).toHaveLength(1)
    expect(doc.pending[0]).toMatchObject({ kind: "CliReview", request: { draft: "t-1!" } })
    expect(doc.pending[0].answerSchema).toMatchObject({ type: "object", required: ["approved"] })
    const human = await cli("threads", "show", "t-1")
    expect(human.out).toContain("? CliReview")
    expect((await cli("threads", "show", "nope")).code).toBe(3)
  })

  it("resume: a wrong answer prints the schema issue and writes nothing; the right one completes the thread", async () => {
    await seed("t-1")
    const before = await json("threads", "history", "t-1")
    const wrong = await cli("threads", "resume", "t-1", "--answer", `{"approved":"yes"}`)
    expect(wrong.code).toBe(1)
    expect(String(wrong.exit._tag === "Failure" && JSON.stringify(wrong.exit.cause))).toContain("Expected boolean")
    expect(await json("threads", "history", "t-1")).toEqual(before)
    expect((await cli("threads", "resume", "t-1", "--answer", "not json")).code).toBe(2)
    expect((await cli("threads", "resume", "t-1")).code).toBe(2)
    expect((await cli("threads", "resume", "t-1", "--answer", "{}", "--interrupt", "nope")).code).toBe(3)
    const done = await json("threads", "resume", "t-1", "--answer", `{"approved":true}`)
    expect(done).toMatchObject({ status: "completed", values: { log: ["wrote", "approved"] }, pending: [] })
    expect((await cli("threads", "resume", "t-1", "--answer", `{"approved":true}`)).code).toBe(1)
  })

  it("resume with several questions pending needs --interrupt; each is answered by id", async () => {
    await Effect.runPromise(
      Effect.ignore(twoQuestions.invoke({}, { threadId: "two" })).pipe(Effect.provide(SqliteSnapshots.layer({ filename: db })))
    )
    expect((await cli("threads", "resume", "two", "--answer", `{"approved":true}`)).code).toBe(2)
    const [first, second] = (await json("threads", "show", "two")).pending
    const after = await json("threads", "resume", "two", "--interrupt", first.id, "--answer", `{"approved":true}`)
    expect(after.pending.map((p: { id: string }) => p.id)).toEqual([second.id])
    expect(await json("threads", "resume", "two", "--interrupt", second.id, "--answer", `{"approved":false}`)).toMatchObject({
      status: "completed"
    })
  })

  it("history and fork: continuing from an earlier checkpoint pauses again on a new branch", async () => {
    await seed("t-1")
    await cli("threads", "resume", "t-1", "--answer", `{"approved":true}`)
    const history = await json("threads", "history", "t-1")
    expect(history.map((h: { status: string }) => h.status)[0]).toBe("completed")
    const step1 = history.find((h: { step: number }) => h.step === 1)
    const forked = await json("threads", "fork", "t-1", "--checkpoint", step1.checkpointId)
    expect(forked).toMatchObject({ status: "paused", parentCheckpointId: step1.checkpointId })
    expect((await cli("threads", "fork", "t-1", "--checkpoint", "nope")).code).toBe(3)
    const table = await cli("threads", "history", "t-1")
    expect(table.out.split("\n")[0]).toMatch(/^STEP\s+CHECKPOINT\s+STATUS\s+NEXT\s+PENDING\s+CREATED$/)
  })

  it("delete: removes the thread; deleting it again exits 3", async () => {
    await seed("t-1", "t-2")
    expect(await json("threads", "delete", "t-1")).toMatchObject({ threadId: "t-1" })
    expect((await json("threads", "list")).map((r: { threadId: string }) => r.threadId)).toEqual(["t-2"])
    expect((await cli("threads", "delete", "t-1")).code).toBe(3)
  })
})

describe("stategraph threads leases / release", () => {
  it("shows who holds a thread until when; release is refused while alive unless --force", async () => {
    const running = Effect.runFork(
      Effect.ignore(stuck.invoke({}, { threadId: "held" })).pipe(Effect.provide(SqliteSnapshots.layer({ filename: db })))
    )
    let leases: Array<{ threadId: string; holder: string; alive: boolean }> = []
    for (let i = 0; i < 200 && leases.length === 0; i++) {
      leases = (await json("threads", "leases")).filter((l: { threadId: string }) => l.threadId === "held")
      if (leases.length === 0) await new Promise((r) => setTimeout(r, 25))
    }
    expect(leases).toEqual([expect.objectContaining({ threadId: "held", workflowId: "cli-stuck", alive: true })])
    expect((await cli("threads", "leases")).out).toMatch(/held\s+cli-stuck\s+\S+\s+\S+ \S+\s+alive/)
    const refused = await cli("threads", "release", "held")
    expect(refused.code).toBe(1)
    expect(JSON.stringify(refused.exit)).toContain(leases[0]!.holder)
    expect(await json("threads", "release", "held", "--force")).toMatchObject({ threadId: "held", holder: leases[0]!.holder })
    expect(await json("threads", "leases")).toEqual([])
    expect((await cli("threads", "release", "held")).code).toBe(3)
    await Effect.runPromise(Fiber.interrupt(running))
  })
})

describe("stategraph snapshots and graph", () => {
  it("snapshots list / show (FlowDrop's node states) / cleanup: the dry run counts what the cleanup removes", async () => {
    await seed("t-1", "t-2")
    await cli("threads", "resume", "t-1", "--answer", `{"approved":true}`)
    const heads = await json("snapshots", "list", "--graph", "cli-approval")
    expect(heads.map((h: { threadId: string }) => h.threadId).sort()).toEqual(["t-1", "t-2"])
    const all = await json("snapshots", "list", "--thread", "t-1")
    expect(all.length).toBeGreaterThan(2)
    const done = heads.find((h: { threadId: string }) => h.threadId === "t-1")
    const snapshot = await json("snapshots", "show", done.executionId)
    expect(snapshot).toMatchObject({ executionId: done.executionId, status: "completed" })
    expect(snapshot.nodeStates.review).toMatchObject({ status: "completed", injected: false })
    expect((await cli("snapshots", "show", "nope")).code).toBe(3)

    const dry = await json("snapshots", "cleanup", "--older-than", "0s", "--dry-run")
    expect(dry).toMatchObject({ dryRun: true, removed: 0 })
    expect(dry.candidates).toBe(all.length - 1)
    expect(await json("snapshots", "list", "--thread", "t-1")).toHaveLength(all.length)
    const real = await json("snapshots", "cleanup", "--older-than", "0s", "--status", "completed", "--batch-size", "1")
    expect(real).toMatchObject({ removed: dry.candidates })
    expect(await json("snapshots", "list", "--thread", "t-1")).toHaveLength(1)
    // the paused thread was not touched
    expect((await json("threads", "show", "t-2")).status).toBe("paused")
    expect((await cli("snapshots", "cleanup", "--older-than", "7 days")).code).toBe(2)
    expect((await cli("snapshots", "cleanup", "--older-than", "7d", "--status", "done")).code).toBe(2)
  })

  it("cleanup on a terminal: a progress bar per batch on stderr, then the summary", async () => {
    await seed("p-1", "p-2", "p-3")
    for (const t of ["p-1", "p-2", "p-3"]) await cli("threads", "resume", t, "--answer", `{"approved":true}`)
    const dry = await json("snapshots", "cleanup", "--older-than", "0s", "--status", "completed", "--dry-run")
    expect(dry.candidates).toBeGreaterThan(3)
    // stderr as a terminal: what the bar writes there
    const written: Array<string> = []
    const wasTTY = process.stderr.isTTY
    Object.defineProperty(process.stderr, "isTTY", { value: true, configurable: true })
    vi.spyOn(process.stderr, "write").mockImplementation((chunk: unknown) => (written.push(String(chunk)), true))
    try {
      const r = await cli("snapshots", "cleanup", "--older-than", "0s", "--status", "completed", "--batch-size", "2")
      expect(r.code).toBe(0)
      expect(r.out).toMatch(new RegExp(`^removed ${dry.candidates} checkpoints older than 0s of completed threads in \\d+ ms`))
    } finally {
      Object.defineProperty(process.stderr, "isTTY", { value: wasTTY, configurable: true })
    }
    const bars = written.filter((w) => w.startsWith("\r["))
    // one bar per batch of two, counting up to the total, then a newline
    expect(bars.length).toBe(Math.ceil(dry.candidates / 2))
    expect(bars.at(-1)).toBe(`\r[${"#".repeat(30)}] ${dry.candidates}/${dry.candidates}`)
    const counts = bars.map((b) => Number(/\] (\d+)\//.exec(b)![1]))
    expect(counts).toEqual([...counts].sort((a, b) => a - b))
    expect(written.at(-1)).toBe("\n")
    // off a terminal: no bar
    written.length = 0
    await seed("p-4")
    await cli("threads", "resume", "p-4", "--answer", `{"approved":true}`)
    expect((await cli("snapshots", "cleanup", "--older-than", "0s", "--status", "completed", "--batch-size", "1")).code).toBe(0)
    expect(written.filter((w) => w.startsWith("\r["))).toEqual([])
  })

  it("graph list / mermaid; an unknown graph exits 3, a missing renderer 1", async () => {
    expect((await json("graph", "list")).map((g: { id: string }) => g.id)).toEqual(["cli-approval", "cli-two", "cli-crawl", "cli-stuck"])
    const drawing = await cli("graph", "mermaid", "cli-approval")
    expect(drawing.out).toBe(approval.toMermaid())
    expect((await cli("graph", "mermaid", "nope")).code).toBe(3)
    const svg = await cli("graph", "mermaid", "cli-approval", "--format", "svg")
    expect(svg.code).toBe(1)
    expect(JSON.stringify(svg.exit)).toContain("no offline Mermaid renderer is installed")
  })

  it("init scaffolds a project and refuses to overwrite it", async () => {
    const project = path.join(dir, "project")
    expect((await cli("init", "--dir", project)).code).toBe(0)
    for (const f of ["package.json", "stategraph.config.js", "graphs/approval.js", "start.js", ".gitignore"]) {
      expect(fs.existsSync(path.join(project, f))).toBe(true)
    }
    expect((await cli("init", "--dir", project)).code).toBe(1)
    expect((await cli("init", "--dir", project, "--force")).code).toBe(0)
  })
})


describe("stategraph tokens and serve", () => {
  it("tokens create / list / revoke; bad permissions are a usage error, an unknown id exits 3", async () => {
    expect((await cli("tokens", "create", "--permissions", "view,fly")).code).toBe(2)
    expect((await cli("tokens", "create", "--permissions", "view", "--graphs", "nope")).code).toBe(2)
    const created = await json("tokens", "create", "--permissions", "view,edit", "--graphs", "cli-approval", "--name", "inbox")
    expect(created).toMatchObject({ name: "inbox", permissions: ["view", "edit"], graphs: ["cli-approval"], revokedAt: null })
    expect(created.token).toMatch(/^sgt_/)
    const listed = await json("tokens", "list")
    expect(listed).toEqual([expect.objectContaining({ tokenId: created.tokenId, name: "inbox" })])
    expect(JSON.stringify(listed)).not.toContain(created.token)
    expect(await json("tokens", "revoke", created.tokenId)).toEqual({ tokenId: created.tokenId, revoked: true })
    expect((await json("tokens", "list"))[0].revokedAt).not.toBeNull()
    expect((await cli("tokens", "revoke", "nope")).code).toBe(3)
  })

  it("serve: listens, answers /ok, accepts a created token and refuses it (401) once revoked; stops when interrupted", async () => {
    const created = await json("tokens", "create", "--permissions", "view")
    const lines: Array<string> = []
    const log = vi.spyOn(console, "log").mockImplementation((...xs: Array<unknown>) => void lines.push(xs.join(" ")))
    const fiber = Effect.runFork(Cli.run(["node", "stategraph", "--config", config, "serve", "--port", "0", "--host", "127.0.0.1", "--json"]))
    let started: { url: string; graphs: Array<string>; auth: boolean; activeTokens: number } | undefined
    for (let i = 0; i < 400 && started === undefined; i++) {
      const line = lines.find((l) => l.includes("\"url\""))
      if (line !== undefined) started = JSON.parse(line)
      else await new Promise((r) => setTimeout(r, 25))
    }
    expect(started).toMatchObject({ graphs: ["cli-approval", "cli-two", "cli-crawl", "cli-stuck"], auth: true, activeTokens: 1 })
    const url = started!.url
    expect(await (await fetch(`${url}/ok`)).json()).toEqual({ ok: true })
    const search = (token?: string) =>
      fetch(`${url}/assistants/search`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
        body: "{}"
      })
    expect((await search()).status).toBe(401)
    const ok = await search(created.token)
    expect(ok.status).toBe(200)
    expect(((await ok.json()) as Array<{ assistant_id: string }>).map((a: { assistant_id: string }) => a.assistant_id)).toContain("cli-approval")
    log.mockRestore()
    await json("tokens", "revoke", created.tokenId)
    expect((await search(created.token)).status).toBe(401)
    const exit = await Effect.runPromise(Fiber.interrupt(fiber))
    expect(Cli.exitCode(exit)).toBe(0)
    await expect(fetch(`${url}/ok`)).rejects.toThrow()
  })
})
