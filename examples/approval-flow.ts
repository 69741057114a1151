/**
 * A human-approval flow: write a draft → review (asks `Approval`) → publish, or revise and ask
 * again. The thread lives in a SQLite file, so a second command resumes it.
 *
 *   npm run example:approval                      # start (or show) the thread; asks on a terminal
 *   npm run example:approval -- --reject "shorter" # answer from arguments (non-interactive)
 *   npm run example:approval -- --approve
 *
 * Options: --db FILE (default .data/approval.db), --thread ID (default "post-1").
 */
import { Console, Effect, Schema } from "effect"
import * as readline from "node:readline/promises"
import { Channel, Interrupt, SqliteSnapshots, StateGraph } from "effect-stategraph"

export class Approval extends Interrupt.Tag("Approval", {
  request: Schema.Struct({ draft: Schema.String, revision: Schema.Number }),
  response: Schema.Struct({ approved: Schema.Boolean, note: Schema.optional(Schema.String) })
}) {}

export const graph = StateGraph.make({
  id: "approval-flow",
  state: {
    topic: Channel.lastValue(Schema.String),
    draft: Channel.lastValue(Schema.String, { initial: () => "" }),
    notes: Channel.append(Schema.String),
    revisions: Channel.reduce(Schema.Number, (a, b) => a + b, () => 0),
    published: Channel.lastValue(Schema.Boolean, { initial: () => false })
  }
}).pipe(
  StateGraph.addNode("write", (s) =>
    Effect.succeed({
      draft: s.notes.length === 0
        ? `${s.topic}: a first draft.`
        : `${s.topic}: revised after "${s.notes[s.notes.length - 1]}".`,
      revisions: 1
    })),
  StateGraph.addNode("review", (s) =>
    Effect.gen(function*() {
      const answer = yield* Approval.ask({ draft: s.draft, revision: s.revisions })
      return answer.approved ? { published: true } : { notes: [answer.note ?? "try again"] }
    })),
  StateGraph.addNode("publish", (s) => Effect.as(Console.log(`published: ${s.draft}`), {})),
  StateGraph.addEdge(StateGraph.START, "write"),
  StateGraph.addEdge("write", "review"),
  StateGraph.addConditionalEdges("review", (s) => (s.published ? "publish" : "write"), ["publish", "write"]),
  StateGraph.compileSync({ recursionLimit: 100 })
)

const argument = (name: string) => {
  const i = process.argv.indexOf(name)
  return i < 0 ? undefined : process.argv[i + 1] ?? ""
}

/** The answer from the command line, or from the terminal when interactive, or none. */
const answerFor = (draft: string) =>
  Effect.gen(function*() {
    if (process.argv.includes("--approve")) return Approval.respond({ approved: true })
    const reject = argument("--reject")
    if (reject !== undefined) return Approval.respond({ approved: false, note: reject })
    if (!process.stdin.isTTY) return undefined
    const rl = readline.createInterface({ input: process.stdin, output: process.stdout })
    const line = yield* Effect.promise(() => rl.question(`Approve "${draft}"? [y / a note to revise] `))
    rl.close()
    return /^y(es)?$/i.test(line.trim())
      ? Approval.respond({ approved: true })
      : Approval.respond({ approved: false, note: line.trim() || "try again" })
  })

export const program = (threadId: string) =>
  Effect.gen(function*() {
    const existing = yield* graph.getState(threadId).pipe(Effect.option)
    if (existing._tag === "None" || process.argv.includes("--new")) {
      yield* graph.invoke({ topic: "Why durable threads matter" }, { threadId }).pipe(
        Effect.catchTag("GraphInterrupted", () => Effect.void)
      )
    }
    // answer while the thread is paused and there is an answer to give
    let answered = false
    while (true) {
      const state = yield* graph.getState(threadId)
      if (state.status !== "paused") {
        yield* Console.log(`thread ${threadId}: ${state.status} after ${state.values.revisions} revision(s)`)
        return state.values
      }
      const question = state.interrupts.find((i) => i.status === "pending")!
      yield* Console.log(`paused at ${question.kind} (${question.id}): ${JSON.stringify(question.request)}`)
      // a command-line answer is used once; a terminal is asked each time
      const answer = answered && !process.stdin.isTTY ? undefined : yield* answerFor(question.request.draft)
      if (answer === undefined) {
        yield* Console.log(`resume with: npm run example:approval -- --thread ${threadId} --approve | --reject "note"`)
        return state.values
      }
      answered = true
      if (!process.stdin.isTTY) process.argv = process.argv.filter((a) => a !== "--approve" && a !== "--reject")
      yield* graph.resume({ threadId }, answer).pipe(Effect.catchTag("GraphInterrupted", () => Effect.void))
    }
  })

if (import.meta.url === `file://${process.argv[1]}`) {
  const filename = argument("--db") ?? ".data/approval.db"
  const threadId = argument("--thread") ?? "post-1"
  Effect.runPromise(program(threadId).pipe(Effect.provide(SqliteSnapshots.layer({ filename })))).catch((e) => {
    console.error(e)
    process.exit(1)
  })
}
