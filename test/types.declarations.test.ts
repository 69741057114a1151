/**
 * What users see of the builder's types, measured with the TypeScript compiler: the declaration
 * `tsc --declaration` emits for a 6-node graph (its size, and that it names the state once and
 * the nodes as a union), and the error a wrong update gets (where it is reported, what it says).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { createRequire } from "node:module"
import { Worker } from "node:worker_threads"
import { beforeAll, describe, expect, it } from "vitest"

const root = path.resolve(import.meta.dirname, "..")

const sixNodes = `
import { Effect, Schema } from "effect"
import { Channel, StateGraph } from "effect-stategraph"

const Item = Schema.Struct({ id: Schema.String, score: Schema.Number })
export const graph = StateGraph.make({
  id: "six",
  state: {
    query: Channel.lastValue(Schema.String),
    items: Channel.append(Item),
    best: Channel.lastValue(Schema.UndefinedOr(Item)),
    tokens: Channel.reduce(Schema.Number, (a, b) => a + b, () => 0),
    messages: Channel.messages(),
    done: Channel.lastValue(Schema.Boolean, { initial: () => false })
  }
}).pipe(
  StateGraph.addNode("plan", (s) => Effect.succeed({ query: s.query.trim() })),
  StateGraph.addNode("search", () => Effect.succeed({ items: [{ id: "1", score: 1 }] })),
  StateGraph.addNode("rank", (s) => Effect.succeed({ best: s.items[0] })),
  StateGraph.addNode("count", () => Effect.succeed({ tokens: 10 })),
  StateGraph.addNode("answer", () => Effect.succeed({ messages: [] })),
  StateGraph.addNode("finish", () => Effect.succeed({ done: true })),
  StateGraph.addEdge(StateGraph.START, "plan"),
  StateGraph.addEdge("plan", "search"),
  StateGraph.addEdge("search", "rank"),
  StateGraph.addEdge("rank", "count"),
  StateGraph.addEdge("count", "answer"),
  StateGraph.addEdge("answer", "finish"),
  StateGraph.compileSync()
)
`

// each mistake on its own line, to find where the compiler reports it
const mistakes = `
import { Effect, Schema } from "effect"
import { Channel, StateGraph } from "effect-stategraph"

const base = StateGraph.make({ id: "m", state: { n: Channel.lastValue(Schema.Number), log: Channel.append(Schema.String) } })
export const wrongValue = base.pipe(
  StateGraph.addNode("a", (s) =>
    Effect.succeed({ n: String(s.n) }))
)
export const unknownKey = base.pipe(
  StateGraph.addNode("a", () =>
    Effect.succeed({ n: 1, nope: true }))
)
`

const files: Record<string, string> = {
  [path.join(root, "test", "__declarations_six.ts")]: sixNodes,
  [path.join(root, "test", "__declarations_mistakes.ts")]: mistakes
}

let declarations = ""
// per diagnostic of the mistakes file: its line and its flattened message
let diagnostics: ReadonlyArray<{ readonly line: number; readonly text: string }> = []

// The compiler runs in a worker thread: a synchronous compile of the whole program blocks the test
// worker's event loop, and under load it outlasts vitest's 60 s RPC timeout ("Timeout calling
// onTaskUpdate"), failing a run whose tests all passed.
const compile = `
const { parentPort, workerData } = require("node:worker_threads")
const ts = require(workerData.typescript)
const { root, files } = workerData
const config = ts.readConfigFile(root + "/tsconfig.json", ts.sys.readFile)
const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root)
const options = { ...parsed.options, noEmit: false, declaration: true, emitDeclarationOnly: true,
  noUnusedLocals: false, rootDir: root, outDir: root + "/.declarations-check" }
const host = ts.createCompilerHost(options)
const getSourceFile = host.getSourceFile
host.getSourceFile = (name, language, onError, create) =>
  files[name] !== undefined ? ts.createSourceFile(name, files[name], language) : getSourceFile(name, language, onError, create)
const fileExists = host.fileExists
host.fileExists = (name) => files[name] !== undefined || fileExists(name)
const names = Object.keys(files)
const program = ts.createProgram(names, options, host)
let declarations = ""
program.emit(program.getSourceFile(names[0]), (name, text) => {
  if (name.endsWith("__declarations_six.d.ts")) declarations = text
})
const diagnostics = ts.getPreEmitDiagnostics(program, program.getSourceFile(names[1])).map((d) => ({
  line: d.file === undefined ? -1 : d.file.getLineAndCharacterOfPosition(d.start).line,
  text: ts.flattenDiagnosticMessageText(d.messageText, "\\n")
}))
parentPort.postMessage({ declarations, diagnostics })
`

beforeAll(async () => {
  const typescript = createRequire(import.meta.url).resolve("typescript")
  const result = await new Promise<{ declarations: string; diagnostics: typeof diagnostics }>((resolve, reject) => {
    const worker = new Worker(compile, { eval: true, workerData: { typescript, root, files } })
    worker.once("message", resolve)
    worker.once("error", reject)
    worker.once("exit", (code) => reject(new Error(`the compiler's worker exited with ${code}`)))
  })
  declarations = result.declarations
  diagnostics = result.diagnostics
}, 120_000)

describe("declarations", () => {
  it("a 6-node graph's declaration is under 1.5 KB and names its nodes once, as a union", () => {
    const bytes = Buffer.byteLength(declarations)
    expect(declarations).toContain("StateGraph.CompiledGraph<")
    expect(bytes).toBeGreaterThan(0)
    expect(bytes).toBeLessThan(1500)
    // the state appears once (before: once per node, 5.6 KB for this graph)
    expect(declarations.match(/readonly query:/g)).toHaveLength(1)
    // then E, R, and the input and output channels (never: the graph declares none)
    const nodes = /}, ((?:"\w+" \| )+"\w+"), never, never, never, never>;/.exec(declarations)
    expect(nodes?.[1]?.split(" | ").map((n) => JSON.parse(n)).sort()).toEqual(["answer", "count", "finish", "plan", "rank", "search"])
    fs.rmSync(path.join(root, ".declarations-check"), { recursive: true, force: true })
  })
})

describe("a wrong update", () => {
  const at = (needle: string) => {
    const line = mistakes.split("\n").findIndex((l) => l.includes(needle))
    const found = diagnostics.filter((d) => d.line === line)
    expect(found).toHaveLength(1)
    return found[0]!.text
  }

  it("is reported at the node's return, naming the channel and the type it accepts", () => {
    expect(diagnostics).toHaveLength(2)
    const wrongValue = at("String(s.n)")
    expect(wrongValue).not.toContain("No overload matches")
    expect(wrongValue.split("\n").at(-1)).toContain(`Type 'string' is not assignable to type 'WrongUpdate<"n", number>'`)
    expect(wrongValue).toContain("Types of property 'n' are incompatible")
    expect(wrongValue.split("\n").length).toBeLessThanOrEqual(6)
  })

  it("with a key that is not a channel, names the key", () => {
    const unknownKey = at("nope: true")
    expect(unknownKey).not.toContain("No overload matches")
    expect(unknownKey.split("\n").at(-1)).toContain(`Type 'boolean' is not assignable to type 'NotAChannel<"nope">'`)
  })
})
