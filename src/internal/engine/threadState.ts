/**
 * A checkpoint as callers see it — `getState`, `history` and the `checkpoints` stream mode all
 * show this one shape — and the `checkpoints` stream part of a run.
 */
import * as Effect from "effect/Effect"
import type { Compiled } from "../graph.js"
import * as algo from "./algo.js"
import { toPending } from "./answers.js"
import type { Checkpoint, Run, ThreadStateOf } from "./model.js"

/** @internal */
export const threadState = (compiled: Compiled, threadId: string, cp: Checkpoint): ThreadStateOf => ({
  threadId,
  checkpointId: cp.checkpointId,
  parentCheckpointId: cp.parentCheckpointId,
  executionId: cp.executionId,
  step: cp.step,
  status: cp.status,
  createdAt: new Date(cp.createdAt),
  values: cp.values,
  next: [...new Set(cp.tasks.map((t) => t.node))],
  tasks: cp.tasks.map((t) => ({ id: t.id, node: t.node })),
  interrupts: cp.interrupts.map((r) => ({ ...toPending(compiled)(r), status: r.status })),
  nodeStates: cp.nodeStates,
  pauseReason: cp.pauseReason,
  error: cp.error,
  metadata: cp.metadata
})

/** Streams `cp` in the `checkpoints` mode when the run's stream asked for it. @internal */
export const emitCheckpoint = (run: Run, cp: Checkpoint): Effect.Effect<void> => {
  const emit = run.config.emit
  if (emit === undefined || !run.modes.has("checkpoints")) return Effect.void
  const state = threadState(run.compiled, run.threadId ?? "", { ...cp, values: algo.releasedValues(run.compiled, cp.values) })
  return emit({ mode: "checkpoints", checkpoint: state })
}
