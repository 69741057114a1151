/**
 * Child process of activity.test.ts: a node journals a "charge" (an activity whose side effect is
 * a line appended to a file) and then takes long to finish. The first process is SIGKILLed
 * between the activity and the end of the node; the second continues the thread.
 *
 * argv: <db file> <side-effect file> <threadId> <"start" | "continue">
 */
import { Effect, Schedule, Schema } from "effect"
import * as fs from "node:fs"
import { Channel, SqliteSnapshots, StateGraph, Task } from "../../src/index.js"

const [filename, sideEffects, threadId, mode] = process.argv.slice(2) as [string, string, string, string]

const graph = StateGraph.make({
  id: "activity-crash",
  state: { receipt: Channel.lastValue(Schema.String, { initial: () => "" }) }
}).pipe(
  StateGraph.addNode("pay", () =>
    Effect.gen(function*() {
      const receipt = yield* Task.activity(
        "charge",
        Effect.sync(() => {
          fs.appendFileSync(sideEffects, `charged by ${process.pid}\n`)
          return `receipt-${process.pid}`
        })
      )
      console.log("ACTIVITY_DONE")
      // the first process is killed while it waits here
      if (mode === "start") yield* Effect.sleep("1 hour")
      return { receipt }
    })),
  StateGraph.addEdge(StateGraph.START, "pay"),
  StateGraph.compileSync({ leaseMillis: 300 })
)

const program = mode === "start"
  ? graph.invoke({}, { threadId })
  // the killed run's claim expires after its lease: retry ThreadBusy until then
  : graph.invoke(null, { threadId }).pipe(
    Effect.retry({ while: (e) => e._tag === "ThreadBusy", schedule: Schedule.spaced("50 millis").pipe(Schedule.upTo("10 seconds")) })
  )

Effect.runPromise(program.pipe(Effect.provide(SqliteSnapshots.layer({ filename })))).then(
  (state) => {
    console.log(`FINAL ${JSON.stringify(state)}`)
    process.exit(0)
  },
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
