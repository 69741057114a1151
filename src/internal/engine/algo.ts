/**
 * The pure superstep core: turning node outputs into writes, applying writes through the
 * reducers, and planning the next step's tasks. No I/O, no Effect.
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import { isCommand } from "../../Command.js"
import { InvalidUpdate } from "../../GraphError.js"
import { isSend, type Send } from "../../Send.js"
import type { TaskSpec } from "../../Snapshot.js"
import type { ChannelCodec } from "../channel.js"
import { END, START } from "../constants.js"
import type { Compiled } from "../graph.js"
import { HANDOFF } from "./handoff.js"

/** A node's output split into validated writes and routing. @internal */
export interface TaskOutput {
  readonly writes: ReadonlyArray<readonly [string, unknown]>
  readonly gotos: ReadonlyArray<string | Send>
}

const EMPTY: TaskOutput = { writes: [], gotos: [] }
const noGotos: ReadonlyArray<string | Send> = []

/** @internal */
export const formatIssue = (issue: ParseResult.ParseIssue): string => ParseResult.TreeFormatter.formatIssueSync(issue)

/** Validates an update object against the channels. @internal */
export const validateUpdate = (
  compiled: Compiled,
  node: string,
  update: unknown
): Either.Either<ReadonlyArray<readonly [string, unknown]>, InvalidUpdate> => {
  if (update === undefined || update === null) return Either.right([])
  if (typeof update !== "object" || Array.isArray(update)) {
    return Either.left(new InvalidUpdate({ node, channel: "*", issue: `expected an update object, got ${typeof update}` }))
  }
  const writes: Array<readonly [string, unknown]> = []
  for (const key in update) {
    const value = (update as Record<string, unknown>)[key]
    if (value === undefined) continue
    const codec = compiled.codecByName[key]
    if (codec === undefined) {
      return Either.left(new InvalidUpdate({ node, channel: key, issue: `"${key}" is not a channel of the graph` }))
    }
    const checked = codec.validateUpdate(value)
    if (Either.isLeft(checked)) {
      return Either.left(new InvalidUpdate({ node, channel: key, issue: formatIssue(checked.left) }))
    }
    writes.push([key, checked.right])
  }
  return Either.right(writes)
}

/** @internal */
export const normalizeOutput = (
  compiled: Compiled,
  node: string,
  output: unknown
): Either.Either<TaskOutput, InvalidUpdate> => {
  if (output === undefined || output === null) return Either.right(EMPTY)
  if (Array.isArray(output)) return normalizeList(compiled, node, output)
  const command = isCommand(output)
  const writes = validateUpdate(compiled, node, command ? output.update : output)
  if (Either.isLeft(writes)) return Either.left(writes.left)
  return Either.right({ writes: writes.right, gotos: command ? output.goto as ReadonlyArray<string | Send> : noGotos })
}

/**
 * A list of updates (or commands) from one node: their writes in order — several to one channel
 * meet in its reducer, as two tasks' writes do (two to a last-value channel are an
 * `InvalidUpdate` when applied) — and their gotos together.
 */
const normalizeList = (compiled: Compiled, node: string, outputs: ReadonlyArray<unknown>): Either.Either<TaskOutput, InvalidUpdate> => {
  const writes: Array<readonly [string, unknown]> = []
  const gotos: Array<string | Send> = []
  for (const item of outputs) {
    if (Array.isArray(item) || (isCommand(item) && (item as { graph?: unknown }).graph !== undefined)) {
      const what = Array.isArray(item) ? "a list inside a list" : "a Command.parent"
      return Either.left(new InvalidUpdate({ node, channel: "*", issue: `a node's list of updates holds updates and commands, not ${what}` }))
    }
    const one = normalizeOutput(compiled, node, item)
    if (Either.isLeft(one)) return one
    for (const w of one.right.writes) writes.push(w)
    for (const g of one.right.gotos) gotos.push(g)
  }
  return Either.right({ writes, gotos })
}

