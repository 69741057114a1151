/**
 * Creating runs: check everything first (the assistant, the thread, the input, the answers), then
 * queue the run in one transaction with the double-texting decision — `reject` (409), `enqueue`
 * (queued behind the thread's runs), `interrupt` / `rollback` (the thread's runs are asked to
 * stop; the new run starts when they have). Executors (any process) pick it up.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { randomUUID } from "node:crypto"
import type { WorkflowSnapshotEncoded } from "../../Snapshot.js"
import type { AnyCompiled } from "../../StateGraph.js"
import type { Principal } from "./api.js"
import { authorize, graphOf, loadCheckpoint, notify, type Shared, sqlOr503, STEP, unavailable, waitForRun, wake } from "./context.js"
import { endEvent, type RunRow } from "./db.js"
import { Conflict, NotFound, Unprocessable } from "./errors.js"
import { decodeAnswers, decodeCommand, decodeUpdate } from "./input.js"
import type * as M from "./models.js"
import { pendingInterrupts } from "./views.js"

/** What an executor needs of a queued run (stored as JSON with it). @internal */
export interface RunKwargs {
  readonly input?: unknown
  readonly command?: { readonly resume?: unknown; readonly update?: unknown; readonly goto?: string | ReadonlyArray<string> | null | undefined }
  readonly stream_mode: ReadonlyArray<string>
  /** stream the parts of subgraphs too, as `mode|node:taskId` events */
  readonly stream_subgraphs?: boolean | undefined
  readonly interrupt_before?: "*" | ReadonlyArray<string>
  readonly interrupt_after?: "*" | ReadonlyArray<string>
  readonly checkpoint_id?: string
  readonly stateless: boolean
  readonly on_completion: "delete" | "keep"
  /** rollback: continue from this checkpoint (null: the thread had none) instead of the head */
  readonly rollback?: { readonly to: string | null }
}

/** @internal */
export const terminal = (status: string) => status !== "pending" && status !== "running"

const iso = (ms: number) => new Date(ms).toISOString()

/** @internal */
export const runJson = (row: RunRow): typeof M.Run.Type => ({
  run_id: row.run_id,
  thread_id: row.thread_id,
  assistant_id: row.assistant_id,
  created_at: iso(row.created_at),
  updated_at: iso(row.updated_at),
  status: row.status as typeof M.Run.Type["status"],
  metadata: JSON.parse(row.metadata),
  multitask_strategy: row.multitask_strategy as typeof M.Run.Type["multitask_strategy"],
  kwargs: JSON.parse(row.kwargs)
})

const knownModes = new Set(["values", "updates", "custom", "events", "messages", "messages-tuple", "debug", "tasks", "checkpoints"])

const modesOf = (mode: string | ReadonlyArray<string> | null | undefined): Effect.Effect<ReadonlyArray<string>, Unprocessable> => {
  const modes = mode === null || mode === undefined ? ["values"] : typeof mode === "string" ? [mode] : [...mode]
  const unknown = modes.find((m) => !knownModes.has(m))
  return unknown === undefined
    ? Effect.succeed(modes.length === 0 ? ["values"] : modes)
    : Effect.fail(new Unprocessable({ detail: `unknown stream mode "${unknown}"`, issue: `stream_mode is one of ${[...knownModes].join(", ")}` }))
}

const breakpoints = (graph: { readonly nodes: ReadonlyArray<string> }, b: "*" | ReadonlyArray<string> | null | undefined, what: string) => {
  if (b === null || b === undefined || b === "*") return Effect.succeed(b ?? undefined)
  const unknown = b.find((n) => !graph.nodes.includes(n))
  return unknown === undefined
    ? Effect.succeed(b)
    : Effect.fail(new Unprocessable({ detail: `${what}: "${unknown}" is not a node`, issue: `nodes: ${graph.nodes.join(", ")}` }))
}

/**
 * Checks `command` as the executor will run it: `resume` (with `update`: one checkpoint, so both
 * are checked here) answers a paused thread; `update` / `goto` alone are a `Command` as the run's
 * input, which a paused thread refuses (answer it with `resume`) unless the run forks.
 */
