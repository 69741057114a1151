/**
 * Soak run (opt-in, `npm run bench:soak`): 100,000 durable steps on one thread in one process,
 * on SQLite, with the heap measured (after a forced GC) every 10,000 steps once warmed up. The
 * heap must stay flat: the engine keeps only the current checkpoint, the store bounded caches.
 *
 *   npm run bench:soak -- [--steps 100000] [--every 10000]
 */
import { Effect, Schema } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import { Channel, SqliteSnapshots, StateGraph } from "../src/index.js"

const argument = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name)
  return i < 0 ? fallback : Number(process.argv[i + 1])
}
const steps = argument("--steps", 100_000)
const every = argument("--every", 10_000)

v8.setFlagsFromString("--expose-gc")
const gc = vm.runInNewContext("gc") as () => void

const graph = StateGraph.make({
  id: "soak",
  state: { n: Channel.lastValue(Schema.Number), log: Channel.append(Schema.Number) }
}).pipe(
  StateGraph.addNode("a", (s) => Effect.succeed({ n: s.n + 1, log: [s.n] })),
  StateGraph.addNode("b", (s) => Effect.succeed({ n: s.n + 1 })),
  StateGraph.addEdge(StateGraph.START, "a"),
  StateGraph.addEdge("a", "b"),
  StateGraph.addConditionalEdges("b", (s) => (s.n % every === 0 ? StateGraph.END : "a")),
  StateGraph.compileSync({ recursionLimit: every + 10 })
)

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "esg-soak-"))
const heapMb = () => {
  gc()
  return process.memoryUsage().heapUsed / 1024 / 1024
}

const main = Effect.gen(function*() {
  const samples: Array<{ steps: number; heapMb: number; usPerStep: number }> = []
  let done = 0
  // each invoke runs `every` steps on the same thread and ends; the next one continues it
  while (done < steps) {
    const t = performance.now()
    yield* graph.invoke({ n: done }, { threadId: "soak" })
    const us = ((performance.now() - t) * 1000) / every
    done += every
    samples.push({ steps: done, heapMb: heapMb(), usPerStep: us })
    console.log(`${String(done).padStart(7)} steps  heap ${samples.at(-1)!.heapMb.toFixed(1)} MB  ${us.toFixed(1)} µs/step`)
  }
  const warm = samples.slice(1)
  const growth = warm.at(-1)!.heapMb - warm[0]!.heapMb
  console.log(`heap after warm-up: ${warm[0]!.heapMb.toFixed(1)} → ${warm.at(-1)!.heapMb.toFixed(1)} MB (${growth >= 0 ? "+" : ""}${growth.toFixed(1)} MB over ${steps - every} steps)`)
  console.log(`database: ${(fs.statSync(path.join(dir, "soak.db")).size / 1024 / 1024).toFixed(1)} MB`)
})

Effect.runPromise(main.pipe(Effect.provide(SqliteSnapshots.layer({ filename: path.join(dir, "soak.db") })))).finally(() =>
  fs.rmSync(dir, { recursive: true, force: true })
)
