/**
 * One path into a run: load the thread → decide what the request means on it (new input, a
 * continue, a fork, a resume) → record that decision (the input checkpoint, the answers) → run
 * the step cycle. Also the handover's import (`updateState` is in `update`).
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { InvalidUpdate, SnapshotVersionMismatch, ThreadNotFound, ThreadPaused, ThreadSleeping } from "../../GraphError.js"
import type { TaskRecord, WorkflowSnapshotEncoded } from "../../Snapshot.js"
import type { Backend, ChannelWrite, StatusPatch } from "../../Snapshots.js"
import { START } from "../constants.js"
import type { Compiled } from "../graph.js"
import * as Ids from "../ids.js"
import * as algo from "./algo.js"
import { answerRecords, type Prepared, prepareAnswers } from "./answers.js"
import { commandCheckpoint, resumedCheckpoint } from "./command.js"
import { isCommand } from "../../Command.js"
import { advanced, emptyCheckpoint, forked, imported } from "./checkpoints.js"
import { channelWrites, decodeCheckpoint, loadCheckpoint, toEncoded, wholeWrites } from "./codec.js"
import { makeCommitter } from "./durability.js"
import { heartbeat, holding, withClaim } from "./lease.js"
import { loop } from "./loop.js"
import type { Checkpoint, Run, RunConfig, RunOutcome, RunPolicy, RunRequest } from "./model.js"
import { evaluateRoutes } from "./routes.js"
import { CurrentTask, type TaskScope } from "../task.js"
import { emitCheckpoint } from "./threadState.js"
import type { YieldWrap } from "effect/Utils"

/** A plain generator of the run's one `Effect.gen`: its effects are yielded, not wrapped in a gen each. */
type Gen<A> = Generator<YieldWrap<Effect.Effect<any, unknown, unknown>>, A, any>

const noAnswers = new Map()

/** Runs `cp` from `head` with the run's committer. */
const cycle = (run: Run, cp: Checkpoint, head: string | null, prepared?: Prepared) =>
  loop(run, cp, makeCommitter(run, head), prepared?.byTask ?? noAnswers, prepared?.breakpoint ?? false)

/** The checkpoint of new input on `base`: the input written as by START, the first step planned. */
function* inputCheckpoint(
  compiled: Compiled,
  base: Checkpoint,
  input: unknown,
  options: { readonly fresh: boolean; readonly executionId: string; readonly metadata: Record<string, unknown> }
): Gen<{ readonly cp: Checkpoint; readonly writes: ReadonlyArray<ChannelWrite> }> {
  if (compiled.input !== undefined && input !== null && typeof input === "object") {
    for (const key in input) {
      if (!compiled.input.has(key) && compiled.codecByName[key] !== undefined) {
        return yield* Effect.fail(
          new InvalidUpdate({ node: START, channel: key, issue: `"${key}" is not an input channel of the graph (${[...compiled.input].join(", ")})` })
        )
      }
    }
  }
  const writes = algo.validateUpdate(compiled, START, input)
  if (Either.isLeft(writes)) return yield* Effect.fail(writes.left)
  if (options.fresh) {
    const written = new Set(writes.right.map(([k]) => k))
    for (const c of compiled.codecs) {
      if (!c.optional && !written.has(c.name) && base.values[c.name] === undefined) {
        return yield* Effect.fail(
          new InvalidUpdate({ node: START, channel: c.name, issue: `a new thread needs a value for "${c.name}" (it has no initial value)` })
        )
      }
    }
  }
  const applied = algo.applyWrites(compiled, base.values, base.versions, [{ node: START, writes: writes.right }])
  if (Either.isLeft(applied)) return yield* Effect.fail(applied.left)
  const id = Ids.make()
  const r = evaluateRoutes(compiled, startFinished, algo.stateView(compiled, applied.right.values))
  const routed = Effect.isEffect(r) ? yield* r : r
  const planned = algo.plan(compiled, id, [{ node: START, gotos: [] }], routed, base.joins)
  if (Either.isLeft(planned)) return yield* Effect.fail(new InvalidUpdate({ node: START, channel: "*", issue: planned.left }))
  const initialInput: Record<string, unknown> = {}
  for (const [k, v] of writes.right) {
    initialInput[k] = Either.getOrElse(compiled.codecByName[k]!.encodeUpdate(v), () => v)
  }
  const cp: Checkpoint = {
    // node states (execution order, attempts, outputs) belong to one execution
    ...advanced(base, { id, now: Date.now(), applied: applied.right, planned: planned.right, nodeStates: {}, metadata: options.metadata }),
    executionId: options.executionId,
    initialInput
  }
  return { cp, writes: channelWrites(applied.right, base.checkpointId === "") }
}

