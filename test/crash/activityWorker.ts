/**
 * Child process of activity.test.ts: a node journals a "charge" (an activity whose side effect is
 * a line appended to a file) and then takes long to finish. The first process is SIGKILLed
 * between the activity and the end of the node; the second continues the thread.
 *
 * argv: <db file> <side-effect file> <threadId> <"start" | "continue" | "operator">
 * env: LEASE_MILLIS (default 300)
 *
 * "operator" does what an operator would after the crash, printing a line per step: the leases,
 * the ThreadBusy a continue gets, the refused unforced release, the forced one, then continues.
 */
import { Effect, Option, Schedule, Schema } from "effect"
import * as fs from "node:fs"
import { Channel, Snapshots, SqliteSnapshots, StateGraph, Task } from "../../src/index.js"

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
  StateGraph.compileSync({ leaseMillis: Number(process.env.LEASE_MILLIS ?? 300) })
)

const operator = Effect.gen(function*() {
  console.log(`LEASES ${JSON.stringify(yield* Snapshots.leases())}`)
  const busy = yield* Effect.flip(graph.invoke(null, { threadId }))
  console.log(`BUSY ${JSON.stringify(busy)}`)
  const held = yield* Effect.flip(Snapshots.releaseLease(threadId))
  console.log(`HELD ${JSON.stringify(held)}`)
  const broken = yield* Snapshots.releaseLease(threadId, { force: true })
  console.log(`RELEASED ${JSON.stringify(Option.getOrNull(broken))}`)
  return yield* graph.invoke(null, { threadId })
})

const program = mode === "operator"
  ? operator
  : mode === "start"
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
