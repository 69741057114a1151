/**
 * The SQLite store on its own: durable-step cost, chat-thread size, head reads as a thread grows.
 *
 *   node --expose-gc --import tsx bench/sqliteSnapshots.ts
 *
 * - loop: the a↔b loop, 1,000 steps per run, default durability (`sync`: each step committed
 *   before the next), after warm-up runs; median µs per step on SQLite and in memory (the
 *   difference is what the store adds), and a raw better-sqlite3 commit for reference.
 * - chat: 300 turns of 200-character messages through a real graph; bytes of the database file
 *   with its WAL and shared-memory files as they are, and of the database alone once checkpointed.
 * - head: `Snapshots.load` of the chat thread's head after 10 and after 300 turns.
 */
import { Effect, type Layer, ManagedRuntime, Schema } from "effect"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { Channel, Snapshots, SqliteSnapshots, StateGraph } from "../src/index.js"

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const bytes = (file: string) =>
  ["", "-wal", "-shm"].reduce((sum, suffix) => sum + (fs.existsSync(file + suffix) ? fs.statSync(file + suffix).size : 0), 0)
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-sqlite-snapshots-"))

// ---------------------------------------------------------------------------------------------
// loop
// ---------------------------------------------------------------------------------------------

const STEPS = 1000
const inc = (s: { readonly counter: number }) => Effect.succeed({ counter: s.counter + 1 })
const loopGraph = StateGraph.make({ id: "bench-loop", state: { counter: Channel.lastValue(Schema.Number) } }).pipe(
  StateGraph.addNode("a", inc),
  StateGraph.addNode("b", inc),
  StateGraph.addEdge(StateGraph.START, "a"),
  StateGraph.addEdge("a", "b"),
  StateGraph.addConditionalEdges("b", (s) => (s.counter < STEPS ? "a" : StateGraph.END), ["a", StateGraph.END]),
  StateGraph.compileSync({ recursionLimit: STEPS + 10 })
)

const loop = async (layer: Layer.Layer<Snapshots.Snapshots, unknown>, label: string) => {
  const rt = ManagedRuntime.make(layer)
  await rt.runtime()
  const runs: Array<number> = []
  for (let r = 0; r < 12; r++) {
    const t0 = performance.now()
    const out = await rt.runPromise(loopGraph.invoke({ counter: 0 }, { threadId: `${label}-${r}` }))
    // the first runs warm the JIT up
    if (r >= 6) runs.push(((performance.now() - t0) * 1000) / out.counter)
  }
  await rt.dispose()
  return median(runs)
}

const rawCommit = () => {
  const Database = createRequire(import.meta.url)("better-sqlite3")
  const db = new Database(path.join(dir, "raw.db"))
  db.pragma("journal_mode = WAL")
  db.pragma("synchronous = NORMAL")
  db.exec("CREATE TABLE t (id TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID")
  const begin = db.prepare("BEGIN IMMEDIATE")
  const insert = db.prepare("INSERT INTO t VALUES (?, ?)")
  const commit = db.prepare("COMMIT")
  const n = 5000
  const t0 = performance.now()
  for (let i = 0; i < n; i++) {
    begin.run()
    insert.run(`k${String(i).padStart(8, "0")}`, "x".repeat(300))
    commit.run()
  }
  const us = ((performance.now() - t0) * 1000) / n
  db.close()
  return us
}

// ---------------------------------------------------------------------------------------------
// chat
// ---------------------------------------------------------------------------------------------

const Message = Schema.Struct({ role: Schema.Literal("user", "assistant"), content: Schema.String })
const chatGraph = StateGraph.make({ id: "bench-chat", state: { messages: Channel.append(Message) } }).pipe(
  StateGraph.addNode("bot", () => Effect.succeed({ messages: [{ role: "assistant" as const, content: "r".repeat(200) }] })),
  StateGraph.addEdge(StateGraph.START, "bot"),
  StateGraph.addEdge("bot", StateGraph.END),
  StateGraph.compileSync()
)

const chat = async () => {
  const file = path.join(dir, "chat.db")
  const rt = ManagedRuntime.make(SqliteSnapshots.layer({ filename: file }))
  await rt.runtime()
  const loadHead = async () => {
    const load = Effect.flatMap(Snapshots.Snapshots, (store) => store.load("chat"))
    for (let i = 0; i < 100; i++) await rt.runPromise(load)
    const t0 = performance.now()
    await rt.runPromise(Effect.repeatN(load, 499))
    return ((performance.now() - t0) * 1000) / 500
  }
  let head10 = 0
  for (let turn = 1; turn <= 300; turn++) {
    await rt.runPromise(chatGraph.invoke({ messages: [{ role: "user", content: "u".repeat(200) }] }, { threadId: "chat" }))
    if (turn === 10) head10 = await loadHead()
  }
  const head300 = await loadHead()
  const asIs = bytes(file)
  await rt.dispose()
  // closing the last connection checkpoints the WAL into the database
  return { asIs, database: bytes(file), head10, head300 }
}

// ---------------------------------------------------------------------------------------------

const main = async () => {
  const memory = await loop(Snapshots.layerMemory, "memory")
  const sqlite = await loop(SqliteSnapshots.layer({ filename: path.join(dir, "loop.db") }), "sqlite")
  const raw = rawCommit()
  const c = await chat()
  const kb = (n: number) => `${(n / 1024).toFixed(0)} KiB`
  console.log(`a↔b loop, ${STEPS} steps, durability sync (median of 6 warm runs)`)
  console.log(`  SQLite              ${sqlite.toFixed(1)} µs / step`)
  console.log(`  memory              ${memory.toFixed(1)} µs / step`)
  console.log(`  store's share       ${(sqlite - memory).toFixed(1)} µs / step`)
  console.log(`  raw SQLite commit   ${raw.toFixed(1)} µs (better-sqlite3: BEGIN IMMEDIATE, INSERT, COMMIT)`)
  console.log(`chat, 300 turns of 200-character messages`)
  console.log(`  file + WAL + SHM    ${kb(c.asIs)}`)
  console.log(`  database alone      ${kb(c.database)} (after the WAL is checkpointed)`)
  console.log(`  load head           ${c.head10.toFixed(1)} µs at turn 10, ${c.head300.toFixed(1)} µs at turn 300`)
  fs.rmSync(dir, { recursive: true, force: true })
}

main()
