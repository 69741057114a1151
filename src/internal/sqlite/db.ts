/**
 * A lean executor over an @effect/sql SQLite client: prepared statements on the client's own
 * connection, write transactions that take the write lock up front (`BEGIN IMMEDIATE`), group
 * commit of single write statements issued at the same moment, and `SqlError` translated into our
 * `StoreError` at this boundary.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import type { SqlError } from "@effect/sql/SqlError"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import type { StoreError } from "../../GraphError.js"
import * as Core from "../sql/db.js"

/** @internal */
export type Tx = Core.Tx

/** @internal */
export type Db = Core.Db

/** A statement waiting for the next group commit. */
interface Queued {
  readonly operation: string
  readonly sql: string
  readonly params: ReadonlyArray<unknown>
  readonly done: Deferred.Deferred<ReadonlyArray<any>, StoreError>
  /** its fiber stopped waiting before the group was taken: not run */
  cancelled: boolean
}

const { isSqlError, translate } = Core

/** @internal */
export const storeError = Core.storeError

const isBusy = (e: unknown): boolean => {
  if (!isSqlError(e)) return false
  const code = (e.cause as any)?.code
  return typeof code === "string" && (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED"))
}

/** A statement refused by a constraint or a trigger's RAISE(ABORT): SQLite undid that statement only. */
const isConstraint = (cause: Cause.Cause<SqlError>): boolean => {
  const failure = Cause.failureOption(cause)
  if (Option.isNone(failure)) return false
  const code = (failure.value.cause as any)?.code
  return typeof code === "string" && code.startsWith("SQLITE_CONSTRAINT")
}

/**
 * Retries an operation that found the database locked by another connection, with a growing
 * pause, for up to `timeoutMillis`. The pauses are fiber sleeps on the wall clock (even under a
 * TestClock): the thread stays free, so connections of one process never wait on each other
 * while holding the thread.
 */
const retryBusy = (timeoutMillis: number) => <A, E>(self: Effect.Effect<A, E>): Effect.Effect<A, E> => {
  const attempt = (started: number, delay: number): Effect.Effect<A, E> =>
    Effect.catchIf(self, isBusy, (e) => {
      const now = Date.now()
      if (now - started >= timeoutMillis) return Effect.fail(e)
      return Effect.zipRight(
        Effect.withClock(Effect.sleep(Math.min(delay, Math.max(1, timeoutMillis - (now - started)))), Clock.make()),
        attempt(started, Math.min(delay * 2, 50))
      )
    })
  return Effect.catchIf(self, isBusy, () => attempt(Date.now(), 1))
}

/**
 * `exclusive`: a connection reserved by the caller for the store's lifetime (a client nobody
 * else uses): statements run on it directly, one operation at a time (a mutex of the store),
 * without reserving the client's connection for each operation. Otherwise each operation reserves
 * the client's connection for its duration.
 *
 * An operation that finds the database locked by another connection is retried (rolled back
 * first) for up to `busyTimeoutMillis`.
 *
 * @internal
 */
export const make = (client: SqlClient.SqlClient, exclusive: Connection | undefined, busyTimeoutMillis: number): Db => {
  const tx = (conn: Connection): Tx => ({ all: (sql, params) => conn.execute(sql, params, undefined) })
  const mutex = Effect.unsafeMakeSemaphore(1)
  const withConnection: <A, E>(f: (conn: Connection) => Effect.Effect<A, E>) => Effect.Effect<A, E | SqlError> =
    exclusive !== undefined
      ? (f) => mutex.withPermits(1)(f(exclusive))
      : (f) => Effect.scoped(Effect.flatMap(client.reserve, f))
  const retry = retryBusy(busyTimeoutMillis)

  const transaction = (begin: string) =>
  <A, E>(operation: string, body: (tx: Tx) => Effect.Effect<A, E | SqlError>) =>
    retry(withConnection((conn) =>
      Effect.uninterruptible(
        Effect.flatMap(conn.execute(begin, [], undefined), () =>
          Effect.flatMap(Effect.exit(body(tx(conn))), (exit) =>
            Exit.isSuccess(exit)
              ? Effect.as(
                Effect.tapError(conn.execute("COMMIT", [], undefined), () =>
                  Effect.ignore(conn.execute("ROLLBACK", [], undefined))),
                exit.value
              )
              : Effect.zipRight(Effect.ignore(conn.execute("ROLLBACK", [], undefined)), exit)))
      )
    )).pipe(translate(operation))

  const once = (operation: string, sql: string, params: ReadonlyArray<unknown>) =>
    retry(withConnection((conn) => conn.execute(sql, params, undefined))).pipe(translate(operation))
  const write = transaction("BEGIN IMMEDIATE")

  // ----- group commit ----------------------------------------------------------------------
  // The first fiber to queue a statement while no group is forming leads the group: it yields
  // once, so fibers that are ready to run queue theirs too, then runs the group. One statement
  // runs on its own; several run in one write transaction, each keeping its own outcome (a
  // statement refused by a constraint, e.g. a refused compare-and-set, is undone alone: the
  // statements given here never use OR FAIL / OR ROLLBACK or RAISE(FAIL | ROLLBACK)).
  // Everyone's outcome is known only once the transaction committed; a failed BEGIN or COMMIT,
  // or an error other than a constraint's, fails every statement of the group.

  let queue: Array<Queued> = []
  let forming = false

  const take = () => {
    const group = queue.filter((q) => !q.cancelled)
    queue = []
    return group
  }

  /** Runs `own` (the leader's statement, if any) and `group` in one write transaction. */
  const runGroup = (
    own: Pick<Queued, "operation" | "sql" | "params"> | undefined,
    group: ReadonlyArray<Queued>
  ): Effect.Effect<ReadonlyArray<any>, StoreError> => {
    const all = own === undefined ? group : [own, ...group]
    if (all.length === 1) {
      const q = all[0]!
      if (own !== undefined) return once(q.operation, q.sql, q.params)
      return Effect.as(Effect.flatMap(Effect.exit(once(q.operation, q.sql, q.params)), (exit) => Deferred.done(group[0]!.done, exit)), [])
    }
    // a statement refused by a constraint (a refused compare-and-set is a trigger's RAISE(ABORT))
    // is rolled back alone by SQLite, the transaction goes on; any other error (disk full, I/O)
    // may have rolled back the whole transaction, so it stops the group before a later statement
    // could run outside it: every statement of the group fails, none was committed
    const body = (tx: Tx) =>
      Effect.forEach(all, (q) =>
        Effect.flatMap(
          Effect.exit(tx.all(q.sql, q.params)),
          (exit): Effect.Effect<Exit.Exit<ReadonlyArray<any>, StoreError>, SqlError> =>
            Exit.isSuccess(exit) || isConstraint(exit.cause)
              ? Effect.succeed(Exit.mapError(exit, storeError(q.operation)))
              : Effect.failCause(exit.cause)
        ))
    return Effect.flatMap(Effect.exit(write("commit", body)), (exit) => {
      const outcome = (i: number): Exit.Exit<ReadonlyArray<any>, StoreError> =>
        Exit.isSuccess(exit) ? exit.value[i]! : (exit as Exit.Exit<never, StoreError>)
      const offset = own === undefined ? 0 : 1
      return Effect.zipRight(
        Effect.forEach(group, (q, i) => Deferred.done(q.done, outcome(i + offset)), { discard: true }),
        own === undefined ? Effect.succeed([]) : outcome(0)
      )
    })
  }

  /** After the leader's own statement: whoever queued meanwhile, then the group is closed. */
  const drain: Effect.Effect<void> = Effect.suspend(function next(): Effect.Effect<void> {
    const group = take()
    if (group.length === 0) {
      forming = false
      return Effect.void
    }
    return Effect.zipRight(Effect.ignore(runGroup(undefined, group)), Effect.suspend(next))
  })

  const writeOnce = (operation: string, sql: string, params: ReadonlyArray<unknown>) =>
    Effect.suspend((): Effect.Effect<ReadonlyArray<any>, StoreError> => {
      if (forming) {
        const queued: Queued = { operation, sql, params, done: Deferred.unsafeMake(FiberId.none), cancelled: false }
        queue.push(queued)
        return Effect.onInterrupt(Deferred.await(queued.done), () =>
          Effect.sync(() => {
            queued.cancelled = true
          }))
      }
      forming = true
      // lead the group: yield once so that fibers ready to run can queue their statements. The
      // leader cannot be interrupted until the group ran (others wait on its outcome), including
      // a wait for another process's write lock, up to `busyTimeoutMillis`
      return Effect.uninterruptible(
        Effect.zipRight(
          Effect.yieldNow(),
          Effect.suspend(() => Effect.ensuring(runGroup({ operation, sql, params }, take()), drain))
        )
      )
    })

  return {
    client,
    write,
    read: transaction("BEGIN"),
    once,
    writeOnce
  }
}
