/**
 * A worker process for bench/ours/queue.ts: `queueWorker.ts <db> <chain> [<go>]`. Opens the
 * database (a SQLite file or a `postgres://` URL), prints `ready`, waits for `<go>.go` to exist
 * (`<go>` defaults to `<db>`), then runs one worker fiber.
 */
import * as fs from "node:fs"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Graphs, Pipeline, Worker } from "../../src/index.js"
import { makeGraph, queueLayer } from "./queue.js"

const [filename, chain] = [process.argv[2]!, Number(process.argv[3] ?? 1)]
const go = process.argv[4] ?? filename
const graph = makeGraph(chain)
const program = Effect.gen(function*() {
  yield* Pipeline.Pipelines
  console.log("ready")
  while (!fs.existsSync(`${go}.go`)) yield* Effect.sleep("1 millis")
  return yield* Worker.run({ concurrency: 1, pollInterval: "2 millis" })
})
Effect.runPromise(program.pipe(Effect.provide(Layer.mergeAll(queueLayer(filename), Graphs.layer([graph])))))
