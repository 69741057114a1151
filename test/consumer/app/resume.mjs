// Second process: answer the pending question; prints the final state as JSON.
import { Effect } from "effect"
import { SqliteSnapshots } from "effect-stategraph"
import { Approval, graph } from "./graph.mjs"

const [filename, threadId] = process.argv.slice(2)
const program = graph.resume({ threadId }, Approval.respond({ approved: true }))
console.log(JSON.stringify(await Effect.runPromise(program.pipe(Effect.provide(SqliteSnapshots.layer({ filename }))))))
