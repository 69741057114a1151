/**
 * `stategraph init`: scaffolds a working project — a config, an approval-flow graph, a script that
 * starts a thread, and package.json scripts — in plain JavaScript, so it runs on plain Node.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { CliError } from "./errors.js"

const config = `// The graphs and the store of the \`stategraph\` CLI and its workers.
export default {
  graphs: ["./graphs/approval.js:graph"],
  store: { sqlite: ".data/threads.db" }
}
`

const approval = `import { Effect, Schema } from "effect"
import { Channel, Interrupt, StateGraph } from "effect-stategraph"

// The question a reviewer answers: \`stategraph threads resume ID --answer '{"approved":true}'\`
export class Approval extends Interrupt.Tag("Approval", {
  request: Schema.Struct({ draft: Schema.String }),
  response: Schema.Struct({ approved: Schema.Boolean, note: Schema.optional(Schema.String) })
}) {}

export const graph = StateGraph.make({
  id: "approval",
  state: { draft: Channel.lastValue(Schema.String), log: Channel.append(Schema.String) }
}).pipe(
  StateGraph.addNode("write", (s) => Effect.succeed({ draft: \`\${s.draft.trim()}.\`, log: ["drafted"] })),
  StateGraph.addNode("review", (s) =>
    Effect.map(Approval.ask({ draft: s.draft }), (a) => ({
      log: [a.approved ? "approved" : \`rejected: \${a.note ?? "no reason"}\`]
    }))),
  StateGraph.addNode("publish", () => Effect.succeed({ log: ["published"] })),
  StateGraph.addEdge(StateGraph.START, "write"),
  StateGraph.addEdge("write", "review"),
  StateGraph.addEdge("review", "publish"),
  StateGraph.compileSync()
)
`

const start = `// Starts a thread: node start.js <thread-id> "<draft>"  — it pauses for review.
import { Effect } from "effect"
import { SqliteSnapshots } from "effect-stategraph"
import config from "./stategraph.config.js"
import { graph } from "./graphs/approval.js"

const [threadId = "post-1", draft = "Hello world"] = process.argv.slice(2)
const program = graph.invoke({ draft }, { threadId }).pipe(
  Effect.map((state) => \`\${threadId}: completed \${JSON.stringify(state)}\`),
  Effect.catchTag("GraphInterrupted", (e) =>
    Effect.succeed(\`\${threadId}: paused, waiting for \${e.interrupts.map((i) => i.kind).join(", ")}\`))
)
console.log(await Effect.runPromise(program.pipe(Effect.provide(SqliteSnapshots.layer({ filename: config.store.sqlite })))))
`

const packageJson = (name: string) =>
  JSON.stringify(
    {
      name,
      private: true,
      type: "module",
      scripts: {
        start: "node start.js",
        threads: "stategraph threads list",
        worker: "stategraph worker"
      },
      dependencies: {
        "effect-stategraph": "^0.1.0",
        effect: "^3.22.4",
        "@effect/platform": "^0.97.2",
        "@effect/experimental": "^0.61.1",
        "@effect/sql": "^0.52.1",
        "@effect/sql-sqlite-node": "^0.53.0",
        "@effect/ai": "^0.37.0",
        "@effect/cli": "^0.77.2",
        "@effect/platform-node": "^0.108.2"
      }
    },
    null,
    2
  ) + "\n"

export const init = Command.make("init", {
  dir: Options.text("dir").pipe(Options.withDescription("where to create the project"), Options.withDefault(".")),
  force: Options.boolean("force").pipe(Options.withDescription("overwrite existing files"))
}, (o) =>
  Effect.gen(function*() {
    const dir = path.resolve(o.dir)
    const files: Record<string, string> = {
      "stategraph.config.js": config,
      "graphs/approval.js": approval,
      "start.js": start,
      ".gitignore": "node_modules\n.data\n"
    }
    if (!fs.existsSync(path.join(dir, "package.json"))) files["package.json"] = packageJson(path.basename(dir).toLowerCase().replace(/[^a-z0-9-]/g, "-") || "app")
    const existing = Object.keys(files).filter((f) => f !== ".gitignore" && fs.existsSync(path.join(dir, f)))
    if (existing.length > 0 && !o.force) {
      return yield* new CliError({ reason: "Failed", message: `would overwrite ${existing.join(", ")} in ${dir} (use --force)` })
    }
    yield* Effect.try({
      try: () => {
        for (const [name, text] of Object.entries(files)) {
          const file = path.join(dir, name)
          if (name === ".gitignore" && fs.existsSync(file)) continue
          fs.mkdirSync(path.dirname(file), { recursive: true })
          fs.writeFileSync(file, text)
        }
      },
      catch: (e) => new CliError({ reason: "Failed", message: `cannot write the project: ${(e as Error).message}` })
    })
    yield* Console.log(
      [
        `created ${Object.keys(files).join(", ")} in ${dir}`,
        "",
        "next:",
        ...(files["package.json"] !== undefined ? ["  npm install"] : []),
        "  node start.js post-1 \"Hello world\"        # starts a thread; it pauses for review",
        "  npx stategraph threads list",
        "  npx stategraph threads show post-1",
        "  npx stategraph threads resume post-1 --answer '{\"approved\":true}'"
      ].join("\n")
    )
  })).pipe(Command.withDescription("scaffold a project: config, an approval-flow graph, a start script"))
