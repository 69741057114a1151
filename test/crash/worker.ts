/**
 * A child process of the crash test: continues (or starts) one thread on a SQLite file until it
 * ends, retrying while the run it replaces still holds the thread. The test SIGKILLs it at random
 * moments.
 *
 *   node --import tsx test/crash/worker.ts <filename> <threadId> [sync|async]
 */
import { Effect, Schedule } from "effect"
import { SqliteSnapshots } from "../../src/index.js"
import { makeGraph } from "./graph.js"

const [filename, threadId, durability = "sync"] = process.argv.slice(2) as [string, string, "sync" | "async" | undefined]
const graph = makeGraph(durability)

const runOnce = graph.invoke(null, { threadId }).pipe(
  Effect.catchTag("ThreadNotFound", () => graph.invoke({ n: 0 }, { threadId }))
)

const program = Effect.gen(function*() {
  process.stdout.write("READY\n")
  const out = yield* runOnce.pipe(
    // the killed run's lease (300 ms) has to expire first
    Effect.retry({ while: (e) => e._tag === "ThreadBusy", schedule: Schedule.spaced("25 millis") })
  )
  process.stdout.write(`DONE ${JSON.stringify(out)}\n`)
}).pipe(Effect.provide(SqliteSnapshots.layer({ filename })))

Effect.runPromise(program).then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`FAILED ${String(error)}\n`)
    process.exit(1)
  }
)
