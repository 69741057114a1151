/**
 * Pure builders of checkpoints and their parts: the empty thread, the next step's checkpoint,
 * input / fork / import / update checkpoints, breakpoint records and node states. No I/O.
 */
import type { InterruptRecord, TaskRecord, TaskSpec, WorkflowSnapshotEncoded } from "../../Snapshot.js"
import type { Compiled } from "../graph.js"
import type * as algo from "./algo.js"
import { encodeWrites } from "./codec.js"
import type { Checkpoint, Finished, NodeState, TaskOutcome } from "./model.js"

/** The checkpoint before a thread's first step: channels at their initial values. @internal */
export const emptyCheckpoint = (compiled: Compiled): Checkpoint => {
  const values: Record<string, unknown> = {}
  for (const c of compiled.codecs) if (c.initial !== undefined) values[c.name] = c.initial()
  return {
    executionId: "",
    checkpointId: "",
    parentCheckpointId: null,
    step: -1,
    createdAt: 0,
    status: "completed",
    values,
    versions: {},
    tasks: [],
    joins: {},
    nodeStates: {},
    interrupts: [],
    pending: [],
    metadata: {}
  }
}

/** The highest execution order among the node states (the next completed node gets one more). @internal */
export const lastOrder = (cp: Checkpoint): number => {
  let order = 0
  for (const k in cp.nodeStates) order = Math.max(order, cp.nodeStates[k]!.executionOrder)
  return order
}

/** A node's next state, carrying its attempts and metadata over. @internal */
export const nodeState = (
  cp: Checkpoint,
  node: string,
  status: NodeState["status"],
  order: number,
  extra: { output?: unknown; error?: string; attempts?: number }
): NodeState => {
  const prev = cp.nodeStates[node]
  return {
    nodeId: node,
    status,
    injected: false,
    executionOrder: status === "completed" ? order : prev?.executionOrder ?? 0,
    attempts: (prev?.attempts ?? 0) + (extra.attempts ?? (status === "completed" ? 1 : 0)),
    metadata: prev?.metadata ?? {},
    ...(extra.output !== undefined ? { output: extra.output } : {}),
    ...(extra.error !== undefined ? { error: extra.error } : {})
  }
}

/**
 * The node states after a step: one per node — a node run by many Sends keeps its last output
 * and the sum of its attempts. Returns the states and the last execution order used.
 *
 * @internal
 */
export const completedNodeStates = (
  compiled: Compiled,
  cp: Checkpoint,
  finished: ReadonlyArray<Finished>,
  order: number
): { readonly nodeStates: Record<string, NodeState>; readonly order: number } => {
  const ns: Record<string, NodeState> = { ...cp.nodeStates }
  const last = new Map<string, number>()
  const attempts = new Map<string, number>()
  finished.forEach((f, i) => {
    last.set(f.node, i)
    attempts.set(f.node, (attempts.get(f.node) ?? 0) + f.attempts)
  })
  for (const [node, i] of last) {
    const output: Record<string, unknown> = {}
    for (const [k, v] of encodeWrites(compiled, finished[i]!.writes)) output[k] = v
    ns[node] = nodeState(cp, node, "completed", ++order, { output, attempts: attempts.get(node)! })
  }
  return { nodeStates: ns, order }
}

/** The node states of a pause: nodes with a pending question are `interrupted`. @internal */
export const pausedNodeStates = (
  at: Checkpoint,
  records: ReadonlyArray<InterruptRecord>,
  order: number
): Record<string, NodeState> => {
  const ns: Record<string, NodeState> = { ...at.nodeStates }
  for (const r of records) if (r.status === "pending" && r.kind !== "Breakpoint") ns[r.node] = nodeState(at, r.node, "interrupted", order, {})
  return ns
}

/** The breakpoint records of the nodes that hit a static breakpoint (one per node). @internal */
export const breakpointRecords = (
  checkpointId: string,
  when: "before" | "after",
  hits: ReadonlyArray<{ readonly node: string; readonly taskId: string }>
): ReadonlyArray<InterruptRecord> =>
  [...new Set(hits.map((h) => h.node))].map((node): InterruptRecord => ({
    id: `${checkpointId}:${when}:${node}`,
    kind: "Breakpoint",
    request: { node, when },
    node,
    taskId: hits.find((h) => h.node === node)!.taskId,
    status: "pending"
  }))

/** The record of a task that did not finish (interrupted, sleeping, failed): what it remembers. @internal */
export const memoryRecord = (o: TaskOutcome, status: TaskRecord["status"]): TaskRecord => ({
  taskId: o.task.id,
  node: o.task.node,
  status,
  writes: [],
  gotos: [],
  answers: o.memory.answers,
  ...(o.memory.keyedAnswers !== undefined ? { keyedAnswers: o.memory.keyedAnswers } : {}),
  journal: o.memory.journal,
  ...(o.memory.forwarded !== undefined ? { forwarded: o.memory.forwarded } : {})
})

