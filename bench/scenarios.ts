/**
 * The benchmark's scenario list: one entry per scenario, each with the call for both sides and
 * the numbers it reports. Sides are loaded with dynamic imports so a child process only ever
 * loads one engine (LangGraph's heap never skews our numbers, nor the reverse).
 *
 * Which entries `npm run bench` runs by default is `DEFAULT_RUN` in bench/run.ts.
 */

export type Side = "ours" | "langgraph"

export interface Metric {
  /** row label in the table */
  readonly label: string
  readonly unit: string
  /** whether a smaller or a bigger number is better (decides the ratio's direction) */
  readonly better: "lower" | "higher"
  /** the project's target for our side */
  readonly target?: { readonly op: "<=" | ">="; readonly value: number }
  readonly digits: number
  readonly get: (result: any) => number
}

export interface Scenario {
  readonly id: string
  readonly title: string
  /** uses SQLite (our side: `SqliteSnapshots.layer({ filename })`) */
  readonly sqlite: boolean
  /**
   * uses Postgres: `bench/run.ts` starts a throwaway cluster for the run and each child gets a
   * fresh database of it, whose URL is `run`'s second argument
   */
  readonly pg?: boolean
  /**
   * `dir` is a fresh temp directory (removed after the run); `pg` the URL of a fresh database
   * (Postgres scenarios only). A scenario LangGraph has no counterpart for (the durable queue)
   * runs our side only.
   */
  readonly run: {
    readonly ours: (dir: string, pg?: string) => Promise<unknown>
    readonly langgraph?: (dir: string, pg?: string) => Promise<unknown>
  }
  readonly metrics: ReadonlyArray<Metric>
  /**
   * at least this many fresh processes per side, whatever `--repeat` says: for a scenario whose
   * timed part is so short (tens of ms on our side) that one process's number swings with the
   * machine's noise
   */
  readonly minRepeat?: number
}

const ours = () => import("./ours/scenarios.js")
const queue = () => import("./ours/queue.js")
const langgraph = () => import("./langgraph/scenarios.js")
const pgHelpers = () => import("./pg.js")

const usPerNode = (target?: number): Metric => ({
  label: "µs / node",
  unit: "µs",
  better: "lower",
  digits: 2,
  get: (r: number) => r,
  ...(target !== undefined ? { target: { op: "<=", value: target } } : {})
})

/** the interrupt scenarios' one number (the project's target applies to the one-at-a-time cycles) */
const cyclesPerSecond = (target?: number): Metric => ({
  label: "cycles / s",
  unit: "/s",
  better: "higher",
  digits: 0,
  get: (r: number) => r,
  ...(target !== undefined ? { target: { op: ">=", value: target } } : {})
})

/** The a↔b loop on SQLite: LangGraph keeps its default durability ("async") in every variant. */
const loopSqlite = (o: {
  readonly id: string
  readonly title: string
  readonly durability?: "async"
  readonly steady?: boolean
  /** our target, µs per step (default 40) */
  readonly target?: number
}): Scenario => {
  const runs = o.steady === true ? { warmupRuns: 5, reps: 3 } : {}
  return {
    id: o.id,
    title: o.title,
    sqlite: true,
    run: {
      ours: async (dir) =>
        (await ours()).loop({ steps: 1000, store: "sqlite", dir, ...runs, ...(o.durability ? { durability: o.durability } : {}) }),
      langgraph: async (dir) => (await langgraph()).loop({ steps: 1000, store: "sqlite", dir, ...runs })
    },
    metrics: [{ ...usPerNode(o.target ?? 40), label: "µs / step" }]
  }
}

