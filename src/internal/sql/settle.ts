/**
 * The settle of the SQL stores (a run's task records, a status patch, the claim of a resume and
 * the release, all or nothing) and the status patch on a checkpoint.
 */
import * as Effect from "effect/Effect"
import type { StoreError } from "../../GraphError.js"
import type { Backend, StatusPatch } from "../../Snapshots.js"
import type { Context } from "./context.js"
import type * as Db from "./db.js"

/** @internal */
export const make = (ctx: Context, isBusyRaise: (e: StoreError) => boolean) => {
  const { busy, db, one, Sql, walCheckpoint } = ctx

  const setStatusIn = (tx: Db.Tx, threadId: string, runId: string, checkpointId: string, patch: StatusPatch) =>
    Effect.gen(function*() {
      const rows = yield* tx.all(Sql.setStatus, [
        patch.status,
        JSON.stringify(patch.interrupts),
        patch.nodeStates === undefined ? null : JSON.stringify(patch.nodeStates),
        "error" in patch ? 1 : 0,
        patch.error ?? null,
        "pauseReason" in patch ? 1 : 0,
        patch.pauseReason ?? null,
        "wakeAt" in patch ? 1 : 0,
        patch.wakeAt ?? null,
        threadId,
        checkpointId,
        threadId,
        runId
      ])
      if (rows.length === 0) return yield* busy(threadId)
      yield* tx.all(Sql.touchThread, [Date.now(), checkpointId, patch.status, checkpointId, rows[0].wake_at, threadId])
    })

  const stillPending = (text: unknown, ids: ReadonlyArray<string>): boolean => {
    if (typeof text !== "string") return false
    let stored: unknown
    try {
      stored = JSON.parse(text)
    } catch {
      return false
    }
    return Array.isArray(stored) &&
      ids.every((id) => stored.some((i: { readonly id?: unknown; readonly status?: unknown }) => i?.id === id && i?.status === "pending"))
  }

  const settleTx: Backend["settle"] = (threadId, runId, checkpointId, { claim, patch, records, release }) =>
    db.write("settle", (tx) =>
      Effect.gen(function*() {
        if (claim !== undefined) {
          const now = Date.now()
          yield* tx.all(Sql.claim, [threadId, claim.workflowId, now, runId, now + claim.leaseMillis, now])
        }
        const held = yield* tx.all(Sql.settleCheck!, [threadId, runId, claim !== undefined ? 1 : 0, checkpointId, threadId, checkpointId])
        if (held.length === 0) return yield* busy(threadId)
        if (claim?.pending !== undefined && claim.pending.length > 0) {
          // read under the thread row's lock: another resume may have answered them and paused again
          const [row] = yield* tx.all(Sql.checkpointInterrupts!, [threadId, checkpointId])
          if (!stillPending(row?.interrupts, claim.pending)) return yield* busy(threadId)
        }
        for (const r of records) yield* tx.all(Sql.upsertTask, [threadId, checkpointId, r.taskId, JSON.stringify(r)])
        if (patch !== undefined) yield* setStatusIn(tx, threadId, runId, checkpointId, patch)
        if (release) yield* tx.all(Sql.release, [threadId, runId])
      }))

  const settleParams = (
    threadId: string,
    runId: string,
    checkpointId: string,
    { claim, patch, records, release }: Parameters<Backend["settle"]>[3]
  ) => {
    const now = Date.now()
    return [
      threadId,
      runId,
      checkpointId,
      JSON.stringify(records.map((r) => [r.taskId, JSON.stringify(r)])),
      patch !== undefined ? 1 : 0,
      patch?.status ?? null,
      patch !== undefined ? JSON.stringify(patch.interrupts) : null,
      patch?.nodeStates === undefined ? null : JSON.stringify(patch.nodeStates),
      patch !== undefined && "error" in patch ? 1 : 0,
      patch?.error ?? null,
      patch !== undefined && "pauseReason" in patch ? 1 : 0,
      patch?.pauseReason ?? null,
      patch !== undefined && "wakeAt" in patch ? 1 : 0,
      patch?.wakeAt ?? null,
      release ? 1 : 0,
      claim !== undefined ? 1 : 0,
      claim?.workflowId ?? null,
      claim !== undefined ? now + claim.leaseMillis : 0,
      now,
      claim?.pending === undefined ? null : JSON.stringify(claim.pending)
    ]
  }

  /** SQLite: one statement, the settle view's trigger does it all, atomically */
  const settleOne = (one: NonNullable<Context["one"]>): Backend["settle"] => (threadId, runId, checkpointId, input) =>
    Effect.suspend(() =>
      db.writeOnce("settle", one.settle, settleParams(threadId, runId, checkpointId, input)).pipe(
        Effect.catchIf(isBusyRaise, () => busy(threadId)),
        Effect.zipLeft(input.release ? walCheckpoint : Effect.void)
      )
    )

  /**
   * Postgres: one statement (refused: no row) unless the settle answers pending interrupts,
   * whose check needs the thread row locked first (a transaction)
   */
  const settleRows = (text: string): Backend["settle"] => (threadId, runId, checkpointId, input) =>
    input.claim?.pending !== undefined && input.claim.pending.length > 0
      ? settleTx(threadId, runId, checkpointId, input)
      : Effect.suspend(() =>
        Effect.flatMap(
          db.writeOnce("settle", text, settleParams(threadId, runId, checkpointId, { ...input, claim: input.claim && { ...input.claim, pending: undefined } })),
          (rows) => (rows.length === 0 ? busy(threadId) : Effect.void)
        )
      )

  return {
    settle: one !== undefined ? settleOne(one) : ctx.dialect.settleOne !== undefined ? settleRows(ctx.dialect.settleOne) : settleTx,
    setStatusIn
  }
}
