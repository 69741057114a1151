/**
 * Side-by-side benchmark: effect-stategraph vs LangGraph JS, measured in the same run.
 *
 *   npm run bench                          # default run list, 3 repeats
 *   npm run bench -- --repeat 5            # more repeats
 *   npm run bench -- chain loop-memory     # only these scenarios (any id of bench/scenarios.ts)
 *   npm run bench -- --json out.json       # also write the raw results
 *
 *   npm run bench -- --tsx                 # children run the .ts sources under tsx instead
 *
 * The Postgres rows (`*-pg`, `pg-commit`) run on one throwaway cluster started here for the run
 * (test/pg/cluster.ts: initdb + pg_ctl on a free port, stopped and removed at the end; the run
 * fails saying why when no server can be started); each Postgres child gets a fresh database of
 * it, its URL in `STATEGRAPH_BENCH_PG` (bench/pg.ts), dropped after the child exits.
 *
 * src/ and bench/ are first transpiled to JavaScript (bench/build.ts, into a temp dir removed at
 * the end); every (side, scenario, repeat) then runs in a fresh child process
 * (`node --expose-gc <build>/bench/one.js <side> <id>`), sequentially, alternating which side
 * goes first; the table shows the median of the repeats for every number.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { build } from "./build.js"
import * as Cluster from "../test/pg/cluster.js"
import { withDatabase } from "./pg.js"
import { type Metric, type Scenario, SCENARIOS, type Side } from "./scenarios.js"

/** What `npm run bench` runs by default (every scenario of bench/scenarios.ts, in this order). */
const DEFAULT_RUN: ReadonlyArray<string> = [
  "chain",
  "chain-steady",
  "loop-none",
  "loop-memory",
  "loop-sqlite",
  "loop-sqlite-async",
  "loop-sqlite-steady",
  "loop-sqlite-async-steady",
  "chat",
  "interrupt",
  "interrupt-memory",
  "interrupt-concurrent",
  "send-join",
  "append-steps",
  "queue",
  "pg-commit",
  "loop-pg",
  "loop-pg-async",
  "chat-pg",
  "interrupt-pg",
  "interrupt-pg-concurrent",
  "send-join-pg",
  "queue-pg"
]

const SIDES: ReadonlyArray<Side> = ["ours", "langgraph"]
const CHILD_TIMEOUT_MS = 180_000

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, "..")
const oneTs = path.join(here, "one.ts")

// ---------------------------------------------------------------------------------------------
// arguments

const args = process.argv.slice(2)
let repeat = 3
let jsonOut: string | undefined
let useTsx = false
const ids: Array<string> = []
for (let i = 0; i < args.length; i++) {
  const a = args[i]!
  if (a === "--repeat") repeat = Math.max(1, Number(args[++i]))
  else if (a === "--json") jsonOut = args[++i]
  else if (a === "--tsx") useTsx = true
  else if (a.startsWith("-")) throw new Error(`unknown option ${a}`)
  else ids.push(a)
}
const selected: ReadonlyArray<Scenario> = (ids.length > 0 ? ids : DEFAULT_RUN).map((id) => {
  const s = SCENARIOS.find((x) => x.id === id)
  if (s === undefined) throw new Error(`unknown scenario "${id}" (known: ${SCENARIOS.map((x) => x.id).join(", ")})`)
  return s
})

// ---------------------------------------------------------------------------------------------
// running children

/** The run's Postgres cluster; its URL goes to the children through the environment. */
async function startCluster() {
  let c: Cluster.Cluster
  try {
    c = await Cluster.start()
  } catch (e) {
    compiled?.cleanup()
    throw e
  }
  process.stderr.write(`  Postgres cluster for the run: ${c.url} (${c.binDir})\n`)
  return { ...c, stop: () => Cluster.stop(c) }
}

interface ChildResult {
  readonly result: unknown
  readonly maxRssMb: number
  readonly wallMs: number
}

const compiled = useTsx ? undefined : build(root)
// one cluster for every Postgres row of the run (both sides, every repeat)
const cluster = selected.some((s) => s.pg === true) ? await startCluster() : undefined
let cleanedUp = false
const cleanup = () => {
  if (cleanedUp) return
  cleanedUp = true
  compiled?.cleanup()
  if (cluster !== undefined) cluster.stop()
}
process.on("exit", cleanup)
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    cleanup()
    process.exit(130)
  })
}
const childArgs = compiled === undefined
  ? ["--expose-gc", "--import", "tsx", oneTs]
  : ["--expose-gc", path.join(compiled.dir, "bench", "one.js")]

