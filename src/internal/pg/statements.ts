/**
 * The store's SQL for Postgres: the same statements as `sqlite/statements.ts`, with the same
 * parameters in the same order (`$n`, a repeated parameter keeps its own number), on the tables
 * of one schema. Lists travel as one JSON parameter; `-1` as a limit means none. Ids are ordered
 * byte-wise (`COLLATE "C"`), as on SQLite, whatever the database's collation.
 */
import type { Statements } from "../sql/store.js"

/** The schema of the tables when none is given. @internal */
export const DEFAULT_SCHEMA = "stategraph"

/** A schema name we accept: a plain lowercase identifier (no quoting surprises). @internal */
export const validSchema = (schema: string): boolean => /^[a-z_][a-z0-9_]{0,62}$/.test(schema)

/** The table names and the fragments the statements share. */
const parts = (schema: string) => {
  const t = (name: string) => `"${schema}".stategraph_${name}`
  const threads = t("threads")
  const checkpoints = t("checkpoints")
  const blobs = t("blobs")
  const tasks = t("tasks")
  const executions = t("executions")
  const fenced = t("fenced")
  const C = `COLLATE "C"`

  const CP = `c.thread_id, c.checkpoint_id, c.parent_id, c.execution_id, c.workflow_id, c.workflow_version, c.step,
  c.status, c.created_at, c.wake_at, c.pause_reason, c.error, c.interrupts, c.node_states, c.channels, c.body,
  (SELECT e.initial_input FROM ${executions} e WHERE e.execution_id = c.execution_id AND e.thread_id = c.thread_id)
    AS execution_input`

  // before, before, statuses, statuses at $a..$a+3
  const filters = (a: number) =>
    `($${a}::text IS NULL OR c.checkpoint_id ${C} < $${a + 1}::text) AND ($${a + 2}::text IS NULL OR c.status IN (SELECT jsonb_array_elements_text($${a + 3}::jsonb)))`
  const limit = (n: number) => `LIMIT NULLIF($${n}::bigint, -1)`

  const upsertThread = `INSERT INTO ${threads} AS t (thread_id, workflow_id, head, status, wake_at, updated_at, run_id, lease_until)
VALUES ($1, $2, NULL, 'pending', NULL, $3, $4, $5)
ON CONFLICT (thread_id) DO UPDATE SET run_id = excluded.run_id, lease_until = excluded.lease_until,
  workflow_id = excluded.workflow_id`

  const THREAD = `thread_id, workflow_id, head, status, updated_at, wake_at`

  return { t, threads, checkpoints, blobs, tasks, executions, fenced, C, CP, filters, limit, upsertThread, THREAD }
}

type Parts = ReturnType<typeof parts>

