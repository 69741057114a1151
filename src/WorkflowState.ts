/**
 * The state manager (FlowDrop's `WorkflowStateManager`): the workflow version hash, snapshot
 * creation, node-state transitions (with `injected` for handover), and validation of a snapshot
 * against a graph. Validations return a `ValidationResult` with coded errors, never a boolean.
 *
 * ```ts
 * const snapshot = yield* WorkflowState.createSnapshot({
 *   workflowId: graph.id,
 *   workflowVersion: WorkflowState.computeWorkflowVersion(graph),
 *   initialInput: { topic: "x" }
 * })
 * const handedOver = WorkflowState.markNodesCompleted(snapshot, { fetch: { data: 1 } })
 * const result = WorkflowState.validateSnapshot(handedOver, graph)
 * if (!result.valid) console.log(result.errors.map((e) => e.message))
 * ```
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { dual } from "effect/Function"
import { START } from "./internal/constants.js"
import type { GraphDef } from "./internal/graph.js"
import { version } from "./internal/graph.js"
import * as Ids from "./internal/ids.js"
import { NodeSnapshot, WorkflowSnapshot } from "./Snapshot.js"
import type * as StateGraph from "./StateGraph.js"

// ---------------------------------------------------------------------------------------------
// version
// ---------------------------------------------------------------------------------------------

/**
 * A compiled graph or its builder.
 *
 * @since 0.1.0
 * @category models
 */
export type GraphLike = StateGraph.AnyCompiled | StateGraph.Any

const defOf = (graph: GraphLike): GraphDef => ("compiled" in graph ? graph.compiled.def : graph.def)

/**
 * A short stable hash of the graph's structure: node names, edges, joins, conditional edges and
 * their declared targets, `Command` targets, channel names, kinds and schema shapes. It ignores
 * declaration order (of nodes, edges, channels, a struct's fields, a union's members) and node
 * implementations. The same value as `graph.version`.
 *
 * @since 0.1.0
 * @category version
 */
export const computeWorkflowVersion = (graph: GraphLike): string =>
  "compiled" in graph ? graph.compiled.version : version(graph.def)

// ---------------------------------------------------------------------------------------------
// snapshots
// ---------------------------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export interface CreateOptions {
  readonly workflowId: string
  readonly workflowVersion: string
  readonly initialInput?: unknown
  /** default: the execution id */
  readonly threadId?: string
  /** default: a new id */
  readonly executionId?: string
  /** nodes to list as `pending` from the start */
  readonly nodes?: ReadonlyArray<string>
  readonly metadata?: Record<string, unknown>
}

const nodeSnapshot = (nodeId: string, patch: Partial<typeof NodeSnapshot.Type> = {}, prev?: NodeSnapshot) =>
  new NodeSnapshot({
    nodeId,
    status: prev?.status ?? "pending",
    injected: prev?.injected ?? false,
    executionOrder: prev?.executionOrder ?? 0,
    attempts: prev?.attempts ?? 0,
    metadata: prev?.metadata ?? {},
    ...(prev?.output !== undefined ? { output: prev.output } : {}),
    ...(prev?.error !== undefined ? { error: prev.error } : {}),
    ...patch
  })

/**
 * A new snapshot of an execution that has not run yet (status `pending`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const createSnapshot = (options: CreateOptions): Effect.Effect<WorkflowSnapshot> =>
  Effect.map(Clock.currentTimeMillis, (now) => {
    const executionId = options.executionId ?? `exec_${Ids.make()}`
    const nodeStates: Record<string, NodeSnapshot> = {}
    for (const n of options.nodes ?? []) nodeStates[n] = nodeSnapshot(n)
    return new WorkflowSnapshot({
      executionId,
      workflowId: options.workflowId,
      workflowVersion: options.workflowVersion,
      threadId: options.threadId ?? executionId,
      checkpointId: Ids.make(),
      parentCheckpointId: null,
      step: 0,
      status: "pending",
      createdAt: now,
      channels: {},
      versions: {},
      tasks: [],
      joins: {},
      nodeStates,
      interrupts: [],
      pendingWrites: [],
      ...(options.initialInput !== undefined ? { initialInput: options.initialInput } : {}),
      metadata: options.metadata ?? {}
    })
  })

const withNodes = (
  snapshot: WorkflowSnapshot,
  nodeStates: Record<string, NodeSnapshot>,
  status: WorkflowSnapshot["status"] = snapshot.status
) => new WorkflowSnapshot({ ...snapshot, nodeStates, status })

const nextOrder = (nodeStates: Readonly<Record<string, NodeSnapshot>>) => {
  let max = 0
  for (const k in nodeStates) max = Math.max(max, nodeStates[k]!.executionOrder)
  return max + 1
}

/**
 * Marks a node as running (one more attempt); a `pending` execution becomes `running`.
 *
 * @since 0.1.0
 * @category transitions
 */