/** The checkpoint after a step (or after input / an update): the planned tasks on the applied values. @internal */
export const advanced = (
  cp: Checkpoint,
  options: {
    readonly id: string
    readonly now: number
    readonly applied: algo.Applied
    readonly planned: algo.Planned
    readonly nodeStates: Checkpoint["nodeStates"]
    readonly whenOpen?: Checkpoint["status"]
    readonly metadata?: Checkpoint["metadata"]
  }
): Checkpoint => {
  const status = options.planned.tasks.length === 0 ? "completed" : options.whenOpen ?? "running"
  const parentCheckpointId = cp.checkpointId === "" ? null : cp.checkpointId
  const metadata = options.metadata ?? cp.metadata
  const { applied, planned } = options
  // two literals rather than a conditional spread (which builds the object key by key): every
  // checkpoint of an execution carries its input (a store keeps the text once)
  return cp.initialInput === undefined
    ? {
      executionId: cp.executionId,
      checkpointId: options.id,
      parentCheckpointId,
      step: cp.step + 1,
      createdAt: options.now,
      status,
      values: applied.values,
      versions: applied.versions,
      tasks: planned.tasks,
      joins: planned.joins,
      nodeStates: options.nodeStates,
      interrupts: [],
      pending: [],
      metadata
    }
    : {
      executionId: cp.executionId,
      checkpointId: options.id,
      parentCheckpointId,
      step: cp.step + 1,
      createdAt: options.now,
      status,
      values: applied.values,
      versions: applied.versions,
      tasks: planned.tasks,
      joins: planned.joins,
      nodeStates: options.nodeStates,
      interrupts: [],
      pending: [],
      initialInput: cp.initialInput,
      metadata
    }
}

/** A copy of a checkpoint as a new branch whose parent is the old one (a fork). @internal */
export const forked = (base: Checkpoint, id: string, now: number): Checkpoint => ({
  ...base,
  checkpointId: id,
  parentCheckpointId: base.checkpointId,
  createdAt: now,
  status: base.tasks.length === 0 ? "completed" : "running",
  tasks: base.tasks.map((t): TaskSpec => ({ ...t, id: t.id.replace(base.checkpointId, id) })),
  interrupts: [],
  pending: [],
  pauseReason: undefined
})

/**
 * A handed-over checkpoint as the new head of a thread: completed nodes `injected`, the tasks
 * under the new checkpoint id, and what refers to them (their pending writes, journals and
 * answers, their interrupts) following, so nothing that finished runs again and a paused
 * snapshot is answered here as it would have been there.
 *
 * @internal
 */
export const imported = (
  source: Checkpoint,
  options: { readonly id: string; readonly head: string | null; readonly now: number; readonly from: WorkflowSnapshotEncoded }
): Checkpoint => {
  const { id } = options
  const nodeStates: Record<string, NodeState> = {}
  for (const [k, v] of Object.entries(source.nodeStates)) {
    nodeStates[k] = v.status === "completed" ? { ...v, injected: true } : v
  }
  const taskIds = new Map<string, string>()
  for (const t of source.tasks) taskIds.set(t.id, `${id}/${t.id.split("/").slice(1).join("/") || t.node}`)
  const renamed = (taskId: string) => taskIds.get(taskId) ?? taskId
  const open = source.tasks.length > 0
  return {
    ...source,
    checkpointId: id,
    parentCheckpointId: options.head,
    createdAt: options.now,
    status: !open ? "completed" : source.status === "paused" || source.status === "failed" ? source.status : "running",
    tasks: source.tasks.map((t) => ({ ...t, id: renamed(t.id) })),
    nodeStates,
    interrupts: open
      ? source.interrupts.map((i) => ({
        ...i,
        taskId: renamed(i.taskId),
        id: i.child === true || !i.id.startsWith(`${i.taskId}#`) ? i.id : `${renamed(i.taskId)}${i.id.slice(i.taskId.length)}`
      }))
      : [],
    pending: open ? source.pending.filter((r) => taskIds.has(r.taskId)).map((r) => ({ ...r, taskId: renamed(r.taskId) })) : [],
    pauseReason: open && source.status === "paused" ? source.pauseReason : undefined,
    metadata: { ...source.metadata, handover: options.from.checkpointId }
  }
}

/** The node that completed last (an update without `asNode` is written as by it). @internal */
export const lastNode = (cp: Checkpoint): string | undefined => {
  let best: NodeState | undefined
  for (const k in cp.nodeStates) {
    const n = cp.nodeStates[k]!
    if (n.status === "completed" && (best === undefined || n.executionOrder > best.executionOrder)) best = n
  }
  return best?.nodeId
}
