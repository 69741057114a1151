import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { TaskRecord, WorkflowSnapshotEncoded } from "../Snapshot.js"
import type { Backend, ClaimOptions, Lease, ListOptions, StatusPatch, ThreadSummary } from "../Snapshots.js"
import { CorruptSnapshot, LeaseHeld, ThreadBusy } from "../GraphError.js"
import { metadataMatches } from "./metadata.js"

interface ThreadEntry {
  readonly threadId: string
  workflowId: string
  head: string | null
  runId: string | undefined
  leaseUntil: number
  /** a run whose lease was broken: it may not claim the thread again */
  fenced: string | undefined
  updatedAt: number
  readonly checkpoints: Map<string, WorkflowSnapshotEncoded>
}

const statusMatches = (status: string, filter: ListOptions["status"]) =>
  filter === undefined || (typeof filter === "string" ? status === filter : (filter as ReadonlyArray<string>).includes(status))

const applyList = (rows: Array<WorkflowSnapshotEncoded>, options?: ListOptions) => {
  let out = rows
  if (options?.before !== undefined) out = out.filter((r) => r.checkpointId < options.before!)
  if (options?.status !== undefined) out = out.filter((r) => statusMatches(r.status, options.status))
  if (options?.metadata !== undefined) out = out.filter((r) => metadataMatches(r.metadata, options.metadata!))
  if (options?.limit !== undefined) out = out.slice(0, options.limit)
  return out
}

/** Whether each of `ids` is a pending interrupt of the checkpoint. */
const stillPending = (cp: WorkflowSnapshotEncoded | undefined, ids: ReadonlyArray<string>): boolean =>
  cp !== undefined && ids.every((id) => cp.interrupts.some((i) => i.id === id && i.status === "pending"))

/**
 * A checkpoint with a status patch applied. Optional fields left undefined are absent, as a
 * stored row reads back; built without `delete` (which turns the object into a slow dictionary),
 * and with one spread when the patch removes none of them (a pause, a completion).
 */
const patched = (cp: WorkflowSnapshotEncoded, patch: StatusPatch): WorkflowSnapshotEncoded => {
  const error = "error" in patch ? patch.error : cp.error
  const pauseReason = "pauseReason" in patch ? patch.pauseReason : cp.pauseReason
  const wakeAt = "wakeAt" in patch ? patch.wakeAt : cp.wakeAt
  let next: Mutable<WorkflowSnapshotEncoded>
  if ((error === undefined && "error" in cp) || (pauseReason === undefined && "pauseReason" in cp) || (wakeAt === undefined && "wakeAt" in cp)) {
    const { error: _e, pauseReason: _p, wakeAt: _w, ...rest } = cp
    next = { ...rest, status: patch.status, interrupts: patch.interrupts }
  } else {
    next = { ...cp, status: patch.status, interrupts: patch.interrupts }
  }
  if (patch.nodeStates !== undefined) next.nodeStates = patch.nodeStates
  if (error !== undefined) next.error = error
  if (pauseReason !== undefined) next.pauseReason = pauseReason
  if (wakeAt !== undefined) next.wakeAt = wakeAt
  return next
}

type Mutable<A> = { -readonly [K in keyof A]: A[K] }

/**
 * `JSON.parse(JSON.stringify(value))` for the plain data a task record is (objects, arrays,
 * strings, finite numbers, booleans, null), copied directly; anything else (a class instance, a
 * `toJSON`, a non-finite number, a bigint, a `__proto__` key, very deep nesting) goes through the
 * JSON round trip itself, so the result is always what JSON gives.
 */
export const jsonCopy = (value: unknown): unknown => {
  const copied = copyPlain(value, 0)
  return copied === notPlain ? JSON.parse(JSON.stringify(value)) : copied
}

const notPlain: unique symbol = Symbol("notPlain")

