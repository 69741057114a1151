/**
 * effect-stategraph side of the side-by-side benchmark: one function per scenario of
 * bench/langgraph/scenarios.ts, with the same graph shape, sizes, warm-up and measurement
 * (performance.now() around the same awaited calls, the same result checks).
 *
 * Our engine runs with ITS defaults too (durability "sync": each step's checkpoint is committed
 * before the next step; LangGraph's default is "async"). Like LangGraph's `recursionLimit` in the
 * invoke config, ours is set where a graph needs more than the default 25 supersteps (at compile
 * time, the only place our API takes it).
 *
 * Each `graph.invoke` is its own `runtime.runPromise(...)`: the same unit of work as LangGraph's
 * `await graph.invoke(...)`, so the per-call overhead of entering the engine is measured on both
 * sides.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Schema from "effect/Schema"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { Channel, Interrupt, Send, Snapshots, StateGraph } from "../../src/index.js"
import * as SqliteSnapshots from "../../src/SqliteSnapshots.js"
import { maybeGc, mean, sqliteBytes } from "../util.js"

// ---------------------------------------------------------------------------------------------
// stores

export type Store = "none" | "memory" | "sqlite" | "pg"

const sqliteLayer = (file: string): Layer.Layer<Snapshots.Snapshots, unknown> => SqliteSnapshots.layer({ filename: file })

/** `PgSnapshots.layer` on the database at `url`, loaded only by the Postgres rows. */
const pgLayer = async (url: string | undefined): Promise<Layer.Layer<Snapshots.Snapshots, unknown>> =>
  (await import("../../src/PgSnapshots.js")).layer({ url: must(url, "a Postgres scenario's database URL") })

/** The durable store of a scenario: SQLite in `file`, or Postgres at `pg`. */
const durableLayer = (store: "sqlite" | "pg" | undefined, file: string, pg: string | undefined) =>
  store === "pg" ? pgLayer(pg) : Promise.resolve(sqliteLayer(file))

/** A runtime providing the store (built before timing starts; disposed by the caller). */
const runtimeFor = async (layer: Layer.Layer<Snapshots.Snapshots, unknown>) => {
  const rt = ManagedRuntime.make(layer)
  await rt.runtime()
  return rt
}

const must = <A>(x: A | undefined, what: string): A => {
  if (x === undefined) throw new Error(`${what} is required`)
  return x
}

// ---------------------------------------------------------------------------------------------
// 1. chain: 100-node linear chain, no store

export interface ChainOptions {
  nodes?: number
  reps?: number
  warmup?: number
}

/** Returns µs per node execution. */
export async function chain(opts: ChainOptions = {}): Promise<number> {
  const { nodes = 100, reps = 20, warmup = 5 } = opts
  let builder: StateGraph.StateGraph<any, any, never, never> = StateGraph.make({
    id: "bench-chain",
    state: { n: Channel.lastValue(Schema.Number) }
  })
  for (let i = 0; i < nodes; i++) {
    builder = StateGraph.addNode(builder, `n${i}`, (s: { readonly n: number }) => Effect.succeed({ n: s.n + 1 }))
  }
  builder = StateGraph.addEdge(builder, StateGraph.START, "n0")
  for (let i = 0; i + 1 < nodes; i++) builder = StateGraph.addEdge(builder, `n${i}`, `n${i + 1}`)
  builder = StateGraph.addEdge(builder, `n${nodes - 1}`, StateGraph.END)
  // one superstep per node, default limit (25) is too low for a 100-node chain
  const graph = StateGraph.compileSync(builder, { recursionLimit: nodes + 10 }) as StateGraph.CompiledGraph<
    { readonly n: Channel.Channel<number> },
    any,
    never,
    never
  >

  const invoke = () => Effect.runPromise(graph.invoke({ n: 0 }))
  for (let i = 0; i < warmup; i++) await invoke()

  maybeGc()
  const t0 = performance.now()
  for (let i = 0; i < reps; i++) {
    const out = await invoke()
    if (out.n !== nodes) throw new Error(`chain: expected ${nodes}, got ${out.n}`)
  }
  const elapsedMs = performance.now() - t0
  return (elapsedMs * 1000) / (reps * nodes)
}

// ---------------------------------------------------------------------------------------------
// 2. loop: a <-> b cycle until counter reaches `steps`

