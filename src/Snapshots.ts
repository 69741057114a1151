/**
 * `Snapshots` is the one store of checkpoints, shared by every orchestrator. Backends implement
 * this encoded interface (JSON values); the graph encodes and decodes with its channel schemas.
 *
 * Writes are guarded by a run claim: a run claims a thread (compare-and-set on the thread's
 * owner and head), and each commit is a compare-and-set on the head it expects. A second run gets
 * `ThreadBusy`, never a silent fork.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { CorruptSnapshot, LeaseHeld, StoreError } from "./GraphError.js"
import { ThreadBusy } from "./GraphError.js"
import * as memory from "./internal/memoryStore.js"
import type { InterruptRecord, NodeSnapshot, SnapshotStatus, TaskRecord, WorkflowSnapshotEncoded } from "./Snapshot.js"

/**
 * A channel written by a step: `set` carries the whole encoded value, `append` only the encoded
 * items added by the step.
 *
 * @since 0.1.0
 * @category models
 */
export interface ChannelWrite {
  readonly channel: string
  readonly mode: "set" | "append"
  readonly value: unknown
}

/**
 * @since 0.1.0
 * @category models
 */
export interface CommitRequest {
  readonly threadId: string
  readonly runId: string
  /** the head the run expects; the commit fails with `ThreadBusy` when it moved */
  readonly expectedHead: string | null
  /** the checkpoint, its `channels` field empty: the values travel in `writes` */
  readonly snapshot: WorkflowSnapshotEncoded
  readonly writes: ReadonlyArray<ChannelWrite>
  /** give the claim back in the same transaction (the run's last write) */
  readonly release?: boolean
  /**
   * take the claim in the same transaction (the run's first write, after reading the head without
   * a claim): `ThreadBusy` when another live run holds the thread or its head is not
   * `expectedHead`; a new thread is created
   */
  readonly claim?: ClaimOptions | undefined
}

