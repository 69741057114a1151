/**
 * The `stategraph` bin as a real spawned process: a project made by `init`, answered from the
 * terminal, and a worker process running queued jobs. (Slow: not in `npm run test:quick`.)
 */
import { execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { Effect, Layer } from "effect"
import { Graphs, Orchestrator, Pipeline } from "effect-stategraph"
import { Client } from "@langchain/langgraph-sdk"
import { beforeEach, describe, expect, it } from "vitest"
import { crawl } from "./graphs.js"

const root = path.resolve(import.meta.dirname, "../..")
const bin = path.join(root, "src/internal/cli/bin.ts")
// processes run where a user would run them; tsx is resolved from the project
const tsx = pathToFileURL(path.join(root, "node_modules/tsx/dist/loader.mjs")).href
const graphsModule = path.join(import.meta.dirname, "graphs.ts")

let dir = ""
let config = ""
let db = ""

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "esg-cli-process-"))
  config = path.join(dir, "stategraph.config.mjs")
  db = path.join(dir, "threads.db")
  fs.writeFileSync(config, `export default { graphs: [${JSON.stringify(`${graphsModule}:crawl`)}], store: { sqlite: "threads.db" } }\n`)
})

/** Runs the bin in a process of its own; resolves to its exit code and output. */
const run = (args: ReadonlyArray<string>, cwd: string) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    execFile(process.execPath, ["--import", tsx, bin, ...args], { cwd, encoding: "utf8" }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : (error as { code?: number }).code ?? null, stdout, stderr })))

