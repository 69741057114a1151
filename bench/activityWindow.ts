/**
 * The at-least-once window of `Task.activity` (opt-in: `npx tsx bench/activityWindow.ts`): the
 * time between an activity's effect finishing and its journal entry being committed to SQLite.
 * A crash inside that window runs the effect again on the next run (with the same
 * `Task.idempotencyKey`). Prints the median, p99 and max over the activities of many runs.
 *
 *   npx tsx bench/activityWindow.ts -- [--runs 200] [--activities 10]
 */
import { Context, Effect, Layer, Schema } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Channel, Snapshots, SqliteSnapshots, StateGraph, Task } from "../src/index.js"

const argument = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name)
  return i < 0 ? fallback : Number(process.argv[i + 1])
}
const runs = argument("--runs", 200)
const activities = argument("--activities", 10)

let effectDone = 0
const windows: Array<number> = []

const graph = StateGraph.make({ id: "window", state: { n: Channel.lastValue(Schema.Number, { initial: () => 0 }) } }).pipe(
  StateGraph.addNode("work", () =>
    Effect.gen(function*() {
      for (let i = 0; i < activities; i++) {
        yield* Task.activity(`a${i}`, Effect.sync(() => {
          effectDone = performance.now()
          return i
        }))
      }
      return { n: activities }
    })),
  StateGraph.addEdge(StateGraph.START, "work"),
  StateGraph.compileSync()
)

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "activity-window-"))
// the store, with each journal write timed from the end of the effect it records
const timed = Layer.effect(
  Snapshots.Snapshots,
  Effect.map(Effect.flatMap(Layer.build(SqliteSnapshots.layer({ filename: path.join(dir, "w.db") })), (ctx) => Effect.succeed(Context.get(ctx, Snapshots.Snapshots))), (store) => ({
    ...store,
    putTask: (...args: Parameters<typeof store.putTask>) =>
      Effect.tap(store.putTask(...args), () => Effect.sync(() => windows.push(performance.now() - effectDone)))
  }))
)

const program = Effect.gen(function*() {
  for (let r = 0; r < runs; r++) yield* graph.invoke({}, { threadId: `t-${r}` })
})

await Effect.runPromise(Effect.scoped(program.pipe(Effect.provide(timed))))
fs.rmSync(dir, { recursive: true, force: true })
const sorted = windows.sort((a, b) => a - b)
const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(3)
console.log(`${sorted.length} activities: effect → journal committed: median ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${sorted[sorted.length - 1]!.toFixed(3)} ms`)
