/**
 * The long thread the crash test runs: a loop whose every round fans out to two parallel tasks
 * that append to a log and add to a tally, then a join that moves the counter on.
 */
import { Effect, Schema } from "effect"
import { Channel, StateGraph } from "../../src/index.js"

/** Rounds of one thread (two steps each). */
export const ROUNDS = 300

/** The graph, with one durability or the other (the crash test runs both). */
export const makeGraph = (durability: "sync" | "async") => StateGraph.make({
  id: "crash-loop",
  state: {
    n: Channel.lastValue(Schema.Number),
    log: Channel.append(Schema.String),
    tally: Channel.reduce(Schema.Number, (a, b) => a + b, () => 0)
  }
}).pipe(
  StateGraph.addNode("left", (s) => Effect.as(Effect.sleep("2 millis"), { log: [`L${s.n}`], tally: 1 })),
  StateGraph.addNode("right", (s) => Effect.as(Effect.sleep("1 millis"), { log: [`R${s.n}`], tally: 10 })),
  StateGraph.addNode("next", (s) => Effect.succeed({ n: s.n + 1, log: [`N${s.n}`] })),
  StateGraph.addEdge(StateGraph.START, "left"),
  StateGraph.addEdge(StateGraph.START, "right"),
  StateGraph.addEdge(["left", "right"], "next"),
  StateGraph.addConditionalEdges("next", (s) => (s.n < ROUNDS ? ["left", "right"] : StateGraph.END), ["left", "right", StateGraph.END]),
  StateGraph.compileSync({ recursionLimit: 4 * ROUNDS + 10, leaseMillis: 300, durability })
)

export const graph = makeGraph("sync")

/** The state an uninterrupted run ends with. */
export const expectedFinal = () => {
  const log: Array<string> = []
  for (let n = 0; n < ROUNDS; n++) log.push(`L${n}`, `R${n}`, `N${n}`)
  return { n: ROUNDS, log, tally: 11 * ROUNDS }
}
