/**
 * The engine's stream parts as LangGraph's SSE events (name, data). The graph's own values are
 * encoded with its channels' schemas; a subgraph's part (`stream_subgraphs`) is sent as it is,
 * under `mode|node:taskId|…` (LangGraph's namespaced event names).
 */
import * as Either from "effect/Either"
import type { AnyCompiled } from "../../StateGraph.js"

/** The engine modes a run's stream modes need. @internal */
export const engineModes = (modes: ReadonlyArray<string>) => {
  const out = new Set<"values" | "updates" | "custom" | "events" | "messages" | "tasks" | "checkpoints" | "debug">()
  for (const m of modes) {
    if (m === "values" || m === "updates" || m === "custom" || m === "events" || m === "tasks" || m === "checkpoints" || m === "debug") out.add(m)
    if (m === "messages" || m === "messages-tuple") out.add("messages")
  }
  return [...out]
}

const encodeValues = (graph: AnyCompiled | undefined, values: Record<string, unknown>, update: boolean) => {
  if (graph === undefined) return values
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(values)) {
    const codec = graph.compiled.codecByName[k]
    if (codec === undefined || values[k] === undefined) continue
    const e = update ? codec.encodeUpdate(values[k]) : codec.encodeValue(values[k])
    out[k] = Either.isRight(e) ? e.right : values[k]
  }
  return out
}

const configOf = (threadId: string, checkpointId: string | null) =>
  checkpointId === null ? null : { configurable: { thread_id: threadId, checkpoint_ns: "", checkpoint_id: checkpointId } }

/** A `checkpoints` part as LangGraph's `checkpoints` event data (the shape of a thread state). */
const checkpointJson = (graph: AnyCompiled | undefined, cp: any) => ({
  values: encodeValues(graph, cp.values ?? {}, false),
  next: [...(cp.next ?? [])],
  config: configOf(cp.threadId, cp.checkpointId),
  parent_config: configOf(cp.threadId, cp.parentCheckpointId ?? null),
  metadata: { ...cp.metadata, step: cp.step, status: cp.status },
  created_at: cp.createdAt instanceof Date ? cp.createdAt.toISOString() : cp.createdAt,
  tasks: (cp.tasks ?? []).map((t: any) => ({ id: t.id, name: t.node })),
  interrupts: (cp.interrupts ?? []).filter((i: any) => i.status !== "answered").map((i: any) => ({ id: i.id, value: i.request }))
})

/** A `tasks` part as LangGraph's `tasks` event data: a task created, or its result / error. */
const taskJson = (graph: AnyCompiled | undefined, part: any) =>
  part.event === "started"
    ? { id: part.taskId, name: part.node, input: part.input ?? null, triggers: [] }
    : {
      id: part.taskId,
      name: part.node,
      error: part.status === "failed" ? part.error ?? "failed" : null,
      result: Object.entries(encodeValues(graph, part.result ?? {}, true)),
      interrupts: (part.interrupts ?? []).map((i: any) => ({ id: i.id, value: i.request }))
    }

/**
 * A stream part as SSE events. `messages` parts become `messages` events `[chunk, metadata]`
 * (mode `messages-tuple`) and/or `messages/metadata` + `messages/partial` with the text so far
 * (mode `messages`).
 *
 * @internal
 */
export const toEvents = (root: AnyCompiled, modes: ReadonlyArray<string>, texts: Map<string, string>) =>
(part: any): ReadonlyArray<readonly [string, unknown]> => {
  const namespace: ReadonlyArray<string> | undefined = part.namespace
  const name = (event: string) => (namespace === undefined || namespace.length === 0 ? event : `${event}|${namespace.join("|")}`)
  // a subgraph's channels are not the root's: sent as they are
  const graph = namespace === undefined || namespace.length === 0 ? root : undefined
  switch (part.mode) {
    case "values":
      return modes.includes("values") ? [[name("values"), encodeValues(graph, part.values, false)]] : []
    case "updates":
      return modes.includes("updates") ? [[name("updates"), { [part.node]: encodeValues(graph, part.update ?? {}, true) }]] : []
    case "custom":
      return [[name("custom"), part.data]]
    case "events":
      return [[name("events"), { event: part.event._tag, data: part.event }]]
    case "tasks":
      return modes.includes("tasks") ? [[name("tasks"), taskJson(graph, part)]] : []
    case "checkpoints":
      return modes.includes("checkpoints") ? [[name("checkpoints"), checkpointJson(graph, part.checkpoint)]] : []
    case "debug":
      return [[name("debug"), {
        type: part.type,
        step: part.step,
        timestamp: part.timestamp,
        payload: part.type === "checkpoint" ? checkpointJson(graph, part.payload) : taskJson(graph, { ...part.payload, mode: "tasks" })
      }]]
    case "messages": {
      const metadata = { langgraph_node: part.node, task_id: part.taskId, ...(namespace !== undefined ? { langgraph_checkpoint_ns: namespace.join("|") } : {}) }
      const out: Array<readonly [string, unknown]> = []
      if (modes.includes("messages-tuple")) out.push([name("messages"), [{ type: "AIMessageChunk", id: part.messageId, content: part.delta }, metadata]])
      if (modes.includes("messages")) {
        const before = texts.get(part.messageId)
        if (before === undefined) out.push([name("messages/metadata"), { [part.messageId]: { metadata } }])
        const text = (before ?? "") + part.delta
        texts.set(part.messageId, text)
        out.push([name("messages/partial"), [{ type: "ai", id: part.messageId, content: text }]])
      }
      return out
    }
    default:
      return []
  }
}