/**
 * How a run claims a thread.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClaimOptions {
  readonly workflowId: string
  readonly leaseMillis: number
  /**
   * the interrupts a resume's first write answers (a settle that claims): `ThreadBusy` unless each
   * is still pending on the checkpoint — another resume may have answered them, run, and paused
   * again on the same checkpoint since the head was read
   */
  readonly pending?: ReadonlyArray<string> | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface StatusPatch {
  readonly status: SnapshotStatus
  readonly interrupts: ReadonlyArray<InterruptRecord>
  readonly nodeStates?: { readonly [node: string]: typeof NodeSnapshot.Encoded }
  readonly error?: string | undefined
  readonly pauseReason?: "interrupt" | "breakpoint" | "sleeping" | undefined
  readonly wakeAt?: number | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ListOptions {
  readonly status?: SnapshotStatus | ReadonlyArray<SnapshotStatus>
  readonly limit?: number
  /** only checkpoints created strictly before this one (by id) */
  readonly before?: string
  /**
   * only checkpoints whose metadata has each of these keys with this value (compared as JSON);
   * the `metadata` given to `invoke` stays on a thread's later checkpoints
   */
  readonly metadata?: Readonly<Record<string, unknown>>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ThreadSummary {
  readonly threadId: string
  readonly workflowId: string
  readonly head: string | null
  readonly status: SnapshotStatus
  readonly updatedAt: number
  readonly wakeAt: number | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface CleanupOptions {
  /** remove checkpoints created before this time (ms since epoch) */
  readonly olderThan: number
  /** only threads whose head has one of these statuses (default: completed, failed) */
  readonly statuses?: ReadonlyArray<SnapshotStatus>
  readonly batchSize?: number
  /** count what would be removed, removing nothing */
  readonly dryRun?: boolean
  /** told the running count after each batch is removed (progress of a long cleanup) */
  readonly onBatch?: (removedSoFar: number) => Effect.Effect<void>
}

/**
 * A run's hold on a thread: taken when the run starts writing, renewed by its heartbeat, given
 * back when it ends. A lease that is no longer `alive` (its holder crashed or froze) lets the next
 * run take the thread over.
 *
 * @since 0.1.0
 * @category models
 */
export interface Lease {
  readonly threadId: string
  readonly workflowId: string
  /** the run holding the thread */
  readonly holder: string
  /** when the lease runs out unless renewed (ms since epoch) */
  readonly until: number
  /** whether `until` is still ahead (by the store's clock) */
  readonly alive: boolean
}

/**
 * @since 0.1.0
 * @category models
 */
export interface LeaseOptions {
  readonly threadId?: string
  readonly workflowId?: string
}

/**
 * The store's interface (encoded).
 *
 * @since 0.1.0
 * @category models
 */
export interface Backend {
  /** Claims the thread for a run; returns the thread's head checkpoint id (null when new). */
  readonly claim: (
    threadId: string,
    runId: string,
    options: ClaimOptions
  ) => Effect.Effect<string | null, ThreadBusy | StoreError>
  /** Gives the claim back (no-op when the run no longer holds it). */
  readonly release: (threadId: string, runId: string) => Effect.Effect<void, StoreError>
  /** Appends a checkpoint and moves the head to it (compare-and-set). */
  readonly commit: (request: CommitRequest) => Effect.Effect<void, ThreadBusy | StoreError>
  /**
   * Several commits of one run, in order, all or none (one transaction): a run with `async`
   * durability writes the checkpoints of the steps it ran meanwhile together.
   */
  readonly commitAll: (requests: ReadonlyArray<CommitRequest>) => Effect.Effect<void, ThreadBusy | StoreError>
  /** Records one task's pending writes / answers / journal on a checkpoint of the thread. */
  readonly putTask: (
    threadId: string,
    runId: string,
    checkpointId: string,
    record: TaskRecord
  ) => Effect.Effect<void, ThreadBusy | StoreError>
  /**
   * Records several tasks, then optionally updates the checkpoint's status and gives the claim
   * back, in one transaction (a pause, a failure, the answers of a resume).
   */
  readonly settle: (
    threadId: string,
    runId: string,
    checkpointId: string,
    options: {
      readonly records: ReadonlyArray<TaskRecord>
      readonly patch?: StatusPatch | undefined
      readonly release?: boolean | undefined
      /**
       * take the claim first, in the same transaction: `ThreadBusy` when another live run holds
       * the thread or `checkpointId` is not its head
       */
      readonly claim?: ClaimOptions | undefined
    }
  ) => Effect.Effect<void, ThreadBusy | StoreError>
  /** Updates the status of the head checkpoint (paused, failed, completed). */
  readonly setStatus: (
    threadId: string,
    runId: string,
    checkpointId: string,
    patch: StatusPatch
  ) => Effect.Effect<void, ThreadBusy | StoreError>
  /** A checkpoint (default: the head) with its channels and pending writes. */
  readonly load: (
    threadId: string,
    checkpointId?: string
  ) => Effect.Effect<Option.Option<WorkflowSnapshotEncoded>, StoreError | CorruptSnapshot>
  /** The lineage from a checkpoint (default: the head) back to the first, newest first. */
  readonly history: (
    threadId: string,
    options?: ListOptions & { readonly checkpointId?: string }
  ) => Effect.Effect<ReadonlyArray<WorkflowSnapshotEncoded>, StoreError | CorruptSnapshot>
  /** Every checkpoint of a thread, all branches, newest first. */
  readonly listByThread: (
    threadId: string,
    options?: ListOptions
  ) => Effect.Effect<ReadonlyArray<WorkflowSnapshotEncoded>, StoreError | CorruptSnapshot>
  /** The head checkpoints of the threads of a workflow, newest first. */
  readonly listByWorkflow: (
    workflowId: string,
    options?: ListOptions
  ) => Effect.Effect<ReadonlyArray<WorkflowSnapshotEncoded>, StoreError | CorruptSnapshot>
  /** Threads, optionally only those with this head status. */
  readonly listThreads: (options?: {
    readonly status?: SnapshotStatus | ReadonlyArray<SnapshotStatus>
    readonly workflowId?: string
    readonly limit?: number
  }) => Effect.Effect<ReadonlyArray<ThreadSummary>, StoreError>
  /** Paused sleeping threads whose wake-up time has come. */
  readonly dueSleepers: (now: number, limit?: number) => Effect.Effect<ReadonlyArray<ThreadSummary>, StoreError>
  /** Deletes the checkpoints of one execution (and what depends on them). */
  readonly delete: (executionId: string) => Effect.Effect<number, StoreError>
  readonly deleteThread: (threadId: string) => Effect.Effect<number, StoreError>
  /**
   * Removes old checkpoints without breaking the lineage of any kept one; returns the count (with
   * `dryRun`, the count it would remove).
   */
  readonly cleanup: (options: CleanupOptions) => Effect.Effect<number, StoreError>
  /** The threads some run holds (alive or run out), with the holder and until when. */
  readonly leases: (options?: LeaseOptions) => Effect.Effect<ReadonlyArray<Lease>, StoreError>
  /**
   * Breaks a thread's lease: refused with `LeaseHeld` while it is alive, unless `force`. The
   * holder is fenced: it cannot claim the thread again, so its later writes are refused
   * (`ThreadBusy`) and its next activity is not started (`LeaseLost`). Returns the lease broken
   * (none when nobody held the thread).
   */
  readonly releaseLease: (
    threadId: string,
    options?: { readonly force?: boolean }
  ) => Effect.Effect<Option.Option<Lease>, LeaseHeld | StoreError>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class Snapshots extends Context.Tag("effect-stategraph/Snapshots")<Snapshots, Backend>() {}

/**
 * An in-memory store: the same contract as the durable ones, gone with the process.
 *
 * @since 0.1.0
 * @category layers
 */
export const makeMemory: Effect.Effect<Backend> = Effect.sync(() => memory.make())

/**
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<Snapshots> = Layer.effect(Snapshots, makeMemory)

/** @internal */
export const busy = (threadId: string) => new ThreadBusy({ threadId })

/**
 * The head checkpoint of a thread (encoded), if it has one: `load(threadId)` of the store in
 * context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const head = (
  threadId: string
): Effect.Effect<Option.Option<WorkflowSnapshotEncoded>, StoreError | CorruptSnapshot, Snapshots> =>
  Effect.flatMap(Snapshots, (store) => store.load(threadId))

/**
 * Threads that are paused (waiting for an answer, at a breakpoint, or sleeping), newest first.
 *
 * @since 0.1.0
 * @category accessors
 */
export const pausedThreads = (
  options?: { readonly workflowId?: string; readonly limit?: number }
): Effect.Effect<ReadonlyArray<ThreadSummary>, StoreError, Snapshots> =>
  Effect.flatMap(Snapshots, (store) => store.listThreads({ ...options, status: "paused" }))

/**
 * Who holds which thread until when: the leases of the store in context (alive or run out), for
 * an operator looking at a thread that answers `ThreadBusy`.
 *
 * @since 0.1.0
 * @category leases
 */
export const leases = (options?: LeaseOptions): Effect.Effect<ReadonlyArray<Lease>, StoreError, Snapshots> =>
  Effect.flatMap(Snapshots, (store) => store.leases(options))

/**
 * Breaks a thread's lease (see `Backend.releaseLease`): refused with `LeaseHeld` while the
 * holder's lease runs, unless `force`; the old holder is fenced, so the next run can continue the
 * thread from its last commit.
 *
 * @since 0.1.0
 * @category leases
 */
export const releaseLease = (
  threadId: string,
  options?: { readonly force?: boolean }
): Effect.Effect<Option.Option<Lease>, LeaseHeld | StoreError, Snapshots> =>
  Effect.flatMap(Snapshots, (store) => store.releaseLease(threadId, options))
