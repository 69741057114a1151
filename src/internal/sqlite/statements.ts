/**
 * The store's SQL, one fixed text per statement so each is prepared once per connection.
 * Optional filters are written as `(? IS NULL OR …)`; lists travel as one JSON parameter.
 */

const CP = `c.thread_id, c.checkpoint_id, c.parent_id, c.execution_id, c.workflow_id, c.workflow_version, c.step,
  c.status, c.created_at, c.wake_at, c.pause_reason, c.error, c.interrupts, c.node_states, c.channels, c.body,
  (SELECT e.initial_input FROM stategraph_executions e WHERE e.execution_id = c.execution_id AND e.thread_id = c.thread_id)
    AS execution_input`

/** params: threadId, workflowId, now, runId, leaseUntil, now → rows [{ head }] when claimed @internal */
export const claim = `INSERT INTO stategraph_threads (thread_id, workflow_id, head, status, wake_at, updated_at, run_id, lease_until)
VALUES (?, ?, NULL, 'pending', NULL, ?, ?, ?)
ON CONFLICT (thread_id) DO UPDATE SET run_id = excluded.run_id, lease_until = excluded.lease_until,
  workflow_id = excluded.workflow_id
WHERE stategraph_threads.run_id IS NULL OR stategraph_threads.run_id = excluded.run_id OR stategraph_threads.lease_until <= ?
RETURNING head`

/**
 * The claim of a run's first write (new input), inside its transaction: the thread is created, or
 * claimed when free (or the run's, or its lease ran out), its head is the expected one and has not
 * paused since it was read.
 * params: threadId, workflowId, now, runId, leaseUntil, now, expectedHead → rows when claimed
 *
 * @internal
 */
export const claimAt = `INSERT INTO stategraph_threads (thread_id, workflow_id, head, status, wake_at, updated_at, run_id, lease_until)
VALUES (?, ?, NULL, 'pending', NULL, ?, ?, ?)
ON CONFLICT (thread_id) DO UPDATE SET run_id = excluded.run_id, lease_until = excluded.lease_until,
  workflow_id = excluded.workflow_id
WHERE (stategraph_threads.run_id IS NULL OR stategraph_threads.run_id = excluded.run_id OR stategraph_threads.lease_until <= ?)
  AND stategraph_threads.head IS ? AND stategraph_threads.status <> 'paused'
RETURNING head`

/** Threads some run holds. params: threadId, threadId, workflowId, workflowId @internal */
export const leases = `SELECT thread_id, workflow_id, run_id, lease_until FROM stategraph_threads
WHERE run_id IS NOT NULL AND (? IS NULL OR thread_id = ?) AND (? IS NULL OR workflow_id = ?)
ORDER BY thread_id`

/** Fences a run out of a thread. params: threadId, runId @internal */
export const fence = `INSERT OR IGNORE INTO stategraph_fenced (thread_id, run_id) VALUES (?, ?)`

/** Breaks a lease (after fencing its holder). params: threadId, runId @internal */
export const breakLease = `UPDATE stategraph_threads SET run_id = NULL, lease_until = 0 WHERE thread_id = ? AND run_id = ?`

/** params: threadId @internal */
export const deleteThreadFences = `DELETE FROM stategraph_fenced WHERE thread_id = ?`

/** params: threadId, runId @internal */
export const release = `UPDATE stategraph_threads SET run_id = NULL, lease_until = 0 WHERE thread_id = ? AND run_id = ?`

/** The compare-and-set of a commit. params: head, status, wakeAt, updatedAt, threadId, runId, expectedHead @internal */
export const moveHead = `UPDATE stategraph_threads SET head = ?, status = ?, wake_at = ?, updated_at = ?
WHERE thread_id = ? AND run_id = ? AND head IS ?
RETURNING 1`

/** params: threadId, checkpointId @internal */
export const channelsOf = `SELECT channels FROM stategraph_checkpoints WHERE thread_id = ? AND checkpoint_id = ?`

/** The newest blobs of a chain. params: threadId, channel, blobId, threadId, channel, depth @internal */
export const chain = `WITH RECURSIVE chain (blob_id, prev, data, depth) AS (
  SELECT blob_id, prev, data, 1 FROM stategraph_blobs WHERE thread_id = ? AND channel = ? AND blob_id = ?
  UNION ALL
  SELECT b.blob_id, b.prev, b.data, c.depth + 1 FROM chain c
    JOIN stategraph_blobs b ON b.thread_id = ? AND b.channel = ? AND b.blob_id = c.prev
  WHERE c.depth < ?
)
SELECT blob_id, prev, data FROM chain ORDER BY depth`

