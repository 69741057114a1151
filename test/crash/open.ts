/**
 * A child process of the concurrent-start test: opens the store on a (possibly new) SQLite file,
 * which runs the migrations, and runs one short thread.
 *
 *   node --import tsx test/crash/open.ts <filename> <threadId>
 */
import { Effect, Schema } from "effect"
import { Channel, SqliteSnapshots, StateGraph } from "../../src/index.js"

const [filename, threadId] = process.argv.slice(2) as [string, string]

const graph = StateGraph.make({ id: "open", state: { log: Channel.append(Schema.String) } }).pipe(
  StateGraph.addNode("a", () => Effect.succeed({ log: ["a"] })),
  StateGraph.addNode("b", () => Effect.succeed({ log: ["b"] })),
  StateGraph.addEdge(StateGraph.START, "a"),
  StateGraph.addEdge("a", "b"),
  StateGraph.compileSync()
)

Effect.runPromise(graph.invoke({ log: [threadId] }, { threadId }).pipe(
  Effect.provide(SqliteSnapshots.layer({ filename }))
)).then(
  (out) => {
    process.stdout.write(`DONE ${JSON.stringify(out)}\n`)
    process.exit(0)
  },
  (error) => {
    process.stderr.write(`FAILED ${String(error)}\n`)
    process.exit(1)
  }
)