export interface LoopOptions {
  steps?: number
  store?: Store
  /** directory for the SQLite file (required when store === "sqlite") */
  dir?: string
  /** the Postgres database's URL (required when store === "pg") */
  pg?: string
  /** full-length runs (each on its own thread) before the timed ones, for a steady-state figure */
  warmupRuns?: number
  /** timed runs, each on its own thread; the result is their mean µs per step */
  reps?: number
  /** our engine's default is "sync"; LangGraph's is "async" */
  durability?: "sync" | "async"
}

/** Returns µs per step (one node execution). */
export async function loop(opts: LoopOptions = {}): Promise<number> {
  const { durability = "sync", steps = 1000, store = "none", dir, pg, warmupRuns = 0, reps = 1 } = opts
  const inc = (s: { readonly counter: number }) => Effect.succeed({ counter: s.counter + 1 })
  // one superstep per node execution; the largest run below is `steps` (+1) node executions
  const graph = StateGraph.make({ id: "bench-loop", state: { counter: Channel.lastValue(Schema.Number) } }).pipe(
    StateGraph.addNode("a", inc),
    StateGraph.addNode("b", inc),
    StateGraph.addEdge(StateGraph.START, "a"),
    StateGraph.addEdge("a", "b"),
    StateGraph.addConditionalEdges("b", (s) => (s.counter < steps ? "a" : StateGraph.END), ["a", StateGraph.END]),
    StateGraph.compileSync({ recursionLimit: steps + 10, durability })
  )

  const layer = store === "memory"
    ? Snapshots.layerMemory
    : store === "sqlite"
    ? sqliteLayer(path.join(must(dir, "loop: `dir` for store=sqlite"), "loop.sqlite"))
    : store === "pg"
    ? await pgLayer(pg)
    : Layer.empty as unknown as Layer.Layer<Snapshots.Snapshots>
  const rt = await runtimeFor(layer)

  const run = (target: number, threadId: string) =>
    rt.runPromise(
      store === "none"
        ? graph.invoke({ counter: steps - target })
        : graph.invoke({ counter: steps - target }, { threadId })
    )

  try {
    await run(Math.min(100, steps), "warmup") // warm up on a separate thread
    for (let i = 0; i < warmupRuns; i++) await run(steps, `warmup-${i}`)
    maybeGc()
    let elapsedMs = 0
    let executions = 0
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now()
      const out = await run(steps, `measured-${i}`)
      elapsedMs += performance.now() - t0
      // counter starts at 0 and each node adds 1, so counter = node executions
      if (out.counter < steps) throw new Error(`loop: expected ${steps}, got ${out.counter}`)
      executions += out.counter
    }
    return (elapsedMs * 1000) / executions
  } finally {
    await rt.dispose()
  }
}

// ---------------------------------------------------------------------------------------------
// 3. chat: growing message history on one thread, SQLite store

export interface ChatOptions {
  turns?: number
  chars?: number
  dir: string
  /** on Postgres (this database's URL) instead of SQLite; the size is then the tables' */
  pg?: string
}

export interface ChatResult {
  fileBytes: number
  turn10Ms: number
  turn300Ms: number
  ratio: number
}

const Message = Schema.Struct({ role: Schema.Literal("user", "assistant"), content: Schema.String })
type Message = typeof Message.Type

/** A plain `{ role, content }` struct appended with `Channel.append`, as on the LangGraph side. */
export async function chat(opts: ChatOptions): Promise<ChatResult> {
  const { turns = 300, chars = 200, dir, pg } = opts
  if (turns < 15) throw new Error("chat: need at least 15 turns")
  const reply: Message = { role: "assistant", content: "r".repeat(chars) }
  const file = path.join(dir, "chat.sqlite")
  const graph = StateGraph.make({ id: "bench-chat", state: { messages: Channel.append(Message) } }).pipe(
    StateGraph.addNode("bot", () => Effect.succeed({ messages: [reply] })),
    StateGraph.addEdge(StateGraph.START, "bot"),
    StateGraph.addEdge("bot", StateGraph.END),
    StateGraph.compileSync()
  )
  const rt = await runtimeFor(await durableLayer(pg === undefined ? "sqlite" : "pg", file, pg))

  const userMsg: Message = { role: "user", content: "u".repeat(chars) }
  const latencies: Array<number> = []
  try {
    maybeGc()
    for (let t = 0; t < turns; t++) {
      const t0 = performance.now()
      const out = await rt.runPromise(graph.invoke({ messages: [userMsg] }, { threadId: "chat" }))
      latencies.push(performance.now() - t0)
      if (out.messages.length !== 2 * (t + 1)) throw new Error("chat: wrong history length")
    }
    // measure before dispose(): closing the last connection checkpoints & removes the WAL
    const fileBytes = pg === undefined ? sqliteBytes(file) : await (await import("../pg.js")).databaseBytes(pg)
    const turn10Ms = mean(latencies.slice(5, 15)) // turns 6..15 (1-based)
    const turn300Ms = mean(latencies.slice(-10)) // last 10 turns
    return { fileBytes, turn10Ms, turn300Ms, ratio: turn300Ms / turn10Ms }
  } finally {
    await rt.dispose()
  }
}