const checkCommand = (
  graph: AnyCompiled,
  head: WorkflowSnapshotEncoded | undefined,
  command: NonNullable<M.RunCreate["command"]>,
  checkpointId: string | undefined
) =>
  Effect.gen(function*() {
    if (command.resume !== undefined) {
      yield* decodeAnswers(graph, head, command.resume)
      if (command.goto != null) {
        return yield* new Unprocessable({
          detail: "command.goto cannot go with command.resume: a resume continues the paused step (answer first, then send a run with command.goto)",
          issue: "goto with resume"
        })
      }
      if (command.update != null) yield* decodeUpdate(graph, command.update, "command.update")
      return
    }
    if (command.update == null && command.goto == null) return
    yield* decodeCommand(graph, command.update, command.goto)
    if (head?.status === "paused" && checkpointId === undefined) {
      return yield* new Conflict({
        detail: `thread "${head.threadId}" is paused: answer it with command.resume (which may carry command.update)`
      })
    }
  })

/**
 * Checks and queues a run on `threadId` (none: a stateless run on a thread of its own, deleted
 * when it ends unless `on_completion: "keep"`).
 *
 * @internal
 */
export const createRun = (ctx: Shared, principal: Principal, threadId: string | undefined, payload: M.RunCreate) =>
  Effect.gen(function*() {
    const graph = yield* graphOf(ctx, payload.assistant_id)
    yield* authorize(principal, "edit", graph.id)
    const stateless = threadId === undefined
    const tid = threadId ?? randomUUID()
    const row = stateless ? undefined : yield* sqlOr503("thread", ctx.db.getThread(tid))
    const head = stateless ? undefined : yield* loadCheckpoint(ctx, tid)
    if (!stateless && row === undefined && head === undefined && payload.if_not_exists !== "create") {
      return yield* new NotFound({ detail: `thread "${tid}" not found (create it first, or pass if_not_exists: "create")` })
    }
    const owner = row?.graph_id ?? head?.workflowId
    if (owner !== undefined && owner !== null && owner !== graph.id) {
      return yield* new Unprocessable({ detail: `thread "${tid}" belongs to graph "${owner}", not "${graph.id}"` })
    }
    // everything the executor will do is checked here, before anything is written
    const stream_mode = yield* modesOf(payload.stream_mode)
    const interrupt_before = yield* breakpoints(graph, payload.interrupt_before, "interrupt_before")
    const interrupt_after = yield* breakpoints(graph, payload.interrupt_after, "interrupt_after")
    if (payload.input !== undefined && payload.input !== null) yield* decodeUpdate(graph, payload.input, "input")
    const command = payload.command ?? undefined
    const checkpointId = payload.checkpoint_id ?? payload.checkpoint?.checkpoint_id ?? undefined
    if (command !== undefined) yield* checkCommand(graph, head, command, checkpointId)
    if (checkpointId !== undefined) {
      const at = yield* loadCheckpoint(ctx, tid, checkpointId)
      if (at === undefined) return yield* new NotFound({ detail: `checkpoint "${checkpointId}" of thread "${tid}" not found` })
    }
    const strategy = payload.multitask_strategy ?? "reject"
    const now = Date.now()
    const runId = randomUUID()
    const base: Omit<RunKwargs, "rollback"> = {
      ...(payload.input !== undefined && payload.input !== null ? { input: payload.input } : {}),
      ...(command !== undefined ? { command } : {}),
      stream_mode,
      ...(payload.stream_subgraphs === true ? { stream_subgraphs: true } : {}),
      ...(interrupt_before !== undefined ? { interrupt_before } : {}),
      ...(interrupt_after !== undefined ? { interrupt_after } : {}),
      ...(checkpointId !== undefined ? { checkpoint_id: checkpointId } : {}),
      stateless,
      on_completion: payload.on_completion ?? (stateless ? "delete" : "keep")
    }
    const sql = ctx.db.sql
    const inserted = yield* sql.withTransaction(Effect.gen(function*() {
      if (row === undefined) {
        yield* ctx.db.insertThread({ thread_id: tid, graph_id: graph.id, metadata: "{}", created_at: now, updated_at: now })
      } else if (row.graph_id === null) {
        yield* ctx.db.updateThread(tid, { graph_id: graph.id }, now)
      }
      const inflight = yield* ctx.db.inflight(tid)
      let rollback: RunKwargs["rollback"] = undefined
      if (inflight.length > 0) {
        if (strategy === "reject") return Option.none()
        if (strategy === "interrupt" || strategy === "rollback") {
          // interrupt: the running run ends at its next step boundary, keeping its finished steps
          for (const r of inflight) yield* ctx.db.requestCancel(r.run_id, strategy === "interrupt" ? STEP : strategy, now)
          const running = inflight.find((r) => r.status === "running")
          if (strategy === "rollback" && running !== undefined) rollback = { to: running.base_checkpoint }
        }
      }
      const kwargs: RunKwargs = rollback === undefined ? base : { ...base, rollback }
      const run: Omit<RunRow, "seq"> = {
        run_id: runId,
        thread_id: tid,
        assistant_id: graph.id,
        status: "pending",
        metadata: JSON.stringify(payload.metadata ?? {}),
        kwargs: JSON.stringify(kwargs),
        multitask_strategy: strategy,
        created_at: now,
        updated_at: now,
        worker: null,
        lease_until: 0,
        cancel: null,
        error: null,
        base_checkpoint: null
      }
      yield* ctx.db.insertRun(run)
      return Option.some({ ...run, seq: 0, cancelled: strategy === "interrupt" || strategy === "rollback" ? inflight.map((r) => r.run_id) : [] })
    })).pipe(Effect.mapError(unavailable("queue the run")))
    if (Option.isNone(inserted)) {
      return yield* new Conflict({ detail: `thread "${tid}" is busy with a run (multitask_strategy "reject")` })
    }
    yield* signalStops(ctx, inserted.value.cancelled, strategy === "interrupt" ? STEP : strategy)
    yield* notify(ctx, inserted.value.cancelled)
    yield* wake(ctx)
    return inserted.value as RunRow
  })

