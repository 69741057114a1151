/**
 * Races between processes on one SQLite file, each round at the same wall-clock instant in four
 * processes, twenty rounds each on a new thread:
 * - new input to one new thread whose node pauses: exactly one run is applied (its question is the
 *   one pending, the state holds its input alone); the others are refused (`ThreadBusy`, or
 *   `ThreadPaused` when they read the paused head) and write nothing;
 * - four answers to the one pending question of a node that asks twice: exactly one resume wins
 *   (it pauses on the second question, which names its answer); the others are refused
 *   (`ThreadBusy`, or `InterruptAlreadyAnswered` once they read the answered question) and
 *   write nothing — no caller is told its answer was accepted when another one was stored.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { type Snapshots, SqliteSnapshots } from "../../src/index.js"
import { inputGraph, twiceGraph } from "./raceGraphs.js"

const here = path.dirname(fileURLToPath(import.meta.url))
const ROUNDS = 20
const NAMES = ["p1", "p2", "p3", "p4"]

interface Summary {
  readonly rounds: number
  winners: number
  losers: number
  readonly badRounds: Array<string>
}

/**
 * Starts the four processes in `mode`, and for each round: `prepare` it (in this process), start
 * it at one instant in all four, and `judge` the four outcomes (`[tag, question]` each) against the
 * stored thread: the number of winners and losers, or a reason the round is wrong.
 */
const race = <E1, E2>(
  mode: "input" | "resume",
  prepare: (round: number) => Effect.Effect<{ readonly interruptId?: string }, E1, Snapshots.Snapshots>,
  judge: (round: number, outcomes: ReadonlyArray<ReadonlyArray<string>>) => Effect.Effect<string | { readonly winners: number; readonly losers: number }, E2, Snapshots.Snapshots>
) =>
  Effect.gen(function*() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `stategraph-race-${mode}-`))
    yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
    const filename = path.join(dir, "race.db")
    const store = yield* Layer.build(SqliteSnapshots.layer({ filename }))
    const lines = new Map<string, Array<string>>(NAMES.map((n) => [n, []]))
    const children: Array<ChildProcess> = []
    yield* Effect.addFinalizer(() => Effect.sync(() => children.forEach((c) => c.exitCode === null && c.kill("SIGKILL"))))
    // one process at a time, so the others open a migrated file
    for (const name of NAMES) {
      const child = spawn(process.execPath, ["--import", "tsx", path.join(here, "raceWorker.ts"), filename, dir, String(ROUNDS), name, mode], {
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
    const summary: Summary = { rounds: ROUNDS, winners: 0, losers: 0, badRounds: [] }
    for (let round = 0; round < ROUNDS; round++) {
      const extra = yield* Effect.provide(prepare(round), store)
      // written whole, then renamed: a process never reads a half-written start file
      fs.writeFileSync(path.join(dir, `go-${round}.tmp`), JSON.stringify({ at: Date.now() + 100, ...extra }))
      fs.renameSync(path.join(dir, `go-${round}.tmp`), path.join(dir, `go-${round}`))
      yield* waitFor(() => results(round).length === NAMES.length)
      // [tag, the pending question's request (may hold spaces)]
      const outcomes = results(round).map((l) => {
        const [tag, ...rest] = l!.split(" ").slice(2)
        return [tag!, rest.join(" ")]
      })
      const verdict = yield* Effect.provide(judge(round, outcomes), store)
      if (typeof verdict === "string") summary.badRounds.push(`round ${round}: ${JSON.stringify(outcomes)} ${verdict}`)
      else {
        summary.winners += verdict.winners
        summary.losers += verdict.losers
      }
    }
    console.log(`race (${mode}): ${JSON.stringify(summary)}`)
    return summary
  })

describe("races between processes (SQLite)", () => {
  it.scopedLive(`new input to one new thread from four processes at once, ${ROUNDS} times: one run applied, the rest refused`, () =>
    Effect.gen(function*() {
      const summary = yield* race("input", () => Effect.succeed({}), (round, outcomes) =>
        Effect.gen(function*() {
          const state = yield* inputGraph.getState(`race-${round}`)
          const won = outcomes.filter(([tag]) => tag === "GraphInterrupted")
          const refused = outcomes.filter(([tag]) => tag === "ThreadBusy" || tag === "ThreadPaused")
          const pending = state.interrupts.filter((i) => i.status === "pending").map((i) => i.request)
          // one run applied: the state holds the winner's input alone, and its question is the one pending
          const ok = won.length === 1 && refused.length === NAMES.length - 1 &&
            JSON.stringify(state.values.inputs) === JSON.stringify([won[0]![1]]) && JSON.stringify(pending) === JSON.stringify([won[0]![1]])
          return ok ? { winners: won.length, losers: refused.length } : `stored ${JSON.stringify(state.values.inputs)}`
        }))
      expect(summary.badRounds).toEqual([])
      expect(summary.winners).toBe(ROUNDS)
    }), { timeout: 300_000 })

  it.scopedLive(`four answers to one pending question at once, ${ROUNDS} times: one resume wins, the rest are refused and write nothing`, () =>
    Effect.gen(function*() {
      const summary = yield* race("resume", (round) =>
        Effect.gen(function*() {
          const paused = yield* Effect.flip(twiceGraph.invoke({}, { threadId: `twice-${round}` }))
          if (paused._tag !== "GraphInterrupted") return yield* Effect.die(paused)
          return { interruptId: paused.interrupts[0]!.id }
        }), (round, outcomes) =>
        Effect.gen(function*() {
          const state = yield* twiceGraph.getState(`twice-${round}`)
          const won = outcomes.filter(([tag]) => tag === "GraphInterrupted")
          const refused = outcomes.filter(([tag]) =>
            tag === "ThreadBusy" || tag === "InterruptAlreadyAnswered" || tag === "UnknownInterrupt"
          )
          const pending = state.interrupts.filter((i) => i.status === "pending").map((i) => i.request)
          // the one pending question is the second, naming the winner's answer and no other
          const ok = won.length === 1 && refused.length === NAMES.length - 1 && won[0]![1]!.startsWith("after p") &&
            JSON.stringify(pending) === JSON.stringify([won[0]![1]]) && state.values.answers.length === 0
          return ok ? { winners: won.length, losers: refused.length } : `pending ${JSON.stringify(pending)}`
        }))
      expect(summary.badRounds).toEqual([])
      expect(summary.winners).toBe(ROUNDS)
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
