/**
 * Resume threads programmatically: list the paused threads in a SQLite file and answer one
 * with a value given on the command line.
 *
 *   npm run example:resume-thread -- --db .data/approval.db                    # list
 *   npm run example:resume-thread -- --db .data/approval.db --thread post-1 --approve
 *   npm run example:resume-thread -- --db .data/approval.db --thread post-1 --reject "shorter"
 */
import { Console, Effect } from "effect"
import { Snapshots, SqliteSnapshots } from "effect-stategraph"
import { Approval, graph } from "./approval-flow.js"

const argument = (name: string) => {
  const i = process.argv.indexOf(name)
  return i < 0 ? undefined : process.argv[i + 1] ?? ""
}

export const listPaused = Effect.gen(function*() {
  const store = yield* Snapshots.Snapshots
  const threads = yield* store.listThreads({ status: "paused", workflowId: graph.id })
  for (const t of threads) {
    const state = yield* graph.getState(t.threadId)
    for (const i of state.interrupts.filter((i) => i.status === "pending")) {
      yield* Console.log(`${t.threadId}  ${i.kind}  ${i.id}  ${JSON.stringify(i.request)}`)
    }
  }
  return threads.map((t) => t.threadId)
})

export const resumeOne = (threadId: string, approved: boolean, note?: string) =>
  graph.resume({ threadId }, Approval.respond(note === undefined ? { approved } : { approved, note })).pipe(
    Effect.map((values) => ({ status: "completed" as const, values })),
    Effect.catchTag("GraphInterrupted", (e) => Effect.succeed({ status: "paused" as const, pending: e.interrupts }))
  )

if (import.meta.url === `file://${process.argv[1]}`) {
  const filename = argument("--db") ?? ".data/approval.db"
  const threadId = argument("--thread")
  const program = Effect.gen(function*() {
    if (threadId === undefined) {
      const paused = yield* listPaused
      if (paused.length === 0) yield* Console.log("no paused threads")
      return
    }
    const reject = argument("--reject")
    const result = yield* resumeOne(threadId, reject === undefined, reject)
    yield* Console.log(JSON.stringify(result, null, 2))
  })
  Effect.runPromise(program.pipe(Effect.provide(SqliteSnapshots.layer({ filename })))).catch((e) => {
    console.error(e)
    process.exit(1)
  })
}