/** The statements that write (and the checks they run), in `make`'s order. */
const writes = (p: Parts) => {
  const { t, threads, checkpoints, blobs, tasks, executions, fenced, C, upsertThread } = p
  return {
    claim: `${upsertThread}
WHERE t.run_id IS NULL OR t.run_id = excluded.run_id OR t.lease_until <= $6::double precision
RETURNING head`,

    claimAt: `${upsertThread}
WHERE (t.run_id IS NULL OR t.run_id = excluded.run_id OR t.lease_until <= $6::double precision)
  AND t.head IS NOT DISTINCT FROM $7::text AND t.status <> 'paused'
RETURNING head`,

    settleCheck: `SELECT 1 FROM ${threads}
WHERE thread_id = $1 AND run_id = $2 AND ($3::int = 0 OR head IS NOT DISTINCT FROM $4::text)
  AND EXISTS (SELECT 1 FROM ${checkpoints} WHERE thread_id = $5 AND checkpoint_id = $6)
FOR UPDATE`,

    checkpointInterrupts: `SELECT interrupts FROM ${checkpoints} WHERE thread_id = $1 AND checkpoint_id = $2`,

    leases: `SELECT thread_id, workflow_id, run_id, lease_until FROM ${threads}
WHERE run_id IS NOT NULL AND ($1::text IS NULL OR thread_id = $2::text) AND ($3::text IS NULL OR workflow_id = $4::text)
ORDER BY thread_id ${C}`,

    fence: `INSERT INTO ${fenced} (thread_id, run_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`,

    breakLease: `UPDATE ${threads} SET run_id = NULL, lease_until = 0 WHERE thread_id = $1 AND run_id = $2`,

    deleteThreadFences: `DELETE FROM ${fenced} WHERE thread_id = $1`,

    release: `UPDATE ${threads} SET run_id = NULL, lease_until = 0 WHERE thread_id = $1 AND run_id = $2`,

    moveHead: `UPDATE ${threads} SET head = $1, status = $2, wake_at = $3, updated_at = $4
WHERE thread_id = $5 AND run_id = $6 AND head IS NOT DISTINCT FROM $7::text
RETURNING 1 AS moved`,

    channelsOf: `SELECT channels FROM ${checkpoints} WHERE thread_id = $1 AND checkpoint_id = $2`,

    chain: `WITH RECURSIVE chain (blob_id, prev, data, depth) AS (
  SELECT blob_id, prev, data, 1 FROM ${blobs} WHERE thread_id = $1 AND channel = $2 AND blob_id = $3
  UNION ALL
  SELECT b.blob_id, b.prev, b.data, c.depth + 1 FROM chain c
    JOIN ${blobs} b ON b.thread_id = $4 AND b.channel = $5 AND b.blob_id = c.prev
  WHERE c.depth < $6::int
)
SELECT blob_id, prev, data FROM chain ORDER BY depth`,

    noteExecution: `INSERT INTO ${executions} (execution_id, thread_id, initial_input) VALUES ($1, $2, $3)
ON CONFLICT DO NOTHING RETURNING initial_input`,

    executionInput: `SELECT initial_input FROM ${executions} WHERE execution_id = $1 AND thread_id = $2`,

    insertBlob: `INSERT INTO ${blobs} (thread_id, channel, blob_id, prev, data) VALUES ($1, $2, $3, $4, $5)`,

    insertCheckpoint: `INSERT INTO ${checkpoints} (thread_id, checkpoint_id, parent_id, execution_id,
  workflow_id, workflow_version, step, status, created_at, wake_at, pause_reason, error, interrupts, node_states,
  channels, body)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,

    // a replaced record moves to the end of the write order, as SQLite's INSERT OR REPLACE does
    upsertTask: `INSERT INTO ${tasks} (thread_id, checkpoint_id, task_id, record) VALUES ($1, $2, $3, $4)
ON CONFLICT (thread_id, checkpoint_id, task_id) DO UPDATE SET record = excluded.record,
  seq = nextval('${t("task_seq")}')`,

    putTask: `INSERT INTO ${tasks} (thread_id, checkpoint_id, task_id, record)
SELECT $1::text, $2::text, $3::text, $4::text
WHERE EXISTS (SELECT 1 FROM ${threads} WHERE thread_id = $5 AND run_id = $6)
  AND EXISTS (SELECT 1 FROM ${checkpoints} WHERE thread_id = $7 AND checkpoint_id = $8)
ON CONFLICT (thread_id, checkpoint_id, task_id) DO UPDATE SET record = excluded.record,
  seq = nextval('${t("task_seq")}')
RETURNING 1 AS put`,

    setStatus: `UPDATE ${checkpoints} SET status = $1, interrupts = $2, node_states = coalesce($3::text, node_states),
  error = CASE WHEN $4::int = 1 THEN $5::text ELSE error END,
  pause_reason = CASE WHEN $6::int = 1 THEN $7::text ELSE pause_reason END,
  wake_at = CASE WHEN $8::int = 1 THEN $9::double precision ELSE wake_at END
WHERE thread_id = $10 AND checkpoint_id = $11
  AND EXISTS (SELECT 1 FROM ${threads} WHERE thread_id = $12 AND run_id = $13)
RETURNING status, wake_at`,

    touchThread: `UPDATE ${threads} SET updated_at = $1,
  status = CASE WHEN head = $2::text THEN $3::text ELSE status END,
  wake_at = CASE WHEN head = $4::text THEN $5::double precision ELSE wake_at END
WHERE thread_id = $6`
  }
}

/** The statements that read and clean up. */
const reads = (p: Parts) => {
  const { threads, checkpoints, blobs, tasks, executions, C, CP, filters, limit, THREAD } = p
  return {
    loadOne: `SELECT ${CP} FROM ${checkpoints} c
WHERE c.thread_id = $1 AND c.checkpoint_id = coalesce($2::text, (SELECT head FROM ${threads} WHERE thread_id = $3))`,

    loadWithTasks: `SELECT ${CP},
  (SELECT coalesce(json_agg(t.record ORDER BY t.seq), '[]'::json)::text FROM ${tasks} t
    WHERE t.thread_id = c.thread_id AND t.checkpoint_id = c.checkpoint_id) AS task_records
FROM ${checkpoints} c
WHERE c.thread_id = $1 AND c.checkpoint_id = coalesce($2::text, (SELECT head FROM ${threads} WHERE thread_id = $3))`,

    blobs: `WITH RECURSIVE need (channel, id) AS (
  SELECT value->>0, value->>1 FROM jsonb_array_elements($1::jsonb)
  UNION
  SELECT b.channel, b.prev FROM need n
    JOIN ${blobs} b ON b.thread_id = $2 AND b.channel = n.channel AND b.blob_id = n.id
  WHERE b.prev IS NOT NULL
)
SELECT b.channel, b.blob_id, b.prev, b.data FROM need n
  JOIN ${blobs} b ON b.thread_id = $3 AND b.channel = n.channel AND b.blob_id = n.id`,

    tasksOf: `SELECT checkpoint_id, record FROM ${tasks}
WHERE thread_id = $1 AND checkpoint_id IN (SELECT jsonb_array_elements_text($2::jsonb)) ORDER BY seq`,

    // the lineage newest first by depth; CYCLE ends the walk on a cycle of tampered parent links
    history: `WITH RECURSIVE lineage (id, depth) AS (
  SELECT coalesce($1::text, (SELECT head FROM ${threads} WHERE thread_id = $2)), 0
  UNION ALL
  SELECT c.parent_id, l.depth + 1 FROM lineage l
    JOIN ${checkpoints} c ON c.thread_id = $3 AND c.checkpoint_id = l.id
  WHERE c.parent_id IS NOT NULL
) CYCLE id SET is_cycle USING path
SELECT ${CP}, l.id AS lineage_id FROM lineage l LEFT JOIN ${checkpoints} c ON c.thread_id = $4 AND c.checkpoint_id = l.id
WHERE NOT l.is_cycle AND l.id IS NOT NULL AND (c.checkpoint_id IS NULL OR (${filters(5)}))
ORDER BY l.depth
${limit(9)}`,

    listByThread: `SELECT ${CP} FROM ${checkpoints} c WHERE c.thread_id = $1 AND ${filters(2)}
ORDER BY c.checkpoint_id ${C} DESC ${limit(6)}`,

    listByWorkflow: `SELECT ${CP} FROM ${threads} t
  JOIN ${checkpoints} c ON c.thread_id = t.thread_id AND c.checkpoint_id = t.head
WHERE t.workflow_id = $1 AND ${filters(2)}
ORDER BY c.checkpoint_id ${C} DESC ${limit(6)}`,

    listThreads: `SELECT ${THREAD} FROM ${threads}
WHERE head IS NOT NULL AND ($1::text IS NULL OR status IN (SELECT jsonb_array_elements_text($2::jsonb)))
  AND ($3::text IS NULL OR workflow_id = $4::text)
ORDER BY updated_at DESC, thread_id ${C} ${limit(5)}`,

    dueSleepers: `SELECT ${THREAD} FROM ${threads}
WHERE status = 'paused' AND wake_at IS NOT NULL AND wake_at <= $1::double precision AND head IS NOT NULL
ORDER BY wake_at, thread_id ${C} ${limit(2)}`,

    threadsOfExecution: `SELECT thread_id FROM ${executions} WHERE execution_id = $1`,

    deleteExecution: `DELETE FROM ${checkpoints} WHERE thread_id = $1 AND execution_id = $2
RETURNING thread_id, checkpoint_id`,

    forgetExecution: `DELETE FROM ${executions} WHERE execution_id = $1`,

    forgetEmptyExecutions: `DELETE FROM ${executions} e WHERE e.thread_id = $1
  AND NOT EXISTS (SELECT 1 FROM ${checkpoints} c WHERE c.thread_id = $2 AND c.execution_id = e.execution_id)`,

    deleteCheckpoints: `DELETE FROM ${checkpoints}
WHERE (thread_id, checkpoint_id) IN (SELECT value->>0, value->>1 FROM jsonb_array_elements($1::jsonb))
RETURNING thread_id, checkpoint_id`,

    deleteOrphanTasks: `DELETE FROM ${tasks} t WHERE t.thread_id = $1
  AND NOT EXISTS (SELECT 1 FROM ${checkpoints} c WHERE c.thread_id = $2 AND c.checkpoint_id = t.checkpoint_id)`,

    sweepBlobs: `WITH RECURSIVE live (channel, id) AS (
  SELECT j.key, j.value->>0 FROM ${checkpoints} c, jsonb_each(c.channels::jsonb) j
  WHERE c.thread_id = $1 AND jsonb_typeof(j.value) = 'array'
  UNION
  SELECT b.channel, b.prev FROM live l
    JOIN ${blobs} b ON b.thread_id = $2 AND b.channel = l.channel AND b.blob_id = l.id
  WHERE b.prev IS NOT NULL
)
DELETE FROM ${blobs} b WHERE b.thread_id = $3
  AND NOT EXISTS (SELECT 1 FROM live l WHERE l.channel = b.channel AND l.id = b.blob_id)`,

    cutOrphans: `UPDATE ${checkpoints} c SET parent_id = NULL
WHERE c.thread_id = $1 AND c.parent_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM ${checkpoints} p WHERE p.thread_id = $2 AND p.checkpoint_id = c.parent_id)`,

    threadHead: `SELECT head FROM ${threads} WHERE thread_id = $1`,

    newestCheckpoint: `SELECT checkpoint_id, status, wake_at FROM ${checkpoints} WHERE thread_id = $1
ORDER BY checkpoint_id ${C} DESC LIMIT 1`,

    resetHead: `UPDATE ${threads} SET head = $1, status = $2, wake_at = $3 WHERE thread_id = $4`,

    dropEmptyThread:
      `DELETE FROM ${threads} WHERE thread_id = $1 AND head IS NULL AND (run_id IS NULL OR lease_until <= $2::double precision)`,

    deleteThreadCheckpoints: `DELETE FROM ${checkpoints} WHERE thread_id = $1 RETURNING checkpoint_id`,
    deleteThreadBlobs: `DELETE FROM ${blobs} WHERE thread_id = $1`,
    deleteThreadTasks: `DELETE FROM ${tasks} WHERE thread_id = $1`,
    deleteThreadExecutions: `DELETE FROM ${executions} WHERE thread_id = $1`,
    deleteThreadRow: `DELETE FROM ${threads} WHERE thread_id = $1`,

    cleanupCandidates: `SELECT c.thread_id, c.checkpoint_id FROM ${threads} t
  JOIN ${checkpoints} c ON c.thread_id = t.thread_id
WHERE t.status IN (SELECT jsonb_array_elements_text($1::jsonb)) AND c.created_at < $2::double precision
  AND c.checkpoint_id <> t.head
${limit(3)}`
  }
}

/** @internal */
export const make = (schema: string): Statements => {
  const p = parts(schema)
  return { ...writes(p), ...reads(p) }
}

/**
 * The common commit in one statement (no `BEGIN`/`COMMIT`; a data-modifying CTE is atomic): the
 * compare-and-set on the thread's row (an `UPDATE` whose `WHERE` is the check; with `claim`, the
 * thread free or the run's and not paused, or a new thread row when none exists and no head is
 * expected), then, only when it won, the execution row, the blobs and the checkpoint. A refused
 * compare-and-set returns no row. A fenced run's claim is refused by the threads' trigger (the
 * row stays unchanged, so nothing is returned). Parameters: those of SQLite's `commitOne`.
 *
 * @internal
 */
export const commitOne = (schema: string): string => {
  const t = (name: string) => `"${schema}".stategraph_${name}`
  const threads = t("threads")
  return `WITH moved AS (
  UPDATE ${threads} t SET head = $4::text, status = $10::text, wake_at = $12::double precision,
    updated_at = $11::double precision,
    run_id = CASE WHEN $20::int = 1 THEN NULL ELSE $2::text END,
    lease_until = CASE WHEN $20::int = 1 THEN 0 WHEN $23::int = 1 THEN $24::double precision ELSE t.lease_until END,
    workflow_id = CASE WHEN $23::int = 1 THEN $7::text ELSE t.workflow_id END
  WHERE t.thread_id = $1::text AND t.head IS NOT DISTINCT FROM $3::text
    AND CASE WHEN $23::int = 1
      THEN (t.run_id IS NULL OR t.run_id = $2::text OR t.lease_until <= $25::double precision) AND t.status <> 'paused'
      ELSE t.run_id = $2::text END
  RETURNING t.thread_id
), created AS (
  INSERT INTO ${threads} (thread_id, workflow_id, head, status, wake_at, updated_at, run_id, lease_until)
  SELECT $1::text, $7::text, $4::text, $10::text, $12::double precision, $11::double precision,
    CASE WHEN $20::int = 1 THEN NULL ELSE $2::text END, CASE WHEN $20::int = 1 THEN 0 ELSE $24::double precision END
  WHERE $23::int = 1 AND $3::text IS NULL AND NOT EXISTS (SELECT 1 FROM ${threads} WHERE thread_id = $1::text)
  ON CONFLICT (thread_id) DO NOTHING
  RETURNING thread_id
), won AS (
  SELECT thread_id FROM moved UNION ALL SELECT thread_id FROM created
), execution AS (
  INSERT INTO ${t("executions")} (execution_id, thread_id, initial_input)
  SELECT $6::text, thread_id, $21::text FROM won WHERE $22::int = 1
  ON CONFLICT DO NOTHING
), blobs AS (
  INSERT INTO ${t("blobs")} (thread_id, channel, blob_id, prev, data)
  SELECT w.thread_id, b ->> 0, $4::text, b ->> 1, b ->> 2 FROM won w, jsonb_array_elements($19::jsonb) b
), checkpoint AS (
  INSERT INTO ${t("checkpoints")} (thread_id, checkpoint_id, parent_id, execution_id, workflow_id, workflow_version,
    step, status, created_at, wake_at, pause_reason, error, interrupts, node_states, channels, body)
  SELECT thread_id, $4::text, $5::text, $6::text, $7::text, $8::text, $9::int, $10::text, $11::double precision,
    $12::double precision, $13::text, $14::text, $15::text, $16::text, $17::text, $18::text FROM won
)
SELECT 1 AS won FROM won`
}

/**
 * A settle in one statement, when it answers no pending interrupt (a pause, a run's records, a
 * claim without `pending`): one `UPDATE` of the thread's row is the check (the run holds the
 * thread, or with `claim` the thread is free or the run's and its head is the checkpoint, which
 * exists) and the claim, the status patch's thread columns and the release at once; only when it
 * won, the task records (the last of a task id, in write order) and the checkpoint's patch. A
 * refusal returns no row. A claiming settle that answers pending interrupts stays a transaction:
 * their check must read the checkpoint after the thread row is locked, which one statement's
 * snapshot cannot. Parameters: those of SQLite's `settle` (`pending` unused, always null here).
 *
 * @internal
 */
export const settleOne = (schema: string): string => {
  const t = (name: string) => `"${schema}".stategraph_${name}`
  return `WITH target AS (
  SELECT c.wake_at FROM ${t("checkpoints")} c WHERE c.thread_id = $1::text AND c.checkpoint_id = $3::text
), won AS (
  UPDATE ${t("threads")} t SET
    run_id = CASE WHEN $15::int = 1 THEN NULL ELSE $2::text END,
    lease_until = CASE WHEN $15::int = 1 THEN 0 WHEN $16::int = 1 THEN $18::double precision ELSE t.lease_until END,
    workflow_id = CASE WHEN $16::int = 1 THEN $17::text ELSE t.workflow_id END,
    updated_at = CASE WHEN $5::int = 1 THEN $19::double precision ELSE t.updated_at END,
    status = CASE WHEN $5::int = 1 AND t.head = $3::text THEN $6::text ELSE t.status END,
    wake_at = CASE WHEN $5::int = 1 AND t.head = $3::text
      THEN (CASE WHEN $13::int = 1 THEN $14::double precision ELSE (SELECT wake_at FROM target) END)
      ELSE t.wake_at END
  WHERE t.thread_id = $1::text AND EXISTS (SELECT 1 FROM target) AND $20::text IS NULL
    AND CASE WHEN $16::int = 1
      THEN (t.run_id IS NULL OR t.run_id = $2::text OR t.lease_until <= $19::double precision) AND t.head = $3::text
      ELSE t.run_id = $2::text END
  RETURNING t.thread_id
), records AS (
  INSERT INTO ${t("tasks")} (thread_id, checkpoint_id, task_id, record)
  SELECT w.thread_id, $3::text, d.task_id, d.record
  FROM won w, (
    SELECT DISTINCT ON (x.r ->> 0) x.r ->> 0 AS task_id, x.r ->> 1 AS record, x.n
    FROM jsonb_array_elements($4::jsonb) WITH ORDINALITY AS x(r, n)
    ORDER BY x.r ->> 0, x.n DESC
  ) d
  ORDER BY d.n
  ON CONFLICT (thread_id, checkpoint_id, task_id) DO UPDATE SET record = excluded.record,
    seq = nextval('${t("task_seq")}')
), patched AS (
  UPDATE ${t("checkpoints")} c SET status = $6::text, interrupts = $7::text, node_states = coalesce($8::text, c.node_states),
    error = CASE WHEN $9::int = 1 THEN $10::text ELSE c.error END,
    pause_reason = CASE WHEN $11::int = 1 THEN $12::text ELSE c.pause_reason END,
    wake_at = CASE WHEN $13::int = 1 THEN $14::double precision ELSE c.wake_at END
  FROM won w WHERE $5::int = 1 AND c.thread_id = w.thread_id AND c.checkpoint_id = $3::text
)
SELECT 1 AS won FROM won`
}