const copyPlain = (v: unknown, depth: number): unknown => {
  switch (typeof v) {
    case "string":
    case "boolean":
      return v
    case "number":
      return Number.isFinite(v) ? (v === 0 ? 0 : v) : notPlain
    case "object": {
      if (v === null) return null
      if (depth > 64) return notPlain
      if (Array.isArray(v)) {
        if (Object.getPrototypeOf(v) !== Array.prototype) return notPlain
        const out = new Array(v.length)
        for (let i = 0; i < v.length; i++) {
          const x = v[i]
          // JSON writes these as null in an array
          if (x === undefined || typeof x === "function" || typeof x === "symbol") out[i] = null
          else {
            const c = copyPlain(x, depth + 1)
            if (c === notPlain) return notPlain
            out[i] = c
          }
        }
        return out
      }
      if (Object.getPrototypeOf(v) !== Object.prototype || typeof (v as { toJSON?: unknown }).toJSON === "function") return notPlain
      const out: Record<string, unknown> = {}
      for (const k in v) {
        if (k === "__proto__") return notPlain
        const x = (v as Record<string, unknown>)[k]
        // JSON leaves these keys out of an object
        if (x === undefined || typeof x === "function" || typeof x === "symbol") continue
        const c = copyPlain(x, depth + 1)
        if (c === notPlain) return notPlain
        out[k] = c
      }
      return out
    }
    default:
      return notPlain
  }
}

const leaseOf = (t: ThreadEntry, now: number): Lease => ({
  threadId: t.threadId,
  workflowId: t.workflowId,
  holder: t.runId!,
  until: t.leaseUntil,
  alive: t.leaseUntil > now
})

const summary = (t: ThreadEntry): ThreadSummary => {
  const head = t.head === null ? undefined : t.checkpoints.get(t.head)
  return {
    threadId: t.threadId,
    workflowId: t.workflowId,
    head: t.head,
    status: head?.status ?? "pending",
    updatedAt: t.updatedAt,
    wakeAt: head?.wakeAt
  }
}

/** The lineage from a checkpoint; a link to a checkpoint that is not here is corruption. */
const lineage = (t: ThreadEntry, from: string | null) => {
  const out: Array<WorkflowSnapshotEncoded> = []
  const seen = new Set<string>()
  let id = from
  while (id !== null && !seen.has(id)) {
    seen.add(id)
    const cp = t.checkpoints.get(id)
    if (cp === undefined) {
      if (out.length === 0) break
      return Effect.fail(new CorruptSnapshot({ threadId: t.threadId, issue: `the lineage links to checkpoint ${id}, which is missing` }))
    }
    out.push(cp)
    id = cp.parentCheckpointId
  }
  return Effect.succeed(out)
}

/** Checkpoints whose parent was deleted start the lineage now (as the durable stores do). */
const cutOrphans = (t: ThreadEntry) => {
  for (const [id, cp] of t.checkpoints) {
    if (cp.parentCheckpointId !== null && !t.checkpoints.has(cp.parentCheckpointId)) {
      t.checkpoints.set(id, { ...cp, parentCheckpointId: null })
    }
  }
}

/** The claim taken with a run's first write: the thread must be free (or the run's) at `head`. */
const claimAtIn = (threads: Map<string, ThreadEntry>) => (threadId: string, runId: string, claim: ClaimOptions, head: string | null): boolean => {
  const now = Date.now()
  let t = threads.get(threadId)
  if (t === undefined) {
    if (head !== null) return false
    t = { threadId, workflowId: claim.workflowId, head: null, runId: undefined, leaseUntil: 0, fenced: undefined, updatedAt: now, checkpoints: new Map() }
    threads.set(threadId, t)
  }
  if (t.runId !== undefined && t.runId !== runId && t.leaseUntil > now) return false
  if (t.head !== head || t.fenced === runId) return false
  t.runId = runId
  t.leaseUntil = now + claim.leaseMillis
  t.workflowId = claim.workflowId
  return true
}

