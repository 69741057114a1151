/**
 * `stategraph threads …`: list, show, history, resume, fork and delete threads.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { ThreadNotFound } from "../../GraphError.js"
import type { SnapshotStatus } from "../../Snapshot.js"
import { Snapshots } from "../../Snapshots.js"
import type { AnyCompiled } from "../../StateGraph.js"
import * as answers from "./answers.js"
import * as Config from "./config.js"
import { CliError } from "./errors.js"
import * as out from "./output.js"
import { jsonOption, withStore } from "./root.js"

const statuses = ["pending", "running", "paused", "completed", "failed"] as const

const parseStatuses = (text: Option.Option<string>) =>
  Effect.forEach(Option.match(text, { onNone: () => [], onSome: (t) => t.split(",").map((s) => s.trim()) }), (s) =>
    (statuses as ReadonlyArray<string>).includes(s)
      ? Effect.succeed(s as SnapshotStatus)
      : Effect.fail(new CliError({ reason: "Usage", message: `unknown status '${s}' (one of ${statuses.join(", ")})` })))

/** The configured graph a thread belongs to. */
export const graphOfThread = (config: Config.Loaded, threadId: string) =>
  Effect.gen(function*() {
    const store = yield* Snapshots
    const head = yield* store.load(threadId)
    if (Option.isNone(head)) return yield* new ThreadNotFound({ threadId })
    return yield* Config.graphById(config, head.value.workflowId)
  })

const pendingOf = (interrupts: ReadonlyArray<{ readonly status: string }>) => interrupts.filter((i) => i.status === "pending").length

const list = Command.make("list", {
  graph: Options.text("graph").pipe(Options.withDescription("only this graph's threads"), Options.optional),
  status: Options.text("status").pipe(Options.withDescription("comma-separated: paused,completed,…"), Options.optional),
  limit: Options.integer("limit").pipe(Options.withDefault(50)),
  json: jsonOption
}, (o) =>
  withStore(() =>
    Effect.gen(function*() {
      const store = yield* Snapshots
      const wanted = yield* parseStatuses(o.status)
      const threads = yield* store.listThreads({
        ...(wanted.length > 0 ? { status: wanted } : {}),
        ...(Option.isSome(o.graph) ? { workflowId: o.graph.value } : {}),
        limit: o.limit
      })
      const rows = yield* Effect.forEach(threads, (t) =>
        Effect.map(store.load(t.threadId), (head) => ({
          threadId: t.threadId,
          graph: t.workflowId,
          status: t.status,
          updatedAt: new Date(t.updatedAt).toISOString(),
          pending: Option.match(head, { onNone: () => 0, onSome: (h) => pendingOf(h.interrupts) })
        })))
      yield* out.either(
        o.json,
        rows,
        rows.length === 0 ? Console.log("no threads") : out.table(
          ["THREAD", "GRAPH", "STATUS", "UPDATED", "PENDING"],
          rows.map((r) => [r.threadId, r.graph, out.status(r.status), out.time(Date.parse(r.updatedAt)), String(r.pending)])
        )
      )
    })
  )).pipe(Command.withDescription("list threads, newest first"))

const threadArg = Args.text({ name: "thread" }).pipe(Args.withDescription("the thread id"))

/** A thread's state as a plain document (for --json and for people). */
const stateDocument = (config: Config.Loaded, graph: AnyCompiled, threadId: string, checkpointId?: string) =>
  Effect.map(graph.getState(threadId, checkpointId === undefined ? undefined : { checkpointId }), (s) => ({
    threadId: s.threadId,
    graph: graph.id,
    status: s.status,
    step: s.step,
    checkpointId: s.checkpointId,
    parentCheckpointId: s.parentCheckpointId,
    createdAt: s.createdAt.toISOString(),
    next: s.next,
    values: s.values as unknown,
    pending: s.interrupts.filter((i) => i.status === "pending").map((i) => ({
      id: i.id,
      kind: i.kind,
      node: i.node,
      request: i.request as unknown,
      answerSchema: answers.answerSchema(config, graph, i.kind)
    })),
    ...(s.error !== undefined ? { error: s.error } : {})
  }))

type StateDocument = Effect.Effect.Success<ReturnType<typeof stateDocument>>

const printState = (d: StateDocument) =>
  Effect.gen(function*() {
    yield* Console.log(`${out.bold(d.threadId)}  ${d.graph}  ${out.status(d.status)}  step ${d.step}  ${out.dim(d.checkpointId)}`)
    if (d.next.length > 0) yield* Console.log(`next: ${d.next.join(", ")}`)
    if (d.error !== undefined) yield* Console.log(out.red(`error: ${d.error}`))
    yield* Console.log(`values: ${JSON.stringify(d.values, null, 2)}`)
    for (const p of d.pending) {
      yield* Console.log(`\n${out.yellow("?")} ${out.bold(p.kind)} ${out.dim(p.id)} (node ${p.node})`)
      yield* Console.log(`  request: ${JSON.stringify(p.request)}`)
      yield* Console.log(`  answer:  ${JSON.stringify(p.answerSchema)}`)
    }
  })

const show = Command.make("show", { thread: threadArg, json: jsonOption }, (o) =>
  withStore((config) =>
    Effect.gen(function*() {
      const graph = yield* graphOfThread(config, o.thread)
      const doc = yield* stateDocument(config, graph, o.thread)
      yield* out.either(o.json, doc, printState(doc))
    })
  )).pipe(Command.withDescription("a thread's state, next nodes and pending questions with their answer schema"))

