/**
 * `stategraph snapshots …`: FlowDrop's snapshot admin from a terminal — list, show, cleanup.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Pipeline from "../../Pipeline.js"
import type { SnapshotStatus, WorkflowSnapshotEncoded } from "../../Snapshot.js"
import { Snapshots } from "../../Snapshots.js"
import type { Loaded } from "./config.js"
import { CliError } from "./errors.js"
import * as out from "./output.js"
import { jsonOption, withStore } from "./root.js"

const summary = (s: WorkflowSnapshotEncoded) => ({
  executionId: s.executionId,
  workflowId: s.workflowId,
  threadId: s.threadId,
  status: s.status,
  step: s.step,
  checkpointId: s.checkpointId,
  createdAt: new Date(s.createdAt).toISOString()
})

const list = Command.make("list", {
  graph: Options.text("graph").pipe(Options.withDescription("the head snapshots of this graph's threads"), Options.optional),
  thread: Options.text("thread").pipe(Options.withDescription("every snapshot of this thread"), Options.optional),
  limit: Options.integer("limit").pipe(Options.withDefault(50)),
  json: jsonOption
}, (o) =>
  withStore((config) =>
    Effect.gen(function*() {
      const store = yield* Snapshots
      const found = Option.isSome(o.thread)
        ? yield* store.listByThread(o.thread.value, { limit: o.limit })
        : yield* Effect.map(
          Effect.forEach(Option.isSome(o.graph) ? [o.graph.value] : config.graphs.map((g) => g.id), (id) =>
            store.listByWorkflow(id, { limit: o.limit })),
          (lists) => lists.flat().sort((a, b) => b.createdAt - a.createdAt).slice(0, o.limit)
        )
      const rows = found.map(summary)
      yield* out.either(
        o.json,
        rows,
        rows.length === 0 ? Console.log("no snapshots") : out.table(
          ["EXECUTION", "GRAPH", "THREAD", "STATUS", "STEP", "CREATED"],
          rows.map((r) => [r.executionId, r.workflowId, r.threadId, out.status(r.status), String(r.step), out.time(Date.parse(r.createdAt))])
        )
      )
    })
  )).pipe(Command.withDescription("snapshots of a graph's threads (heads) or of one thread (all)"))

/**
 * An execution's last checkpoint: recorded by an orchestrator, or else found among the threads of
 * the configured graphs (or of `--thread`) — a direct `graph.invoke` records no execution.
 */
const findExecution = (config: Loaded, executionId: string, thread: Option.Option<string>) =>
  Pipeline.executionSnapshot(executionId).pipe(
    Effect.catchTag("PipelineNotFound", () =>
      Effect.gen(function*() {
        const store = yield* Snapshots
        const threads = Option.isSome(thread)
          ? [thread.value]
          : (yield* Effect.forEach(config.graphs, (g) => store.listByWorkflow(g.id, { limit: 1_000 })))
            .flat()
            .filter((h) => h.executionId === executionId)
            .map((h) => h.threadId)
        for (const threadId of threads) {
          const found = (yield* store.history(threadId, {})).find((c) => c.executionId === executionId)
          if (found !== undefined) return found
        }
        return yield* new CliError({
          reason: "NotFound",
          message: `no snapshot of execution ${executionId}${Option.isSome(thread) ? ` in thread ${thread.value}` : " at the head of a thread (name its thread with --thread)"}`
        })
      }))
  )

const show = Command.make("show", {
  execution: Args.text({ name: "execution" }).pipe(Args.withDescription("the execution id")),
  thread: Options.text("thread").pipe(Options.withDescription("the execution's thread, if it is not at a thread's head"), Options.optional),
  json: jsonOption
}, (o) =>
  withStore((config) =>
    Effect.gen(function*() {
      const s = yield* findExecution(config, o.execution, o.thread)
      yield* out.either(
        o.json,
        s,
        Effect.gen(function*() {
          yield* Console.log(`${out.bold(s.executionId)}  ${s.workflowId}  thread ${s.threadId}  ${out.status(s.status)}  step ${s.step}`)
          if (s.error !== undefined) yield* Console.log(out.red(`error: ${s.error}`))
          const nodes = Object.entries(s.nodeStates).sort(([, a], [, b]) => (a.executionOrder || Infinity) - (b.executionOrder || Infinity))
          yield* out.table(
            ["NODE", "STATUS", "ORDER", "ATTEMPTS", "INJECTED", "OUTPUT / ERROR"],
            nodes.map(([id, n]) => [
              id,
              out.status(n.status),
              String(n.executionOrder),
              String(n.attempts),
              n.injected ? "yes" : "no",
              n.error !== undefined ? out.red(n.error) : JSON.stringify(n.output ?? null).slice(0, 60)
            ])
          )
        })
      )
    })
  )).pipe(Command.withDescription("an execution's snapshot: status and node states (FlowDrop's getSnapshot)"))

/** "7d", "12h", "30m", "45s", "500ms" → milliseconds. */
export const parseAge = (text: string) => {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/.exec(text.trim())
  if (m === null) {
    return Effect.fail(new CliError({ reason: "Usage", message: `--older-than '${text}': use a number and a unit: 500ms, 45s, 30m, 12h, 7d, 2w` }))
  }
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2] as "ms"]
  return Effect.succeed(Number(m[1]) * unit)
}

const statuses = ["pending", "running", "paused", "completed", "failed"]

const cleanup = Command.make("cleanup", {
  olderThan: Options.text("older-than").pipe(Options.withDescription("age of the checkpoints to remove: 7d, 12h, 30m …")),
  status: Options.text("status").pipe(
    Options.withDescription("only threads whose head has one of these statuses"),
    Options.withDefault("completed,failed")
  ),
  batchSize: Options.integer("batch-size").pipe(Options.withDefault(500)),
  dryRun: Options.boolean("dry-run").pipe(Options.withDescription("count what would be removed, remove nothing")),
  json: jsonOption
}, (o) =>
  withStore(() =>
    Effect.gen(function*() {
      const store = yield* Snapshots
      const age = yield* parseAge(o.olderThan)
      const wanted = o.status.split(",").map((s) => s.trim())
      const unknown = wanted.filter((s) => !statuses.includes(s))
      if (unknown.length > 0) {
        return yield* new CliError({ reason: "Usage", message: `unknown status ${unknown.join(", ")} (one of ${statuses.join(", ")})` })
      }
      const options = { olderThan: Date.now() - age, statuses: wanted as Array<SnapshotStatus>, batchSize: o.batchSize }
      const started = Date.now()
      const candidates = yield* store.cleanup({ ...options, dryRun: true })
      const removed = o.dryRun || candidates === 0
        ? 0
        : yield* store.cleanup({ ...options, onBatch: (n) => out.progress(n, candidates) })
      const result = { dryRun: o.dryRun, candidates, removed, millis: Date.now() - started, statuses: wanted, olderThan: o.olderThan }
      yield* out.either(
        o.json,
        result,
        Console.log(
          o.dryRun
            ? `dry run: ${candidates} checkpoints older than ${o.olderThan} of ${wanted.join("/")} threads would be removed`
            : `removed ${removed} checkpoints older than ${o.olderThan} of ${wanted.join("/")} threads in ${result.millis} ms (heads and the lineage of kept checkpoints stay)`
        )
      )
    })
  )).pipe(Command.withDescription("remove old checkpoints (FlowDrop's snapshot cleanup), keeping every thread's head"))

export const snapshots = Command.make("snapshots").pipe(
  Command.withDescription("FlowDrop's snapshot admin: list, show, cleanup"),
  Command.withSubcommands([list, show, cleanup])
)