/**
 * A pause before each child: a process started right after another one exits runs measurably
 * slower here (its predecessor's exit and memory release still occupy the machine; our 20 ms
 * `chain` measured 10–15 % slower right after a LangGraph process than 1 s later).
 */
const SETTLE_MS = 1000
const settle = () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, SETTLE_MS)

const runChild = (side: Side, id: string, env?: NodeJS.ProcessEnv): ChildResult | { readonly error: string } => {
  settle()
  const child = spawnSync(process.execPath, [...childArgs, side, id], {
    cwd: root,
    ...(env === undefined ? {} : { env }),
    encoding: "utf8",
    timeout: CHILD_TIMEOUT_MS,
    maxBuffer: 64 * 1024 * 1024
  })
  const line = child.stdout?.split("\n").find((l) => l.startsWith("BENCH_RESULT "))
  if (child.status !== 0 || line === undefined) {
    const why = child.error?.message ?? (child.signal ? `killed by ${child.signal}` : `exit ${child.status}`)
    const stderr = (child.stderr ?? "").split("\n").filter((l) => !/MaxListenersExceeded|--trace-warnings/.test(l))
    const firstError = stderr.find((l) => /Error|error/.test(l)) ?? stderr.find((l) => l.trim() !== "") ?? ""
    return { error: `${why}: ${firstError.trim().slice(0, 300)}` }
  }
  return JSON.parse(line.slice("BENCH_RESULT ".length)) as ChildResult
}

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

type Runs = { [S in Side]: Array<ChildResult> }
const results = new Map<string, Runs>()
const errors: Array<string> = []

const loadBefore = os.loadavg()[0]!
const started = Date.now()
for (const scenario of selected) {
  const runs: Runs = { ours: [], langgraph: [] }
  results.set(scenario.id, runs)
  const times = Math.max(repeat, scenario.minRepeat ?? 1)
  for (let r = 0; r < times; r++) {
    const order = r % 2 === 0 ? SIDES : [...SIDES].reverse()
    for (const side of order) {
      if (scenario.run[side] === undefined) continue
      process.stderr.write(`  ${scenario.id} · ${side} · run ${r + 1}/${times} … `)
      // a Postgres child gets a fresh database of the run's cluster, dropped once the child (and
      // every connection it had) is gone
      const out = scenario.pg === true && cluster !== undefined
        ? await withDatabase(cluster.url, `bench_${side}_${scenario.id}_${r}`, (url) =>
          runChild(side, scenario.id, { ...process.env, STATEGRAPH_BENCH_PG: url }))
        : runChild(side, scenario.id)
      if ("error" in out) {
        process.stderr.write("FAILED\n")
        errors.push(`${scenario.id} / ${side}: ${out.error}`)
      } else {
        process.stderr.write(`${(out.wallMs / 1000).toFixed(1)} s\n`)
        runs[side].push(out)
      }
    }
  }
}
const wallS = (Date.now() - started) / 1000
const loadAfter = os.loadavg()[0]!

// ---------------------------------------------------------------------------------------------
// the table

const fmt = (x: number | undefined, digits: number): string =>
  x === undefined || !Number.isFinite(x)
    ? "n/a"
    : x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })

const metricOf = (runs: ReadonlyArray<ChildResult>, m: Metric): number | undefined =>
  runs.length === 0 ? undefined : median(runs.map((r) => m.get(r.result)))

const rssOf = (runs: ReadonlyArray<ChildResult>): number | undefined =>
  runs.length === 0 ? undefined : median(runs.map((r) => r.maxRssMb))

/** > 1 means ours is better: LangGraph ÷ ours for lower-is-better, ours ÷ LangGraph otherwise */
const ratioOf = (m: Metric, ours: number | undefined, lg: number | undefined): string => {
  if (ours === undefined || lg === undefined || ours === 0 || lg === 0) return "n/a"
  const r = m.better === "lower" ? lg / ours : ours / lg
  const who = r >= 1 ? "ours" : "LangGraph"
  return `${r >= 10 ? r.toFixed(0) : r.toFixed(2)}× (${who} better)`
}

const targetOf = (m: Metric, ours: number | undefined): string => {
  if (m.target === undefined) return "—"
  const { op, value } = m.target
  const text = `${op === "<=" ? "≤" : "≥"} ${value.toLocaleString("en-US")} ${m.unit}`
  if (ours === undefined) return text
  const ok = op === "<=" ? ours <= value : ours >= value
  return `${text} ${ok ? "✓" : "✗ MISSED"}`
}

