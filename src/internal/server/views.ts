/**
 * Stored checkpoints as the LangGraph client reads them: thread states, threads, interrupts,
 * assistants; and the same checkpoints as FlowDrop snapshots. Values are the stored (encoded)
 * JSON, so nothing here decodes user data.
 */
import * as JSONSchema from "effect/JSONSchema"
import * as Interrupt from "../../Interrupt.js"
import type { InterruptRecord, WorkflowSnapshotEncoded } from "../../Snapshot.js"
import type { AnyCompiled } from "../../StateGraph.js"
import { END, START } from "../constants.js"
import type * as M from "./models.js"

const iso = (ms: number) => new Date(ms).toISOString()

const prebuilt: ReadonlyArray<Interrupt.AnyKind> = [Interrupt.Breakpoint, Interrupt.Confirmation, Interrupt.Choice, Interrupt.Text]

/** The kind of a pending question: the graph's own, else a prebuilt one. @internal */
export const kindOf = (graph: AnyCompiled | undefined, kind: string): Interrupt.AnyKind | undefined =>
  graph?.compiled.kinds.get(kind) ?? prebuilt.find((k) => k.kind === kind)

const schemaCache = new WeakMap<object, unknown>()
const jsonSchemaOf = (kind: Interrupt.AnyKind | undefined): unknown => {
  if (kind === undefined) return undefined
  if (schemaCache.has(kind)) return schemaCache.get(kind)
  let out: unknown
  try {
    out = JSONSchema.make(kind.responseSchema)
  } catch {
    out = undefined
  }
  schemaCache.set(kind, out)
  return out
}

/** Pending questions (breakpoints are not questions: LangGraph shows them as `next` only). @internal */
export const pendingInterrupts = (cp: WorkflowSnapshotEncoded): ReadonlyArray<InterruptRecord> =>
  cp.status === "paused" ? cp.interrupts.filter((i) => i.status === "pending" && i.kind !== "Breakpoint") : []

/** @internal */
export const interruptJson = (graph: AnyCompiled | undefined, r: InterruptRecord): typeof M.Interrupt.Type => {
  const schema = jsonSchemaOf(kindOf(graph, r.kind))
  return {
    id: r.id,
    value: r.request,
    kind: r.kind,
    when: "during",
    resumable: true,
    ns: [`${r.node}:${r.taskId}`],
    ...(schema !== undefined ? { response_schema: schema } : {})
  }
}

const checkpointRef = (threadId: string, id: string | null): typeof M.Checkpoint.Type => ({
  thread_id: threadId,
  checkpoint_ns: "",
  checkpoint_id: id,
  checkpoint_map: null
})

/** @internal */
export const threadState = (graph: AnyCompiled | undefined, cp: WorkflowSnapshotEncoded): typeof M.ThreadState.Type => {
  const pending = pendingInterrupts(cp)
  const errors = new Map(cp.pendingWrites.filter((w) => w.error !== undefined).map((w) => [w.taskId, w.error!]))
  return {
    values: cp.channels,
    next: [...new Set(cp.tasks.map((t) => t.node))],
    checkpoint: checkpointRef(cp.threadId, cp.checkpointId),
    metadata: { ...cp.metadata, step: cp.step, status: cp.status, graph_id: cp.workflowId },
    created_at: iso(cp.createdAt),
    parent_checkpoint: cp.parentCheckpointId === null ? null : checkpointRef(cp.threadId, cp.parentCheckpointId),
    tasks: cp.tasks.map((t) => ({
      id: t.id,
      name: t.node,
      error: errors.get(t.id) ?? null,
      interrupts: pending.filter((i) => i.taskId === t.id).map((i) => interruptJson(graph, i)),
      checkpoint: null,
      state: null
    })),
    interrupts: pending.map((i) => interruptJson(graph, i))
  }
}

/** The empty state of a thread that has no checkpoint yet. @internal */
export const emptyState = (threadId: string): typeof M.ThreadState.Type => ({
  values: {},
  next: [],
  checkpoint: checkpointRef(threadId, null),
  metadata: {},
  created_at: null,
  parent_checkpoint: null,
  tasks: [],
  interrupts: []
})

/** @internal */
export const threadStatus = (cp: WorkflowSnapshotEncoded | undefined, busy: boolean): typeof M.ThreadStatus.Type =>
  busy ? "busy" : cp === undefined ? "idle" : cp.status === "paused" ? "interrupted" : cp.status === "failed" ? "error" : "idle"

