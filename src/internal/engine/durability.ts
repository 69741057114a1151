/**
 * How a run's checkpoints reach the store: one committer interface, three modes. `sync` commits
 * each step before the next, `async` queues them for a background writer (several steps to a
 * transaction), `exit` keeps them in memory and commits once, when the run stops. Also the
 * background writer of a parallel step's pending writes.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type { TaskRecord } from "../../Snapshot.js"
import type { ChannelWrite, CommitRequest, StatusPatch } from "../../Snapshots.js"
import { toEncoded, wholeWrites } from "./codec.js"
import type { Checkpoint, Run } from "./model.js"

/** how many checkpoints an `async` run may have queued before it waits for the writer */
const ASYNC_QUEUE_LIMIT = 256

/** @internal */
export interface Committer {
  /** the head the next commit expects (the last checkpoint committed or queued) */
  readonly head: () => string | null
  /** stores the checkpoint of a step (or queues / holds it, by mode) */
  readonly commit: (next: Checkpoint, writes: ReadonlyArray<ChannelWrite>) => Effect.Effect<void, unknown>
  /** waits until every checkpoint of the run is stored, `at` the last (the run stops there) */
  readonly flush: (at: Checkpoint) => Effect.Effect<void, unknown>
  /** waits until the queued checkpoints are stored (a task's record needs its step's) */
  readonly stored: Effect.Effect<void, unknown>
  /** flushes, then writes task records and the paused / failed status to `at`, the head */
  readonly settle: (at: Checkpoint, records: ReadonlyArray<TaskRecord>, patch: StatusPatch) => Effect.Effect<void, unknown>
}

/** A run without a store: nothing to write. */
const none: Committer = {
  head: () => null,
  commit: () => Effect.void,
  flush: () => Effect.void,
  stored: Effect.void,
  settle: () => Effect.void
}

/** The background writer of `async` durability: queued commits, several to a transaction. */
const asyncWriter = (commitAll: (batch: ReadonlyArray<CommitRequest>) => Effect.Effect<void, unknown>) => {
  let queue: Array<CommitRequest> = []
  let writer: Fiber.RuntimeFiber<void, unknown> | undefined
  const writeQueued: Effect.Effect<void, unknown> = Effect.suspend(() => {
    if (queue.length === 0) return Effect.void
    const batch = queue
    queue = []
    return Effect.zipRight(commitAll(batch), writeQueued)
  })
  // the writer stays known until it ended: tasks of a parallel step may wait on it together
  const awaitAll: Effect.Effect<void, unknown> = Effect.suspend(() => {
    const current = writer
    const rest = Effect.suspend(() => (queue.length > 0 ? writeQueued : Effect.void))
    if (current === undefined) return rest
    return Effect.zipRight(
      Effect.flatten(Fiber.await(current)),
      Effect.suspend(() => {
        if (writer === current) writer = undefined
        return rest
      })
    )
  })
  const enqueue = (request: CommitRequest) =>
    Effect.suspend(() => {
      queue.push(request)
      // bounded: a writer that cannot keep up makes the run wait
      if (queue.length >= ASYNC_QUEUE_LIMIT) return awaitAll
      if (writer !== undefined) {
        const exit = writer.unsafePoll()
        // a running writer takes this request too, once its current batch is written
        if (exit === null) return Effect.void
        writer = undefined
        if (Exit.isFailure(exit)) return Effect.failCause(exit.cause)
      }
      return Effect.map(Effect.forkDaemon(Effect.zipRight(Effect.yieldNow(), writeQueued)), (f) => {
        writer = f
      })
    })
  return { enqueue, awaitAll }
}

/**
 * The committer of a run, by the graph's durability mode; `head` is the thread's head when the
 * run starts.
 *
 * @internal
 */
