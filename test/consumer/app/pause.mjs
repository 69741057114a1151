// First process: start the thread; it pauses on the Approval question. Prints the pending kinds.
import { Effect } from "effect"
import { SqliteSnapshots } from "effect-stategraph"
import { graph } from "./graph.mjs"

const [filename, threadId] = process.argv.slice(2)
const program = graph.invoke({ draft: "Hello" }, { threadId }).pipe(
  Effect.catchTag("GraphInterrupted", (e) => Effect.succeed(`paused: ${e.interrupts.map((i) => i.kind).join(",")}`))
)
console.log(await Effect.runPromise(program.pipe(Effect.provide(SqliteSnapshots.layer({ filename })))))