const startFinished = [{ node: START }]

/** New input's checkpoint: a `Command` routes (`commandCheckpoint`), anything else is the input. */
function* startCheckpoint(
  compiled: Compiled,
  base: Checkpoint,
  input: unknown,
  options: { readonly fresh: boolean; readonly executionId: string; readonly metadata: Record<string, unknown> }
): Gen<{ readonly cp: Checkpoint; readonly writes: ReadonlyArray<ChannelWrite> }> {
  return isCommand(input)
    ? yield* commandCheckpoint(compiled, base, input, options)
    : yield* inputCheckpoint(compiled, base, input, options)
}

/** The `values` part of the state with the input applied, before the first step (as LangGraph's first part). */
const emitInput = (run: Run, cp: Checkpoint): Effect.Effect<void, unknown, unknown> =>
  run.config.emit !== undefined && run.modes.has("values")
    ? run.config.emit({ mode: "values", step: cp.step, values: algo.releasedValues(run.compiled, cp.values) })
    : Effect.void

const pendingIds = (cp: Checkpoint) => cp.interrupts.filter((i) => i.status === "pending").map((i) => i.id)

const noPolicy: RunPolicy = {}

/**
 * A stop asked from outside a run (the server's double texting `interrupt`): read before each
 * step, so the run ends at the next step boundary with its finished steps committed. Runs
 * started with it in context see it; by default nothing stops them.
 *
 * @internal
 */
export class StopAtStepBoundary extends Context.Reference<StopAtStepBoundary>()("effect-stategraph/StopAtStepBoundary", {
  defaultValue: (): { readonly requested: (() => boolean) | undefined } => ({ requested: undefined })
}) {}

/**
 * Runs a graph: with a thread and a store, claims the thread, continues from its head (or from
 * a checkpoint, as a fork), and releases it at the end (unless `policy.keepClaim`). How the run
 * ended is the value; a refused request, the store's errors and the recursion limit fail it.
 *
 * @internal
 */
export const execute = (
  compiled: Compiled,
  store: Backend | undefined,
  request: RunRequest,
  config: RunConfig,
  policy: RunPolicy = noPolicy
): Effect.Effect<RunOutcome, unknown, unknown> =>
  Effect.contextWithEffect((context: Context.Context<CurrentTask | StopAtStepBoundary>) => {
    const holder = Context.get(context, CurrentTask)
    if (holder.scope !== undefined) return executeWith(compiled, store, request, childConfig(config, holder.scope), policy)
    // a stop at a step boundary (double texting) is the top run's: a child finishes its task
    const stop = Context.get(context, StopAtStepBoundary)
    return executeWith(compiled, store, request, config, stop.requested === undefined ? policy : { ...policy, stopRequested: stop.requested })
  })

/**
 * The config of a run started inside a task of another graph's run (a subgraph node, `Task.call`,
 * an `invoke` in a node): a child, whose `Command.parent` goes to that task; when the parent's
 * stream asked for subgraphs, its parts go to that stream with their namespace.
 */
const childConfig = (config: RunConfig, parent: TaskScope): RunConfig => {
  if (!parent.subgraphs || parent.emit === undefined || config.emit !== undefined) return { ...config, parent: true }
  const namespace = [...parent.namespace, `${parent.node}:${parent.taskId}`]
  const emit = parent.emit
  return {
    ...config,
    parent: true,
    subgraphs: true,
    namespace,
    modes: parent.modes,
    // a deeper graph's part keeps its own (longer) namespace
    emit: (part) => emit({ namespace, ...part })
  }
}