describe("the stategraph bin, as a process", () => {
  it("a project made by init: start a thread, list it, answer wrong then right from the terminal", async () => {
    const project = path.join(dir, "project")
    expect((await run(["init", "--dir", project], dir)).code).toBe(0)
    // the scaffold imports the packages an app installs: here, this repository's
    fs.mkdirSync(path.join(project, "node_modules"))
    fs.symlinkSync(root, path.join(project, "node_modules", "effect-stategraph"))
    fs.symlinkSync(path.join(root, "node_modules", "effect"), path.join(project, "node_modules", "effect"))
    fs.symlinkSync(path.join(root, "node_modules", "@effect"), path.join(project, "node_modules", "@effect"))
    const started = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ["--import", tsx, "start.js", "post-1", "Hello"], { cwd: project, encoding: "utf8" }, (e, out, err) =>
        e ? reject(new Error(err)) : resolve(out)))
    expect(started.trim()).toBe("post-1: paused, waiting for Approval")
    const list = await run(["threads", "list"], project)
    expect(list.code).toBe(0)
    expect(list.stdout).toMatch(/post-1\s+approval\s+paused/)
    const wrong = await run(["threads", "resume", "post-1", "--answer", `{"approved":1}`], project)
    expect(wrong.code).toBe(1)
    expect(wrong.stderr).toContain("Expected boolean, actual 1")
    const right = await run(["threads", "resume", "post-1", "--answer", `{"approved":true}`, "--json"], project)
    expect(right.code).toBe(0)
    expect(JSON.parse(right.stdout)).toMatchObject({ status: "completed", values: { log: ["drafted", "approved", "published"] } })
    expect((await run(["threads", "show", "nope"], project)).code).toBe(3)
    expect((await run(["threads", "frobnicate"], project)).code).toBe(2)
  })

  it("worker: runs queued jobs, one log line per job, a periodic summary, and stops cleanly on SIGTERM", async () => {
    const layers = Orchestrator.layer({ fallback: "async" }, Orchestrator.layerAsync).pipe(
      Layer.provideMerge(Layer.mergeAll(Pipeline.layerSqlite({ filename: db }), Graphs.layer([crawl])))
    )
    const pipelineId = await Effect.runPromise(
      Effect.map(
        Orchestrator.orchestrate({ workflowId: crawl.id, graph: crawl, input: { pages: ["a", "b", "c"] } }, { id: "async" }),
        (r) => r.pipelineId!
      ).pipe(Effect.provide(layers))
    )
    const child = spawn(process.execPath, ["--import", tsx, bin, "--config", config, "worker", "--concurrency", "2", "--summary-every", "200ms"], {
      cwd: dir,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    child.stdout.on("data", (d) => (stdout += d))
    const status = () => Effect.runPromise(Pipeline.pipelineStatus(pipelineId).pipe(Effect.provide(layers)))
    for (let i = 0; i < 600 && (await status()).status !== "completed"; i++) await new Promise((r) => setTimeout(r, 50))
    expect((await status()).status).toBe("completed")
    // the periodic summary catches up with the five finished jobs
    const summarized = () => stdout.split("\n").some((l) => l.includes('"message":"summary"') && l.includes('"completed":5'))
    for (let i = 0; i < 600 && !summarized(); i++) await new Promise((r) => setTimeout(r, 50))
    const code = await new Promise<number | null>((resolve) => {
      child.on("close", (c) => resolve(c))
      child.kill("SIGTERM")
    })
    expect(code).toBe(0)
    const lines = stdout.trim().split("\n").map((l) => JSON.parse(l))
    const jobs = lines.filter((l) => l.message === "job completed")
    // plan, three fetches, summarize: each job once
    expect(jobs.map((l) => l.annotations.node).sort()).toEqual(["fetch", "fetch", "fetch", "plan", "summarize"])
    for (const l of jobs) {
      expect(l.annotations).toMatchObject({ pipeline: pipelineId, attempt: 1, outcome: "completed" })
      expect(typeof l.annotations.durationMs).toBe("number")
    }
    expect(lines.at(-1)).toMatchObject({ message: "worker stopped", annotations: { completed: 5, failed: 0 } })
    const summaries = lines.filter((l) => l.message === "summary")
    expect(summaries.length).toBeGreaterThanOrEqual(1)
    expect(summaries.at(-1)).toMatchObject({ logLevel: "INFO", annotations: { completed: 5, failed: 0, retried: 0 } })
  })

  it("serve: answers /ok and the LangGraph SDK with a token made by `tokens create`, 401 once revoked, exits 0 on SIGTERM", async () => {
    const created = await run(["--config", config, "tokens", "create", "--permissions", "view,edit", "--json"], dir)
    expect(created.code).toBe(0)
    const { token, tokenId } = JSON.parse(created.stdout)
    const child = spawn(process.execPath, ["--import", tsx, bin, "--config", config, "serve", "--port", "0", "--host", "127.0.0.1"], {
      cwd: dir,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    child.stdout.on("data", (d) => (stdout += d))
    for (let i = 0; i < 600 && !/listening on http:\/\/127\.0\.0\.1:\d+/.test(stdout); i++) await new Promise((r) => setTimeout(r, 50))
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)![1]!
    expect(stdout).toContain(`store:  ${db}`)
    expect(await (await fetch(`${url}/ok`)).json()).toEqual({ ok: true })
    const client = new Client({ apiUrl: url, apiKey: token, callerOptions: { maxRetries: 0 } })
    expect((await client.assistants.search()).map((a) => a.assistant_id)).toEqual(["cli-crawl"])
    const thread = await client.threads.create({ graphId: "cli-crawl" })
    const done = await client.runs.wait(thread.thread_id, "cli-crawl", { input: { pages: ["x", "y"] } })
    expect(done).toMatchObject({ fetched: ["x", "y"] })
    expect((await run(["--config", config, "tokens", "revoke", tokenId], dir)).code).toBe(0)
    const refused = await client.assistants.search().catch((e) => e)
    expect(refused.status).toBe(401)
    const code = await new Promise<number | null>((resolve) => {
      child.on("close", (c) => resolve(c))
      child.kill("SIGTERM")
    })
    expect(code).toBe(0)
    expect(stdout).toContain("stategraph serve: stopped")
  })
})
