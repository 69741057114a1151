/**
 * LangGraph JS side of the side-by-side benchmark.
 *
 * Every scenario uses LangGraph's DEFAULT settings (durability "async",
 * default serializer, SqliteSaver.fromConnString which turns on WAL). The only
 * non-default knob is `recursionLimit`, raised where the graph legitimately
 * needs more than the default 25 supersteps.
 *
 * Each function returns plain numbers so results can be JSON-printed and
 * compared with the project's own engine.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import {
  Annotation,
  Command,
  END,
  MemorySaver,
  START,
  Send,
  StateGraph,
  interrupt,
  type BaseCheckpointSaver,
} from "@langchain/langgraph";
import { SqliteSaver } from "@langchain/langgraph-checkpoint-sqlite";

// ---------------------------------------------------------------------------
// helpers

const mean = (xs: ReadonlyArray<number>): number =>
  xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/** Size of a SQLite db plus its -wal / -shm side files (missing files count 0). */
const sqliteBytes = (file: string): number =>
  ["", "-wal", "-shm"].reduce((sum, suffix) => {
    try {
      return sum + fs.statSync(file + suffix).size;
    } catch {
      return sum;
    }
  }, 0);

/** Run GC if node was started with --expose-gc (optional, reduces noise). */
const maybeGc = (): void => {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) g();
};

const thread = (id: string) => ({ configurable: { thread_id: id } });

/**
 * LangGraph's Postgres checkpointer (`@langchain/langgraph-checkpoint-postgres`) on the database
 * at `url`, its tables created (`setup()`), loaded only by the Postgres rows. Its own pool, with
 * the package's defaults.
 */
const postgresSaver = async (url: string | undefined) => {
  if (!url) throw new Error("a Postgres scenario's database URL is required");
  const { PostgresSaver } = await import("@langchain/langgraph-checkpoint-postgres");
  const saver = PostgresSaver.fromConnString(url);
  await saver.setup();
  return saver;
};

/** A scenario's durable saver: SqliteSaver in `file`, or PostgresSaver at `pg`; and its close. */
const durableSaver = async (file: string, pg: string | undefined) => {
  if (pg === undefined) {
    const sqlite = SqliteSaver.fromConnString(file);
    return { saver: sqlite as BaseCheckpointSaver, close: async () => sqlite.db.close() };
  }
  const saver = await postgresSaver(pg);
  return { saver: saver as BaseCheckpointSaver, close: () => saver.end() };
};

// ---------------------------------------------------------------------------
// 1. chain: 100-node linear chain, no checkpointer

export interface ChainOptions {
  nodes?: number;
  reps?: number;
  warmup?: number;
}

/** Returns µs per node execution. */
export async function chain(opts: ChainOptions = {}): Promise<number> {
  const { nodes = 100, reps = 20, warmup = 5 } = opts;
  const State = Annotation.Root({ n: Annotation<number> });

  // addSequence wires n0 -> n1 -> ... -> n{nodes-1}.
  const steps = Array.from(
    { length: nodes },
    (_, i) => [`n${i}`, (s: typeof State.State) => ({ n: s.n + 1 })] as [string, (s: typeof State.State) => { n: number }],
  );
  const graph = new StateGraph(State)
    .addSequence(steps)
    .addEdge(START, "n0")
    .addEdge(`n${nodes - 1}`, END)
    .compile();

  // one superstep per node, default limit (25) is too low for a 100-node chain
  const config = { recursionLimit: nodes + 10 };
  for (let i = 0; i < warmup; i++) await graph.invoke({ n: 0 }, config);

  maybeGc();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) {
    const out = await graph.invoke({ n: 0 }, config);
    if (out.n !== nodes) throw new Error(`chain: expected ${nodes}, got ${out.n}`);
  }
  const elapsedMs = performance.now() - t0;
  return (elapsedMs * 1000) / (reps * nodes);
}

// ---------------------------------------------------------------------------
// 2. loop: a <-> b cycle until counter reaches `steps`

export interface LoopOptions {
  steps?: number;
  store?: "none" | "memory" | "sqlite" | "pg";
  /** directory for the SQLite file (required when store === "sqlite") */
  dir?: string;
  /** the Postgres database's URL (required when store === "pg") */
  pg?: string;
  /** full-length runs (each on its own thread) before the timed ones, for a steady-state figure */
  warmupRuns?: number;
  /** timed runs, each on its own thread; the result is their mean µs per step */
  reps?: number;
}