/** Stops the runs this process executes, at once (others see the request when they poll). */
const signalStops = (ctx: Shared, runIds: ReadonlyArray<string>, action: string) =>
  Effect.forEach(runIds, (id) => {
    const stop = ctx.stops.get(id)
    return stop === undefined ? Effect.void : Effect.asVoid(Deferred.succeed(stop, action))
  }, { discard: true })

/** @internal */
export const getRun = (ctx: Shared, threadId: string, runId: string) =>
  Effect.flatMap(sqlOr503("run", ctx.db.getRun(runId)), (row) =>
    row === undefined || row.thread_id !== threadId
      ? Effect.fail(new NotFound({ detail: `run "${runId}" of thread "${threadId}" not found` }))
      : Effect.succeed(row))

/** Asks a run to stop (`interrupt`: keep its work; `rollback`: discard it and the run). @internal */
export const cancelRun = (ctx: Shared, row: RunRow, action: "interrupt" | "rollback") =>
  Effect.gen(function*() {
    if (terminal(row.status)) return yield* new Conflict({ detail: `run "${row.run_id}" has ended (${row.status})` })
    yield* sqlOr503("cancel", ctx.db.requestCancel(row.run_id, action, Date.now()))
    yield* signalStops(ctx, [row.run_id], action)
    yield* notify(ctx, [row.run_id])
  })

/** Waits until the run has ended (or is gone); returns its row (undefined: deleted by a rollback). @internal */
export const awaitRun = (ctx: Shared, runId: string) =>
  Effect.gen(function*() {
    while (true) {
      const row = yield* sqlOr503("run", ctx.db.getRun(runId))
      if (row === undefined || terminal(row.status)) return row
      yield* waitForRun(ctx, runId, row.worker === ctx.workerId)
    }
  })

/**
 * The result of an ended run, as `runs.wait` and `runs.join` return it: the thread's values (with
 * `__interrupt__` when it paused), or `__error__`.
 *
 * @internal
 */
export const runResult = (ctx: Shared, runId: string, threadId: string) =>
  Effect.gen(function*() {
    yield* awaitRun(ctx, runId)
    const end = yield* sqlOr503("run result", endEvent(ctx.db, runId))
    if (end !== undefined) return JSON.parse(end.data) as unknown
    const head = yield* loadCheckpoint(ctx, threadId)
    return head === undefined ? {} : resultOf(head)
  })

/** A thread's values, with its pending questions as `__interrupt__` (LangGraph's shape). @internal */
export const resultOf = (head: WorkflowSnapshotEncoded): unknown => {
  const pending = pendingInterrupts(head)
  return pending.length === 0 ? head.channels : { ...head.channels, __interrupt__: pending.map((i) => ({ id: i.id, value: i.request })) }
}
