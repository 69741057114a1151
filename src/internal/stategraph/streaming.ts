/**
 * What `stream` yields: the stream modes and their parts (values, updates, events, messages,
 * custom, tasks, checkpoints, debug; a subgraph's with its namespace), and how a run's parts
 * become the parts asked for. Public types through `StateGraph`.
 */
import * as Effect from "effect/Effect"
import type * as Channel from "../../Channel.js"
import type * as Interrupt from "../../Interrupt.js"
import type { RunEvent as EngineEvent, TaskPart as EngineTaskPart } from "../engine/model.js"
import type { ThreadState } from "./model.js"

type Channels = Channel.Channels

/**
 * @since 0.1.0
 * @category models
 */
export type StreamMode = "values" | "updates" | "events" | "messages" | "custom" | "tasks" | "checkpoints" | "debug"

/**
 * A streamed part; `mode` tells which.
 *
 * @since 0.1.0
 * @category models
 */
export type StreamPart<S extends Channels, M extends StreamMode> = Extract<
  | { readonly mode: "values"; readonly step: number; readonly values: Channel.State<S> }
  | {
    readonly mode: "updates"
    readonly step: number
    readonly node: string
    readonly taskId: string
    readonly update: Channel.Update<S>
  }
  | { readonly mode: "events"; readonly event: EngineEvent }
  | {
    readonly mode: "messages"
    readonly node: string
    readonly taskId: string
    readonly messageId: string
    readonly delta: string
  }
  | { readonly mode: "custom"; readonly node: string; readonly taskId: string; readonly data: unknown }
  | TaskPart<S>
  | { readonly mode: "checkpoints"; readonly checkpoint: ThreadState<S, Interrupt.Any> }
  | DebugPart<S>,
  { readonly mode: M }
>

/**
 * A `tasks` stream part: a task started (with its input: the state, or a `Send`'s argument) or
 * finished — done (`result`: its update), failed (`error`), interrupted (`interrupts`), sleeping,
 * or `handoff` (its subgraph handed off to this graph with `Command.parent`; `result` is the update).
 *
 * @since 0.1.0
 * @category models
 */
export type TaskPart<S extends Channels> = EngineTaskPart<Channel.Update<S>>

/**
 * A `debug` stream part: every `tasks` part (`type` `task` when it starts, `task_result` when it
 * ends) and every `checkpoints` part (`checkpoint`), with the step and a timestamp.
 *
 * @since 0.1.0
 * @category models
 */
export type DebugPart<S extends Channels> =
  | {
    readonly mode: "debug"
    readonly type: "task" | "task_result"
    readonly step: number
    readonly timestamp: string
    readonly payload: Omit<TaskPart<S>, "mode">
  }
  | {
    readonly mode: "debug"
    readonly type: "checkpoint"
    readonly step: number
    readonly timestamp: string
    readonly payload: ThreadState<S, Interrupt.Any>
  }

/**
 * A part of a subgraph, streamed with `subgraphs: true`: `namespace` is its place under the run
 * (`"node:taskId"` of each parent task, outermost first); its values are the subgraph's.
 *
 * @since 0.1.0
 * @category models
 */
export type SubgraphPart<M extends StreamMode> = StreamPart<any, M> & { readonly namespace: ReadonlyArray<string> }

/**
 * What `stream` yields: the graph's own parts, and with `subgraphs: true` its subgraphs' too.
 *
 * @since 0.1.0
 * @category models
 */
export type StreamPartOf<S extends Channels, M extends StreamMode, Sub extends boolean> =
  | StreamPart<S, M>
  | (true extends Sub ? SubgraphPart<M> : never)

/**
 * Options of `stream` and `streamResume`.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamOptions<M extends StreamMode, Sub extends boolean> {
  /** one mode or several (default `values`) */
  readonly mode?: M | ReadonlyArray<M>
  /** also stream the parts of subgraphs (and of graphs their nodes run), with their `namespace` */
  readonly subgraphs?: Sub
}

/** The `debug` mode: each `tasks` and `checkpoints` part also as a `debug` part (and as itself when asked for). */
export const debugEmit = (requested: ReadonlySet<string>, offer: (part: any) => Effect.Effect<void>) => (part: any): Effect.Effect<void> => {
  const own = requested.has(part.mode) ? offer(part) : Effect.void
  if (part.mode !== "tasks" && part.mode !== "checkpoints") return own
  const { mode: _, namespace, ...payload } = part
  const debug = part.mode === "checkpoints"
    ? { mode: "debug", type: "checkpoint", step: part.checkpoint.step, timestamp: new Date().toISOString(), payload: part.checkpoint }
    : { mode: "debug", type: part.event === "started" ? "task" : "task_result", step: part.step, timestamp: new Date().toISOString(), payload }
  return Effect.zipRight(own, offer(namespace === undefined ? debug : { ...debug, namespace }))
}

export const modesOf = (mode: StreamMode | ReadonlyArray<StreamMode> | undefined): ReadonlySet<string> =>
  new Set(mode === undefined ? ["values"] : typeof mode === "string" ? [mode] : mode)
