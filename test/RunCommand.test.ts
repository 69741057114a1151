import { describe } from "@effect/vitest"
import { Effect } from "effect"
import { Snapshots, SqliteSnapshots } from "effect-stategraph"
import { runCommandCases } from "./fixtures/runCommand.js"
import { scopedTempFile } from "./fixtures/tempFile.js"

/**
 * A `Command` as a run's input (`invoke(Command.goto(…))`, `invoke(Command.update(…))`) and a
 * resume that updates the state in the same step (`resume({ threadId, update }, …answers)`), on
 * memory and SQLite (Postgres: pg/RunCommand.test.ts).
 */
describe("Command as run input, resume with an update", () => {
  runCommandCases("memory", (effect) => Effect.provide(effect, Snapshots.layerMemory))
  runCommandCases("sqlite", (effect) =>
    Effect.scoped(Effect.flatMap(scopedTempFile("feat3-command-", "t.db"), (file) =>
      Effect.provide(effect, SqliteSnapshots.layer({ filename: file })))))
})
