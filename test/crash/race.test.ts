/**
 * Four processes send new input to one new thread at the same instant, and the node pauses:
 * exactly one run is applied (its question is the one pending, the state holds its input alone);
 * the others are refused (`ThreadBusy`, or `ThreadPaused` when they read the paused head) and
 * write nothing. Twenty rounds, each on a new thread.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Channel, Interrupt, SqliteSnapshots, StateGraph } from "../../src/index.js"

const here = path.dirname(fileURLToPath(import.meta.url))
const ROUNDS = 20
const NAMES = ["p1", "p2", "p3", "p4"]

class Confirm extends Interrupt.Tag("RaceConfirm", { request: Schema.String, response: Schema.Boolean }) {}
const graph = StateGraph.make({ id: "race", state: { inputs: Channel.append(Schema.String) } }).pipe(
  StateGraph.addNode("confirm", (s) => Effect.map(Confirm.ask(s.inputs.join(",")), () => ({}))),
  StateGraph.addEdge(StateGraph.START, "confirm"),
  StateGraph.compileSync()
)

describe("races between processes (SQLite)", () => {
  it.scopedLive(`new input to one new thread from four processes at once, ${ROUNDS} times: one run applied, the rest refused`, () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stategraph-race-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
      const filename = path.join(dir, "race.db")
      const lines = new Map<string, Array<string>>(NAMES.map((n) => [n, []]))
      const children: Array<ChildProcess> = []
      yield* Effect.addFinalizer(() => Effect.sync(() => children.forEach((c) => c.exitCode === null && c.kill("SIGKILL"))))
      // one process first, so the others open a migrated file
      for (const name of NAMES) {
        const child = spawn(process.execPath, ["--import", "tsx", path.join(here, "raceWorker.ts"), filename, dir, String(ROUNDS), name], {
          cwd: path.resolve(here, "../.."),
          stdio: ["ignore", "pipe", "inherit"]
        })
        children.push(child)
        let buffered = ""
        child.stdout!.on("data", (chunk) => {
          buffered += chunk
          const parts = buffered.split("\n")
          buffered = parts.pop()!
          lines.get(name)!.push(...parts)
        })
        yield* waitFor(() => lines.get(name)!.includes("READY"))
      }
      const results = (round: number) =>
        NAMES.map((n) => lines.get(n)!.find((l) => l.startsWith(`RESULT ${round} `))).filter((l) => l !== undefined)
      for (let round = 0; round < ROUNDS; round++) {
        fs.writeFileSync(path.join(dir, `go-${round}`), String(Date.now() + 100))
        yield* waitFor(() => results(round).length === NAMES.length)
      }
      const stored = yield* Effect.forEach(Array.from({ length: ROUNDS }, (_, r) => r), (r) => graph.getState(`race-${r}`)).pipe(
        Effect.provide(SqliteSnapshots.layer({ filename }))
      )
      const summary = { rounds: ROUNDS, winners: 0, losers: 0, badRounds: [] as Array<string> }
      for (let round = 0; round < ROUNDS; round++) {
        const outcomes = results(round).map((l) => l!.split(" ").slice(2))
        const won = outcomes.filter(([tag]) => tag === "GraphInterrupted")
        const refused = outcomes.filter(([tag]) => tag === "ThreadBusy" || tag === "ThreadPaused")
        const state = stored[round]!
        const pending = state.interrupts.filter((i) => i.status === "pending").map((i) => i.request)
        summary.winners += won.length
        summary.losers += refused.length
        // one run applied: the state holds the winner's input alone, and its question is the one pending
        const ok = won.length === 1 && refused.length === NAMES.length - 1 &&
          JSON.stringify(state.values.inputs) === JSON.stringify([won[0]![1]]) && JSON.stringify(pending) === JSON.stringify([won[0]![1]])
        if (!ok) summary.badRounds.push(`round ${round}: ${JSON.stringify(outcomes)} stored ${JSON.stringify(state.values.inputs)}`)
      }
      console.log(`race: ${JSON.stringify(summary)}`)
      expect(summary.badRounds).toEqual([])
    }), { timeout: 300_000 })
})

const waitFor = (check: () => boolean) =>
  Effect.promise(async () => {
    const deadline = Date.now() + 120_000
    while (!check()) {
      if (Date.now() > deadline) throw new Error("timed out waiting for the race's processes")
      await new Promise((r) => setTimeout(r, 5))
    }
  })
