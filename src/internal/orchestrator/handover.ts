/**
 * Handover: a snapshot from another orchestrator becomes the head of the thread, its completed
 * nodes injected (never run again here), after validation against the graph.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { WorkflowSnapshot, type WorkflowSnapshotEncoded } from "../../Snapshot.js"
import * as WorkflowState from "../../WorkflowState.js"
import type { Backend } from "../../Snapshots.js"
import type { AnyCompiled } from "../../StateGraph.js"
import { decodeCheckpoint } from "../engine/codec.js"
import { importSnapshot } from "../engine/execute.js"
import type { Checkpoint } from "../engine/model.js"
import { type HandoverCode, HandoverRefused } from "./contract.js"

/** @internal */
export interface ValidationIssue {
  readonly code: typeof HandoverCode.Type
  readonly message: string
  readonly nodeId?: string | undefined
}

/**
 * Validates a handover snapshot against the graph with `WorkflowState.validateSnapshot`
 * (version, unknown nodes) and `validateDependencies`; refused with the first error's code.
 *
 * @internal
 */
export const validate = (
  graph: AnyCompiled,
  snapshot: WorkflowSnapshotEncoded | WorkflowSnapshot
): Effect.Effect<WorkflowSnapshotEncoded, HandoverRefused> =>
  Effect.suspend(() => {
    const decoded = snapshot instanceof WorkflowSnapshot
      ? Either.right(snapshot)
      : ParseResult.decodeUnknownEither(WorkflowSnapshot)(snapshot)
    if (Either.isLeft(decoded)) {
      return Effect.fail(
        new HandoverRefused({
          code: "INVALID_SNAPSHOT",
          errors: [{ code: "INVALID_SNAPSHOT", message: ParseResult.TreeFormatter.formatIssueSync(decoded.left) }]
        })
      )
    }
    const issues: Array<ValidationIssue> = []
    if (decoded.right.workflowId !== graph.id) {
      issues.push({
        code: "WORKFLOW_MISMATCH",
        message: `the snapshot is of workflow "${decoded.right.workflowId}", not "${graph.id}"`
      })
    }
    const result = WorkflowState.merge(
      WorkflowState.validateSnapshot(decoded.right, graph),
      WorkflowState.validateDependencies(decoded.right, graph)
    )
    for (const e of result.errors) issues.push({ code: e.code, message: e.message, nodeId: "nodeId" in e ? e.nodeId : undefined })
    if (issues.length > 0) {
      return Effect.fail(
        new HandoverRefused({
          code: issues[0]!.code,
          errors: issues.map((i) => ({ code: i.code, message: i.message, ...(i.nodeId !== undefined ? { nodeId: i.nodeId } : {}) }))
        })
      )
    }
    const encoded = Schema.encodeSync(WorkflowSnapshot)(decoded.right)
    // its channel values must decode with this graph's schemas, like a stored checkpoint's
    const channels = decodeCheckpoint(graph.compiled, encoded)
    if (Either.isLeft(channels)) {
      return Effect.fail(
        new HandoverRefused({
          code: "INVALID_SNAPSHOT",
          errors: [{ code: "INVALID_SNAPSHOT", message: channels.left.issue }]
        })
      )
    }
    return Effect.succeed(encoded)
  })

/**
 * Validates, then commits the snapshot as the thread's head with its completed nodes marked
 * `injected`. Returns the injected node ids.
 *
 * @internal
 */
export const importInto = (
  graph: AnyCompiled,
  store: Backend,
  threadId: string,
  snapshot: WorkflowSnapshotEncoded | WorkflowSnapshot
) => Effect.map(importCheckpoint(graph, store, threadId, snapshot), injectedOf)

/** The nodes a handover injected. @internal */
export const injectedOf = (cp: Checkpoint) => Object.values(cp.nodeStates).filter((n) => n.injected)

/** Validates, then commits the snapshot as the thread's head; returns that checkpoint. @internal */
export const importCheckpoint = (
  graph: AnyCompiled,
  store: Backend,
  threadId: string,
  snapshot: WorkflowSnapshotEncoded | WorkflowSnapshot
) => Effect.flatMap(validate(graph, snapshot), (valid) => importSnapshot(graph.compiled, store, threadId, valid))
