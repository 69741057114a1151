import { describe } from "@effect/vitest"
import { Effect } from "effect"
import * as PgSnapshots from "effect-stategraph/PgSnapshots"
import { runCommandCases } from "../fixtures/runCommand.js"
import { cluster, scopedSchema } from "./fixtures.js"

/** `Command` as a run's input and a resume with an update, on Postgres (a schema per test). */
describe("Command as run input, resume with an update (Postgres)", () => {
  runCommandCases("postgres", (effect) =>
    Effect.scoped(Effect.flatMap(scopedSchema("cmd"), (schema) =>
      Effect.provide(effect, PgSnapshots.layer({ url: cluster().url, schema })))))
})
