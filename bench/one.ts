/**
 * Runs ONE scenario on ONE side in this process and prints its result as JSON on stdout:
 *
 *   node --expose-gc --import tsx bench/one.ts <ours|langgraph> <scenario-id>
 *
 * The line starts with `BENCH_RESULT ` so stray library output on stdout cannot break parsing.
 * `maxRssMb` is the process's lifetime peak RSS (process.resourceUsage().maxRSS), i.e. module
 * loading + the scenario, for this side only.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { byId, type Side } from "./scenarios.js"

const [side, id] = process.argv.slice(2)
if (side !== "ours" && side !== "langgraph") {
  console.error("usage: bench/one.ts <ours|langgraph> <scenario-id>")
  process.exit(2)
}
const scenario = byId(id ?? "")
const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-${side}-${scenario.id}-`))
const t0 = Date.now()
try {
  const run = scenario.run[side as Side]
  if (run === undefined) throw new Error(`scenario "${scenario.id}" has no ${side} side`)
  // a Postgres scenario runs in the fresh database bench/run.ts made for this process
  const result = scenario.pg === true ? await run(dir, (await import("./pg.js")).databaseUrl()) : await run(dir)
  const out = {
    side,
    scenario: scenario.id,
    result,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    wallMs: Date.now() - t0
  }
  process.stdout.write(`BENCH_RESULT ${JSON.stringify(out)}\n`)
} finally {
  fs.rmSync(dir, { recursive: true, force: true })
}
// do not wait for stray handles (timers, pools) a library may leave behind
process.exit(0)
