/**
 * The SQLite schema, as versioned migrations run by the @effect/sql `Migrator`.
 *
 * Tables:
 * - `stategraph_threads`: one row per thread: head checkpoint, the head's status (denormalized for
 *   listings), the run that holds the thread and until when.
 * - `stategraph_checkpoints`: one row per checkpoint; `channels` maps each channel to the blob
 *   holding its value at that checkpoint (`[blobId, appendsSinceBase]`), not the value itself.
 * - `stategraph_blobs`: channel values, keyed by the checkpoint that wrote them. A blob is either a
 *   whole value (`prev` null) or items appended on top of `prev` (see `blobs.ts`).
 * - `stategraph_tasks`: the pending task records (writes, answers, journal) of a checkpoint.
 * - `stategraph_executions`: which threads an execution wrote to (for `delete(executionId)`) and
 *   its initial input, written once per execution rather than with every checkpoint.
 *
 * A commit dirties few pages (the thread row, the checkpoint row, one blob per changed channel):
 * no secondary index changes on the hot path. The common commit is one statement: an insert into
 * the `stategraph_commit` view, whose trigger checks the run and the head (compare-and-set), moves
 * the head, and writes the blobs and the checkpoint.
 */
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"

/** @internal */
export const MIGRATIONS_TABLE = "stategraph_migrations"