const history = Command.make("history", {
  thread: threadArg,
  limit: Options.integer("limit").pipe(Options.withDefault(20)),
  json: jsonOption
}, (o) =>
  withStore((config) =>
    Effect.gen(function*() {
      const graph = yield* graphOfThread(config, o.thread)
      const states = yield* graph.history(o.thread, { limit: o.limit })
      const rows = states.map((s) => ({
        step: s.step,
        checkpointId: s.checkpointId,
        parentCheckpointId: s.parentCheckpointId,
        status: s.status,
        next: s.next,
        pending: s.interrupts.filter((i) => i.status === "pending").map((i) => i.kind),
        createdAt: s.createdAt.toISOString()
      }))
      yield* out.either(
        o.json,
        rows,
        out.table(
          ["STEP", "CHECKPOINT", "STATUS", "NEXT", "PENDING", "CREATED"],
          rows.map((r) => [String(r.step), r.checkpointId, out.status(r.status), r.next.join(",") || "-", r.pending.join(",") || "-", out.time(Date.parse(r.createdAt))])
        )
      )
    })
  )).pipe(Command.withDescription("a thread's checkpoints, newest first"))

/** Prints how a run ended: completed with its values, or paused again with its questions. */
const printOutcome = (config: Config.Loaded, json: boolean, graph: AnyCompiled, threadId: string, run: Effect.Effect<unknown, unknown, any>) =>
  Effect.gen(function*() {
    const ended = yield* Effect.either(Config.provideServices(config, run))
    if (ended._tag === "Left" && (ended.left as { _tag?: string })._tag !== "GraphInterrupted") return yield* Effect.fail(ended.left)
    const doc = yield* stateDocument(config, graph, threadId)
    yield* out.either(json, doc, printState(doc))
  })

const resume = Command.make("resume", {
  thread: threadArg,
  answer: Options.text("answer").pipe(Options.withDescription("the answer as JSON (checked against the question's schema)"), Options.optional),
  interrupt: Options.text("interrupt").pipe(Options.withDescription("which pending question (default: the only one)"), Options.optional),
  json: jsonOption
}, (o) =>
  withStore((config) =>
    Effect.gen(function*() {
      const graph = yield* graphOfThread(config, o.thread)
      const state = yield* graph.getState(o.thread)
      const answer = yield* answers.build(config, graph, state, Option.getOrUndefined(o.interrupt), Option.getOrUndefined(o.answer))
      yield* printOutcome(config, o.json, graph, o.thread, graph.resume({ threadId: o.thread }, ...answer))
    })
  )).pipe(Command.withDescription("answer a pending question and continue the thread"))

const fork = Command.make("fork", {
  thread: threadArg,
  checkpoint: Options.text("checkpoint").pipe(Options.withDescription("the checkpoint to continue from (see `threads history`)")),
  json: jsonOption
}, (o) =>
  withStore((config) =>
    Effect.gen(function*() {
      const graph = yield* graphOfThread(config, o.thread)
      yield* printOutcome(config, o.json, graph, o.thread, graph.invoke(null, { threadId: o.thread, checkpointId: o.checkpoint }))
    })
  )).pipe(Command.withDescription("continue a thread from an earlier checkpoint (time travel: a new branch)"))

const remove = Command.make("delete", { thread: threadArg, json: jsonOption }, (o) =>
  withStore(() =>
    Effect.gen(function*() {
      const store = yield* Snapshots
      const n = yield* store.deleteThread(o.thread)
      if (n === 0) return yield* new ThreadNotFound({ threadId: o.thread })
      yield* out.either(o.json, { threadId: o.thread, deletedCheckpoints: n }, Console.log(`deleted ${o.thread} (${n} checkpoints)`))
    })
  )).pipe(Command.withDescription("delete a thread and all its checkpoints"))

const leases = Command.make("leases", {
  graph: Options.text("graph").pipe(Options.withDescription("only this graph's threads"), Options.optional),
  json: jsonOption
}, (o) =>
  withStore(() =>
    Effect.gen(function*() {
      const store = yield* Snapshots
      const found = yield* store.leases(Option.isSome(o.graph) ? { workflowId: o.graph.value } : undefined)
      const rows = found.map((l) => ({ ...l, until: new Date(l.until).toISOString() }))
      yield* out.either(
        o.json,
        rows,
        rows.length === 0 ? Console.log("no thread is held") : out.table(
          ["THREAD", "GRAPH", "HOLDER", "UNTIL", "STATE"],
          rows.map((r) => [r.threadId, r.workflowId, r.holder, out.time(Date.parse(r.until)), r.alive ? out.green("alive") : out.yellow("expired")])
        )
      )
    })
  )).pipe(Command.withDescription("who holds which thread until when (a run, a worker, or a crashed process)"))

const release = Command.make("release", {
  thread: threadArg,
  force: Options.boolean("force").pipe(Options.withDescription("break a lease that is still alive (its holder is fenced)")),
  json: jsonOption
}, (o) =>
  withStore(() =>
    Effect.gen(function*() {
      const store = yield* Snapshots
      const broken = yield* store.releaseLease(o.thread, { force: o.force }).pipe(
        Effect.catchTag("LeaseHeld", (e) =>
          new CliError({
            reason: "Failed",
            message: `${o.thread} is held by ${e.holder} until ${new Date(e.leaseUntil).toISOString()}; --force breaks it (the holder is fenced)`
          }))
      )
      if (Option.isNone(broken)) return yield* new CliError({ reason: "NotFound", message: `nobody holds ${o.thread}` })
      yield* out.either(o.json, broken.value, Console.log(`released ${o.thread} (held by ${broken.value.holder})`))
    })
  )).pipe(Command.withDescription("break a thread's lease so another run can continue it"))

export const threads = Command.make("threads").pipe(
  Command.withDescription("see and operate threads"),
  Command.withSubcommands([list, show, history, resume, fork, remove, leases, release])
)