type Others = "load" | "history" | "listByThread" | "listByWorkflow" | "listThreads" | "dueSleepers" | "delete" | "deleteThread" | "cleanup" | "leases" | "releaseLease"

/** The reads, deletes, cleanup and leases of the memory store, on its threads. */
const othersOf = (threads: Map<string, ThreadEntry>): Pick<Backend, Others> => ({
  load: (threadId, checkpointId) =>
    Effect.sync(() => {
      const t = threads.get(threadId)
      if (t === undefined) return Option.none()
      const id = checkpointId ?? t.head
      return id === null ? Option.none() : Option.fromNullable(t.checkpoints.get(id))
    }),
  history: (threadId, options) =>
    Effect.suspend(() => {
      const t = threads.get(threadId)
      if (t === undefined) return Effect.succeed([])
      return Effect.map(lineage(t, options?.checkpointId ?? t.head), (rows) => applyList(rows, options))
    }),
  listByThread: (threadId, options) =>
    Effect.sync(() => {
      const t = threads.get(threadId)
      if (t === undefined) return []
      const rows = [...t.checkpoints.values()].sort((a, b) => (a.checkpointId < b.checkpointId ? 1 : -1))
      return applyList(rows, options)
    }),
  listByWorkflow: (workflowId, options) =>
    Effect.sync(() => {
      const rows: Array<WorkflowSnapshotEncoded> = []
      for (const t of threads.values()) {
        if (t.workflowId !== workflowId || t.head === null) continue
        const head = t.checkpoints.get(t.head)
        if (head !== undefined) rows.push(head)
      }
      rows.sort((a, b) => (a.checkpointId < b.checkpointId ? 1 : -1))
      return applyList(rows, options)
    }),
  listThreads: (options) =>
    Effect.sync(() => {
      const out = [...threads.values()]
        .filter((t) => t.head !== null)
        .map(summary)
        .filter((s) => statusMatches(s.status, options?.status))
        .filter((s) => options?.workflowId === undefined || s.workflowId === options.workflowId)
        .sort((a, b) => b.updatedAt - a.updatedAt)
      return options?.limit === undefined ? out : out.slice(0, options.limit)
    }),
  dueSleepers: (now, limit) =>
    Effect.sync(() => {
      const out = [...threads.values()]
        .map(summary)
        .filter((s) => s.status === "paused" && s.wakeAt !== undefined && s.wakeAt <= now)
        .sort((a, b) => a.wakeAt! - b.wakeAt!)
      return limit === undefined ? out : out.slice(0, limit)
    }),
  delete: (executionId) =>
    Effect.sync(() => {
      let n = 0
      for (const t of threads.values()) {
        for (const [id, cp] of t.checkpoints) {
          if (cp.executionId === executionId) {
            t.checkpoints.delete(id)
            n++
          }
        }
        // checkpoints whose parent is gone start their own lineage: values are stored whole here
        cutOrphans(t)
        if (t.head !== null && !t.checkpoints.has(t.head)) {
          const rest = [...t.checkpoints.keys()].sort()
          t.head = rest.length === 0 ? null : rest[rest.length - 1]!
        }
      }
      return n
    }),
  deleteThread: (threadId) =>
    Effect.sync(() => {
      const t = threads.get(threadId)
      if (t === undefined) return 0
      threads.delete(threadId)
      return t.checkpoints.size
    }),
  cleanup: ({ dryRun, olderThan, onBatch, statuses }) =>
    Effect.suspend(() => {
      const wanted = statuses ?? ["completed", "failed"]
      let n = 0
      for (const t of threads.values()) {
        if (t.head === null) continue
        const head = t.checkpoints.get(t.head)!
        if (!wanted.includes(head.status)) continue
        // keep the head (and so the thread); drop older checkpoints. Memory values are stored
        // whole per checkpoint, so the head never needs its ancestors.
        for (const [id, cp] of t.checkpoints) {
          if (id !== t.head && cp.createdAt < olderThan) {
            if (dryRun !== true) t.checkpoints.delete(id)
            n++
          }
        }
        if (dryRun !== true) cutOrphans(t)
      }
      return onBatch !== undefined && dryRun !== true && n > 0 ? Effect.as(onBatch(n), n) : Effect.succeed(n)
    }),
  leases: (options) =>
    Effect.sync(() => {
      const now = Date.now()
      return [...threads.values()]
        .filter((t) => t.runId !== undefined)
        .filter((t) => options?.threadId === undefined || t.threadId === options.threadId)
        .filter((t) => options?.workflowId === undefined || t.workflowId === options.workflowId)
        .map((t) => leaseOf(t, now))
        .sort((a, b) => (a.threadId < b.threadId ? -1 : a.threadId > b.threadId ? 1 : 0))
    }),
  releaseLease: (threadId, options) =>
    Effect.suspend(() => {
      const t = threads.get(threadId)
      if (t === undefined || t.runId === undefined) return Effect.succeed(Option.none())
      const lease = leaseOf(t, Date.now())
      if (lease.alive && options?.force !== true) {
        return Effect.fail(new LeaseHeld({ threadId, holder: lease.holder, leaseUntil: lease.until }))
      }
      t.fenced = t.runId
      t.runId = undefined
      t.leaseUntil = 0
      return Effect.succeed(Option.some(lease))
    })
})

