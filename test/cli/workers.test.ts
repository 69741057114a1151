/**
 * An API process and a worker process apart, both spawned from the bin on one SQLite file:
 * `stategraph serve --executors 0` only queues runs; `stategraph worker` executes them and writes
 * their events to the run-event log; the LangGraph client streams the run from the API process
 * and reconnects with Last-Event-ID, getting the rest and nothing twice. (Slow: not in
 * `npm run test:quick`.)
 */
import { type ChildProcess, execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { Client } from "@langchain/langgraph-sdk"
import { afterEach, describe, expect, it } from "vitest"

const root = path.resolve(import.meta.dirname, "../..")
const bin = path.join(root, "src/internal/cli/bin.ts")
const tsx = pathToFileURL(path.join(root, "node_modules/tsx/dist/loader.mjs")).href
const graphsModule = path.join(import.meta.dirname, "graphs.ts")

const children: Array<ChildProcess> = []
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      await new Promise((r) => {
        c.once("close", r)
        c.kill("SIGTERM")
      })
    }
  }
})

const run = (args: ReadonlyArray<string>, cwd: string) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    execFile(process.execPath, ["--import", tsx, bin, ...args], { cwd, encoding: "utf8" }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : (error as { code?: number }).code ?? null, stdout, stderr })))

/** Spawns the bin; `until` resolves when its stdout matches (within a deadline). */
const spawned = (args: ReadonlyArray<string>, cwd: string) => {
  const child = spawn(process.execPath, ["--import", tsx, bin, ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] })
  children.push(child)
  let stdout = ""
  let stderr = ""
  child.stdout.on("data", (d) => (stdout += d))
  child.stderr.on("data", (d) => (stderr += d))
  const until = async (re: RegExp) => {
    const deadline = Date.now() + 60_000
    while (!re.test(stdout)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no ${re} in:\n${stdout}\n${stderr}`)
      await new Promise((r) => setTimeout(r, 50))
    }
    return re.exec(stdout)!
  }
  const stop = () =>
    new Promise<number | null>((resolve) => {
      child.once("close", (c) => resolve(c))
      child.kill("SIGTERM")
    })
  return { child, until, stop, output: () => stdout }
}

const collect = async <T>(s: AsyncIterable<T>) => {
  const out: Array<T> = []
  for await (const e of s) out.push(e)
  return out
}

describe("API and worker processes apart", () => {
  it("serve --executors 0 queues, stategraph worker executes; the client streams it and resumes with Last-Event-ID", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "srv2-workers-"))
    const config = path.join(dir, "stategraph.config.mjs")
    fs.writeFileSync(config, `export default { graphs: [${JSON.stringify(`${graphsModule}:ticker`)}], store: { sqlite: "threads.db" } }\n`)
    const created = await run(["--config", config, "tokens", "create", "--permissions", "view,edit", "--json"], dir)
    expect(created.code).toBe(0)
    const { token } = JSON.parse(created.stdout)
    const api = spawned(["--config", config, "serve", "--port", "0", "--host", "127.0.0.1", "--executors", "0"], dir)
    const url = (await api.until(/listening on (http:\/\/127\.0\.0\.1:\d+)/))[1]!
    expect(api.output()).toContain("runs:   queued for worker processes")
    const client = new Client({ apiUrl: url, apiKey: token, callerOptions: { maxRetries: 0 } })
    const thread = await client.threads.create({ graphId: "cli-ticker" })
    // no worker yet: the API process queues the run and does not execute it
    const queued = await client.runs.create(thread.thread_id, "cli-ticker", { input: { until: 1 } })
    expect((await client.runs.get(thread.thread_id, queued.run_id)).status).toBe("pending")
    const worker = spawned(["--config", config, "worker", "--concurrency", "2"], dir)
    await worker.until(/worker started/)
    expect(await client.runs.join(thread.thread_id, queued.run_id)).toMatchObject({ count: 1, pid: worker.child.pid })

    // streamed from the API process while the worker executes it; the client goes away mid-run
    const seen: Array<any> = []
    let runId = ""
    for await (const e of client.runs.stream(thread.thread_id, "cli-ticker", { input: { until: 12 }, streamMode: "values" })) {
      seen.push(e)
      if (e.event === "metadata") runId = (e.data as any).run_id
      if (e.event === "values" && (e.data as any).count >= 4) break
    }
    expect(runId).not.toBe("")
    const lastEventId = seen.at(-1)!.id
    expect(lastEventId).toMatch(/^\d+$/)
    const rest: Array<any> = await collect(client.runs.joinStream(thread.thread_id, runId, { lastEventId }))
    const all: Array<any> = await collect(client.runs.joinStream(thread.thread_id, runId))
    expect([...seen, ...rest].map((e) => e.id)).toEqual(all.map((e) => e.id))
    const values = all.filter((e) => e.event === "values").map((e) => e.data)
    // the thread had counted to 1: the input applied (1), then this run counts on from there, each step once
    expect(values.map((v) => v.count)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])
    // every step ran in the worker process, none in the API process
    const pids = new Set(values.map((v) => v.pid))
    expect([...pids]).toEqual([worker.child.pid])
    expect(pids.has(api.child.pid)).toBe(false)
    expect((await client.runs.get(thread.thread_id, runId)).status).toBe("success")
    expect(await worker.stop()).toBe(0)
    expect(await api.stop()).toBe(0)
  }, 120_000)
})