const m0001 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE IF NOT EXISTS stategraph_threads (
    thread_id TEXT PRIMARY KEY NOT NULL,
    workflow_id TEXT NOT NULL,
    head TEXT,
    status TEXT NOT NULL,
    wake_at REAL,
    updated_at REAL NOT NULL,
    run_id TEXT,
    lease_until REAL NOT NULL DEFAULT 0
  ) WITHOUT ROWID`
  yield* sql`CREATE INDEX IF NOT EXISTS stategraph_threads_workflow ON stategraph_threads (workflow_id)`
  yield* sql`CREATE INDEX IF NOT EXISTS stategraph_threads_sleepers ON stategraph_threads (wake_at)
    WHERE status = 'paused' AND wake_at IS NOT NULL`
  yield* sql`CREATE TABLE IF NOT EXISTS stategraph_checkpoints (
    thread_id TEXT NOT NULL,
    checkpoint_id TEXT NOT NULL,
    parent_id TEXT,
    execution_id TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    workflow_version TEXT NOT NULL,
    step INTEGER NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    wake_at REAL,
    pause_reason TEXT,
    error TEXT,
    interrupts TEXT NOT NULL,
    node_states TEXT NOT NULL,
    channels TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (thread_id, checkpoint_id)
  ) WITHOUT ROWID`
  // a commit in one statement: inserting into this view runs the trigger below, atomically
  yield* sql`CREATE VIEW IF NOT EXISTS stategraph_commit AS SELECT
    NULL AS thread_id, NULL AS run_id, NULL AS expected_head, NULL AS checkpoint_id, NULL AS parent_id,
    NULL AS execution_id, NULL AS workflow_id, NULL AS workflow_version, NULL AS step, NULL AS status,
    NULL AS created_at, NULL AS wake_at, NULL AS pause_reason, NULL AS error, NULL AS interrupts,
    NULL AS node_states, NULL AS channels, NULL AS body, NULL AS blobs, NULL AS release, NULL AS initial_input, NULL AS note_execution
    WHERE 0`
  yield* sql`CREATE TRIGGER IF NOT EXISTS stategraph_commit INSTEAD OF INSERT ON stategraph_commit
  BEGIN
    SELECT RAISE(ABORT, 'stategraph: thread busy') WHERE NOT EXISTS (
      SELECT 1 FROM stategraph_threads
      WHERE thread_id = NEW.thread_id AND run_id = NEW.run_id AND head IS NEW.expected_head
    );
    UPDATE stategraph_threads SET head = NEW.checkpoint_id, status = NEW.status, wake_at = NEW.wake_at,
      updated_at = NEW.created_at,
      run_id = CASE WHEN NEW.release THEN NULL ELSE run_id END,
      lease_until = CASE WHEN NEW.release THEN 0 ELSE lease_until END
    WHERE thread_id = NEW.thread_id;
    INSERT INTO stategraph_executions (execution_id, thread_id, initial_input)
      SELECT NEW.execution_id, NEW.thread_id, NEW.initial_input WHERE NEW.note_execution
      ON CONFLICT DO NOTHING;
    INSERT INTO stategraph_blobs (thread_id, channel, blob_id, prev, data)
      SELECT NEW.thread_id, value ->> 0, NEW.checkpoint_id, value ->> 1, value ->> 2 FROM json_each(NEW.blobs);
    INSERT INTO stategraph_checkpoints (thread_id, checkpoint_id, parent_id, execution_id, workflow_id,
      workflow_version, step, status, created_at, wake_at, pause_reason, error, interrupts, node_states, channels, body)
    VALUES (NEW.thread_id, NEW.checkpoint_id, NEW.parent_id, NEW.execution_id, NEW.workflow_id, NEW.workflow_version,
      NEW.step, NEW.status, NEW.created_at, NEW.wake_at, NEW.pause_reason, NEW.error, NEW.interrupts, NEW.node_states,
      NEW.channels, NEW.body);
  END`
  yield* sql`CREATE TABLE IF NOT EXISTS stategraph_executions (
    execution_id TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    initial_input TEXT,
    PRIMARY KEY (execution_id, thread_id)
  ) WITHOUT ROWID`
  yield* sql`CREATE TABLE IF NOT EXISTS stategraph_blobs (
    thread_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    blob_id TEXT NOT NULL,
    prev TEXT,
    data TEXT NOT NULL,
    PRIMARY KEY (thread_id, channel, blob_id)
  ) WITHOUT ROWID`
  yield* sql`CREATE TABLE IF NOT EXISTS stategraph_tasks (
    thread_id TEXT NOT NULL,
    checkpoint_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    record TEXT NOT NULL,
    UNIQUE (thread_id, checkpoint_id, task_id)
  )`
})

/**
 * The commit statement can also take the run's claim (its first write, after reading the head
 * without one): the thread row is created or claimed in the same statement, saving a transaction
 * per run.
 */
const m0002 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`DROP TRIGGER IF EXISTS stategraph_commit`
  yield* sql`DROP VIEW IF EXISTS stategraph_commit`
  yield* sql`CREATE VIEW stategraph_commit AS SELECT
    NULL AS thread_id, NULL AS run_id, NULL AS expected_head, NULL AS checkpoint_id, NULL AS parent_id,
    NULL AS execution_id, NULL AS workflow_id, NULL AS workflow_version, NULL AS step, NULL AS status,
    NULL AS created_at, NULL AS wake_at, NULL AS pause_reason, NULL AS error, NULL AS interrupts,
    NULL AS node_states, NULL AS channels, NULL AS body, NULL AS blobs, NULL AS release, NULL AS initial_input,
    NULL AS note_execution, NULL AS claim, NULL AS lease_until, NULL AS now
    WHERE 0`
  yield* sql`CREATE TRIGGER stategraph_commit INSTEAD OF INSERT ON stategraph_commit
  BEGIN
    INSERT INTO stategraph_threads (thread_id, workflow_id, head, status, wake_at, updated_at, run_id, lease_until)
      SELECT NEW.thread_id, NEW.workflow_id, NULL, 'pending', NULL, NEW.now, NEW.run_id, NEW.lease_until WHERE NEW.claim
      ON CONFLICT (thread_id) DO UPDATE SET run_id = excluded.run_id, lease_until = excluded.lease_until,
        workflow_id = excluded.workflow_id
      WHERE stategraph_threads.run_id IS NULL OR stategraph_threads.run_id = excluded.run_id
        OR stategraph_threads.lease_until <= NEW.now;
    SELECT RAISE(ABORT, 'stategraph: thread busy') WHERE NOT EXISTS (
      SELECT 1 FROM stategraph_threads
      WHERE thread_id = NEW.thread_id AND run_id = NEW.run_id AND head IS NEW.expected_head
    );
    UPDATE stategraph_threads SET head = NEW.checkpoint_id, status = NEW.status, wake_at = NEW.wake_at,
      updated_at = NEW.created_at,
      run_id = CASE WHEN NEW.release THEN NULL ELSE run_id END,
      lease_until = CASE WHEN NEW.release THEN 0 ELSE lease_until END
    WHERE thread_id = NEW.thread_id;
    INSERT INTO stategraph_executions (execution_id, thread_id, initial_input)
      SELECT NEW.execution_id, NEW.thread_id, NEW.initial_input WHERE NEW.note_execution
      ON CONFLICT DO NOTHING;
    INSERT INTO stategraph_blobs (thread_id, channel, blob_id, prev, data)
      SELECT NEW.thread_id, value ->> 0, NEW.checkpoint_id, value ->> 1, value ->> 2 FROM json_each(NEW.blobs);
    INSERT INTO stategraph_checkpoints (thread_id, checkpoint_id, parent_id, execution_id, workflow_id,
      workflow_version, step, status, created_at, wake_at, pause_reason, error, interrupts, node_states, channels, body)
    VALUES (NEW.thread_id, NEW.checkpoint_id, NEW.parent_id, NEW.execution_id, NEW.workflow_id, NEW.workflow_version,
      NEW.step, NEW.status, NEW.created_at, NEW.wake_at, NEW.pause_reason, NEW.error, NEW.interrupts, NEW.node_states,
      NEW.channels, NEW.body);
  END`
})

/**
 * A settle (task records, a status, the claim taken or given back) as one statement too: an
 * insert into the `stategraph_settle` view, whose trigger checks the run (and, when it claims,
 * the head), then writes the records, the checkpoint's status and the thread's.
 */
const m0003 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE VIEW IF NOT EXISTS stategraph_settle AS SELECT
    NULL AS thread_id, NULL AS run_id, NULL AS checkpoint_id, NULL AS records, NULL AS has_patch, NULL AS status,
    NULL AS interrupts, NULL AS node_states, NULL AS has_error, NULL AS error, NULL AS has_pause_reason,
    NULL AS pause_reason, NULL AS has_wake_at, NULL AS wake_at, NULL AS release, NULL AS claim, NULL AS workflow_id,
    NULL AS lease_until, NULL AS now
    WHERE 0`
  yield* sql`CREATE TRIGGER IF NOT EXISTS stategraph_settle INSTEAD OF INSERT ON stategraph_settle
  BEGIN
    INSERT INTO stategraph_threads (thread_id, workflow_id, head, status, wake_at, updated_at, run_id, lease_until)
      SELECT NEW.thread_id, NEW.workflow_id, NULL, 'pending', NULL, NEW.now, NEW.run_id, NEW.lease_until WHERE NEW.claim
      ON CONFLICT (thread_id) DO UPDATE SET run_id = excluded.run_id, lease_until = excluded.lease_until,
        workflow_id = excluded.workflow_id
      WHERE stategraph_threads.run_id IS NULL OR stategraph_threads.run_id = excluded.run_id
        OR stategraph_threads.lease_until <= NEW.now;
    SELECT RAISE(ABORT, 'stategraph: thread busy') WHERE NOT EXISTS (
      SELECT 1 FROM stategraph_threads
      WHERE thread_id = NEW.thread_id AND run_id = NEW.run_id AND (NOT NEW.claim OR head IS NEW.checkpoint_id)
    ) OR NOT EXISTS (
      SELECT 1 FROM stategraph_checkpoints WHERE thread_id = NEW.thread_id AND checkpoint_id = NEW.checkpoint_id
    );
    INSERT OR REPLACE INTO stategraph_tasks (thread_id, checkpoint_id, task_id, record)
      SELECT NEW.thread_id, NEW.checkpoint_id, value ->> 0, value ->> 1 FROM json_each(NEW.records);
    UPDATE stategraph_checkpoints SET status = NEW.status, interrupts = NEW.interrupts,
      node_states = coalesce(NEW.node_states, node_states),
      error = CASE WHEN NEW.has_error THEN NEW.error ELSE error END,
      pause_reason = CASE WHEN NEW.has_pause_reason THEN NEW.pause_reason ELSE pause_reason END,
      wake_at = CASE WHEN NEW.has_wake_at THEN NEW.wake_at ELSE wake_at END
    WHERE NEW.has_patch AND thread_id = NEW.thread_id AND checkpoint_id = NEW.checkpoint_id;
    UPDATE stategraph_threads SET updated_at = NEW.now,
      status = CASE WHEN head = NEW.checkpoint_id THEN NEW.status ELSE status END,
      wake_at = CASE WHEN head = NEW.checkpoint_id
        THEN (SELECT c.wake_at FROM stategraph_checkpoints c WHERE c.thread_id = NEW.thread_id AND c.checkpoint_id = NEW.checkpoint_id)
        ELSE wake_at END
    WHERE NEW.has_patch AND thread_id = NEW.thread_id;
    UPDATE stategraph_threads SET run_id = NULL, lease_until = 0
    WHERE NEW.release AND thread_id = NEW.thread_id AND run_id = NEW.run_id;
  END`
})