/** Returns µs per step (one node execution). */
export async function loop(opts: LoopOptions = {}): Promise<number> {
  const { steps = 1000, store = "none", dir, pg, warmupRuns = 0, reps = 1 } = opts;
  const State = Annotation.Root({ counter: Annotation<number> });

  let saver: BaseCheckpointSaver | undefined;
  let sqlite: SqliteSaver | undefined;
  if (store === "memory") saver = new MemorySaver();
  if (store === "sqlite") {
    if (!dir) throw new Error("loop: `dir` is required for store=sqlite");
    saver = sqlite = SqliteSaver.fromConnString(path.join(dir, "loop.sqlite"));
  }
  const postgres = store === "pg" ? await postgresSaver(pg) : undefined;
  if (postgres) saver = postgres;

  const inc = (s: typeof State.State) => ({ counter: s.counter + 1 });
  const builder = new StateGraph(State)
    .addNode("a", inc)
    .addNode("b", inc)
    .addEdge(START, "a")
    .addEdge("a", "b")
    .addConditionalEdges("b", (s) => (s.counter < steps ? "a" : END), ["a", END]);
  const graph = saver ? builder.compile({ checkpointer: saver }) : builder.compile();

  // one superstep per node execution
  const run = async (target: number, threadId: string) => {
    const cfg = { recursionLimit: target + 10, ...(saver ? thread(threadId) : {}) };
    return graph.invoke({ counter: steps - target }, cfg);
  };

  try {
    await run(Math.min(100, steps), "warmup"); // warm up on a separate thread
    for (let i = 0; i < warmupRuns; i++) await run(steps, `warmup-${i}`);
    maybeGc();
    let elapsedMs = 0;
    let executions = 0;
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      const out = await run(steps, `measured-${i}`);
      elapsedMs += performance.now() - t0;
      // counter starts at 0 and each node adds 1, so counter = node executions
      // (steps + 1 if `steps` is odd, since the check only happens after b)
      if (out.counter < steps) throw new Error(`loop: expected ${steps}, got ${out.counter}`);
      executions += out.counter;
    }
    return (elapsedMs * 1000) / executions;
  } finally {
    sqlite?.db.close();
    await postgres?.end();
  }
}

// ---------------------------------------------------------------------------
// 3. chat: growing message history on one thread, SqliteSaver

export interface ChatOptions {
  turns?: number;
  chars?: number;
  dir: string;
  /** on Postgres (this database's URL) instead of SQLite; the size is then the tables' */
  pg?: string;
}

export interface ChatResult {
  fileBytes: number;
  turn10Ms: number;
  turn300Ms: number;
  ratio: number;
}

/**
 * Messages channel choice: a plain array of `{ role, content }` objects with a
 * concat reducer, rather than MessagesAnnotation. MessagesAnnotation would
 * coerce to BaseMessage classes, assign ids and run the id-merging
 * `messagesStateReducer`; that cost (and the class serialization) would
 * dominate what we want to compare: the engine + checkpoint cost of a state
 * whose history grows every turn.
 */
export async function chat(opts: ChatOptions): Promise<ChatResult> {
  const { turns = 300, chars = 200, dir, pg } = opts;
  if (turns < 15) throw new Error("chat: need at least 15 turns");
  type Msg = { role: "user" | "assistant"; content: string };
  const State = Annotation.Root({
    messages: Annotation<Msg[]>({
      reducer: (left, right) => left.concat(right),
      default: () => [],
    }),
  });

  const reply = "r".repeat(chars);
  const file = path.join(dir, "chat.sqlite");
  const { saver, close } = await durableSaver(file, pg);
  const graph = new StateGraph(State)
    .addNode("bot", () => ({ messages: [{ role: "assistant", content: reply } as Msg] }))
    .addEdge(START, "bot")
    .addEdge("bot", END)
    .compile({ checkpointer: saver });

  const userMsg: Msg = { role: "user", content: "u".repeat(chars) };
  const cfg = thread("chat");
  const latencies: number[] = [];
  try {
    maybeGc();
    for (let t = 0; t < turns; t++) {
      const t0 = performance.now();
      const out = await graph.invoke({ messages: [userMsg] }, cfg);
      latencies.push(performance.now() - t0);
      if (out.messages.length !== 2 * (t + 1)) throw new Error("chat: wrong history length");
    }
    // measure before close(): closing the last connection checkpoints & removes the WAL
    const fileBytes = pg === undefined ? sqliteBytes(file) : await (await import("../pg.js")).databaseBytes(pg);
    const turn10Ms = mean(latencies.slice(5, 15)); // turns 6..15 (1-based)
    const turn300Ms = mean(latencies.slice(-10)); // last 10 turns
    return { fileBytes, turn10Ms, turn300Ms, ratio: turn300Ms / turn10Ms };
  } finally {
    await close();
  }
}

// ---------------------------------------------------------------------------
// 4. interruptResume: pause with interrupt(), resume with Command

