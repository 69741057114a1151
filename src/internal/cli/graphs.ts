/**
 * `stategraph graph …`: the configured graphs and their drawings.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Config from "./config.js"
import { CliError } from "./errors.js"
import * as out from "./output.js"
import { jsonOption, loadConfig } from "./root.js"

const list = Command.make("list", { json: jsonOption }, (o) =>
  Effect.gen(function*() {
    const config = yield* loadConfig
    const rows = config.graphs.map((g) => ({ id: g.id, version: g.version, nodes: [...g.nodes] }))
    yield* out.either(
      o.json,
      rows,
      rows.length === 0
        ? Console.log(`no graphs (${config.file ?? "no stategraph.config.js here; run stategraph init"})`)
        : out.table(["GRAPH", "VERSION", "NODES"], rows.map((r) => [r.id, r.version, r.nodes.join(", ")]))
    )
  })).pipe(Command.withDescription("the graphs of the config"))

const mermaid = Command.make("mermaid", {
  graph: Args.text({ name: "graph" }).pipe(Args.withDescription("the graph id")),
  format: Options.choice("format", ["mermaid", "svg", "png"]).pipe(Options.withDefault("mermaid" as const))
}, (o) =>
  Effect.gen(function*() {
    const config = yield* loadConfig
    const graph = yield* Config.graphById(config, o.graph)
    if (o.format !== "mermaid") {
      // rendering Mermaid needs the mermaid bundle and a headless browser (@mermaid-js/mermaid-cli):
      // neither ships with the package, and nothing is fetched from the network
      return yield* new CliError({
        reason: "Failed",
        message: `--format ${o.format}: no offline Mermaid renderer is installed (it needs @mermaid-js/mermaid-cli, which brings the mermaid bundle and a headless Chromium); ` +
          `render the text instead: stategraph graph mermaid ${o.graph} > ${o.graph}.mmd && npx mmdc -i ${o.graph}.mmd -o ${o.graph}.${o.format}`
      })
    }
    yield* Console.log(graph.toMermaid())
  })).pipe(Command.withDescription("the graph as a Mermaid flowchart"))

export const graph = Command.make("graph").pipe(
  Command.withDescription("the configured graphs"),
  Command.withSubcommands([list, mermaid])
)
