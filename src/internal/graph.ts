import { createHash } from "node:crypto"
import * as DurationMod from "effect/Duration"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Schedule from "effect/Schedule"
import type * as Channel from "../Channel.js"
import type { AnyKind } from "../Interrupt.js"
import { makeCodec, type ChannelCodec } from "./channel.js"
import { shape } from "./shape.js"
import { END, START } from "./constants.js"

/** @internal */
export interface NodeDef {
  readonly name: string
  readonly run: (input: any) => Effect.Effect<unknown, unknown, unknown>
  readonly retry: Schedule.Schedule<unknown, unknown, unknown> | undefined
  readonly timeout: Duration.DurationInput | undefined
  readonly metadata: Record<string, unknown> | undefined
  /** where the node may route with `Command.goto` (for validation and drawing) */
  readonly ends: ReadonlyArray<string> | undefined
  /** a task whose input was seen before ends with the cached writes, without running */
  readonly cache?: CachePolicy | undefined
  /** the compiled graph a subgraph node runs (for `getState(…, { subgraphs: true })`) */
  readonly subgraph?: unknown
  /** runs once nothing else is left to run (map-reduce over branches of different lengths) */
  readonly defer?: boolean | undefined
}

/** A node's cache policy. @internal */
export interface CachePolicy {
  /** the key of a task's input (default: its JSON) */
  readonly key?: ((input: any) => string) | undefined
  /** how long an entry is used (default: until `clearCache`) */
  readonly ttl?: Duration.DurationInput | undefined
}

/** A cached result: the writes and routing of a finished task, until `expires` (ms). @internal */
export interface CacheEntry {
  readonly expires: number
  readonly output: import("./engine/algo.js").TaskOutput
}

/** @internal */
export interface BranchDef {
  readonly from: string
  readonly route: (state: any) => unknown
  readonly targets: ReadonlyArray<string> | undefined
}

/** @internal */
export interface JoinDef {
  readonly id: string
  readonly sources: ReadonlyArray<string>
  readonly target: string
}

/** The builder's data: immutable, each combinator returns a new one. @internal */
export interface GraphDef {
  readonly id: string
  readonly channels: Channel.Channels
  readonly nodes: ReadonlyArray<NodeDef>
  readonly edges: ReadonlyArray<{ readonly from: string; readonly to: string }>
  readonly joins: ReadonlyArray<JoinDef>
  readonly branches: ReadonlyArray<BranchDef>
}

/** @internal */
export interface CompileOptions {
  readonly recursionLimit?: number
  readonly concurrency?: number | "unbounded"
  readonly durability?: "sync" | "async" | "exit"
  readonly interruptBefore?: ReadonlyArray<string>
  readonly interruptAfter?: ReadonlyArray<string>
  readonly leaseMillis?: number
  readonly sleepThreshold?: import("effect").Duration.DurationInput
  readonly interrupts?: ReadonlyArray<AnyKind>
  readonly input?: ReadonlyArray<string>
  readonly output?: ReadonlyArray<string>
}

