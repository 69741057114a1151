/**
 * The graphs of the CLI tests, named by the test's stategraph.config.mjs (and so loaded by the
 * CLI in the test process and in the processes it spawns).
 */
import { Effect, Schema } from "effect"
import { Channel, Interrupt, Send, StateGraph } from "effect-stategraph"

export class Review extends Interrupt.Tag("CliReview", {
  request: Schema.Struct({ draft: Schema.String }),
  response: Schema.Struct({ approved: Schema.Boolean })
}) {}

export const approval = StateGraph.make({
  id: "cli-approval",
  state: { draft: Channel.lastValue(Schema.String), log: Channel.append(Schema.String) }
}).pipe(
  StateGraph.addNode("write", (s) => Effect.succeed({ draft: `${s.draft}!`, log: ["wrote"] })),
  StateGraph.addNode("review", (s) => Effect.map(Review.ask({ draft: s.draft }), (a) => ({ log: [a.approved ? "approved" : "rejected"] }))),
  StateGraph.addEdge(StateGraph.START, "write"),
  StateGraph.addEdge("write", "review"),
  StateGraph.compileSync()
)

/** Two questions pending at once (parallel tasks). */
export const twoQuestions = StateGraph.make({
  id: "cli-two",
  state: { log: Channel.append(Schema.String) }
}).pipe(
  StateGraph.addNode("a", () => Effect.map(Review.ask({ draft: "a" }), () => ({ log: ["a"] }))),
  StateGraph.addNode("b", () => Effect.map(Review.ask({ draft: "b" }), () => ({ log: ["b"] }))),
  StateGraph.addEdge(StateGraph.START, "a"),
  StateGraph.addEdge(StateGraph.START, "b"),
  StateGraph.compileSync()
)

/** A fan-out the worker runs as jobs. */
export const crawl = StateGraph.make({
  id: "cli-crawl",
  state: { pages: Channel.lastValue(Schema.Array(Schema.String)), fetched: Channel.append(Schema.String) }
}).pipe(
  StateGraph.addNode("plan", () => Effect.void),
  StateGraph.addNode("fetch", (page: string) => Effect.succeed({ fetched: [page] })),
  StateGraph.addNode("summarize", () => Effect.void),
  StateGraph.addEdge(StateGraph.START, "plan"),
  StateGraph.addConditionalEdges("plan", (s) => s.pages.map((p) => Send.make("fetch", p))),
  StateGraph.addEdge("fetch", "summarize"),
  StateGraph.compileSync()
)

/** A node that runs until interrupted: its thread stays held. */
export const stuck = StateGraph.make({ id: "cli-stuck", state: { log: Channel.append(Schema.String) } }).pipe(
  StateGraph.addNode("wait", () => Effect.as(Effect.never, { log: ["never"] })),
  StateGraph.addEdge(StateGraph.START, "wait"),
  StateGraph.compileSync()
)

/** Counts to `until`, one step at a time; each step records the process that ran it. */
export const ticker = StateGraph.make({
  id: "cli-ticker",
  state: {
    count: Channel.reduce(Schema.Number, (a, b) => a + b, () => 0),
    until: Channel.lastValue(Schema.Number),
    pid: Channel.lastValue(Schema.Number, { initial: () => 0 })
  }
}).pipe(
  StateGraph.addNode("tick", () => Effect.as(Effect.sleep(20), { count: 1, pid: process.pid })),
  StateGraph.addEdge(StateGraph.START, "tick"),
  StateGraph.addConditionalEdges("tick", (s) => (s.count >= s.until ? StateGraph.END : "tick"), ["tick", StateGraph.END]),
  StateGraph.compileSync({ recursionLimit: 1000 })
)