/** The first checkpoint of an execution in a thread. params: executionId, threadId, initialInput @internal */
export const noteExecution = `INSERT INTO stategraph_executions (execution_id, thread_id, initial_input) VALUES (?, ?, ?)
ON CONFLICT DO NOTHING RETURNING initial_input`

/** params: executionId, threadId @internal */
export const executionInput = `SELECT initial_input FROM stategraph_executions WHERE execution_id = ? AND thread_id = ?`

/**
 * The one-statement commit (see the `stategraph_commit` trigger). params: threadId, runId,
 * expectedHead, checkpointId, parentId, executionId, workflowId, workflowVersion, step, status,
 * createdAt, wakeAt, pauseReason, error, interrupts, nodeStates, channels, body, blobsJson
 * (`[[channel, prev, data], …]`)
 *
 * @internal
 */
export const commitOne = `INSERT INTO stategraph_commit (thread_id, run_id, expected_head, checkpoint_id, parent_id,
  execution_id, workflow_id, workflow_version, step, status, created_at, wake_at, pause_reason, error, interrupts,
  node_states, channels, body, blobs, release, initial_input, note_execution, claim, lease_until, now)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

/**
 * A settle in one statement (see migration 3). params: threadId, runId, checkpointId, records
 * (JSON `[[taskId, recordJson]]`), hasPatch, status, interrupts, nodeStates|null, hasError, error,
 * hasPauseReason, pauseReason, hasWakeAt, wakeAt, release, claim, workflowId, leaseUntil, now, pending (JSON ids or
 * null: the interrupts a claiming resume answers, each still pending or ThreadBusy)
 *
 * @internal
 */
export const settle = `INSERT INTO stategraph_settle (thread_id, run_id, checkpoint_id, records, has_patch, status,
  interrupts, node_states, has_error, error, has_pause_reason, pause_reason, has_wake_at, wake_at, release, claim,
  workflow_id, lease_until, now, pending)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

/** The error the commit trigger raises when the compare-and-set fails. @internal */
export const BUSY_MESSAGE = "stategraph: thread busy"

/** params: threadId, channel, blobId, prev, data @internal */
export const insertBlob = `INSERT INTO stategraph_blobs (thread_id, channel, blob_id, prev, data) VALUES (?, ?, ?, ?, ?)`

/** @internal */
export const insertCheckpoint = `INSERT INTO stategraph_checkpoints (thread_id, checkpoint_id, parent_id, execution_id,
  workflow_id, workflow_version, step, status, created_at, wake_at, pause_reason, error, interrupts, node_states,
  channels, body)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

/** params: threadId, checkpointId, taskId, record @internal */
export const upsertTask = `INSERT OR REPLACE INTO stategraph_tasks (thread_id, checkpoint_id, task_id, record) VALUES (?, ?, ?, ?)`

/** params: threadId, checkpointId, taskId, record, threadId, runId, threadId, checkpointId @internal */
export const putTask = `INSERT OR REPLACE INTO stategraph_tasks (thread_id, checkpoint_id, task_id, record)
SELECT ?, ?, ?, ?
WHERE EXISTS (SELECT 1 FROM stategraph_threads WHERE thread_id = ? AND run_id = ?)
  AND EXISTS (SELECT 1 FROM stategraph_checkpoints WHERE thread_id = ? AND checkpoint_id = ?)
RETURNING 1`

/**
 * params: status, interrupts, nodeStates|null, hasError, error, hasPauseReason, pauseReason, hasWakeAt, wakeAt,
 * threadId, checkpointId, threadId, runId
 *
 * @internal
 */
export const setStatus = `UPDATE stategraph_checkpoints SET status = ?, interrupts = ?, node_states = coalesce(?, node_states),
  error = CASE WHEN ? THEN ? ELSE error END,
  pause_reason = CASE WHEN ? THEN ? ELSE pause_reason END,
  wake_at = CASE WHEN ? THEN ? ELSE wake_at END
WHERE thread_id = ? AND checkpoint_id = ?
  AND EXISTS (SELECT 1 FROM stategraph_threads WHERE thread_id = ? AND run_id = ?)
RETURNING status, wake_at`

/** params: updatedAt, checkpointId, status, checkpointId, wakeAt, threadId @internal */
export const touchThread = `UPDATE stategraph_threads SET updated_at = ?,
  status = CASE WHEN head = ? THEN ? ELSE status END,
  wake_at = CASE WHEN head = ? THEN ? ELSE wake_at END