const executeWith = (
  compiled: Compiled,
  store: Backend | undefined,
  request: RunRequest,
  config: RunConfig,
  policy: RunPolicy
): Effect.Effect<RunOutcome, unknown, unknown> => {
  const threadId = config.threadId
  const modes = config.modes ?? new Set<string>()
  const run: Run = { released: false, compiled, store, threadId, runId: config.runId ?? Ids.make(), config, policy, modes }
  const metadata = config.metadata ?? {}
  const streamsCheckpoints = config.emit !== undefined && modes.has("checkpoints")
  if (store === undefined || threadId === undefined) {
    if (request._tag !== "Input") return Effect.dieMessage("resume and continue need a threadId and a Snapshots store")
    return Effect.gen(function*() {
      const { cp } = yield* startCheckpoint(compiled, emptyCheckpoint(compiled), request.input, { fresh: true, executionId: "", metadata })
      if (streamsCheckpoints) yield* emitCheckpoint(run, cp)
      if (config.emit !== undefined) yield* emitInput(run, cp)
      return yield* cycle(run, cp, null)
    })
  }
  const claim = { workflowId: compiled.id, leaseMillis: compiled.leaseMillis }
  const versionMismatch = (found: string) =>
    found !== compiled.version && !config.allowVersionChange
      ? new SnapshotVersionMismatch({ threadId, expected: compiled.version, found })
      : undefined

  /** New input on `base` (none: a new thread): commits the input checkpoint — taking the claim with it when asked — then runs. */
  const startWith = function*(input: unknown, base: Checkpoint | undefined, head: string | null, claimNow: boolean): Gen<RunOutcome> {
    const options = { fresh: base === undefined, executionId: Ids.make(), metadata }
    const { cp, writes } = yield* startCheckpoint(compiled, base ?? emptyCheckpoint(compiled), input, options)
    const snapshot = toEncoded(compiled, threadId, cp)
    const runId = run.runId
    yield* store.commit(
      claimNow
        ? { threadId, runId, expectedHead: head, snapshot, writes, claim }
        : { threadId, runId, expectedHead: head, snapshot, writes }
    )
    if (claimNow) yield* heartbeat(run, store)
    if (streamsCheckpoints) yield* emitCheckpoint(run, cp)
    if (config.emit !== undefined) yield* emitInput(run, cp)
    return yield* cycle(run, cp, cp.checkpointId)
  }

  /** Resumes a paused checkpoint: records the answers (and `running`) first — a crash after it resumes with them — then runs. */
  const resumeFrom = function*(
    base: Checkpoint,
    head: string | null,
    prepared: Prepared,
    record: (records: ReadonlyArray<TaskRecord>, patch: StatusPatch) => Effect.Effect<void, unknown, unknown>
  ): Gen<RunOutcome> {
    yield* record(answerRecords(base, prepared), { status: "running", interrupts: prepared.interrupts, pauseReason: undefined })
    const cp: Checkpoint = { ...base, status: "running", interrupts: prepared.interrupts, pauseReason: undefined }
    return yield* cycle(run, cp, head, prepared)
  }

  const continueFrom = function*(base: Checkpoint, head: string | null, forking: boolean): Gen<RunOutcome> {
    if (base.status === "paused" && !forking && base.pauseReason !== "sleeping") {
      return yield* Effect.fail(new ThreadPaused({ threadId, interruptIds: pendingIds(base) }))
    }
    if (base.status === "paused" && !forking) {
      // waking a durable sleeper: the sleeping tasks re-run and find their wake-up time journaled
      const patch = { status: "running", interrupts: base.interrupts, pauseReason: undefined, wakeAt: undefined } as const
      yield* store.setStatus(threadId, run.runId, base.checkpointId, patch)
    }
    if (!forking) return yield* cycle(run, { ...base, status: base.tasks.length === 0 ? base.status : "running" }, head)
    // a fork: a copy of the checkpoint as a new branch whose parent is the old one
    const cp = forked(base, Ids.make(), Date.now())
    const snapshot = toEncoded(compiled, threadId, cp)
    yield* store.commit({ threadId, runId: run.runId, expectedHead: head, snapshot, writes: wholeWrites(compiled, cp.values) })
    return yield* cycle(run, cp, cp.checkpointId, { byTask: noAnswers, interrupts: [], breakpoint: true, answered: [] })
  }

  /** Under a claim taken first: every request, and every refusal. */
  const claimed: Effect.Effect<RunOutcome, unknown, unknown> = Effect.gen(function*() {
    const head = yield* store.claim(threadId, run.runId, claim)
    yield* heartbeat(run, store)
    let base: Checkpoint | undefined
    if (head !== null || config.checkpointId !== undefined) {
      const loaded = yield* loadCheckpoint(compiled, store, threadId, config.checkpointId ?? head ?? undefined)
      const mismatch = versionMismatch(loaded.version)
      if (mismatch !== undefined) return yield* Effect.fail(mismatch)
      base = loaded.cp
    }
    const forking = config.checkpointId !== undefined && config.checkpointId !== head
    if (request._tag === "Input" && request.input !== null && request.input !== undefined) {
      if (base !== undefined && base.status === "paused" && !forking) {
        // new input waits for the pause to end: answers for questions, the wake-up for a sleep
        return yield* Effect.fail(
          base.pauseReason === "sleeping" && base.wakeAt !== undefined
            ? new ThreadSleeping({ threadId, wakeAt: new Date(base.wakeAt).toISOString() })
            : new ThreadPaused({ threadId, interruptIds: pendingIds(base) })
        )
      }
      return yield* startWith(request.input, base, head, false)
    }
    if (base === undefined) return yield* Effect.fail(new ThreadNotFound({ threadId }))
    if (request._tag !== "Resume") return yield* continueFrom(base, head, forking)
    const prepared = prepareAnswers(base, threadId, request.answers, compiled.kinds)
    if (Either.isLeft(prepared)) return yield* Effect.fail(prepared.left)
    if (request.update !== undefined) {
      // answers and update as one checkpoint, then the paused step
      const next = resumedCheckpoint(compiled, base, prepared.right, request.update)
      if (Either.isLeft(next)) return yield* Effect.fail(next.left)
      const { cp, writes } = next.right
      const snapshot = { ...toEncoded(compiled, threadId, cp), pendingWrites: cp.pending }
      yield* store.commit({ threadId, runId: run.runId, expectedHead: head, snapshot, writes })
      yield* emitCheckpoint(run, cp)
      return yield* cycle(run, cp, cp.checkpointId, prepared.right)
    }
    return yield* resumeFrom(base, head, prepared.right, (records, patch) =>
      store.settle(threadId, run.runId, base.checkpointId, { records, patch }))
  })

  // new input and answers read the head without a claim and take the claim with their first
  // write (a compare-and-set on that head): one transaction less per run
  const withFirstWrite: Effect.Effect<RunOutcome, unknown, unknown> = Effect.gen(function*() {
    const loaded = yield* store.load(threadId)
    let head: string | null = null
    let base: Checkpoint | undefined
    if (Option.isSome(loaded)) {
      const decoded = decodeCheckpoint(compiled, loaded.value)
      if (Either.isLeft(decoded)) return yield* Effect.fail(decoded.left)
      const mismatch = versionMismatch(loaded.value.workflowVersion)
      if (mismatch !== undefined) return yield* Effect.fail(mismatch)
      base = decoded.right
      head = base.checkpointId
    }
    // a refusal is decided under a claim, as before: another run may hold the thread
    if (request._tag === "Input") {
      if (base !== undefined && base.status === "paused") return yield* claimed
      return yield* startWith(request.input, base, head, true)
    }
    if (base === undefined || base.status !== "paused" || request._tag !== "Resume") return yield* claimed
    const prepared = prepareAnswers(base, threadId, request.answers, compiled.kinds)
    if (Either.isLeft(prepared)) return yield* claimed
    const at = base.checkpointId
    // the compare-and-set covers the answered interrupts too: another resume may have answered
    // them, run, and paused again on this checkpoint since it was read
    const pending = prepared.right.answered.map((a) => a.record.id)
    return yield* resumeFrom(base, head, prepared.right, (records, patch) =>
      Effect.zipRight(store.settle(threadId, run.runId, at, { records, patch, claim: { ...claim, pending } }), heartbeat(run, store)))
  })

  const claimWithFirstWrite = config.checkpointId === undefined &&
    ((request._tag === "Resume" && request.update === undefined) || (request._tag === "Input" && request.input !== null && request.input !== undefined))
  return holding(run, store, threadId, claimWithFirstWrite ? withFirstWrite : claimed)
}

/**
 * Hands a snapshot over to a thread (sync → async handover): commits it as the thread's new head
 * with its completed nodes marked `injected`, so a run continues from its pending tasks and never
 * executes those nodes again. Channel values are decoded first: a tampered value is refused.
 *
 * @internal
 */
export const importSnapshot = (
  compiled: Compiled,
  store: Backend,
  threadId: string,
  snapshot: WorkflowSnapshotEncoded
) => {
  const runId = Ids.make()
  return withClaim(store, threadId, runId, Effect.gen(function*() {
    const decoded = decodeCheckpoint(compiled, snapshot)
    if (Either.isLeft(decoded)) return yield* Effect.fail(decoded.left)
    const head = yield* store.claim(threadId, runId, { workflowId: compiled.id, leaseMillis: compiled.leaseMillis })
    const cp = imported(decoded.right, { id: Ids.make(), head, now: Date.now(), from: snapshot })
    // the carried-over task records are written with the checkpoint
    const snapshotOut = { ...toEncoded(compiled, threadId, cp), pendingWrites: cp.pending }
    yield* store.commit({ threadId, runId, expectedHead: head, snapshot: snapshotOut, writes: wholeWrites(compiled, cp.values) })
    return cp
  }))
}