/**
 * A task's writes as the update objects it returned: one object while no channel repeats, a new
 * one where a channel is written again (a node that returned a list of updates). @internal
 */
export const updatesOf = (writes: ReadonlyArray<readonly [string, unknown]>): Array<Record<string, unknown>> => {
  const out: Array<Record<string, unknown>> = [{}]
  for (const [k, v] of writes) {
    if (k in out[out.length - 1]!) out.push({})
    out[out.length - 1]![k] = v
  }
  return out
}

/**
 * A task's writes as one update object: a channel written several times gets its writes' items
 * together when they are lists (append, messages), else its last write. @internal
 */
export const mergedUpdate = (writes: ReadonlyArray<readonly [string, unknown]>): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [k, v] of writes) {
    const before = out[k]
    out[k] = Array.isArray(before) && Array.isArray(v) ? [...before, ...v] : v
  }
  return out
}

/** The result of applying a step's writes. @internal */
export interface Applied {
  readonly values: Readonly<Record<string, unknown>>
  readonly versions: Readonly<Record<string, number>>
  /** channels written in the step */
  readonly changed: ReadonlyArray<ChannelCodec>
  /** for append channels (and appendable reduce channels): the items added in the step */
  readonly appended: Readonly<Record<string, ReadonlyArray<unknown>>>
  /** appendable channels whose update in this step did more than append: stored whole */
  readonly rewritten: ReadonlySet<string> | undefined
}

/**
 * Applies writes in task order through the reducers. Two writes to a last-value channel in one
 * step are an `InvalidUpdate`; the inputs are never mutated.
 *
 * @internal
 */
export const applyWrites = (
  compiled: Compiled,
  values: Readonly<Record<string, unknown>>,
  versions: Readonly<Record<string, number>>,
  tasks: ReadonlyArray<{ readonly node: string; readonly writes: ReadonlyArray<readonly [string, unknown]> }>
): Either.Either<Applied, InvalidUpdate> => {
  let nextValues: Record<string, unknown> | undefined
  let nextVersions: Record<string, number> | undefined
  const changed: Array<ChannelCodec> = []
  let writer: Record<string, string> | undefined
  let appended: Record<string, Array<unknown>> | undefined
  let rewritten: Set<string> | undefined
  for (const task of tasks) {
    for (const [channel, update] of task.writes) {
      const codec = compiled.codecByName[channel]!
      if (nextValues === undefined) {
        nextValues = { ...values }
        nextVersions = { ...versions }
        writer = {}
      }
      const previous = writer![channel]
      if (previous !== undefined && codec.kind === "LastValue") {
        return Either.left(
          new InvalidUpdate({
            node: task.node,
            channel,
            issue: `"${previous}" already wrote this last-value channel in the same step; use Channel.append or Channel.reduce for concurrent writes`
          })
        )
      }
      if (previous === undefined) {
        changed.push(codec)
        nextVersions![channel] = (versions[channel] ?? 0) + 1
      }
      writer![channel] = task.node
      if (codec.kind === "Append") {
        // items are collected here and added once the step's writes all applied (below)
        appended ??= {}
        const items = update as ReadonlyArray<unknown>
        const list = (appended[channel] ??= [])
        for (let i = 0; i < items.length; i++) list.push(items[i])
        continue
      }
      const current = nextValues[channel]
      nextValues[channel] = codec.channel.reducer(current === undefined ? codec.initial?.() : current, update)
      if (codec.isAppend !== undefined && !rewritten?.has(channel)) {
        if (codec.isAppend(current, update)) {
          appended ??= {}
          const list = (appended[channel] ??= [])
          for (const item of update as ReadonlyArray<unknown>) list.push(item)
        } else {
          rewritten ??= new Set()
          rewritten.add(channel)
        }
      }
    }
  }
  if (nextValues === undefined) {
    // nothing written: the step keeps the same objects (no copy)
    return Either.right({ values, versions, changed, appended: {}, rewritten: undefined })
  }
  if (appended !== undefined) {
    for (const codec of compiled.appends) {
      const items = appended[codec.name]
      if (items !== undefined) nextValues[codec.name] = extended(nextValues[codec.name], items)
    }
  }
  return Either.right({ values: nextValues, versions: nextVersions!, changed, appended: appended ?? {}, rewritten })
}