/** The compiled, runtime form of a graph: lookup tables built once. @internal */
export interface Compiled {
  readonly def: GraphDef
  readonly id: string
  readonly version: string
  readonly codecs: ReadonlyArray<ChannelCodec>
  readonly codecByName: Readonly<Record<string, ChannelCodec>>
  /** the `Channel.append` channels (their values are extended in place, see `algo.applyWrites`) */
  readonly appends: ReadonlyArray<ChannelCodec>
  readonly nodes: Readonly<Record<string, NodeDef>>
  readonly edgesFrom: Readonly<Record<string, ReadonlyArray<string>>>
  readonly branchesFrom: Readonly<Record<string, ReadonlyArray<BranchDef>>>
  readonly joinsFrom: Readonly<Record<string, ReadonlyArray<JoinDef>>>
  readonly recursionLimit: number
  readonly concurrency: number | "unbounded"
  readonly durability: "sync" | "async" | "exit"
  readonly interruptBefore: ReadonlySet<string>
  readonly interruptAfter: ReadonlySet<string>
  readonly leaseMillis: number
  /** a Task.sleep longer than this pauses a persisted thread instead of waiting */
  readonly sleepThresholdMillis: number
  /**
   * The interrupt kinds of this graph by name: declared at compile time, and learned when a node
   * asks one. Stored requests are decoded with them; another graph's kind of the same name is
   * another entry of another graph.
   */
  readonly kinds: Map<string, AnyKind>
  /** for each join target: the nodes it depends on (for dependency validation) */
  readonly dependencies: Readonly<Record<string, ReadonlyArray<string>>>
  /** the results of nodes with a cache policy, by node and key (this process's, shared by its threads) */
  readonly cache: Map<string, CacheEntry>
  /** the channels `invoke` takes (none: all) */
  readonly input: ReadonlySet<string> | undefined
  /** the channels `invoke` returns (none: all) */
  readonly output: ReadonlyArray<string> | undefined
  /** the deferred nodes (`defer: true`) */
  readonly deferred: ReadonlySet<string>
}

const group = <A>(items: ReadonlyArray<A>, key: (a: A) => string): Record<string, Array<A>> => {
  const out: Record<string, Array<A>> = Object.create(null)
  for (const item of items) (out[key(item)] ??= []).push(item)
  return out
}

/** Returns the reason the graph is invalid, or undefined. @internal */
export const validate = (def: GraphDef): string | undefined => {
  const names = new Set(def.nodes.map((n) => n.name))
  if (def.nodes.length === 0) return "the graph has no nodes"
  for (const n of def.nodes) {
    if (n.name === START || n.name === END) return `"${n.name}" is reserved`
  }
  const seen = new Set<string>()
  for (const n of def.nodes) {
    if (seen.has(n.name)) return `node "${n.name}" is declared twice`
    seen.add(n.name)
  }
  const known = (x: string) => names.has(x) || x === END
  for (const e of def.edges) {
    if (e.from === END) return `an edge leaves END (to "${e.to}")`
    if (e.to === START) return `an edge enters START (from "${e.from}")`
    if (e.from !== START && !names.has(e.from)) return `edge from unknown node "${e.from}"`
    if (!known(e.to)) return `edge to unknown node "${e.to}"`
  }
  for (const j of def.joins) {
    for (const s of j.sources) {
      if (s === END) return `a join waits for END`
      if (!names.has(s)) return `join from unknown node "${s}"`
    }
    if (!names.has(j.target)) return `join to unknown node "${j.target}"`
  }
  for (const b of def.branches) {
    if (b.from === END) return `a conditional edge leaves END`
    if (b.from !== START && !names.has(b.from)) return `conditional edge from unknown node "${b.from}"`
    for (const t of b.targets ?? []) if (!known(t)) return `conditional edge to unknown node "${t}"`
  }
  if (!def.edges.some((e) => e.from === START) && !def.branches.some((b) => b.from === START)) {
    return "no entry edge: add an edge from START"
  }
  // reachability from START; a conditional edge without declared targets may go anywhere
  const nodeByName = new Map(def.nodes.map((n) => [n.name, n]))
  for (const n of def.nodes) for (const t of n.ends ?? []) if (!known(t)) return `node "${n.name}" ends at unknown node "${t}"`
  const reached = new Set<string>()
  const queue: Array<string> = [START]
  const edgesFrom = group(def.edges, (e) => e.from)
  const branchesFrom = group(def.branches, (b) => b.from)
  const joinsFrom = group(def.joins, (j) => j.sources[0]!)
  while (queue.length > 0) {
    const at = queue.pop()!
    const next: Array<string> = []
    for (const e of edgesFrom[at] ?? []) next.push(e.to)
    for (const t of nodeByName.get(at)?.ends ?? []) next.push(t)
    for (const b of branchesFrom[at] ?? []) next.push(...(b.targets ?? [...names]))
    for (const j of def.joins) if (j.sources.includes(at)) next.push(j.target)
    for (const n of next) {
      if (n !== END && !reached.has(n)) {
        reached.add(n)
        queue.push(n)
      }
    }
  }
  void joinsFrom
  for (const n of def.nodes) {
    if (!reached.has(n.name)) {
      return `node "${n.name}" is unreachable from START (a node that routes to it with Command.goto must list it in \`ends\`)`
    }
  }
  return undefined
}

