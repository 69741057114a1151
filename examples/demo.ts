/**
 * The offline demo (`npm run demo`): a tool-approval agent end to end on the embedded SQLite
 * store with a scripted model — no keys, no network.
 *
 * 1. shows the graph (Mermaid),
 * 2. streams the run step by step until it pauses for a human's approval of `send_email`,
 * 3. resumes the thread from a second process (the first one is gone: durability),
 * 4. prints the transcript and the thread's checkpoint history,
 * 5. shows the same thread with the `stategraph` command line.
 */
import { Console, Effect, Layer, Stream } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"
import { Interrupt, ScriptedModel, SqliteSnapshots } from "effect-stategraph"
import * as Cli from "effect-stategraph/Cli"
import { agent, firstScript, printTranscript, secondScript, textOf, user } from "./tool-approval.js"
import { toolsLayer } from "./tools.js"

const argument = (name: string) => {
  const i = process.argv.indexOf(name)
  return i < 0 ? undefined : process.argv[i + 1]
}

const filename = argument("--db") ?? ".data/demo.db"
const store = SqliteSnapshots.layer({ filename })

/** Process 1: stream the run until it pauses. */
const firstProcess = (threadId: string) =>
  Effect.gen(function*() {
    yield* Console.log("── the graph ──")
    yield* Console.log(agent.toMermaid())
    yield* Console.log(`\n── process ${process.pid}: thread ${threadId} ──`)
    const request = "Please e-mail Ada the meeting notes."
    yield* Console.log(`user: ${request}`)
    yield* agent.stream({ messages: [user(request)] }, { threadId, mode: ["updates", "messages"] }).pipe(
      Stream.runForEach((part) => {
        if (part.mode === "messages") return Effect.void
        const messages = part.update.messages ?? []
        return Console.log(`step ${part.step} · ${part.node}: ${messages.map((m) => ("role" in m ? textOf(m) : "")).join(" ")}`)
      }),
      Effect.catchTag("GraphInterrupted", (paused) =>
        Effect.gen(function*() {
          for (const i of paused.interrupts) {
            yield* Console.log(`⏸  paused: ${i.kind} ${JSON.stringify(i.request)} (interrupt ${i.id})`)
          }
        })),
      Effect.provide(ScriptedModel.layer(firstScript))
    )
  })

/** Process 2: answer the pending approval and print what the thread went through. */
const secondProcess = (threadId: string) =>
  Effect.gen(function*() {
    yield* Console.log(`\n── process ${process.pid}: resuming thread ${threadId} from ${filename} ──`)
    const paused = yield* agent.getState(threadId)
    yield* Console.log(`status: ${paused.status}, waiting on: ${paused.interrupts.filter((i) => i.status === "pending").map((i) => i.kind).join(", ")}`)
    yield* Console.log("→ approved")
    const final = yield* agent.resume({ threadId }, Interrupt.Confirmation.respond({ confirmed: true })).pipe(
      Effect.provide(ScriptedModel.layer(secondScript))
    )
    yield* Console.log("\n── transcript ──")
    yield* printTranscript(final.messages)
    yield* Console.log("\n── checkpoint history (newest first) ──")
    const history = yield* agent.history(threadId)
    for (const h of history) {
      const asked = h.interrupts.map((i) => ` ${i.kind}:${i.status}`).join("")
      yield* Console.log(`step ${String(h.step).padStart(2)} ${h.status.padEnd(9)} next=[${h.next.join(", ")}] messages=${h.values.messages.length}${asked}`)
    }
    yield* Console.log(`\n── the same file from a terminal: stategraph --db ${filename} threads list ──`)
    yield* Cli.run(["node", "stategraph", "--db", filename, "threads", "list"])
  })

const run = <A, E>(effect: Effect.Effect<A, E, any>) =>
  Effect.runPromise(effect.pipe(Effect.provide(Layer.merge(toolsLayer(), store))) as Effect.Effect<A, E>).catch((e) => {
    console.error(e)
    process.exit(1)
  })

if (argument("--resume") !== undefined) {
  run(secondProcess(argument("--resume")!))
} else {
  fs.rmSync(filename, { force: true })
  const threadId = `demo-${Date.now()}`
  run(firstProcess(threadId)).then(() => {
    const self = fileURLToPath(import.meta.url)
    const child = spawnSync(process.execPath, [...process.execArgv, self, "--resume", threadId, "--db", filename], {
      stdio: "inherit"
    })
    process.exit(child.status ?? 1)
  })
}
