/**
 * Deleting from the SQL stores: an execution, a thread, and `cleanup` of old checkpoints in
 * batches; what a deletion leaves is repaired in the same transaction (task records and blobs
 * nothing reaches any more, links to deleted parents, a head that was deleted).
 */
import * as Effect from "effect/Effect"
import type { Backend } from "../../Snapshots.js"
import type { Context } from "./context.js"
import type * as Db from "./db.js"

/** @internal */
export const make = (ctx: Context) => {
  const { db, executions, maps, Sql } = ctx

  /** After checkpoints of a thread were deleted: drop their task records and unreachable blobs, move a lost head. */
  const repair = (tx: Db.Tx, threadId: string, deleted: ReadonlySet<string>) =>
    Effect.gen(function*() {
      executions.delete(threadId)
      yield* tx.all(Sql.deleteOrphanTasks, [threadId, threadId])
      yield* tx.all(Sql.forgetEmptyExecutions, [threadId, threadId])
      yield* tx.all(Sql.sweepBlobs, [threadId, threadId, threadId])
      yield* tx.all(Sql.cutOrphans, [threadId, threadId])
      const head = (yield* tx.all(Sql.threadHead, [threadId]))[0]?.head as string | null | undefined
      if (head === undefined || head === null || !deleted.has(head)) return
      const newest = (yield* tx.all(Sql.newestCheckpoint, [threadId]))[0]
      yield* tx.all(Sql.resetHead, [
        newest?.checkpoint_id ?? null,
        newest?.status ?? "pending",
        newest?.wake_at ?? null,
        threadId
      ])
      if (newest === undefined) yield* tx.all(Sql.dropEmptyThread, [threadId, Date.now()])
    })

  const deleted = (rows: ReadonlyArray<any>) => {
    const byThread = new Map<string, Set<string>>()
    for (const r of rows) {
      const set = byThread.get(r.thread_id)
      if (set === undefined) byThread.set(r.thread_id, new Set([r.checkpoint_id]))
      else set.add(r.checkpoint_id)
    }
    return byThread
  }

  const deleteExecution: Backend["delete"] = (executionId) =>
    db.write("delete", (tx) =>
      Effect.gen(function*() {
        let n = 0
        for (const { thread_id } of yield* tx.all(Sql.threadsOfExecution, [executionId])) {
          const rows = yield* tx.all(Sql.deleteExecution, [thread_id, executionId])
          n += rows.length
          yield* repair(tx, thread_id, new Set(rows.map((r) => r.checkpoint_id)))
        }
        yield* tx.all(Sql.forgetExecution, [executionId])
        return n
      }))

  const deleteThread: Backend["deleteThread"] = (threadId) =>
    db.write("deleteThread", (tx) =>
      Effect.gen(function*() {
        const rows = yield* tx.all(Sql.deleteThreadCheckpoints, [threadId])
        yield* tx.all(Sql.deleteThreadBlobs, [threadId])
        yield* tx.all(Sql.deleteThreadTasks, [threadId])
        yield* tx.all(Sql.deleteThreadExecutions, [threadId])
        executions.delete(threadId)
        yield* tx.all(Sql.deleteThreadRow, [threadId])
        yield* tx.all(Sql.deleteThreadFences, [threadId])
        for (const key of maps.keys()) if (key.startsWith(threadId + "\u0000")) maps.delete(key)
        return rows.length
      }))

  const cleanup: Backend["cleanup"] = ({ batchSize, dryRun, olderThan, onBatch, statuses }) =>
    Effect.gen(function*() {
      const wanted = JSON.stringify(statuses ?? ["completed", "failed"])
      // removing a batch does not change which other checkpoints are candidates
      if (dryRun === true) {
        return yield* db.read("cleanup", (tx) =>
          Effect.map(tx.all(Sql.cleanupCandidates, [wanted, olderThan, -1]), (rows) => rows.length))
      }
      const batch = Math.max(1, Math.floor(batchSize ?? 500))
      let total = 0
      while (true) {
        const n = yield* db.write("cleanup", (tx) =>
          Effect.gen(function*() {
            const candidates = yield* tx.all(Sql.cleanupCandidates, [wanted, olderThan, batch])
            if (candidates.length === 0) return 0
            const rows = yield* tx.all(Sql.deleteCheckpoints, [
              JSON.stringify(candidates.map((c) => [c.thread_id, c.checkpoint_id]))
            ])
            for (const [threadId, ids] of deleted(rows)) yield* repair(tx, threadId, ids)
            return candidates.length
          }))
        total += n
        if (onBatch !== undefined && n > 0) yield* onBatch(total)
        if (n < batch) return total
      }
    })

  return { delete: deleteExecution, deleteThread, cleanup }
}
