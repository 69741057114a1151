/**
 * The graphs of the multi-process race tests (race.test.ts and its child processes).
 */
import { Effect, Schema } from "effect"
import { Channel, Interrupt, StateGraph } from "../../src/index.js"

export class Confirm extends Interrupt.Tag("RaceConfirm", { request: Schema.String, response: Schema.Boolean }) {}

/** New input pauses at once with a question naming the inputs the run saw. */
export const inputGraph = StateGraph.make({ id: "race", state: { inputs: Channel.append(Schema.String) } }).pipe(
  StateGraph.addNode("confirm", (s) => Effect.map(Confirm.ask(s.inputs.join(",")), () => ({}))),
  StateGraph.addEdge(StateGraph.START, "confirm"),
  StateGraph.compileSync()
)

export class Ask extends Interrupt.Tag("RaceAsk", { request: Schema.String, response: Schema.String }) {}

/** A node that asks twice: the second question names the first answer. */
export const twiceGraph = StateGraph.make({ id: "race-twice", state: { answers: Channel.append(Schema.String) } }).pipe(
  StateGraph.addNode("twice", () =>
    Effect.gen(function*() {
      const first = yield* Ask.ask("first")
      const second = yield* Ask.ask(`after ${first}`)
      return { answers: [first, second] }
    })),
  StateGraph.addEdge(StateGraph.START, "twice"),
  StateGraph.compileSync()
)
