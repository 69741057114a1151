/**
 * Incremental channel storage.
 *
 * A checkpoint does not store channel values: it maps each channel to a blob, `[blobId, n]`.
 * Blobs are written once, keyed by the checkpoint that wrote them, and shared by every later
 * checkpoint whose channel did not change.
 *
 * - A `set` write stores the whole encoded value in a base blob (`prev` null), `n = 0`; a tiny
 *   value (JSON of at most `INLINE_MAX` characters) is held in the checkpoint row instead, `{ v }`.
 * - An `append` write stores only the new items, in a blob whose `prev` is the channel's previous
 *   blob; `n` counts the appends since the base. The value is the base followed by the items of
 *   every blob of the chain, oldest first.
 *
 * Chains stay short with a base-K counter (K = `fanout`): the chain of `n` appends holds, newest
 * first, `d0` level-0 blobs, `d1` level-1 blobs, … where `d0 d1 …` are the digits of `n` in base K.
 * When an append carries into level `c` (the `c` low digits of `n` are K-1), the new items and the
 * `c·(K-1)` newest blobs are merged into one level-`c` blob. So:
 *
 * - reading a value walks at most `1 + (K-1)·d` rows, `d` the number of base-K digits of `n`
 *   (K = 32: 32 rows below 32 appends, 63 below 1,024, 94 below 32,768), however long the thread;
 * - each item is written once per level it reaches (at most `d` times): a 1,000-append thread
 *   stores about twice its payload, not 1,000 times (a full copy every K appends would still
 *   grow as n²/2K).
 */

/**
 * A channel's entry in a checkpoint: the blob holding its value and the appends since the base,
 * or a tiny value held inline (about the size of a blob reference, and no row to write).
 *
 * @internal
 */
export type Entry = BlobEntry | Inline

/** @internal */
export type BlobEntry = readonly [blobId: string, appends: number]

/** @internal */
export interface Inline {
  readonly v?: unknown
}

/** A `set` value whose JSON is at most this long is kept in the checkpoint row. @internal */
export const INLINE_MAX = 64

/** @internal */
export const isInline = (entry: Entry): entry is Inline => !Array.isArray(entry)

/** @internal */
export type ChannelMap = Readonly<Record<string, Entry>>

/** @internal */
export const DEFAULT_FANOUT = 32

/**
 * How many levels the append number `n + 1` carries into: the count of trailing digits of `n`
 * equal to K-1 in base K. The new blob merges `carries · (K-1)` existing blobs.
 *
 * @internal
 */
export const carries = (n: number, fanout: number): number => {
  let c = 0
  let x = n
  while (x % fanout === fanout - 1) {
    c++
    x = Math.floor(x / fanout)
  }
  return c
}

/** The longest chain a value may have (guards against cycles in tampered rows). @internal */
export const maxChain = (fanout: number) => 1 + (fanout - 1) * 16

/** One pending write to a channel, after folding the writes of a request. @internal */
export type Pending =
  | { readonly _tag: "set"; readonly value: unknown }
  | { readonly _tag: "append"; readonly items: ReadonlyArray<unknown> }

/** Folds the writes of one commit per channel (normally one each). @internal */
export const fold = (
  writes: ReadonlyArray<{ readonly channel: string; readonly mode: "set" | "append"; readonly value: unknown }>
): Map<string, Pending> => {
  const out = new Map<string, Pending>()
  for (const w of writes) {
    const prev = out.get(w.channel)
    if (w.mode === "set" || prev === undefined) {
      out.set(w.channel, w.mode === "set" ? { _tag: "set", value: w.value } : { _tag: "append", items: w.value as any })
    } else if (prev._tag === "set") {
      out.set(w.channel, { _tag: "set", value: (prev.value as ReadonlyArray<unknown>).concat(w.value as any) })
    } else {
      out.set(w.channel, { _tag: "append", items: prev.items.concat(w.value as any) })
    }
  }
  return out
}

/** A stored blob row. @internal */
export interface BlobRow {
  readonly channel: string
  readonly blob_id: string
  readonly prev: string | null
  readonly data: string
}

/** @internal */
export class BrokenChain {
  constructor(readonly issue: string) {}
}

const key = (channel: string, id: string) => channel + "\u0000" + id

/**
 * Rebuilds channel values from blob rows (every blob reachable from the entries asked for).
 * Parses each blob once, whatever the number of checkpoints sharing it.
 *
 * @internal
 */
export const makeReader = (rows: ReadonlyArray<BlobRow>, fanout: number) => {
  const byKey = new Map<string, BlobRow>()
  for (const r of rows) byKey.set(key(r.channel, r.blob_id), r)
  const parsed = new Map<string, unknown>()
  const values = new Map<string, unknown>()
  const limit = maxChain(fanout)

  const parse = (channel: string, id: string): unknown => {
    const k = key(channel, id)
    if (parsed.has(k)) return parsed.get(k)
    const row = byKey.get(k)
    if (row === undefined) throw new BrokenChain(`channel "${channel}": blob ${id} is missing`)
    let value: unknown
    try {
      value = JSON.parse(row.data)
    } catch (e) {
      throw new BrokenChain(`channel "${channel}": blob ${id} is not JSON (${(e as Error).message})`)
    }
    parsed.set(k, value)
    return value
  }

  /** The value of a channel at an entry; throws `BrokenChain`. */
  const value = (channel: string, entry: Entry): unknown => {
    if (isInline(entry)) return entry.v
    const [id, n] = entry
    if (n === 0) return parse(channel, id)
    const k = key(channel, id)
    if (values.has(k)) return values.get(k)
    const parts: Array<ReadonlyArray<unknown>> = []
    let at: string | null = id
    while (at !== null) {
      if (parts.length >= limit) throw new BrokenChain(`channel "${channel}": chain from ${id} is too long`)
      const part = parse(channel, at)
      if (!Array.isArray(part)) throw new BrokenChain(`channel "${channel}": blob ${at} of an append chain is not an array`)
      parts.push(part)
      at = byKey.get(key(channel, at))!.prev
    }
    const out: Array<unknown> = []
    for (let i = parts.length - 1; i >= 0; i--) {
      const p = parts[i]!
      for (let j = 0; j < p.length; j++) out.push(p[j])
    }
    values.set(k, out)
    return out
  }

  return { value }
}