WHERE thread_id = ?`

/** params: threadId, checkpointId|null, threadId @internal */
export const loadOne = `SELECT ${CP} FROM stategraph_checkpoints c
WHERE c.thread_id = ? AND c.checkpoint_id = coalesce(?, (SELECT head FROM stategraph_threads WHERE thread_id = ?))`

/**
 * `loadOne` with the checkpoint's task records folded in (`task_records`: a JSON array of the
 * records' texts, in write order), for a load in one statement. params: threadId, checkpointId|null, threadId
 *
 * @internal
 */
export const loadWithTasks = `SELECT ${CP},
  (SELECT json_group_array(t.record ORDER BY t.rowid) FROM stategraph_tasks t
    WHERE t.thread_id = c.thread_id AND t.checkpoint_id = c.checkpoint_id) AS task_records
FROM stategraph_checkpoints c
WHERE c.thread_id = ? AND c.checkpoint_id = coalesce(?, (SELECT head FROM stategraph_threads WHERE thread_id = ?))`

/** Every blob reachable from the seeds `[[channel, blobId], …]`. params: seedsJson, threadId, threadId @internal */
export const blobs = `WITH RECURSIVE need (channel, id) AS (
  SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?)
  UNION
  SELECT b.channel, b.prev FROM need n
    JOIN stategraph_blobs b ON b.thread_id = ? AND b.channel = n.channel AND b.blob_id = n.id
  WHERE b.prev IS NOT NULL
)
SELECT b.channel, b.blob_id, b.prev, b.data FROM need n
  CROSS JOIN stategraph_blobs b ON b.thread_id = ? AND b.channel = n.channel AND b.blob_id = n.id`

/** params: threadId, checkpointIdsJson @internal */
export const tasksOf = `SELECT checkpoint_id, record FROM stategraph_tasks
WHERE thread_id = ? AND checkpoint_id IN (SELECT value FROM json_each(?)) ORDER BY rowid`

const filters = `(? IS NULL OR c.checkpoint_id < ?) AND (? IS NULL OR c.status IN (SELECT value FROM json_each(?)))`

/**
 * The lineage from a checkpoint (default: head) back through parent links, newest first (the
 * recursive query's queue is first-in first-out, so rows come out in lineage order, and the
 * `LIMIT` stops the walk early). `UNION` ends the walk on a cycle of tampered parent links. A link
 * to a checkpoint that is not stored comes out as a row without a checkpoint (`checkpoint_id`
 * null, `lineage_id` the missing id): the first row when the start itself is unknown, a broken
 * lineage otherwise.
 * params: checkpointId|null, threadId, threadId, threadId, before, before, statuses, statuses, limit
 *
 * @internal
 */
export const history = `WITH RECURSIVE lineage (id) AS (
  SELECT coalesce(?, (SELECT head FROM stategraph_threads WHERE thread_id = ?))
  UNION
  SELECT c.parent_id FROM lineage l
    JOIN stategraph_checkpoints c ON c.thread_id = ? AND c.checkpoint_id = l.id
  WHERE c.parent_id IS NOT NULL
)
SELECT ${CP}, l.id AS lineage_id FROM lineage l LEFT JOIN stategraph_checkpoints c ON c.thread_id = ? AND c.checkpoint_id = l.id
WHERE c.checkpoint_id IS NULL OR (${filters})
LIMIT ?`

/** params: threadId, before, before, statuses, statuses, limit @internal */
export const listByThread = `SELECT ${CP} FROM stategraph_checkpoints c WHERE c.thread_id = ? AND ${filters}
ORDER BY c.checkpoint_id DESC LIMIT ?`

/** params: workflowId, before, before, statuses, statuses, limit @internal */
export const listByWorkflow = `SELECT ${CP} FROM stategraph_threads t
  JOIN stategraph_checkpoints c ON c.thread_id = t.thread_id AND c.checkpoint_id = t.head
