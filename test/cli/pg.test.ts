/**
 * The CLI on PostgreSQL: the run's throwaway cluster (test/pg/globalSetup.ts), a fresh database
 * per test named by `--db postgres://…` (and by the config's `store.postgres`).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Fiber, Layer } from "effect"
import { Graphs, Orchestrator, Pipeline } from "effect-stategraph"
import * as Cli from "effect-stategraph/Cli"
import { describe, expect, it, vi } from "vitest"
import { scopedDatabase } from "../pg/fixtures.js"
import { approval, crawl } from "./graphs.js"

const graphsModule = path.join(import.meta.dirname, "graphs.ts")

const withDatabase = <A>(f: (url: string) => Promise<A>) => Effect.runPromise(Effect.scoped(Effect.flatMap(scopedDatabase("cli"), (url) => Effect.promise(() => f(url)))))

const configFile = (store: string) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "esg-cli-pg-"))
  const file = path.join(dir, "stategraph.config.mjs")
  fs.writeFileSync(file, `export default { graphs: ${JSON.stringify(["approval", "crawl"].map((e) => `${graphsModule}:${e}`))}, store: ${store} }\n`)
  return file
}

const capture = async (config: string, args: ReadonlyArray<string>) => {
  const lines: Array<string> = []
  const log = vi.spyOn(console, "log").mockImplementation((...xs: Array<unknown>) => void lines.push(xs.join(" ")))
  const exit = await Effect.runPromise(Effect.exit(Cli.run(["node", "stategraph", "--config", config, ...args])))
  log.mockRestore()
  return { code: Cli.exitCode(exit), out: lines.join("\n") }
}

describe("stategraph on Postgres", () => {
  it("threads list / show read the Postgres store named by --db and by the config's store.postgres", () =>
    withDatabase(async (url) => {
      await Effect.runPromise(
        Effect.ignore(approval.invoke({ draft: "pg" }, { threadId: "pg-1" })).pipe(Effect.provide(Pipeline.layerPg({ url })))
      )
      const sqliteConfig = configFile(`{ sqlite: "threads.db" }`)
      const byFlag = await capture(sqliteConfig, ["--db", url, "threads", "list", "--json"])
      expect(byFlag.code).toBe(0)
      expect(JSON.parse(byFlag.out)).toEqual([expect.objectContaining({ threadId: "pg-1", graph: "cli-approval", status: "paused", pending: 1 })])
      // the same config without --db: its SQLite file knows no thread
      expect(JSON.parse((await capture(sqliteConfig, ["threads", "list", "--json"])).out)).toEqual([])
      const pgConfig = configFile(`{ postgres: ${JSON.stringify(url)} }`)
      const shown = await capture(pgConfig, ["threads", "show", "pg-1", "--json"])
      expect(JSON.parse(shown.out)).toMatchObject({ threadId: "pg-1", status: "paused", next: ["review"] })
      const resumed = await capture(pgConfig, ["threads", "resume", "pg-1", "--answer", `{"approved":true}`, "--json"])
      expect(JSON.parse(resumed.out)).toMatchObject({ status: "completed" })
    }))

  it("worker runs the jobs queued in Postgres", () =>
    withDatabase(async (url) => {
      const layers = Orchestrator.layer({ fallback: "async" }, Orchestrator.layerAsync).pipe(
        Layer.provideMerge(Layer.mergeAll(Pipeline.layerPg({ url }), Graphs.layer([crawl])))
      )
      const pipelineId = await Effect.runPromise(
        Effect.map(
          Orchestrator.orchestrate({ workflowId: crawl.id, graph: crawl, input: { pages: ["a", "b"] } }, { id: "async" }),
          (r) => r.pipelineId!
        ).pipe(Effect.provide(layers))
      )
      const status = () => Effect.runPromise(Pipeline.pipelineStatus(pipelineId).pipe(Effect.provide(layers)))
      expect((await status()).status).not.toBe("completed")
      const config = configFile(`{ postgres: ${JSON.stringify(url)} }`)
      const worker = Effect.runFork(Cli.run(["node", "stategraph", "--config", config, "worker", "--concurrency", "2"]))
      for (let i = 0; i < 600 && (await status()).status !== "completed"; i++) await new Promise((r) => setTimeout(r, 50))
      expect((await status()).status).toBe("completed")
      expect(Cli.exitCode(await Effect.runPromise(Fiber.interrupt(worker)))).toBe(0)
    }))
})