/**
 * The arrays of append channels that the engine made and may extend in place: a step's value is
 * the previous one with the new items pushed (O(items), not O(length) as a copy would be). Only
 * the engine holds them: nodes and routes read a step's value through `stateView` (a copy, made
 * when read), stream parts and the store get copies. A value the engine did not make (decoded,
 * the input, a node's array) is copied once, then owned.
 */
const owned = new WeakSet<Array<unknown>>()

const extended = (current: unknown, items: ReadonlyArray<unknown>): ReadonlyArray<unknown> => {
  const base = (current ?? []) as Array<unknown>
  if (items.length === 0) return base
  const out = owned.has(base) ? base : base.slice()
  owned.add(out)
  for (let i = 0; i < items.length; i++) out.push(items[i])
  return out
}

/** A value that is safe to hand out: an owned append array is copied (it may grow). @internal */
export const released = (value: unknown): unknown =>
  Array.isArray(value) && owned.has(value) ? value.slice() : value

/**
 * The state a step's nodes and routes read: the values as they are, but each append channel as
 * a getter that copies it when first read (the engine extends its array in place later). Values
 * without append channels are handed out as they are.
 *
 * @internal
 */
export const stateView = (
  compiled: Compiled,
  values: Readonly<Record<string, unknown>>
): Readonly<Record<string, unknown>> => {
  if (compiled.appends.length === 0) return values
  const view: Record<string, unknown> = {}
  for (const key in values) {
    const value = values[key]
    if (!Array.isArray(value) || !owned.has(value)) {
      view[key] = value
      continue
    }
    const length = value.length
    let copy: Array<unknown> | undefined
    Object.defineProperty(view, key, {
      enumerable: true,
      configurable: true,
      get: () => (copy ??= value.slice(0, length))
    })
  }
  return view
}

/** The values with every owned append array copied: what a caller may keep (stream parts, results). @internal */
export const releasedValues = (
  compiled: Compiled,
  values: Readonly<Record<string, unknown>>
): Readonly<Record<string, unknown>> => {
  if (compiled.appends.length === 0) return values
  const out: Record<string, unknown> = {}
  for (const key in values) out[key] = released(values[key])
  return out
}

/** @internal */
export interface Planned {
  readonly tasks: ReadonlyArray<TaskSpec>
  readonly joins: Readonly<Record<string, ReadonlyArray<string>>>
}

/** A route's raw result → a flat list of targets. @internal */
export const routeTargets = (result: unknown): ReadonlyArray<string | Send> => {
  if (Array.isArray(result)) return result as ReadonlyArray<string | Send>
  if (result === undefined || result === null) return []
  return [result as string | Send]
}

/**
 * Plans the next step: for each finished task in task order, its `goto`s, its static edges, its
 * conditional routes (already evaluated, passed in `routed`), and the joins it completes.
 *
 * @internal
 */
