/**
 * A child process of race.test.ts: for each round, waits for the round's start time (written by
 * the parent to `<dir>/go-<round>`), then sends new input to the round's new thread, whose node
 * pauses with a question naming the input. Prints `RESULT <round> <outcome> <question's input>`.
 *
 *   node --import tsx test/crash/raceWorker.ts <db file> <dir> <rounds> <name>
 */
import { Effect, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { Channel, Interrupt, SqliteSnapshots, StateGraph } from "../../src/index.js"

const [filename, dir, roundsText, name] = process.argv.slice(2) as [string, string, string, string]
const rounds = Number(roundsText)

class Confirm extends Interrupt.Tag("RaceConfirm", { request: Schema.String, response: Schema.Boolean }) {}

const graph = StateGraph.make({ id: "race", state: { inputs: Channel.append(Schema.String) } }).pipe(
  StateGraph.addNode("confirm", (s) => Effect.map(Confirm.ask(s.inputs.join(",")), () => ({}))),
  StateGraph.addEdge(StateGraph.START, "confirm"),
  StateGraph.compileSync()
)

const startOf = (round: number) =>
  Effect.promise(async () => {
    const file = path.join(dir, `go-${round}`)
    while (!fs.existsSync(file)) await new Promise((r) => setTimeout(r, 1))
    const at = Number(fs.readFileSync(file, "utf8"))
    // every process starts at the same wall-clock instant
    while (Date.now() < at) await new Promise((r) => setTimeout(r, Math.max(0, at - Date.now() - 2)))
  })

const program = Effect.gen(function*() {
  // warm up: the store is open and the statements are prepared before the first round
  yield* Effect.either(graph.getState(`warm-${name}`))
  console.log("READY")
  for (let round = 0; round < rounds; round++) {
    yield* startOf(round)
    const outcome = yield* Effect.either(graph.invoke({ inputs: [name] }, { threadId: `race-${round}` }))
    const tag = outcome._tag === "Right" ? "Completed" : outcome.left._tag
    const asked = outcome._tag === "Left" && outcome.left._tag === "GraphInterrupted" ? String(outcome.left.interrupts[0]?.request) : ""
    console.log(`RESULT ${round} ${tag} ${asked}`)
  }
})

Effect.runPromise(program.pipe(Effect.provide(SqliteSnapshots.layer({ filename })))).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