export interface InterruptResumeOptions {
  threads?: number;
  dir: string;
  /** all threads' cycles started at once (`Promise.all`) instead of one after another */
  concurrent?: boolean;
  /** the saver: SqliteSaver (default), MemorySaver or PostgresSaver (`pg`) */
  store?: "sqlite" | "memory" | "pg";
  /** the Postgres database's URL (store "pg") */
  pg?: string;
}

/** Returns cycles/second; a cycle = invoke-until-pause + resume-until-end. */
export async function interruptResume(opts: InterruptResumeOptions): Promise<number> {
  const { threads = 300, dir, concurrent = false, pg, store = "sqlite" } = opts;
  const State = Annotation.Root({ answer: Annotation<string> });
  const sqlite = store === "sqlite" ? SqliteSaver.fromConnString(path.join(dir, "interrupt.sqlite")) : undefined;
  const postgres = store === "pg" ? await postgresSaver(pg) : undefined;
  const saver = sqlite ?? postgres ?? new MemorySaver();
  const graph = new StateGraph(State)
    .addNode("ask", () => {
      const answer = interrupt<{ question: string }, string>({ question: "ok?" });
      return { answer };
    })
    .addEdge(START, "ask")
    .addEdge("ask", END)
    .compile({ checkpointer: saver });

  const cycle = async (id: string) => {
    const cfg = thread(id);
    const paused = await graph.invoke({ answer: "" }, cfg);
    if (!("__interrupt__" in paused)) throw new Error("interruptResume: did not pause");
    const done = await graph.invoke(new Command({ resume: "yes" }), cfg);
    if (done.answer !== "yes") throw new Error("interruptResume: bad resume");
  };

  try {
    for (let i = 0; i < 5; i++) await cycle(`warmup-${i}`); // not timed
    maybeGc();
    const t0 = performance.now();
    if (concurrent) await Promise.all(Array.from({ length: threads }, (_, i) => cycle(`t-${i}`)));
    else for (let i = 0; i < threads; i++) await cycle(`t-${i}`);
    const elapsedS = (performance.now() - t0) / 1000;
    return threads / elapsedS;
  } finally {
    sqlite?.db.close();
    await postgres?.end();
  }
}

// ---------------------------------------------------------------------------
// 5. sendJoin: fan-out of N Sends, sum reducer, single join

export interface SendJoinOptions {
  sends?: number;
  dir: string;
  /** on Postgres (this database's URL) instead of SQLite */
  pg?: string;
}

export interface SendJoinResult {
  totalMs: number;
  /** the process's peak RSS (high-water mark) right after the run: module loading + the run */
  peakRssMb: number;
  /** RSS right before the run, for context (peak - base ≈ run's footprint) */
  baseRssMb: number;
}

/**
 * Peak RSS: the process's high-water mark (process.resourceUsage().maxRSS, the kernel's figure)
 * read right after the run, so module loading is included; the same on our side. No sampling
 * thread: a worker thread would add its own ~10 MB to what is measured. A GC before the run, as in
 * the other scenarios, when node runs with --expose-gc.
 */
export async function sendJoin(opts: SendJoinOptions): Promise<SendJoinResult> {
  const { sends = 1000, dir, pg } = opts;
  const State = Annotation.Root({
    total: Annotation<number>({ reducer: (a, b) => a + b, default: () => 0 }),
    joined: Annotation<number>,
  });
  const { saver, close } = await durableSaver(path.join(dir, "send.sqlite"), pg);
  let joinRuns = 0;
  const graph = new StateGraph(State)
    .addNode("fan", () => ({}))
    .addNode("work", (input: { i: number }) => ({ total: input.i }))
    .addNode("join", (s: typeof State.State) => {
      joinRuns++;
      return { joined: s.total };
    })
    .addEdge(START, "fan")
    .addConditionalEdges("fan", () => Array.from({ length: sends }, (_, i) => new Send("work", { i })))
    .addEdge("work", "join")
    .addEdge("join", END)
    .compile({ checkpointer: saver });

  const expected = (sends * (sends - 1)) / 2;
  const MB = 1024 * 1024;
  try {
    maybeGc();
    const baseRss = process.memoryUsage.rss();
    const t0 = performance.now();
    const out = await graph.invoke({ total: 0 }, thread("send"));
    const totalMs = performance.now() - t0;
    const peak = process.resourceUsage().maxRSS * 1024;
    if (out.total !== expected || out.joined !== expected || joinRuns !== 1)
      throw new Error(`sendJoin: total=${out.total} joined=${out.joined} joinRuns=${joinRuns}`);
    return { totalMs, peakRssMb: peak / MB, baseRssMb: baseRss / MB };
  } finally {
    await close();
  }
}