const MAIN_SCENARIOS: ReadonlyArray<Scenario> = [
  {
    id: "chain",
    title: "100-node linear chain, no store (5 warm-up + 20 timed invokes)",
    sqlite: false,
    run: {
      ours: async () => (await ours()).chain({ nodes: 100, reps: 20, warmup: 5 }),
      langgraph: async () => (await langgraph()).chain({ nodes: 100, reps: 20, warmup: 5 })
    },
    metrics: [usPerNode(8)],
    // our timed part is ~20 ms: a neighbour's burst or one GC doubles a single process's figure
    minRepeat: 7
  },
  {
    // not one of the project's scenarios: the same chain and measurement, with enough warm-up for
    // the JIT to settle (the 5 warm-up invokes above = 500 node runs is not enough for V8 to
    // optimize our engine's hot path, so "chain" mostly measures cold code)
    id: "chain-steady",
    title: "same chain, steady state (100 warm-up + 100 timed invokes)",
    sqlite: false,
    run: {
      ours: async () => (await ours()).chain({ nodes: 100, reps: 100, warmup: 100 }),
      langgraph: async () => (await langgraph()).chain({ nodes: 100, reps: 100, warmup: 100 })
    },
    metrics: [usPerNode(10)]
  },
  {
    id: "loop-none",
    title: "a↔b loop, 1,000 steps, no store",
    sqlite: false,
    run: {
      ours: async () => (await ours()).loop({ steps: 1000, store: "none" }),
      langgraph: async () => (await langgraph()).loop({ steps: 1000, store: "none" })
    },
    metrics: [{ ...usPerNode(), label: "µs / step" }]
  },
  {
    id: "loop-memory",
    title: "a↔b loop, 1,000 steps, memory store (thread)",
    sqlite: false,
    run: {
      ours: async () => (await ours()).loop({ steps: 1000, store: "memory" }),
      langgraph: async () => (await langgraph()).loop({ steps: 1000, store: "memory" })
    },
    metrics: [{ ...usPerNode(), label: "µs / step" }]
  },
  loopSqlite({ id: "loop-sqlite", title: "a↔b loop, 1,000 steps, SQLite store", target: 90 }),
  // not one of the project's scenarios: the same loop with our engine in LangGraph's default
  // durability ("async": a step's checkpoint is written while the next steps run, several to
  // a transaction, all of them before the run returns); the LangGraph side is the same as above
  loopSqlite({
    id: "loop-sqlite-async",
    title: "a↔b loop, 1,000 steps, SQLite store, both sides with durability \"async\"",
    durability: "async"
  }),
  // steady state: the same loops after 5 full-length runs in the process, 3 timed runs
  loopSqlite({
    id: "loop-sqlite-steady",
    title: "same loop, steady state (5 warm-up + 3 timed runs, each on a new thread)",
    steady: true
  }),
  loopSqlite({
    id: "loop-sqlite-async-steady",
    title: "same loop, durability \"async\" on both sides, steady state (5 warm-up + 3 timed runs)",
    durability: "async",
    steady: true
  }),
  {
    id: "chat",
    title: "300-turn chat thread on SQLite, 200-char messages",
    sqlite: true,
    run: {
      ours: async (dir) => (await ours()).chat({ turns: 300, chars: 200, dir }),
      langgraph: async (dir) => (await langgraph()).chat({ turns: 300, chars: 200, dir })
    },
    metrics: [
      {
        label: "file MB (db+wal+shm)",
        unit: "MB",
        better: "lower",
        target: { op: "<=", value: 1 },
        digits: 3,
        get: (r) => r.fileBytes / (1024 * 1024)
      },
      { label: "turn 10 ms (turns 6-15)", unit: "ms", better: "lower", digits: 3, get: (r) => r.turn10Ms },
      { label: "turn 300 ms (last 10)", unit: "ms", better: "lower", digits: 3, get: (r) => r.turn300Ms },
      {
        label: "turn 300 ÷ turn 10",
        unit: "×",
        better: "lower",
        target: { op: "<=", value: 1.1 },
        digits: 2,
        get: (r) => r.ratio
      }
    ]
  },
  {
    id: "interrupt",
    title: "interrupt + resume on 300 threads, SQLite",
    sqlite: true,
    run: {
      ours: async (dir) => (await ours()).interruptResume({ threads: 300, dir }),
      langgraph: async (dir) => (await langgraph()).interruptResume({ threads: 300, dir })
    },
    metrics: [cyclesPerSecond(3000)]
  },
  {
    // the same cycles on the in-memory store (`Snapshots.layerMemory` / `MemorySaver`): the
    // engine's own cost of a pause and a resume, without SQLite's commits
    id: "interrupt-memory",
    title: "interrupt + resume on 300 threads, memory store",
    sqlite: false,
    run: {
      ours: async (dir) => (await ours()).interruptResume({ threads: 300, dir, store: "memory" }),
      langgraph: async (dir) => (await langgraph()).interruptResume({ threads: 300, dir, store: "memory" })
    },
    metrics: [cyclesPerSecond(15000)]
  },
  {
    // not one of the project's scenarios, and not in the default run: the same cycles with the
    // WAL left to SQLite's own checkpoints (`walCheckpointAfterCommits: 0`), i.e. the price of
    // keeping the database file small (the chat scenario's ≤ 1 MB)
    id: "interrupt-wal-auto",
    title: "interrupt + resume on 300 threads, SQLite, WAL checkpoints left to SQLite (ours)",
    sqlite: true,
    run: {
      ours: async (dir) => (await ours()).interruptResume({ threads: 300, dir, walCheckpointAfterCommits: 0 }),
      langgraph: async (dir) => (await langgraph()).interruptResume({ threads: 300, dir })
    },
    metrics: [cyclesPerSecond(4000)]
  },
  {
    // both sides fsync each commit (LangGraph's SqliteSaver runs better-sqlite3's default,
    // synchronous = FULL): the same durability on both sides, power loss included
    id: "interrupt-full",
    title: "interrupt + resume on 300 threads, SQLite, both sides synchronous = FULL (ours: synchronous: \"full\")",
    sqlite: true,
    run: {
      ours: async (dir) => (await ours()).interruptResume({ threads: 300, dir, synchronous: "full" }),
      langgraph: async (dir) => (await langgraph()).interruptResume({ threads: 300, dir })
    },
    metrics: [cyclesPerSecond(4000)]
  },
  {
    // not one of the project's scenarios: the same cycles with all 300 threads in flight at once
    // (a server answering many users), on both sides; our store commits the writes that runs
    // issue at the same moment in one transaction (group commit)
    id: "interrupt-concurrent",
    title: "interrupt + resume on 300 threads at once (Promise.all), SQLite",
    sqlite: true,
    run: {
      ours: async (dir) => (await ours()).interruptResume({ threads: 300, dir, concurrent: true }),
      langgraph: async (dir) => (await langgraph()).interruptResume({ threads: 300, dir, concurrent: true })
    },
    metrics: [cyclesPerSecond()]
  },
  {
    id: "send-join",
    title: "1,000 Sends + join, SQLite",
    sqlite: true,
    run: {
      ours: async (dir) => (await ours()).sendJoin({ sends: 1000, dir }),
      langgraph: async (dir) => (await langgraph()).sendJoin({ sends: 1000, dir })
    },
    metrics: [
      { label: "total ms", unit: "ms", better: "lower", target: { op: "<=", value: 50 }, digits: 1, get: (r) => r.totalMs },
      {
        label: "peak RSS MB (in run)",
        unit: "MB",
        better: "lower",
        target: { op: "<=", value: 80 },
        digits: 1,
        get: (r) => r.peakRssMb
      },
      { label: "base RSS MB (before)", unit: "MB", better: "lower", digits: 1, get: (r) => r.baseRssMb },
      {
        label: "run footprint MB (peak − base)",
        unit: "MB",
        better: "lower",
        digits: 1,
        get: (r) => r.peakRssMb - r.baseRssMb
      }
    ]
  },
  {
    // ours only: 50,000 durable steps on one thread with a growing append channel; LangGraph
    // would store the whole channel in every checkpoint (minutes for this run), so no side here
    id: "append-steps",
    title: "50,000 steps on one SQLite thread, an append channel growing to 25,000 items (10 invokes of 5,000)",
    sqlite: true,
    run: {
      ours: async (dir) => (await ours()).appendSteps({ dir, steps: 50_000, block: 5000 })
    },
    metrics: [
      { label: "µs / step, first 5,000", unit: "µs", better: "lower", digits: 2, get: (r) => r.firstUs },
      { label: "µs / step, last 5,000", unit: "µs", better: "lower", digits: 2, get: (r) => r.lastUs },
      {
        label: "last block ÷ first",
        unit: "×",
        better: "lower",
        target: { op: "<=", value: 1.5 },
        digits: 2,
        get: (r) => r.ratio
      }
    ]
  },
  {
    // ours only: LangGraph JS has no durable job queue
    id: "queue",
    title: "async orchestrator's durable queue on SQLite: 2,000 trivial one-task pipelines drained by workers",
    sqlite: true,
    run: {
      ours: async () => (await queue()).queueThroughput({ jobs: 2000 })
    },
    metrics: [
      {
        label: "jobs / s, 1 worker fiber",
        unit: "/s",
        better: "higher",
        target: { op: ">=", value: 5000 },
        digits: 0,
        get: (r) => r.oneFiber
      },
      { label: "jobs / s, 2 worker fibers", unit: "/s", better: "higher", digits: 0, get: (r) => r.twoFibers },
      { label: "jobs / s, 2 worker processes", unit: "/s", better: "higher", digits: 0, get: (r) => r.twoProcesses }
    ]
  }
]