/** A short stable hash of the structure, independent of declaration order. @internal */
export const version = (def: GraphDef): string => {
  const channels = Object.keys(def.channels)
    .sort()
    .map((k) => `${k}:${def.channels[k]!._tag}:${shape(def.channels[k]!.schema.ast)}`)
  const nodes = def.nodes.map((n) => n.name).sort()
  const edges = [
    ...def.edges.map((e) => `${e.from}->${e.to}`),
    ...def.nodes.flatMap((n) => (n.ends ?? []).map((t) => `${n.name}=>${t}`))
  ].sort()
  const joins = def.joins.map((j) => `${[...j.sources].sort().join("+")}->${j.target}`).sort()
  const branches = def.branches.map((b) => `${b.from}?${b.targets ? [...b.targets].sort().join("|") : "*"}`).sort()
  const text = JSON.stringify({ channels, nodes, edges, joins, branches })
  return createHash("sha256").update(text).digest("hex").slice(0, 12)
}

/** @internal */
export const compile = (def: GraphDef, options: CompileOptions): Compiled => {
  const codecs = Object.keys(def.channels).map((name) => makeCodec(name, def.channels[name]!))
  // lookup tables by user-given names have no prototype: an update key, a route target or an
  // asNode named "constructor" or "__proto__" finds nothing (a typed refusal), not Object's members
  const codecByName: Record<string, ChannelCodec> = Object.create(null)
  for (const c of codecs) codecByName[c.name] = c
  const nodes: Record<string, NodeDef> = Object.create(null)
  for (const n of def.nodes) nodes[n.name] = n
  const edgesFrom: Record<string, Array<string>> = Object.create(null)
  for (const e of def.edges) (edgesFrom[e.from] ??= []).push(e.to)
  const joinsFrom: Record<string, Array<JoinDef>> = Object.create(null)
  for (const j of def.joins) for (const s of j.sources) (joinsFrom[s] ??= []).push(j)
  const dependencies: Record<string, Array<string>> = Object.create(null)
  for (const e of def.edges) if (e.from !== START) (dependencies[e.to] ??= []).push(e.from)
  for (const j of def.joins) (dependencies[j.target] ??= []).push(...j.sources)
  return {
    def,
    id: def.id,
    version: version(def),
    codecs,
    codecByName,
    appends: codecs.filter((c) => c.kind === "Append"),
    nodes,
    edgesFrom,
    branchesFrom: group(def.branches, (b) => b.from),
    joinsFrom,
    recursionLimit: options.recursionLimit ?? 25,
    concurrency: options.concurrency ?? "unbounded",
    durability: options.durability ?? "sync",
    interruptBefore: new Set(options.interruptBefore ?? []),
    interruptAfter: new Set(options.interruptAfter ?? []),
    leaseMillis: options.leaseMillis ?? 30_000,
    sleepThresholdMillis: options.sleepThreshold === undefined ? 30_000 : DurationMod.toMillis(options.sleepThreshold),
    kinds: new Map((options.interrupts ?? []).map((k) => [k.kind, k])),
    dependencies,
    cache: new Map(),
    input: options.input === undefined ? undefined : new Set(options.input),
    output: options.output,
    deferred: new Set(def.nodes.filter((n) => n.defer === true).map((n) => n.name))
  }
}
