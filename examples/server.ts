/**
 * The HTTP server on SQLite, and LangGraph's own client (`@langchain/langgraph-sdk`) taking a
 * thread through a pause and a resume: stream a run that asks for approval, read the pending
 * question, answer it with `command: { resume }`, read the result.
 *
 *   npm run example:server                 # start, run the client script, stop
 *   npm run example:server -- --serve      # keep serving on --port (default 2024) with a printed token
 *
 * Options: --db FILE (default .data/server.db), --port N (default: a free port; 2024 with --serve).
 */
import { NodeRuntime } from "@effect/platform-node"
import * as HttpServer from "@effect/platform/HttpServer"
import { Client } from "@langchain/langgraph-sdk"
import { Console, Effect, Layer, Redacted, Schema } from "effect"
import { Channel, Interrupt, Server, StateGraph } from "effect-stategraph"

class Approval extends Interrupt.Tag("Approval", {
  request: Schema.Struct({ draft: Schema.String }),
  response: Schema.Struct({ approved: Schema.Boolean, note: Schema.optional(Schema.String) })
}) {}

const graph = StateGraph.make({
  id: "approval-flow",
  state: {
    topic: Channel.lastValue(Schema.String),
    draft: Channel.lastValue(Schema.String, { initial: () => "" }),
    log: Channel.append(Schema.String)
  }
}).pipe(
  StateGraph.addNode("write", (s) => Effect.succeed({ draft: `${s.topic}: a first draft.`, log: ["written"] })),
  StateGraph.addNode("review", (s) =>
    Effect.map(Approval.ask({ draft: s.draft }), (a) => ({ log: [a.approved ? `approved (${a.note ?? "no note"})` : "rejected"] }))),
  StateGraph.addEdge(StateGraph.START, "write"),
  StateGraph.addEdge("write", "review"),
  // declared, so any process serving the graph can check answers to it
  StateGraph.compileSync({ interrupts: [Approval] })
)

const argument = (name: string) => {
  const i = process.argv.indexOf(name)
  return i === -1 ? undefined : process.argv[i + 1]
}
const serve = process.argv.includes("--serve")
const filename = argument("--db") ?? ".data/server.db"
const port = Number(argument("--port") ?? (serve ? 2024 : 0))

/** The client side: plain LangGraph SDK calls against the URL, with a bearer token. */
const clientScript = (apiUrl: string, apiKey: string) =>
  Effect.promise(async () => {
    const client = new Client({ apiUrl, apiKey })
    const [assistant] = await client.assistants.search()
    console.log(`assistant: ${assistant!.assistant_id}`)
    const thread = await client.threads.create({ graphId: "approval-flow", metadata: { user: "ada" } })
    console.log(`thread: ${thread.thread_id}`)
    for await (const part of client.runs.stream(thread.thread_id, "approval-flow", { input: { topic: "Effect servers" }, streamMode: "updates" })) {
      if (part.event === "updates") console.log(`  update: ${JSON.stringify(part.data)}`)
    }
    const paused = await client.threads.get(thread.thread_id)
    const question = Object.values(paused.interrupts).flat()[0]!
    console.log(`status: ${paused.status}; question ${(question as any).kind}: ${JSON.stringify(question.value)}`)
    const wrong = await client.runs.wait(thread.thread_id, "approval-flow", { command: { resume: { approved: "yes" } } }).catch((e) => e)
    console.log(`a wrong answer: HTTP ${wrong.status}`)
    const done = await client.runs.wait(thread.thread_id, "approval-flow", { command: { resume: { approved: true, note: "ship it" } } })
    console.log(`resumed: ${JSON.stringify(done)}`)
    console.log(`status: ${(await client.threads.get(thread.thread_id)).status}`)
  })

const main = Effect.gen(function*() {
  const { token } = yield* Server.createToken({ name: "example", permissions: ["view", "edit"] })
  const address = yield* HttpServer.addressFormattedWith((a) => Effect.succeed(a))
  yield* Console.log(`serving on ${address} (OpenAPI at /openapi.json, docs at /docs)`)
  if (serve) {
    yield* Console.log(`token (view, edit): ${Redacted.value(token)}`)
    return yield* Effect.never
  }
  yield* clientScript(address, Redacted.value(token))
})

main.pipe(
  Effect.provide(Server.layerSqlite({ filename, graphs: [graph], port, host: "127.0.0.1" }) as Layer.Layer<any, unknown>),
  NodeRuntime.runMain
)