/**
 * The Postgres rows: our `PgSnapshots` / `Pipeline.layerPg` against LangGraph's `PostgresSaver`
 * (`@langchain/langgraph-checkpoint-postgres`), both on the same throwaway cluster that
 * bench/run.ts starts for the run (test/pg/cluster.ts: local TCP, `fsync=off`), each child in a
 * fresh database. `pg-commit` is the physical reference: one single-row commit on that server.
 */
const PG_SCENARIOS: ReadonlyArray<Scenario> = [
  {
    id: "pg-commit",
    title: "Postgres reference: one single-row upsert commit (autocommit, and in BEGIN … COMMIT), node-postgres, 2,000 commits",
    sqlite: false,
    pg: true,
    run: { ours: async (_dir, pg) => (await pgHelpers()).bareCommit(pg!) },
    metrics: [
      { label: "µs / commit, autocommit", unit: "µs", better: "lower", digits: 1, get: (r) => r.autocommitUs },
      { label: "µs / commit, BEGIN … COMMIT", unit: "µs", better: "lower", digits: 1, get: (r) => r.transactionUs }
    ]
  },
  {
    id: "loop-pg",
    title: "a↔b loop, 1,000 steps, Postgres store (ours durability \"sync\", LangGraph its default \"async\")",
    sqlite: false,
    pg: true,
    run: {
      ours: async (_dir, pg) => (await ours()).loop({ steps: 1000, store: "pg", pg: pg! }),
      langgraph: async (_dir, pg) => (await langgraph()).loop({ steps: 1000, store: "pg", pg: pg! })
    },
    metrics: [{ ...usPerNode(), label: "µs / step" }]
  },
  {
    id: "loop-pg-async",
    title: "a↔b loop, 1,000 steps, Postgres store, both sides durability \"async\"",
    sqlite: false,
    pg: true,
    run: {
      ours: async (_dir, pg) => (await ours()).loop({ steps: 1000, store: "pg", pg: pg!, durability: "async" }),
      langgraph: async (_dir, pg) => (await langgraph()).loop({ steps: 1000, store: "pg", pg: pg! })
    },
    metrics: [{ ...usPerNode(), label: "µs / step" }]
  },
  {
    id: "chat-pg",
    title: "300-turn chat thread on Postgres, 200-char messages (size: pg_total_relation_size of the tables)",
    sqlite: false,
    pg: true,
    run: {
      ours: async (dir, pg) => (await ours()).chat({ turns: 300, chars: 200, dir, pg: pg! }),
      langgraph: async (dir, pg) => (await langgraph()).chat({ turns: 300, chars: 200, dir, pg: pg! })
    },
    metrics: [
      { label: "tables MB", unit: "MB", better: "lower", digits: 3, get: (r) => r.fileBytes / (1024 * 1024) },
      { label: "turn 10 ms (turns 6-15)", unit: "ms", better: "lower", digits: 3, get: (r) => r.turn10Ms },
      { label: "turn 300 ms (last 10)", unit: "ms", better: "lower", digits: 3, get: (r) => r.turn300Ms },
      { label: "turn 300 ÷ turn 10", unit: "×", better: "lower", target: { op: "<=", value: 1.1 }, digits: 2, get: (r) => r.ratio }
    ]
  },
  {
    id: "interrupt-pg",
    title: "interrupt + resume on 300 threads, one at a time, Postgres",
    sqlite: false,
    pg: true,
    run: {
      ours: async (dir, pg) => (await ours()).interruptResume({ threads: 300, dir, store: "pg", pg: pg! }),
      langgraph: async (dir, pg) => (await langgraph()).interruptResume({ threads: 300, dir, store: "pg", pg: pg! })
    },
    metrics: [cyclesPerSecond()]
  },
  {
    id: "interrupt-pg-concurrent",
    title: "interrupt + resume on 300 threads at once (Promise.all), Postgres",
    sqlite: false,
    pg: true,
    run: {
      ours: async (dir, pg) => (await ours()).interruptResume({ threads: 300, dir, store: "pg", pg: pg!, concurrent: true }),
      langgraph: async (dir, pg) => (await langgraph()).interruptResume({ threads: 300, dir, store: "pg", pg: pg!, concurrent: true })
    },
    metrics: [cyclesPerSecond()]
  },
  {
    id: "send-join-pg",
    title: "1,000 Sends + join, Postgres",
    sqlite: false,
    pg: true,
    run: {
      ours: async (dir, pg) => (await ours()).sendJoin({ sends: 1000, dir, pg: pg! }),
      langgraph: async (dir, pg) => (await langgraph()).sendJoin({ sends: 1000, dir, pg: pg! })
    },
    metrics: [{ label: "total ms", unit: "ms", better: "lower", digits: 1, get: (r) => r.totalMs }]
  },
  {
    // ours only: LangGraph JS has no durable job queue
    id: "queue-pg",
    title: "durable queue on Postgres (Pipeline.layerPg): 500 one-task pipelines drained by worker processes (1 fiber each)",
    sqlite: false,
    pg: true,
    run: { ours: async (_dir, pg) => (await queue()).queueThroughputPg({ url: pg!, jobs: 500 }) },
    metrics: [
      { label: "jobs / s, 1 worker process", unit: "/s", better: "higher", digits: 0, get: (r) => r.oneProcess },
      { label: "jobs / s, 2 worker processes", unit: "/s", better: "higher", digits: 0, get: (r) => r.twoProcesses },
      { label: "jobs / s, 4 worker processes", unit: "/s", better: "higher", digits: 0, get: (r) => r.fourProcesses }
    ]
  }
]

/** every scenario: the in-process and SQLite ones, then the Postgres ones */
export const SCENARIOS: ReadonlyArray<Scenario> = [...MAIN_SCENARIOS, ...PG_SCENARIOS]

export const byId = (id: string): Scenario => {
  const s = SCENARIOS.find((x) => x.id === id)
  if (s === undefined) throw new Error(`unknown scenario "${id}" (known: ${SCENARIOS.map((x) => x.id).join(", ")})`)
  return s
}