/** @internal */
export const thread = (
  graph: AnyCompiled | undefined,
  row: { readonly thread_id: string; readonly metadata: string; readonly created_at: number; readonly updated_at: number; readonly graph_id: string | null },
  cp: WorkflowSnapshotEncoded | undefined,
  busy: boolean
): typeof M.Thread.Type => {
  const interrupts: Record<string, Array<typeof M.Interrupt.Type>> = {}
  if (cp !== undefined) for (const i of pendingInterrupts(cp)) (interrupts[i.taskId] ??= []).push(interruptJson(graph, i))
  const metadata = JSON.parse(row.metadata) as Record<string, unknown>
  return {
    thread_id: row.thread_id,
    created_at: iso(row.created_at),
    updated_at: iso(Math.max(row.updated_at, cp?.createdAt ?? 0)),
    state_updated_at: iso(cp?.createdAt ?? row.updated_at),
    metadata: row.graph_id !== null && metadata.graph_id === undefined ? { ...metadata, graph_id: row.graph_id } : metadata,
    status: threadStatus(cp, busy),
    values: cp?.channels ?? {},
    interrupts,
    error: cp?.status === "failed" ? (cp.error ?? "failed") : null
  }
}

const epoch = iso(0)

/** A registered graph as an assistant: its id is the graph id. @internal */
export const assistant = (graph: AnyCompiled, startedAt: number): typeof M.Assistant.Type => ({
  assistant_id: graph.id,
  graph_id: graph.id,
  config: {},
  context: {},
  created_at: startedAt === 0 ? epoch : iso(startedAt),
  updated_at: startedAt === 0 ? epoch : iso(startedAt),
  metadata: { version: graph.version, created_by: "system" },
  version: 1,
  name: graph.id,
  description: null
})

/** The graph drawing LangGraph's client reads (`__start__` / `__end__` as LangGraph names them). @internal */
export const drawing = (graph: AnyCompiled): typeof M.AssistantGraph.Type => {
  const def = graph.compiled.def
  const id = (n: string) => (n === START ? "__start__" : n === END ? "__end__" : n)
  const nodes = [
    { id: "__start__", name: "__start__", data: "__start__", metadata: {} },
    ...def.nodes.map((n) => ({ id: n.name, name: n.name, data: n.name, metadata: n.metadata ?? {} })),
    { id: "__end__", name: "__end__", data: "__end__", metadata: {} }
  ]
  const edges: Array<{ source: string; target: string; conditional: boolean }> = []
  for (const e of def.edges) edges.push({ source: id(e.from), target: id(e.to), conditional: false })
  for (const j of def.joins) for (const s of j.sources) edges.push({ source: id(s), target: id(j.target), conditional: false })
  for (const n of def.nodes) for (const t of n.ends ?? []) edges.push({ source: n.name, target: id(t), conditional: true })
  for (const b of def.branches) {
    for (const t of b.targets ?? [...def.nodes.map((n) => n.name), END]) edges.push({ source: id(b.from), target: id(t), conditional: true })
  }
  return { nodes, edges }
}

/** The JSON Schemas of the graph's state (each channel's update schema, where expressible). @internal */
export const schemas = (graph: AnyCompiled): typeof M.GraphSchemas.Type => {
  const properties: Record<string, unknown> = {}
  for (const c of graph.compiled.codecs) {
    try {
      properties[c.name] = JSONSchema.make(c.channel.schema)
    } catch {
      properties[c.name] = {}
    }
  }
  const state = { type: "object", title: graph.id, properties }
  return { graph_id: graph.id, input_schema: state, output_schema: state, state_schema: state, config_schema: null, context_schema: null }
}

/** A checkpoint as FlowDrop's snapshot. @internal */
export const flowDrop = (cp: WorkflowSnapshotEncoded): typeof M.FlowDropSnapshot.Type => ({
  executionId: cp.executionId,
  workflowId: cp.workflowId,
  workflowVersion: cp.workflowVersion,
  threadId: cp.threadId,
  checkpointId: cp.checkpointId,
  status: cp.status,
  nodeStates: Object.fromEntries(Object.entries(cp.nodeStates).map(([k, n]) => [k, {
    nodeId: n.nodeId,
    status: n.status,
    ...(n.output !== undefined ? { output: n.output } : {}),
    ...(n.error !== undefined ? { error: n.error } : {}),
    injected: n.injected,
    executionOrder: n.executionOrder,
    attempts: n.attempts,
    metadata: n.metadata
  }])),
  ...(cp.initialInput !== undefined ? { initialInput: cp.initialInput } : {}),
  ...(cp.channels.messages !== undefined ? { messages: cp.channels.messages } : {}),
  metadata: cp.metadata,
  createdAt: iso(cp.createdAt)
})
