/**
 * `stategraph dev` as a real spawned process in a temp project: it serves (no tokens), runs a
 * worker pool (a queued async pipeline completes), and restarts when a graph module changes —
 * the edited graph's new behaviour is seen over HTTP. Deadlines, no timing assertions. (Slow:
 * not in `npm run test:quick`.)
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { Client } from "@langchain/langgraph-sdk"
import { Effect, Layer } from "effect"
import { Graphs, Orchestrator, Pipeline } from "effect-stategraph"
import { afterEach, describe, expect, it } from "vitest"
import { crawl } from "./graphs.js"

const root = path.resolve(import.meta.dirname, "../..")
const bin = path.join(root, "src/internal/cli/bin.ts")
const tsx = pathToFileURL(path.join(root, "node_modules/tsx/dist/loader.mjs")).href
const graphsModule = path.join(import.meta.dirname, "graphs.ts")

const greet = (text: string) => `import { Effect, Schema } from "effect"
import { Channel, StateGraph } from "effect-stategraph"
export const greet = StateGraph.make({ id: "greet", state: { msg: Channel.lastValue(Schema.String, { initial: () => "" }) } }).pipe(
  StateGraph.addNode("say", () => Effect.succeed({ msg: ${JSON.stringify(text)} })),
  StateGraph.addEdge(StateGraph.START, "say"),
  StateGraph.compileSync()
)
`

let child: ChildProcess | undefined
afterEach(async () => {
  const c = child
  child = undefined
  if (c !== undefined && c.exitCode === null && c.signalCode === null) {
    await new Promise((r) => {
      c.once("close", r)
      c.kill("SIGTERM")
    })
  }
})

const poll = async <A>(what: string, f: () => Promise<A | undefined>, seconds = 60): Promise<A> => {
  const deadline = Date.now() + seconds * 1000
  while (true) {
    const a = await f().catch(() => undefined)
    if (a !== undefined) return a
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe("stategraph dev", () => {
  it("serves (the inspector too), runs a worker pool, restarts on a graph change and serves the new graph; exits 0 on SIGTERM", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "srv2-dev-"))
    fs.mkdirSync(path.join(dir, "graphs"))
    fs.mkdirSync(path.join(dir, "node_modules"))
    fs.symlinkSync(root, path.join(dir, "node_modules", "effect-stategraph"))
    fs.symlinkSync(path.join(root, "node_modules", "effect"), path.join(dir, "node_modules", "effect"))
    fs.symlinkSync(path.join(root, "node_modules", "@effect"), path.join(dir, "node_modules", "@effect"))
    const graphFile = path.join(dir, "graphs", "greet.mjs")
    fs.writeFileSync(graphFile, greet("v1"))
    fs.writeFileSync(
      path.join(dir, "stategraph.config.mjs"),
      `export default { graphs: ["./graphs/greet.mjs:greet", ${JSON.stringify(`${graphsModule}:crawl`)}], store: { sqlite: "threads.db" } }\n`
    )
    const c = spawn(process.execPath, ["--import", tsx, bin, "dev", "--port", "0"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] })
    child = c
    let stdout = ""
    let stderr = ""
    c.stdout.on("data", (d) => (stdout += d))
    c.stderr.on("data", (d) => (stderr += d))
    const urls = () => [...stdout.matchAll(/dev: listening on (http:\/\/127\.0\.0\.1:\d+)/g)].map((m) => m[1]!)
    const url1 = await poll(`the first start (${stdout}${stderr})`, async () => urls()[0])
    expect(stdout).toContain(`watching ${dir}`)
    expect(stdout).toContain("auth:   off")
    const said = (url: string) =>
      new Client({ apiUrl: url, callerOptions: { maxRetries: 0 } }).runs.wait(null, "greet", { input: {} }) as Promise<{ msg: string }>
    expect(await said(url1)).toEqual({ msg: "v1" })
    // the inspector is served by the same process
    expect(stdout).toContain(`inspector: ${url1}/inspector`)
    const page = await fetch(`${url1}/inspector`)
    expect(page.status).toBe(200)
    expect(page.headers.get("content-type")).toContain("text/html")

    // the worker pool: an async pipeline queued on the project's database completes
    const layers = Orchestrator.layer({ fallback: "async" }, Orchestrator.layerAsync).pipe(
      Layer.provideMerge(Layer.mergeAll(Pipeline.layerSqlite({ filename: path.join(dir, "threads.db") }), Graphs.layer([crawl])))
    )
    const pipelineId = await Effect.runPromise(
      Effect.map(Orchestrator.orchestrate({ workflowId: crawl.id, graph: crawl, input: { pages: ["a", "b"] } }, { id: "async" }), (r) => r.pipelineId!)
        .pipe(Effect.provide(layers))
    )
    await poll("the pipeline to complete", async () => {
      const s = await Effect.runPromise(Pipeline.pipelineStatus(pipelineId).pipe(Effect.provide(layers)))
      return s.status === "completed" ? s : undefined
    })

    // edit the graph module: dev restarts its child, which serves the new graph
    fs.writeFileSync(graphFile, greet("v2"))
    const url2 = await poll(`a restart (${stdout}${stderr})`, async () => urls()[1])
    expect(stdout).toContain(`${graphFile} changed, restarting`)
    expect(await poll("the new graph over HTTP", async () => {
      const r = await said(url2)
      return r.msg === "v2" ? r : undefined
    })).toEqual({ msg: "v2" })

    const code = await new Promise<number | null>((resolve) => {
      c.once("close", (x) => resolve(x))
      c.kill("SIGTERM")
    })
    expect(code).toBe(0)
  }, 180_000)
})