export const setNodeRunning: {
  (nodeId: string): (snapshot: WorkflowSnapshot) => WorkflowSnapshot
  (snapshot: WorkflowSnapshot, nodeId: string): WorkflowSnapshot
} = dual(2, (snapshot: WorkflowSnapshot, nodeId: string): WorkflowSnapshot => {
  const prev = snapshot.nodeStates[nodeId]
  const next = nodeSnapshot(nodeId, { status: "running", injected: false, attempts: (prev?.attempts ?? 0) + 1 }, prev)
  return withNodes(
    snapshot,
    { ...snapshot.nodeStates, [nodeId]: next },
    snapshot.status === "pending" ? "running" : snapshot.status
  )
})

/**
 * Marks a node as completed with its output, as the next in execution order.
 *
 * @since 0.1.0
 * @category transitions
 */
export const setNodeCompleted: {
  (nodeId: string, output?: unknown): (snapshot: WorkflowSnapshot) => WorkflowSnapshot
  (snapshot: WorkflowSnapshot, nodeId: string, output?: unknown): WorkflowSnapshot
} = dual(
  (args) => typeof args[0] === "object" && args[0] !== null && args[0] instanceof WorkflowSnapshot,
  (snapshot: WorkflowSnapshot, nodeId: string, output?: unknown): WorkflowSnapshot => {
    const prev = snapshot.nodeStates[nodeId]
    const { error: _, ...rest } = nodeSnapshot(nodeId, {}, prev)
    const next = new NodeSnapshot({
      ...rest,
      status: "completed",
      executionOrder: nextOrder(snapshot.nodeStates),
      ...(output !== undefined ? { output } : {})
    })
    return withNodes(snapshot, { ...snapshot.nodeStates, [nodeId]: next })
  }
)

/**
 * Marks a node as failed with an error message.
 *
 * @since 0.1.0
 * @category transitions
 */
export const setNodeFailed: {
  (nodeId: string, error: string): (snapshot: WorkflowSnapshot) => WorkflowSnapshot
  (snapshot: WorkflowSnapshot, nodeId: string, error: string): WorkflowSnapshot
} = dual(3, (snapshot: WorkflowSnapshot, nodeId: string, error: string): WorkflowSnapshot => {
  const next = nodeSnapshot(nodeId, { status: "failed", error }, snapshot.nodeStates[nodeId])
  return withNodes(snapshot, { ...snapshot.nodeStates, [nodeId]: next })
})

/**
 * Marks nodes as completed with the given outputs without running them (handover, injection):
 * they get `injected: true`, in the order of `outputs`' keys.
 *
 * @since 0.1.0
 * @category transitions
 */
export const markNodesCompleted: {
  (outputs: Readonly<Record<string, unknown>>): (snapshot: WorkflowSnapshot) => WorkflowSnapshot
  (snapshot: WorkflowSnapshot, outputs: Readonly<Record<string, unknown>>): WorkflowSnapshot
} = dual(2, (snapshot: WorkflowSnapshot, outputs: Readonly<Record<string, unknown>>): WorkflowSnapshot => {
  const nodeStates: Record<string, NodeSnapshot> = { ...snapshot.nodeStates }
  let order = nextOrder(nodeStates)
  for (const nodeId of Object.keys(outputs)) {
    const output = outputs[nodeId]
    const { error: _, ...rest } = nodeSnapshot(nodeId, {}, nodeStates[nodeId])
    nodeStates[nodeId] = new NodeSnapshot({
      ...rest,
      status: "completed",
      injected: true,
      executionOrder: order++,
      ...(output !== undefined ? { output } : {})
    })
  }
  return withNodes(snapshot, nodeStates)
})

// ---------------------------------------------------------------------------------------------
// validation
// ---------------------------------------------------------------------------------------------

/**
 * The snapshot was written by another version of the graph.
 *
 * @since 0.1.0
 * @category validation
 */
export const VersionMismatch = Schema.Struct({
  code: Schema.Literal("VERSION_MISMATCH"),
  expected: Schema.String,
  found: Schema.String,
  message: Schema.String
})

/**
 * The snapshot has state for a node the graph does not have.
 *
 * @since 0.1.0
 * @category validation
 */
export const UnknownNode = Schema.Struct({
  code: Schema.Literal("UNKNOWN_NODE"),
  nodeId: Schema.String,
  message: Schema.String
})

/**
 * A node is marked completed but what it depends on is not.
 *
 * @since 0.1.0
 * @category validation
 */
export const DependencyNotMet = Schema.Struct({
  code: Schema.Literal("DEPENDENCY_NOT_MET"),
  nodeId: Schema.String,
  /** the dependencies that are not completed, with their status (`missing` when absent) */
  dependencies: Schema.Array(Schema.Struct({ nodeId: Schema.String, status: Schema.String })),
  message: Schema.String
})

/**
 * @since 0.1.0
 * @category validation
 */
export const ValidationError = Schema.Union(VersionMismatch, UnknownNode, DependencyNotMet)

/**
 * @since 0.1.0
 * @category validation
 */
export type ValidationError = typeof ValidationError.Type

/**
 * @since 0.1.0
 * @category validation
 */
