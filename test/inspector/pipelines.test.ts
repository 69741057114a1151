/**
 * An async run in the inspector: a server whose database also holds the `async` orchestrator's
 * pipelines (with a worker pool in the same process). A thread run in part by `sync` is handed
 * over to `async`; the page shows its pipeline and jobs (the handed-over ones injected) and the
 * node states FlowDrop keeps (injected nodes marked).
 */
import * as HttpServer from "@effect/platform/HttpServer"
import type * as SqlClient from "@effect/sql/SqlClient"
import { Context, Effect, Exit, Layer, Redacted, Scope } from "effect"
import { Graphs, Orchestrator, Pipeline, RunEvent, Server, Worker } from "effect-stategraph"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { Browser } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Running } from "../server/harness.js"
import { apiOf, launch, openPage, shot } from "./browser.js"
import { crawl } from "./graphs.js"

type Services = HttpServer.HttpServer | SqlClient.SqlClient | Orchestrator.Orchestrators | Pipeline.Pipelines

let server: Running & { readonly context: Context.Context<Services> }
let browser: Browser

const startWithPipelines = async () => {
  const filename = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "insp-pipelines-")), "app.db")
  const stores = Layer.mergeAll(Pipeline.layerSqlite({ filename }), Graphs.layer([crawl]), RunEvent.layer)
  const layer = Layer.mergeAll(
    Server.layer({ graphs: [crawl], port: 0, host: "127.0.0.1" }),
    Worker.layer({ concurrency: 1, pollInterval: "10 millis" }),
    Orchestrator.layer({ fallback: "async" }, Orchestrator.layerSync, Orchestrator.layerAsync)
  ).pipe(Layer.provideMerge(stores))
  const scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(Layer.buildWithScope(layer as Layer.Layer<Services, unknown>, scope))
  const address = Context.get(context, HttpServer.HttpServer).address
  const run = <A, E>(effect: Effect.Effect<A, E, Services>) => Effect.runPromise(Effect.provide(effect, context))
  const { token } = await run(Server.createToken({ name: "admin", permissions: ["administer"] }))
  return {
    url: `http://127.0.0.1:${address._tag === "TcpAddress" ? address.port : 0}`,
    token: Redacted.value(token),
    filename,
    client: () => { throw new Error("not used") },
    run,
    context,
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  } as const
}

beforeAll(async () => {
  server = await startWithPipelines()
  browser = await launch()
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await server?.close()
})

describe("an async run in the inspector", () => {
  it("shows its pipeline and jobs, and the nodes handed over as injected", async () => {
    const run = server.run as <A, E>(effect: Effect.Effect<A, E, Services>) => Promise<A>
    const first = await run(Orchestrator.orchestrate({ workflowId: "crawl", graph: crawl, input: {}, options: { stopAfter: { steps: 1 } } }, { id: "sync" }))
    expect(first.status).toBe("running")
    const second = await run(Orchestrator.orchestrate({ workflowId: "crawl", graph: crawl, input: null, initialSnapshot: first.snapshot }, { id: "async" }))
    const pipelineId = second.pipelineId!
    // the worker pool in this process runs the rest; wait for the pipeline's end
    for (;;) {
      const p = await run(Pipeline.pipelineStatus(pipelineId))
      if (p.status === "completed") break
      expect(["pending", "running"]).toContain(p.status)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const id = second.threadId

    const { page } = await openPage(browser, server, server.token, `#/thread/${id}`)
    const heading = page.locator("[data-testid=pipeline]")
    await heading.waitFor()
    expect(await heading.textContent()).toBe(`Pipeline ${pipelineId.slice(0, 8)} (async) completed`)
    const jobs = await page.locator("table.jobs tbody tr").evaluateAll((trs) =>
      trs.map((tr: any) => [...tr.querySelectorAll("td")].slice(1).map((td: any) => td.textContent.trim())))
    expect(jobs.map(([node, , status, , injected]) => [node, status, injected])).toEqual([
      ["fetch", "completed", "yes"],
      ["parse", "completed", "no"],
      ["store", "completed", "no"]
    ])
    const nodes = await page.locator("table.nodes tbody tr").evaluateAll((trs) =>
      trs.map((tr: any) => [...tr.querySelectorAll("td")].map((td: any) => td.textContent.trim())))
    expect(nodes.map(([node, status, , , injected]) => [node, status, injected])).toEqual([
      ["fetch", "completed", "yes"],
      ["parse", "completed", "no"],
      ["store", "completed", "no"]
    ])
    expect((await apiOf(server)("GET", `/threads/${id}/state`)).body.values.log).toEqual(["fetch", "parse", "store"])
    await shot(page, "pipelines")
    await page.close()
  })
})