export const make = (): Backend => {
  const threads = new Map<string, ThreadEntry>()

  const owned = (threadId: string, runId: string): ThreadEntry | undefined => {
    const t = threads.get(threadId)
    return t !== undefined && t.runId === runId ? t : undefined
  }

  /** A refusal naming who holds the thread, and until when. */
  const busy = (threadId: string) => {
    const t = threads.get(threadId)
    return Effect.fail(
      t?.runId === undefined
        ? new ThreadBusy({ threadId })
        : new ThreadBusy({ threadId, holder: t.runId, leaseUntil: t.leaseUntil })
    )
  }

  const claimAt = claimAtIn(threads)

  const releaseNow = (threadId: string, runId: string): void => {
    const t = owned(threadId, runId)
    if (t === undefined) return
    t.runId = undefined
    // a run that wrote nothing (`invoke(null)` on an unknown thread) leaves nothing behind
    if (t.head === null) threads.delete(threadId)
  }

  const backend: Omit<Backend, Others> = {
    claim: (threadId, runId, { leaseMillis, workflowId }) =>
      Effect.suspend(() => {
        const now = Date.now()
        let t = threads.get(threadId)
        if (t === undefined) {
          t = { threadId, workflowId, head: null, runId: undefined, leaseUntil: 0, fenced: undefined, updatedAt: now, checkpoints: new Map() }
          threads.set(threadId, t)
        }
        if ((t.runId !== undefined && t.runId !== runId && t.leaseUntil > now) || t.fenced === runId) {
          return busy(threadId)
        }
        t.runId = runId
        t.leaseUntil = now + leaseMillis
        return Effect.succeed(t.head)
      }),
    release: (threadId, runId) => Effect.sync(() => releaseNow(threadId, runId)),
    commit: ({ claim, expectedHead, release, runId, snapshot, threadId, writes }) =>
      Effect.suspend(() => {
        if (claim !== undefined) {
          // new input read the head without a claim: the head must not have paused since
          const head = threads.get(threadId)
          const status = head === undefined || head.head === null ? undefined : head.checkpoints.get(head.head)?.status
          if (status === "paused" || !claimAt(threadId, runId, claim, expectedHead)) return busy(threadId)
        }
        const t = owned(threadId, runId)
        if (t === undefined || t.head !== expectedHead) return busy(threadId)
        const parent = snapshot.parentCheckpointId === null ? undefined : t.checkpoints.get(snapshot.parentCheckpointId)
        const channels: Record<string, unknown> = parent === undefined ? {} : { ...parent.channels }
        // a parent never stored (a run with `exit` durability): the checkpoint follows the head it replaces
        const parentCheckpointId = snapshot.parentCheckpointId === null || parent !== undefined ? snapshot.parentCheckpointId : expectedHead
        for (const w of writes) {
          if (w.mode === "set") channels[w.channel] = w.value
          else {
            const prev = channels[w.channel] as ReadonlyArray<unknown> | undefined
            channels[w.channel] = prev === undefined ? w.value : prev.concat(w.value as ReadonlyArray<unknown>)
          }
        }
        t.checkpoints.set(snapshot.checkpointId, { ...snapshot, parentCheckpointId, channels })
        t.head = snapshot.checkpointId
        if (release) t.runId = undefined
        t.workflowId = snapshot.workflowId
        t.updatedAt = snapshot.createdAt
        return Effect.void
      }),
    commitAll: (requests) =>
      Effect.suspend(() => {
        // all or none, as a transaction would: check the chain first
        const first = requests[0]
        if (first === undefined) return Effect.void
        const t = owned(first.threadId, first.runId)
        const chained = requests.every((r, i) =>
          i === 0 || (r.threadId === first.threadId && r.runId === first.runId && r.claim === undefined &&
            r.expectedHead === requests[i - 1]!.snapshot.checkpointId)
        )
        if (!chained || (first.claim === undefined && (t === undefined || t.head !== first.expectedHead))) {
          return busy(first.threadId)
        }
        return Effect.forEach(requests, (r) => backend.commit(r), { discard: true })
      }),
    settle: (threadId, runId, checkpointId, { claim, patch, records: given, release }) =>
      Effect.suspend(() => {
        // checked before the claim is taken: a refused resume leaves the thread as it was
        if (claim?.pending !== undefined && !stillPending(threads.get(threadId)?.checkpoints.get(checkpointId), claim.pending)) {
          return busy(threadId)
        }
        if (claim !== undefined && !claimAt(threadId, runId, claim, checkpointId)) return busy(threadId)
        // stored as JSON, as a durable store would: what reads back is what SQLite gives
        const records = given.length === 0 ? given : (jsonCopy(given) as ReadonlyArray<TaskRecord>)
        const t = owned(threadId, runId)
        const cp = t?.checkpoints.get(checkpointId)
        if (t === undefined || cp === undefined) return busy(threadId)
        let next = cp
        if (records.length > 0) {
          const ids = new Set(records.map((r) => r.taskId))
          next = { ...cp, pendingWrites: cp.pendingWrites.filter((r) => !ids.has(r.taskId)).concat(records) }
        }
        if (patch !== undefined) {
          next = patched(next, patch)
          t.updatedAt = Date.now()
        }
        if (next !== cp) t.checkpoints.set(checkpointId, next)
        if (release) releaseNow(threadId, runId)
        return Effect.void
      }),
    putTask: (threadId, runId, checkpointId, given) =>
      Effect.suspend(() => {
        const record = jsonCopy(given) as TaskRecord
        const t = owned(threadId, runId)
        const cp = t?.checkpoints.get(checkpointId)
        if (t === undefined || cp === undefined) return busy(threadId)
        const pendingWrites: Array<TaskRecord> = cp.pendingWrites.filter((r) => r.taskId !== record.taskId)
        pendingWrites.push(record)
        t.checkpoints.set(checkpointId, { ...cp, pendingWrites })
        return Effect.void
      }),
    setStatus: (threadId, runId, checkpointId, patch) =>
      Effect.suspend(() => {
        const t = owned(threadId, runId)
        const cp = t?.checkpoints.get(checkpointId)
        if (t === undefined || cp === undefined) return busy(threadId)
        t.checkpoints.set(checkpointId, patched(cp, patch))
        t.updatedAt = Date.now()
        return Effect.void
      })
  }
  return { ...backend, ...othersOf(threads) }
}
