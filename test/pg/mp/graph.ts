/**
 * The graph of the multi-process Postgres tests, registered in every process (same structure,
 * same version): `split` fans out to three `work` tasks in one step (parallel jobs), each
 * journaling a side effect (a line in the effects file) with `Task.activity`; `review` asks for an
 * approval (the pipeline pauses; another process answers); `finish` ends it.
 */
import * as fs from "node:fs"
import { Effect, Schema } from "effect"
import { Channel, Interrupt, Send, StateGraph, Task } from "effect-stategraph"

export class Approve extends Interrupt.Tag("MpApprove", { request: Schema.String, response: Schema.Boolean }) {}

export const parts = ["a", "b", "c"] as const

export const makeGraph = (effectsFile: string) =>
  StateGraph.make({
    id: "mp-flow",
    state: {
      items: Channel.lastValue(Schema.Array(Schema.String)),
      log: Channel.append(Schema.String),
      verdict: Channel.lastValue(Schema.String, { initial: () => "" })
    }
  }).pipe(
    StateGraph.addNode("split", () => Effect.void),
    StateGraph.addNode("work", (item: string) =>
      Effect.gen(function*() {
        yield* Task.activity("effect", Effect.sync(() => fs.appendFileSync(effectsFile, `${item} ${process.pid}\n`)))
        // a little work, so kills land mid-job too
        yield* Effect.sleep(`${Math.floor(Math.random() * 15)} millis`)
        return { log: [`w:${item}`] }
      })),
    StateGraph.addNode("review", (s) => Effect.map(Approve.ask(s.items[0] ?? ""), (ok) => ({ verdict: ok ? "approved" : "rejected" }))),
    StateGraph.addNode("finish", () => Effect.succeed({ log: ["finished"] })),
    StateGraph.addEdge(StateGraph.START, "split"),
    StateGraph.addConditionalEdges("split", (s) => s.items.map((i) => Send.make("work", i))),
    StateGraph.addEdge("work", "review"),
    StateGraph.addEdge("review", "finish"),
    StateGraph.compileSync()
  )

/** The items of a thread's input: one per part, named after the thread. */
export const itemsOf = (threadId: string) => parts.map((p) => `${threadId}/${p}`)

/** Where a process connects: `<url>#<schema>`. */
export const stores = (db: string) => {
  const at = db.indexOf("#")
  return { url: db.slice(0, at), schema: db.slice(at + 1) }
}
