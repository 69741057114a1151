/**
 * A child process of race.test.ts: for each round, waits for the round's start file
 * (`<dir>/go-<round>`: `{ at, interruptId? }`, written by the parent), then at the instant `at`
 * either sends new input to the round's new thread (mode `input`: the node pauses with a question
 * naming the input), or answers the pending first question of the round's paused thread with its
 * own name (mode `resume`: the node then asks a second question naming the first answer).
 * Prints `RESULT <round> <outcome> <the pending question's request>`.
 *
 *   node --import tsx test/crash/raceWorker.ts <db file> <dir> <rounds> <name> <input|resume>
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { type Snapshots, SqliteSnapshots } from "../../src/index.js"
import { Ask, inputGraph, twiceGraph } from "./raceGraphs.js"

const [filename, dir, roundsText, name, mode] = process.argv.slice(2) as [string, string, string, string, "input" | "resume"]
const rounds = Number(roundsText)

const startOf = (round: number) =>
  Effect.promise(async () => {
    const file = path.join(dir, `go-${round}`)
    while (!fs.existsSync(file)) await new Promise((r) => setTimeout(r, 1))
    const go = JSON.parse(fs.readFileSync(file, "utf8")) as { at: number; interruptId?: string }
    // every process starts at the same wall-clock instant
    while (Date.now() < go.at) await new Promise((r) => setTimeout(r, Math.max(0, go.at - Date.now() - 2)))
    return go
  })

const attempt = (round: number, interruptId: string | undefined): Effect.Effect<unknown, { readonly _tag: string }, Snapshots.Snapshots> =>
  mode === "input"
    ? inputGraph.invoke({ inputs: [name] }, { threadId: `race-${round}` })
    : twiceGraph.resume({ threadId: `twice-${round}` }, Ask.respondTo(interruptId!, name))

const program = Effect.gen(function*() {
  // warm up: the store is open and the statements are prepared before the first round
  yield* Effect.either(inputGraph.getState(`warm-${name}`))
  console.log("READY")
  for (let round = 0; round < rounds; round++) {
    const go = yield* startOf(round)
    const outcome = yield* Effect.either(attempt(round, go.interruptId))
    const tag = outcome._tag === "Right" ? "Completed" : outcome.left._tag
    const left = outcome._tag === "Left" ? outcome.left : undefined
    const asked = left !== undefined && "interrupts" in left ? String((left.interrupts as ReadonlyArray<{ request: unknown }>)[0]?.request) : ""
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