// ---------------------------------------------------------------------------------------------
// 4. interruptResume: pause with an Interrupt.Tag ask, resume with its answer

export interface InterruptResumeOptions {
  threads?: number
  dir: string
  /** the store's option; default 8 (the WAL is truncated every few runs, for small files) */
  walCheckpointAfterCommits?: number
  /** all threads' cycles started at once (`Promise.all`) instead of one after another */
  concurrent?: boolean
  /** the SQLite store's `synchronous` (default: the store's, "normal") */
  synchronous?: "normal" | "full"
  /** the store: SQLite (default), the in-memory one or Postgres (`pg`) */
  store?: "sqlite" | "memory" | "pg"
  /** the Postgres database's URL (store "pg") */
  pg?: string
}

class Ok extends Interrupt.Tag("BenchOk", {
  request: Schema.Struct({ question: Schema.String }),
  response: Schema.String
}) {}

/** Returns cycles/second; a cycle = invoke-until-pause + resume-until-end. */
export async function interruptResume(opts: InterruptResumeOptions): Promise<number> {
  const { concurrent = false, dir, pg, store = "sqlite", synchronous, threads = 300, walCheckpointAfterCommits } = opts
  const graph = StateGraph.make({ id: "bench-interrupt", state: { answer: Channel.lastValue(Schema.String) } }).pipe(
    StateGraph.addNode("ask", () => Effect.map(Ok.ask({ question: "ok?" }), (answer) => ({ answer }))),
    StateGraph.addEdge(StateGraph.START, "ask"),
    StateGraph.addEdge("ask", StateGraph.END),
    StateGraph.compileSync()
  )
  const file = path.join(dir, "interrupt.sqlite")
  const rt = await runtimeFor(
    store === "memory"
      ? Snapshots.layerMemory
      : store === "pg"
      ? await pgLayer(pg)
      : walCheckpointAfterCommits === undefined && synchronous === undefined
      ? sqliteLayer(file)
      : SqliteSnapshots.layer({ filename: file, walCheckpointAfterCommits, synchronous })
  )

  const cycle = async (id: string) => {
    const paused = await rt.runPromise(Effect.either(graph.invoke({ answer: "" }, { threadId: id })))
    if (paused._tag !== "Left" || paused.left._tag !== "GraphInterrupted") {
      throw new Error("interruptResume: did not pause")
    }
    const done = await rt.runPromise(graph.resume({ threadId: id }, Ok.respond("yes")))
    if (done.answer !== "yes") throw new Error("interruptResume: bad resume")
  }

  try {
    for (let i = 0; i < 5; i++) await cycle(`warmup-${i}`) // not timed
    maybeGc()
    const t0 = performance.now()
    if (concurrent) await Promise.all(Array.from({ length: threads }, (_, i) => cycle(`t-${i}`)))
    else for (let i = 0; i < threads; i++) await cycle(`t-${i}`)
    const elapsedS = (performance.now() - t0) / 1000
    return threads / elapsedS
  } finally {
    await rt.dispose()
  }
}

// ---------------------------------------------------------------------------------------------
// 5. sendJoin: fan-out of N Sends, sum reducer, single join

export interface SendJoinOptions {
  sends?: number
  dir: string
  /** on Postgres (this database's URL) instead of SQLite */
  pg?: string
}

export interface SendJoinResult {
  totalMs: number
  /** the process's peak RSS (high-water mark) right after the run: module loading + the run */
  peakRssMb: number
  /** RSS right before the run, for context (peak - base ≈ run's footprint) */
  baseRssMb: number
}