/**
 * A run whose lease an operator broke (`releaseLease`) may not claim the thread again: every
 * claim (the claim statement, and those inside the commit and settle triggers) sets `run_id`, and
 * this trigger leaves the row unchanged when the new holder is fenced, so the claim finds the
 * thread not its own and refuses.
 */
const m0004 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE IF NOT EXISTS stategraph_fenced (
    thread_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    PRIMARY KEY (thread_id, run_id)
  ) WITHOUT ROWID`
  yield* sql`CREATE TRIGGER IF NOT EXISTS stategraph_fenced_claim BEFORE UPDATE OF run_id ON stategraph_threads
  WHEN NEW.run_id IS NOT NULL AND NEW.run_id IS NOT OLD.run_id
    AND EXISTS (SELECT 1 FROM stategraph_fenced WHERE thread_id = NEW.thread_id AND run_id = NEW.run_id)
  BEGIN
    SELECT RAISE(IGNORE);
  END`
})

/**
 * A checkpoint whose parent is not stored (deleted by a cleanup, or a run with `exit` durability
 * linking to a step it never stored) starts its lineage: from now on a link to a missing
 * checkpoint is corruption, never a silently shorter history. And a thread row without a
 * checkpoint goes when its run lets it go.
 */
const m0005 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  // a thread row without a checkpoint exists only while a run holds it (a run that found nothing
  // to do, e.g. \`invoke(null)\` on an unknown thread, leaves nothing behind)
  yield* sql`CREATE TRIGGER IF NOT EXISTS stategraph_drop_empty_thread AFTER UPDATE OF run_id ON stategraph_threads
  WHEN NEW.run_id IS NULL AND NEW.head IS NULL
  BEGIN
    DELETE FROM stategraph_threads WHERE thread_id = NEW.thread_id;
  END`
  yield* sql`DELETE FROM stategraph_threads WHERE head IS NULL AND run_id IS NULL`
  yield* sql`UPDATE stategraph_checkpoints SET parent_id = NULL
  WHERE parent_id IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM stategraph_checkpoints p
    WHERE p.thread_id = stategraph_checkpoints.thread_id AND p.checkpoint_id = stategraph_checkpoints.parent_id
  )`
})

/**
 * A commit that takes the claim is a run's first write of new input, after reading the head
 * without a claim: it must not land on a head that paused meanwhile (another run's input asked a
 * question, kept its checkpoint id and let the claim go). The compare-and-set checks the head's
 * status too, not only the owner and the head id.
 */
const m0006 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`DROP TRIGGER IF EXISTS stategraph_commit`
  yield* sql`CREATE TRIGGER stategraph_commit INSTEAD OF INSERT ON stategraph_commit
  BEGIN
    INSERT INTO stategraph_threads (thread_id, workflow_id, head, status, wake_at, updated_at, run_id, lease_until)
      SELECT NEW.thread_id, NEW.workflow_id, NULL, 'pending', NULL, NEW.now, NEW.run_id, NEW.lease_until WHERE NEW.claim
      ON CONFLICT (thread_id) DO UPDATE SET run_id = excluded.run_id, lease_until = excluded.lease_until,
        workflow_id = excluded.workflow_id
      WHERE (stategraph_threads.run_id IS NULL OR stategraph_threads.run_id = excluded.run_id
        OR stategraph_threads.lease_until <= NEW.now)
        AND stategraph_threads.status <> 'paused';
    SELECT RAISE(ABORT, 'stategraph: thread busy') WHERE NOT EXISTS (
      SELECT 1 FROM stategraph_threads
      WHERE thread_id = NEW.thread_id AND run_id = NEW.run_id AND head IS NEW.expected_head
    );
    UPDATE stategraph_threads SET head = NEW.checkpoint_id, status = NEW.status, wake_at = NEW.wake_at,
      updated_at = NEW.created_at,
      run_id = CASE WHEN NEW.release THEN NULL ELSE run_id END,
      lease_until = CASE WHEN NEW.release THEN 0 ELSE lease_until END
    WHERE thread_id = NEW.thread_id;
    INSERT INTO stategraph_executions (execution_id, thread_id, initial_input)
      SELECT NEW.execution_id, NEW.thread_id, NEW.initial_input WHERE NEW.note_execution
      ON CONFLICT DO NOTHING;
    INSERT INTO stategraph_blobs (thread_id, channel, blob_id, prev, data)
      SELECT NEW.thread_id, value ->> 0, NEW.checkpoint_id, value ->> 1, value ->> 2 FROM json_each(NEW.blobs);
    INSERT INTO stategraph_checkpoints (thread_id, checkpoint_id, parent_id, execution_id, workflow_id,
      workflow_version, step, status, created_at, wake_at, pause_reason, error, interrupts, node_states, channels, body)
    VALUES (NEW.thread_id, NEW.checkpoint_id, NEW.parent_id, NEW.execution_id, NEW.workflow_id, NEW.workflow_version,
      NEW.step, NEW.status, NEW.created_at, NEW.wake_at, NEW.pause_reason, NEW.error, NEW.interrupts, NEW.node_states,
      NEW.channels, NEW.body);
  END`
})

/**
 * A resume's first write (a settle that claims) must not land on a checkpoint another resume has
 * answered, run and paused again since the head was read: the head id and status are the same
 * then, so the settle also names the interrupts it answers (`pending`, a JSON array of ids or
 * NULL) and is refused unless each is still pending on the checkpoint.
 */
const m0007 = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`DROP TRIGGER IF EXISTS stategraph_settle`
  yield* sql`DROP VIEW IF EXISTS stategraph_settle`
  yield* sql`CREATE VIEW stategraph_settle AS SELECT
    NULL AS thread_id, NULL AS run_id, NULL AS checkpoint_id, NULL AS records, NULL AS has_patch, NULL AS status,
    NULL AS interrupts, NULL AS node_states, NULL AS has_error, NULL AS error, NULL AS has_pause_reason,
    NULL AS pause_reason, NULL AS has_wake_at, NULL AS wake_at, NULL AS release, NULL AS claim, NULL AS workflow_id,
    NULL AS lease_until, NULL AS now, NULL AS pending
    WHERE 0`
  yield* sql`CREATE TRIGGER stategraph_settle INSTEAD OF INSERT ON stategraph_settle
  BEGIN
    SELECT RAISE(ABORT, 'stategraph: thread busy') WHERE NEW.pending IS NOT NULL AND EXISTS (
      SELECT 1 FROM json_each(NEW.pending) p WHERE NOT EXISTS (
        SELECT 1 FROM stategraph_checkpoints c, json_each(c.interrupts) i
        WHERE c.thread_id = NEW.thread_id AND c.checkpoint_id = NEW.checkpoint_id
          AND i.value ->> 'id' = p.value AND i.value ->> 'status' = 'pending'
      )
    );
    INSERT INTO stategraph_threads (thread_id, workflow_id, head, status, wake_at, updated_at, run_id, lease_until)
      SELECT NEW.thread_id, NEW.workflow_id, NULL, 'pending', NULL, NEW.now, NEW.run_id, NEW.lease_until WHERE NEW.claim
      ON CONFLICT (thread_id) DO UPDATE SET run_id = excluded.run_id, lease_until = excluded.lease_until,
        workflow_id = excluded.workflow_id
      WHERE stategraph_threads.run_id IS NULL OR stategraph_threads.run_id = excluded.run_id
        OR stategraph_threads.lease_until <= NEW.now;
    SELECT RAISE(ABORT, 'stategraph: thread busy') WHERE NOT EXISTS (
      SELECT 1 FROM stategraph_threads
      WHERE thread_id = NEW.thread_id AND run_id = NEW.run_id AND (NOT NEW.claim OR head IS NEW.checkpoint_id)
    ) OR NOT EXISTS (
      SELECT 1 FROM stategraph_checkpoints WHERE thread_id = NEW.thread_id AND checkpoint_id = NEW.checkpoint_id
    );
    INSERT OR REPLACE INTO stategraph_tasks (thread_id, checkpoint_id, task_id, record)
      SELECT NEW.thread_id, NEW.checkpoint_id, value ->> 0, value ->> 1 FROM json_each(NEW.records);
    UPDATE stategraph_checkpoints SET status = NEW.status, interrupts = NEW.interrupts,
      node_states = coalesce(NEW.node_states, node_states),
      error = CASE WHEN NEW.has_error THEN NEW.error ELSE error END,
      pause_reason = CASE WHEN NEW.has_pause_reason THEN NEW.pause_reason ELSE pause_reason END,
      wake_at = CASE WHEN NEW.has_wake_at THEN NEW.wake_at ELSE wake_at END
    WHERE NEW.has_patch AND thread_id = NEW.thread_id AND checkpoint_id = NEW.checkpoint_id;
    UPDATE stategraph_threads SET updated_at = NEW.now,
      status = CASE WHEN head = NEW.checkpoint_id THEN NEW.status ELSE status END,
      wake_at = CASE WHEN head = NEW.checkpoint_id
        THEN (SELECT c.wake_at FROM stategraph_checkpoints c WHERE c.thread_id = NEW.thread_id AND c.checkpoint_id = NEW.checkpoint_id)
        ELSE wake_at END
    WHERE NEW.has_patch AND thread_id = NEW.thread_id;
    UPDATE stategraph_threads SET run_id = NULL, lease_until = 0
    WHERE NEW.release AND thread_id = NEW.thread_id AND run_id = NEW.run_id;
  END`
})

/** @internal */
export const migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  "1_create_tables": m0001,
  "2_commit_claims": m0002,
  "3_settle_statement": m0003,
  "4_fenced_runs": m0004,
  "5_cut_lineages": m0005,
  "6_no_input_on_paused": m0006,
  "7_resume_answers_pending": m0007
}

/**
 * Runs versioned migrations into `table`. Several processes may start at once on one file: the
 * Migrator lets one of them run a migration and the others skip it ("locked"), possibly before
 * the winner committed; so each process then waits until the table shows the latest migration.
 * Shared by the snapshot store and the orchestrators' queue (each with its own table).
 *
 * @internal
 */
export const migrateOnce = (
  migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>>,
  table: string
): Effect.Effect<void, Migrator.MigrationError | SqlError, SqlClient.SqlClient> => {
  const latest = Math.max(...Object.keys(migrations).map((k) => Number(k.split("_")[0])))
  const run = Migrator.make({})({ loader: Migrator.fromRecord(migrations), table })
  return Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const check = Effect.gen(function*() {
      yield* run
      const rows = yield* sql<{ readonly id: number | null }>`SELECT max(migration_id) AS id FROM ${sql(table)}`
        .withoutTransform
      if ((rows[0]?.id ?? 0) < latest) {
        return yield* new Migrator.MigrationError({ reason: "locked", message: "migrations are running elsewhere" })
      }
    })
    yield* check.pipe(
      Effect.retry({
        schedule: Schedule.spaced("50 millis"),
        times: 200,
        while: (e) => e._tag === "MigrationError" && e.reason === "locked"
      }),
      // a wall-clock wait, even under a TestClock: the other process is real
      Effect.withClock(Clock.make())
    )
  })
}

/** Runs the snapshot store's migrations. @internal */
export const migrate: Effect.Effect<void, Migrator.MigrationError | SqlError, SqlClient.SqlClient> = migrateOnce(
  migrations,
  MIGRATIONS_TABLE
)