export const plan = (
  compiled: Compiled,
  checkpointId: string,
  finished: ReadonlyArray<{ readonly node: string; readonly gotos: ReadonlyArray<string | Send> }>,
  routed: ReadonlyArray<ReadonlyArray<string | Send>>,
  joins: Readonly<Record<string, ReadonlyArray<string>>>
): Either.Either<Planned, string> => {
  const tasks: Array<TaskSpec> = []
  // node tasks planned so far: a scan while they are few (a step usually plans one or two)
  let planned: Set<string> | undefined
  const isPlanned = (target: string): boolean => {
    if (planned === undefined && tasks.length >= 8) planned = new Set(tasks.filter((t) => !t.send).map((t) => t.node))
    if (planned !== undefined) return planned.has(target)
    for (let i = 0; i < tasks.length; i++) if (!tasks[i]!.send && tasks[i]!.node === target) return true
    return false
  }
  let nextJoins: Record<string, ReadonlyArray<string>> | undefined
  let sends = 0
  const push = (target: string | Send): string | undefined => {
    if (typeof target === "string") {
      if (target === END) return undefined
      if (compiled.nodes[target] === undefined) return `route to unknown node "${target}"`
      if (!isPlanned(target)) {
        planned?.add(target)
        tasks.push({ id: `${checkpointId}/${target}`, node: target, send: false })
      }
      return undefined
    }
    if (isSend(target)) {
      if (compiled.nodes[target.node] === undefined) return `Send to unknown node "${target.node}"`
      tasks.push({ id: `${checkpointId}/${target.node}.${sends++}`, node: target.node, send: true, arg: target.arg })
      return undefined
    }
    return `invalid route target ${JSON.stringify(target)}`
  }
  for (let i = 0; i < finished.length; i++) {
    const task = finished[i]!
    if (task.gotos.length > 0 && task.gotos[0] === HANDOFF) {
      // a handoff from the task's child graph: the command routes, not the node's edges
      for (let k = 1; k < task.gotos.length; k++) {
        const err = push(task.gotos[k]!)
        if (err) return Either.left(err)
      }
      continue
    }
    for (const g of task.gotos) {
      const err = push(g)
      if (err) return Either.left(err)
    }
    const edges = compiled.edgesFrom[task.node]
    if (edges !== undefined) {
      for (const e of edges) {
        const err = push(e)
        if (err) return Either.left(err)
      }
    }
    for (const t of routed[i] ?? []) {
      const err = push(t)
      if (err) return Either.left(err)
    }
    const js = compiled.joinsFrom[task.node]
    if (js !== undefined && task.node !== START) {
      nextJoins ??= { ...joins }
      for (const j of js) {
        const seen = nextJoins[j.id] ?? []
        const now = seen.includes(task.node) ? seen : [...seen, task.node]
        if (j.sources.every((s) => now.includes(s))) {
          nextJoins[j.id] = []
          const err = push(j.target)
          if (err) return Either.left(err)
        } else {
          nextJoins[j.id] = now
        }
      }
    }
  }
  if (compiled.deferred.size === 0) return Either.right({ tasks, joins: nextJoins ?? joins })
  return Either.right(deferTasks(compiled, checkpointId, tasks, nextJoins ?? joins))
}

/** Where the nodes of deferred tasks wait, in a checkpoint's joins (stored with it). @internal */
export const DEFERRED = "__deferred__"

/**
 * Deferred nodes (`defer: true`) run once nothing else is left to run: while other tasks are
 * planned, a deferred node's task waits (its node is recorded under `DEFERRED`); a step that
 * plans nothing else runs the waiting ones.
 */
const deferTasks = (
  compiled: Compiled,
  checkpointId: string,
  tasks: ReadonlyArray<TaskSpec>,
  joins: Readonly<Record<string, ReadonlyArray<string>>>
): Planned => {
  const waiting = joins[DEFERRED] ?? []
  const now: Array<TaskSpec> = []
  const later = [...waiting]
  for (const t of tasks) {
    if (!t.send && compiled.deferred.has(t.node)) {
      if (!later.includes(t.node)) later.push(t.node)
    } else now.push(t)
  }
  if (now.length > 0) return { tasks: now, joins: later.length === waiting.length ? joins : { ...joins, [DEFERRED]: later } }
  if (later.length === 0) return { tasks: now, joins }
  const { [DEFERRED]: _, ...rest } = joins
  return { tasks: later.map((node) => ({ id: `${checkpointId}/${node}`, node, send: false })), joins: rest }
}
