/**
 * A profile of one benchmark scenario of ours, for `node --cpu-prof`:
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/profile.ts interrupt-memory [repeat]
 *
 * runs the scenario `repeat` times (default 3) in this process and prints each result; open the
 * `.cpuprofile` in Chrome's DevTools, or summarise it with `bench/profileTop.ts`.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { byId } from "./scenarios.js"

const [id, repeat] = process.argv.slice(2)
const scenario = byId(id ?? "")
const run = scenario.run.ours
if (run === undefined) throw new Error(`scenario "${scenario.id}" has no side of ours`)
for (let i = 0; i < Number(repeat ?? 3); i++) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `profile-${scenario.id}-`))
  try {
    console.log(JSON.stringify(await run(dir)))
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
process.exit(0)
