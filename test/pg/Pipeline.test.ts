/** The queue tests of `test/Pipeline.test.ts`, every store on the run's Postgres server. */
import { useDatabase } from "../fixtures/orchestrator/setup.js"

useDatabase("pg")
await import("../Pipeline.test.js")
