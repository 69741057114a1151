/**
 * The Postgres schema of the snapshot store, as versioned migrations run by the @effect/sql
 * `Migrator`, every table in one schema (`stategraph` by default). The tables are SQLite's (see
 * `sqlite/migrations.ts`): threads, checkpoints, blobs, tasks, executions, fenced runs; JSON is
 * stored as text, exactly as written; times are milliseconds since the epoch (double precision).
 *
 * Many processes may start at once: each runs the migrations in one transaction that first takes
 * a transaction-level advisory lock of the schema, so one migrates while the others wait, then
 * find nothing left to do.
 */
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"

type Migrations = Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>>

const ddl = (statements: ReadonlyArray<string>): Effect.Effect<void, SqlError, SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => Effect.forEach(statements, (s) => sql.unsafe(s), { discard: true }))

/** The snapshot store's migrations in `schema`. @internal */
export const snapshotMigrations = (schema: string): Migrations => {
  const t = (name: string) => `"${schema}".stategraph_${name}`
  return {
    "1_create_tables": ddl([
      `CREATE TABLE ${t("threads")} (
        thread_id text PRIMARY KEY,
        workflow_id text NOT NULL,
        head text,
        status text NOT NULL,
        wake_at double precision,
        updated_at double precision NOT NULL,
        run_id text,
        lease_until double precision NOT NULL DEFAULT 0
      )`,
      `CREATE INDEX stategraph_threads_workflow ON ${t("threads")} (workflow_id)`,
      `CREATE INDEX stategraph_threads_sleepers ON ${t("threads")} (wake_at) WHERE status = 'paused' AND wake_at IS NOT NULL`,
      `CREATE TABLE ${t("checkpoints")} (
        thread_id text NOT NULL,
        checkpoint_id text NOT NULL,
        parent_id text,
        execution_id text NOT NULL,
        workflow_id text NOT NULL,
        workflow_version text NOT NULL,
        step integer NOT NULL,
        status text NOT NULL,
        created_at double precision NOT NULL,
        wake_at double precision,
        pause_reason text,
        error text,
        interrupts text NOT NULL,
        node_states text NOT NULL,
        channels text NOT NULL,
        body text NOT NULL,
        PRIMARY KEY (thread_id, checkpoint_id)
      )`,
      `CREATE TABLE ${t("executions")} (
        execution_id text NOT NULL,
        thread_id text NOT NULL,
        initial_input text,
        PRIMARY KEY (execution_id, thread_id)
      )`,
      `CREATE INDEX stategraph_executions_thread ON ${t("executions")} (thread_id)`,
      `CREATE TABLE ${t("blobs")} (
        thread_id text NOT NULL,
        channel text NOT NULL,
        blob_id text NOT NULL,
        prev text,
        data text NOT NULL,
        PRIMARY KEY (thread_id, channel, blob_id)
      )`,
      `CREATE SEQUENCE ${t("task_seq")}`,
      `CREATE TABLE ${t("tasks")} (
        thread_id text NOT NULL,
        checkpoint_id text NOT NULL,
        task_id text NOT NULL,
        record text NOT NULL,
        seq bigint NOT NULL DEFAULT nextval('${t("task_seq")}'),
        UNIQUE (thread_id, checkpoint_id, task_id)
      )`,
      `CREATE TABLE ${t("fenced")} (
        thread_id text NOT NULL,
        run_id text NOT NULL,
        PRIMARY KEY (thread_id, run_id)
      )`,
      // a fenced run (its lease broken by releaseLease) cannot claim the thread again: its claim
      // leaves the row unchanged, so the claim finds the thread not its own and refuses
      `CREATE FUNCTION ${t("fenced_claim")}() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.run_id IS NOT NULL AND NEW.run_id IS DISTINCT FROM OLD.run_id AND EXISTS (
          SELECT 1 FROM ${t("fenced")} f WHERE f.thread_id = NEW.thread_id AND f.run_id = NEW.run_id
        ) THEN
          RETURN NULL;
        END IF;
        RETURN NEW;
      END $$`,
      `CREATE TRIGGER stategraph_fenced_claim BEFORE UPDATE OF run_id ON ${t("threads")}
        FOR EACH ROW EXECUTE FUNCTION ${t("fenced_claim")}()`,
      // a thread row without a checkpoint exists only while a run holds it
      `CREATE FUNCTION ${t("drop_empty_thread")}() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        DELETE FROM ${t("threads")} WHERE thread_id = NEW.thread_id AND head IS NULL AND run_id IS NULL;
        RETURN NULL;
      END $$`,
      `CREATE TRIGGER stategraph_drop_empty_thread AFTER UPDATE OF run_id ON ${t("threads")}
        FOR EACH ROW WHEN (NEW.run_id IS NULL AND NEW.head IS NULL) EXECUTE FUNCTION ${t("drop_empty_thread")}()`
    ])
  }
}

/**
 * Runs `migrations` into `schema`.`table`, creating the schema when missing, under the schema's
 * advisory lock (one transaction): safe when many processes start at once.
 *
 * @internal
 */
export const migrate = (
  schema: string,
  table: string,
  migrations: Migrations
): Effect.Effect<void, Migrator.MigrationError | SqlError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const qualified = `${schema}.${table}`
    yield* sql.withTransaction(Effect.gen(function*() {
      yield* sql`SELECT pg_advisory_xact_lock(hashtext(${"effect-stategraph:" + schema}))`
      yield* sql.unsafe(`CREATE SCHEMA IF NOT EXISTS "${schema}"`)
      // the Migrator's own check for its table would abort this transaction when it is missing
      yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS "${schema}"."${table}" (
        migration_id integer PRIMARY KEY,
        created_at timestamp with time zone NOT NULL DEFAULT now(),
        name text NOT NULL
      )`)
      yield* Migrator.make({})({ loader: Migrator.fromRecord(migrations), table: qualified })
    }))
  })
