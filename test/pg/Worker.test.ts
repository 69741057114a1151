/**
 * The worker tests of `test/Worker.test.ts` (worker processes included), every store on the run's
 * Postgres server.
 */
import { useDatabase } from "../fixtures/orchestrator/setup.js"

useDatabase("pg")
await import("../Worker.test.js")