export const makeCommitter = (run: Run, head: string | null): Committer => {
  const { compiled, store, threadId, config, policy } = run
  if (store === undefined || threadId === undefined) return none
  const mode = compiled.durability
  let expectedHead = head
  const background = mode === "async" ? asyncWriter(store.commitAll) : undefined
  const stored = background?.awaitAll ?? Effect.void
  // exit durability: every channel changed since the last commit, written whole at the end
  let held: Map<string, ChannelWrite> | undefined
  const saved = (next: Checkpoint) =>
    Effect.suspend(() => {
      expectedHead = next.checkpointId
      const emit = config.emit
      if (emit === undefined || !run.modes.has("events")) return Effect.void
      return emit({ mode: "events", event: { _tag: "CheckpointSaved", step: next.step, checkpointId: next.checkpointId } })
    })
  const request = (next: Checkpoint, writes: ReadonlyArray<ChannelWrite>, release: boolean): CommitRequest => {
    let snapshot = toEncoded(compiled, threadId, next)
    // steps not committed (exit durability) are skipped in the lineage
    if (snapshot.parentCheckpointId !== expectedHead) snapshot = { ...snapshot, parentCheckpointId: expectedHead }
    return { threadId, runId: run.runId, expectedHead, snapshot, writes, release }
  }
  const events = config.emit !== undefined && run.modes.has("events")
  /** commits now, waiting for queued commits first; the run's last write gives the claim back */
  const commitNow = (next: Checkpoint, writes: ReadonlyArray<ChannelWrite>) => {
    const write = Effect.suspend(() => {
      const last = next.tasks.length === 0 && !policy.keepClaim
      return Effect.map(store.commit(request(next, writes, last)), () => {
        if (last) run.released = true
        expectedHead = next.checkpointId
      })
    })
    const told = events ? Effect.zipRight(write, saved(next)) : write
    return background === undefined ? told : Effect.zipRight(stored, told)
  }
  const flush = (at: Checkpoint): Effect.Effect<void, unknown> =>
    // sync durability has nothing queued or held
    mode !== "exit" && background === undefined ? Effect.void : Effect.zipRight(
      stored,
      Effect.suspend(() => {
        if (held === undefined) return Effect.void
        const writes = wholeWrites(compiled, at.values, held.keys())
        held = undefined
        return commitNow(at, writes)
      })
    )
  const commit = (next: Checkpoint, writes: ReadonlyArray<ChannelWrite>): Effect.Effect<void, unknown> => {
    switch (mode) {
      case "exit":
        return Effect.sync(() => {
          held ??= new Map()
          for (const w of writes) held.set(w.channel, w)
        })
      case "async":
        return Effect.suspend(() => Effect.zipRight(background!.enqueue(request(next, writes, false)), saved(next)))
      default:
        return commitNow(next, writes)
    }
  }
  return {
    head: () => expectedHead,
    commit,
    flush,
    stored,
    settle: (at, records, patch) => {
      // the run ends here: records, status and the claim's release in one transaction
      const write = Effect.suspend(() => {
        const release = !policy.keepClaim
        return Effect.map(store.settle(threadId, run.runId, at.checkpointId, { records, patch, release }), () => {
          if (release) run.released = true
        })
      })
      const before = flush(at)
      return before === Effect.void ? write : Effect.zipRight(before, write)
    }
  }
}

/**
 * Saves the pending writes of a parallel step's finished tasks in the background: tasks that
 * finish in the same tick (or while a write is under way) share one transaction, and a task does
 * not wait for its record. `finish` (when every task of the step has ended) hands back what was
 * not written yet — a step that goes on to commit its checkpoint needs none of it, a step that
 * pauses or fails settles it with the rest — and waits for the write under way, failing with its
 * error.
 *
 * @internal
 */
export const pendingWriter = <T, E>(
  write: (items: ReadonlyArray<T>) => Effect.Effect<void, E>
) => {
  let queue: Array<T> = []
  let drainer: Fiber.RuntimeFiber<void, E> | undefined
  const drain: Effect.Effect<void, E> = Effect.suspend(() => {
    if (queue.length === 0) return Effect.void
    const items = queue
    queue = []
    return Effect.zipRight(write(items), drain)
  })
  // let siblings that finish in the same tick join the first batch
  const drainSoon = Effect.zipRight(Effect.yieldNow(), drain)
  return {
    add: (item: T): Effect.Effect<void> =>
      Effect.suspend(() => {
        queue.push(item)
        if (drainer !== undefined) return Effect.void
        return Effect.asVoid(Effect.tap(Effect.forkDaemon(drainSoon), (f) => {
          drainer = f
        }))
      }),
    finish: Effect.suspend((): Effect.Effect<ReadonlyArray<T>, E> => {
      const unwritten = queue
      queue = []
      // awaited, not joined: a join would copy the drainer's fiber refs (its context, with the
      // CurrentTask of the task fiber that forked it) onto the run's fiber
      return drainer === undefined ? Effect.succeed(unwritten) : Effect.as(Effect.flatten(Fiber.await(drainer)), unwritten)
    })
  }
}