WHERE t.workflow_id = ? AND ${filters}
ORDER BY c.checkpoint_id DESC LIMIT ?`

const THREAD = `thread_id, workflow_id, head, status, updated_at, wake_at`

/** params: statuses, statuses, workflowId, workflowId, limit @internal */
export const listThreads = `SELECT ${THREAD} FROM stategraph_threads
WHERE head IS NOT NULL AND (? IS NULL OR status IN (SELECT value FROM json_each(?))) AND (? IS NULL OR workflow_id = ?)
ORDER BY updated_at DESC, thread_id LIMIT ?`

/** params: now, limit @internal */
export const dueSleepers = `SELECT ${THREAD} FROM stategraph_threads
WHERE status = 'paused' AND wake_at IS NOT NULL AND wake_at <= ? AND head IS NOT NULL
ORDER BY wake_at, thread_id LIMIT ?`

/** params: executionId @internal */
export const threadsOfExecution = `SELECT thread_id FROM stategraph_executions WHERE execution_id = ?`

/** params: threadId, executionId @internal */
export const deleteExecution = `DELETE FROM stategraph_checkpoints WHERE thread_id = ? AND execution_id = ?
RETURNING thread_id, checkpoint_id`

/** params: executionId @internal */
export const forgetExecution = `DELETE FROM stategraph_executions WHERE execution_id = ?`

/** Executions of a thread that have no checkpoint left. params: threadId, threadId @internal */
export const forgetEmptyExecutions = `DELETE FROM stategraph_executions WHERE thread_id = ?
  AND execution_id NOT IN (SELECT execution_id FROM stategraph_checkpoints WHERE thread_id = ?)`

/** params: pairsJson `[[threadId, checkpointId], …]` @internal */
export const deleteCheckpoints = `DELETE FROM stategraph_checkpoints
WHERE (thread_id, checkpoint_id) IN (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?))
RETURNING thread_id, checkpoint_id`

/** Task records whose checkpoint is gone. params: threadId, threadId @internal */
export const deleteOrphanTasks = `DELETE FROM stategraph_tasks WHERE thread_id = ?
  AND checkpoint_id NOT IN (SELECT checkpoint_id FROM stategraph_checkpoints WHERE thread_id = ?)`

/** Blobs no checkpoint of the thread can reach any more. params: threadId, threadId, threadId @internal */
export const sweepBlobs = `WITH RECURSIVE live (channel, id) AS (
  SELECT j.key, json_extract(j.value, '$[0]') FROM stategraph_checkpoints c, json_each(c.channels) j
  WHERE c.thread_id = ? AND j.type = 'array'
  UNION
  SELECT b.channel, b.prev FROM live l
    JOIN stategraph_blobs b ON b.thread_id = ? AND b.channel = l.channel AND b.blob_id = l.id
  WHERE b.prev IS NOT NULL
)
DELETE FROM stategraph_blobs WHERE thread_id = ? AND (channel, blob_id) NOT IN (SELECT channel, id FROM live)`

/**
 * Cuts the lineage where its parents were deleted (cleanup, delete): such a checkpoint starts the
 * lineage now, so a link to a missing checkpoint is always corruption. params: threadId, threadId
 *
 * @internal
 */
export const cutOrphans = `UPDATE stategraph_checkpoints SET parent_id = NULL
WHERE thread_id = ? AND parent_id IS NOT NULL
  AND parent_id NOT IN (SELECT checkpoint_id FROM stategraph_checkpoints WHERE thread_id = ?)`

/** params: threadId @internal */
export const threadHead = `SELECT head FROM stategraph_threads WHERE thread_id = ?`

/** params: threadId @internal */
export const newestCheckpoint = `SELECT checkpoint_id, status, wake_at FROM stategraph_checkpoints WHERE thread_id = ?
ORDER BY checkpoint_id DESC LIMIT 1`

/** params: head, status, wakeAt, threadId @internal */
export const resetHead = `UPDATE stategraph_threads SET head = ?, status = ?, wake_at = ? WHERE thread_id = ?`

/** params: threadId, now @internal */
export const dropEmptyThread = `DELETE FROM stategraph_threads WHERE thread_id = ? AND head IS NULL AND (run_id IS NULL OR lease_until <= ?)`

/** params: threadId @internal */
export const deleteThreadCheckpoints = `DELETE FROM stategraph_checkpoints WHERE thread_id = ? RETURNING checkpoint_id`
/** @internal */
export const deleteThreadBlobs = `DELETE FROM stategraph_blobs WHERE thread_id = ?`
/** @internal */
export const deleteThreadTasks = `DELETE FROM stategraph_tasks WHERE thread_id = ?`
/** @internal */
export const deleteThreadExecutions = `DELETE FROM stategraph_executions WHERE thread_id = ?`
/** @internal */
export const deleteThreadRow = `DELETE FROM stategraph_threads WHERE thread_id = ?`

/** Old checkpoints of finished threads, never a head. params: statuses, olderThan, batchSize @internal */
export const cleanupCandidates = `SELECT c.thread_id, c.checkpoint_id FROM stategraph_threads t
  JOIN stategraph_checkpoints c ON c.thread_id = t.thread_id
WHERE t.status IN (SELECT value FROM json_each(?)) AND c.created_at < ? AND c.checkpoint_id <> t.head
LIMIT ?`