const header = [
  "scenario",
  "metric",
  "ours",
  "LangGraph JS",
  "ratio (>1 = ours better)",
  "target (ours)",
  "peak RSS ours",
  "peak RSS LangGraph"
]
const rows: Array<Array<string>> = []
for (const scenario of selected) {
  const runs = results.get(scenario.id)!
  scenario.metrics.forEach((m, i) => {
    const o = metricOf(runs.ours, m)
    const l = metricOf(runs.langgraph, m)
    rows.push([
      i === 0 ? scenario.id : "",
      m.label,
      `${fmt(o, m.digits)} ${m.unit}`,
      scenario.run.langgraph === undefined ? "— (no counterpart)" : `${fmt(l, m.digits)} ${m.unit}`,
      scenario.run.langgraph === undefined ? "—" : ratioOf(m, o, l),
      targetOf(m, o),
      i === 0 ? `${fmt(rssOf(runs.ours), 0)} MB` : "",
      i === 0 && scenario.run.langgraph !== undefined ? `${fmt(rssOf(runs.langgraph), 0)} MB` : ""
    ])
  })
}

const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)))
const line = (cells: ReadonlyArray<string>) => `| ${cells.map((x, c) => x.padEnd(widths[c]!)).join(" | ")} |`
const out: Array<string> = []
out.push("")
out.push(
  `effect-stategraph vs LangGraph JS — node ${process.version}, ${process.platform}/${process.arch}, ` +
    `${os.cpus().length} CPUs, median of ${repeat} fresh process${repeat > 1 ? "es" : ""} per side and scenario` +
    (selected.some((s) => (s.minRepeat ?? 1) > repeat)
      ? ` (${selected.filter((s) => (s.minRepeat ?? 1) > repeat).map((s) => `${s.id}: ${s.minRepeat}`).join(", ")})`
      : "") +
    (useTsx ? " (children under tsx)" : " (children run transpiled JS on plain node)")
)
out.push("")
out.push(line(header))
out.push(line(widths.map((w) => "-".repeat(w))))
for (const r of rows) out.push(line(r))
out.push("")
out.push("ratio: LangGraph ÷ ours for times, sizes and RSS; ours ÷ LangGraph for throughputs (so > 1 = ours better).")
out.push("peak RSS: process.resourceUsage().maxRSS of that side's child process (module loading + scenario).")
for (const s of selected) out.push(`  ${s.id}: ${s.title}`)
// what each side's SQLite runs with: the comparison is only fair when the reader knows
if (selected.some((s) => !s.id.endsWith("-pg") && s.id !== "pg-commit" && s.id !== "chain" && s.id !== "chain-steady")) {
  out.push(
    "SQLite settings: ours SqliteSnapshots.layer defaults — WAL, synchronous = NORMAL (a commit survives a killed " +
      "process, not a power loss), WAL checkpoints in a background thread; LangGraph SqliteSaver.fromConnString — WAL, " +
      "synchronous = FULL (better-sqlite3's default: each commit fsynced), SQLite's automatic checkpoints (1,000 pages)."
  )
}
// the issue's Postgres target: a durable step ≤ 2× a bare single-row commit on the same server
const commitRuns = results.get("pg-commit")?.ours ?? []
const loopPgRuns = results.get("loop-pg")?.ours ?? []
if (commitRuns.length > 0 && loopPgRuns.length > 0) {
  const commit = median(commitRuns.map((r) => (r.result as { transactionUs: number }).transactionUs))
  const step = median(loopPgRuns.map((r) => r.result as number))
  out.push(
    `loop-pg: a durable step is ${(step / commit).toFixed(2)}× the bare BEGIN … COMMIT of pg-commit ` +
      `(${fmt(step, 1)} ÷ ${fmt(commit, 1)} µs; target ≤ 2×${step / commit <= 2 ? " ✓" : " ✗ MISSED"})`
  )
}
out.push(
  `bench wall time ${wallS.toFixed(1)} s; peak RSS of this orchestrator process ` +
    `${fmt(process.resourceUsage().maxRSS / 1024, 0)} MB; 1-min load average ${loadBefore.toFixed(2)} before, ` +
    `${loadAfter.toFixed(2)} after (> 1 on 2 cores means other work competed for the CPU)`
)
if (errors.length > 0) {
  out.push("")
  out.push("FAILED runs:")
  for (const e of errors) out.push(`  ${e}`)
}
console.log(out.join("\n"))

if (jsonOut !== undefined) {
  fs.writeFileSync(jsonOut, JSON.stringify({ node: process.version, repeat, results: Object.fromEntries(results), errors }, null, 2))
}
if (errors.length > 0) process.exitCode = 1