export type ValidationCode = ValidationError["code"]

/**
 * @since 0.1.0
 * @category validation
 */
export class ValidationResult extends Schema.Class<ValidationResult>("ValidationResult")({
  valid: Schema.Boolean,
  errors: Schema.Array(ValidationError)
}) {}

const result = (errors: ReadonlyArray<ValidationError>) => new ValidationResult({ valid: errors.length === 0, errors })

/**
 * Whether a result has an error with this code.
 *
 * @since 0.1.0
 * @category validation
 */
export const hasError: {
  (code: ValidationCode): (self: ValidationResult) => boolean
  (self: ValidationResult, code: ValidationCode): boolean
} = dual(2, (self: ValidationResult, code: ValidationCode) => self.errors.some((e) => e.code === code))

/**
 * The errors of both results.
 *
 * @since 0.1.0
 * @category validation
 */
export const merge: {
  (that: ValidationResult): (self: ValidationResult) => ValidationResult
  (self: ValidationResult, that: ValidationResult): ValidationResult
} = dual(2, (self: ValidationResult, that: ValidationResult) => result([...self.errors, ...that.errors]))

/**
 * Checks a snapshot against a graph: `VERSION_MISMATCH` when the graph changed since the
 * snapshot was written, `UNKNOWN_NODE` for node states or pending tasks of nodes the graph does
 * not have.
 *
 * @since 0.1.0
 * @category validation
 */
export const validateSnapshot = (snapshot: WorkflowSnapshot, graph: GraphLike): ValidationResult => {
  const errors: Array<ValidationError> = []
  const expected = computeWorkflowVersion(graph)
  if (snapshot.workflowVersion !== expected) {
    errors.push({
      code: "VERSION_MISMATCH",
      expected,
      found: snapshot.workflowVersion,
      message: `Workflow version mismatch. Expected: ${expected}, got: ${snapshot.workflowVersion}`
    })
  }
  const names = new Set(defOf(graph).nodes.map((n) => n.name))
  const unknown = new Set<string>()
  for (const nodeId of Object.keys(snapshot.nodeStates)) if (!names.has(nodeId)) unknown.add(nodeId)
  for (const task of snapshot.tasks) if (!names.has(task.node)) unknown.add(task.node)
  for (const nodeId of unknown) {
    errors.push({ code: "UNKNOWN_NODE", nodeId, message: `Node '${nodeId}' does not exist in workflow '${defOf(graph).id}'` })
  }
  return result(errors)
}

/**
 * What triggers each node: the nodes it may follow (static edges, conditional edges, `Command`
 * targets; any one of them is enough) and the joins that lead to it (all sources needed).
 */
const triggers = (def: GraphDef) => {
  const out = new Map<string, { any: Set<string>; fromStart: boolean; joins: Array<ReadonlyArray<string>> }>()
  const entry = (n: string) => {
    let e = out.get(n)
    if (e === undefined) out.set(n, e = { any: new Set(), fromStart: false, joins: [] })
    return e
  }
  const from = (source: string, target: string) => {
    const e = entry(target)
    if (source === START) e.fromStart = true
    else e.any.add(source)
  }
  for (const e of def.edges) from(e.from, e.to)
  for (const n of def.nodes) for (const t of n.ends ?? []) from(n.name, t)
  for (const b of def.branches) for (const t of b.targets ?? def.nodes.map((n) => n.name)) from(b.from, t)
  for (const j of def.joins) entry(j.target).joins.push(j.sources)
  return out
}

/**
 * Checks that every node marked completed could have run: `DEPENDENCY_NOT_MET` when none of the
 * nodes it follows is completed (nodes after `START` always can), or, for a join, when a source is
 * not completed. Nodes reached only by `Send`s or undeclared `Command`s are not checked.
 *
 * @since 0.1.0
 * @category validation
 */
export const validateDependencies = (snapshot: WorkflowSnapshot, graph: GraphLike): ValidationResult => {
  const def = defOf(graph)
  const byNode = triggers(def)
  const statusOf = (n: string) => snapshot.nodeStates[n]?.status ?? "missing"
  const completed = (n: string) => statusOf(n) === "completed"
  const errors: Array<ValidationError> = []
  for (const nodeId of Object.keys(snapshot.nodeStates).sort()) {
    if (!completed(nodeId)) continue
    const t = byNode.get(nodeId)
    if (t === undefined || t.fromStart) continue
    if ([...t.any].some(completed)) continue
    if (t.joins.some((sources) => sources.every(completed))) continue
    const candidates = t.any.size > 0 ? [...t.any] : t.joins.flat().filter((n) => !completed(n))
    const dependencies = [...new Set(candidates)].map((n) => ({ nodeId: n, status: statusOf(n) }))
    const list = dependencies.map((d) => `'${d.nodeId}' is ${d.status}`).join(", ")
    errors.push({
      code: "DEPENDENCY_NOT_MET",
      nodeId,
      dependencies,
      message: `Node '${nodeId}' is completed but dependency ${list}`
    })
  }
  return result(errors)
}