/** Same RSS method as the LangGraph side: the process's high-water mark right after the run. */
export async function sendJoin(opts: SendJoinOptions): Promise<SendJoinResult> {
  const { sends = 1000, dir, pg } = opts
  let joinRuns = 0
  const graph = StateGraph.make({
    id: "bench-send",
    state: {
      total: Channel.reduce(Schema.Number, (a, b) => a + b, () => 0),
      // LangGraph's `joined` starts undefined; our last-value channel needs an initial value or an
      // input (the input only sets `total`, as there)
      joined: Channel.lastValue(Schema.Number, { initial: () => 0 })
    }
  }).pipe(
    StateGraph.addNode("fan", () => Effect.succeed({})),
    StateGraph.addNode("work", (input: { readonly i: number }) => Effect.succeed({ total: input.i })),
    StateGraph.addNode("join", (s) =>
      Effect.sync(() => {
        joinRuns++
        return { joined: s.total }
      })),
    StateGraph.addEdge(StateGraph.START, "fan"),
    StateGraph.addConditionalEdges("fan", () => Array.from({ length: sends }, (_, i) => Send.make("work", { i }))),
    StateGraph.addEdge("work", "join"),
    StateGraph.addEdge("join", StateGraph.END),
    StateGraph.compileSync()
  )
  const rt = await runtimeFor(await durableLayer(pg === undefined ? "sqlite" : "pg", path.join(dir, "send.sqlite"), pg))

  const expected = (sends * (sends - 1)) / 2
  const MB = 1024 * 1024
  try {
    maybeGc()
    const baseRss = process.memoryUsage.rss()
    const t0 = performance.now()
    const out = await rt.runPromise(graph.invoke({ total: 0 }, { threadId: "send" }))
    const totalMs = performance.now() - t0
    const peak = process.resourceUsage().maxRSS * 1024
    if (out.total !== expected || out.joined !== expected || joinRuns !== 1) {
      throw new Error(`sendJoin: total=${out.total} joined=${out.joined} joinRuns=${joinRuns}`)
    }
    return { totalMs, peakRssMb: peak / MB, baseRssMb: baseRss / MB }
  } finally {
    await rt.dispose()
  }
}

// ---------------------------------------------------------------------------------------------
// 6. appendSteps: a long thread whose append channel grows by one item every other step

export interface AppendStepsOptions {
  dir: string
  /** steps in all (one superstep each) */
  steps?: number
  /** steps per invoke: each block is one invoke that continues the thread */
  block?: number
}

export interface AppendStepsResult {
  /** µs per step of the first and of the last block */
  firstUs: number
  lastUs: number
  ratio: number
  /** items in the channel at the end */
  items: number
}

/**
 * Ours only: `steps` durable steps on one SQLite thread, `block` steps per invoke; node `a`
 * appends one number to `log` (Channel.append) and `b` does not, so the channel reaches
 * steps / 2 items. The cost of a step must not grow with the channel's length: the last block ÷
 * the first. One block on another thread warms the code up first.
 */
export async function appendSteps(opts: AppendStepsOptions): Promise<AppendStepsResult> {
  const { block = 5000, dir, steps = 50_000 } = opts
  const graph = StateGraph.make({
    id: "bench-append",
    state: { n: Channel.lastValue(Schema.Number), log: Channel.append(Schema.Number) }
  }).pipe(
    StateGraph.addNode("a", (s) => Effect.succeed({ n: s.n + 1, log: [s.n] })),
    StateGraph.addNode("b", (s) => Effect.succeed({ n: s.n + 1 })),
    StateGraph.addEdge(StateGraph.START, "a"),
    StateGraph.addEdge("a", "b"),
    StateGraph.addConditionalEdges("b", (s) => (s.n % block === 0 ? StateGraph.END : "a"), ["a", StateGraph.END]),
    StateGraph.compileSync({ recursionLimit: block + 10 })
  )
  const rt = await runtimeFor(sqliteLayer(path.join(dir, "append.sqlite")))
  try {
    // each invoke runs `block` steps from n and ends when n reaches the next multiple of block
    await rt.runPromise(graph.invoke({ n: 0 }, { threadId: "warmup" }))
    const times: Array<number> = []
    let items = 0
    maybeGc()
    for (let done = 0; done < steps; done += block) {
      const t0 = performance.now()
      const out = await rt.runPromise(graph.invoke({ n: done }, { threadId: "append" }))
      times.push(((performance.now() - t0) * 1000) / block)
      if (out.n !== done + block) throw new Error(`appendSteps: expected ${done + block}, got ${out.n}`)
      items = out.log.length
    }
    if (items !== steps / 2) throw new Error(`appendSteps: ${items} items, expected ${steps / 2}`)
    const firstUs = times[0]!
    const lastUs = times.at(-1)!
    return { firstUs, lastUs, ratio: lastUs / firstUs, items }
  } finally {
    await rt.dispose()
  }
}
