// The consumer's graph, in plain JavaScript: no TypeScript, no loader — what `node app.mjs` sees.
import { Effect, Schema } from "effect"
import { Channel, Interrupt, StateGraph } from "effect-stategraph"

export class Approval extends Interrupt.Tag("Approval", {
  request: Schema.Struct({ draft: Schema.String }),
  response: Schema.Struct({ approved: Schema.Boolean })
}) {}

export const graph = StateGraph.make({
  id: "consumer-post",
  state: { draft: Channel.lastValue(Schema.String), log: Channel.append(Schema.String) }
}).pipe(
  StateGraph.addNode("write", (s) => Effect.succeed({ draft: `${s.draft}!`, log: [`wrote in ${process.pid}`] })),
  StateGraph.addNode("review", (s) =>
    Effect.map(Approval.ask({ draft: s.draft }), (a) => ({ log: [a.approved ? `approved in ${process.pid}` : "rejected"] }))),
  StateGraph.addEdge(StateGraph.START, "write"),
  StateGraph.addEdge("write", "review"),
  StateGraph.compileSync()
)
