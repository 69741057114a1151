/**
 * What a request carries for the graph, checked before anything is written: input and state
 * updates decoded with the channels' schemas, resume answers decoded with the pending questions'
 * response schemas. A refusal is a 422 with the schema's issue.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Command from "../../Command.js"
import type * as Interrupt from "../../Interrupt.js"
import type { WorkflowSnapshotEncoded } from "../../Snapshot.js"
import type { AnyCompiled } from "../../StateGraph.js"
import { Conflict, Unprocessable } from "./errors.js"
import { kindOf } from "./views.js"

const issueOf = (e: ParseResult.ParseIssue) => ParseResult.TreeFormatter.formatIssueSync(e)

/** An update (input, `values`, `command.update`) from JSON: each channel's update decoded. @internal */
export const decodeUpdate = (graph: AnyCompiled, json: unknown, what: string): Effect.Effect<Record<string, unknown>, Unprocessable> => {
  if (json === null || json === undefined) return Effect.succeed({})
  if (typeof json !== "object" || Array.isArray(json)) {
    return Effect.fail(new Unprocessable({ detail: `${what} must be an object of channel values`, issue: `got ${Array.isArray(json) ? "an array" : typeof json}` }))
  }
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(json)) {
    const codec = graph.compiled.codecByName[key]
    if (codec === undefined) {
      return Effect.fail(new Unprocessable({ detail: `${what}: "${key}" is not a channel of graph "${graph.id}"`, issue: `unknown channel "${key}"` }))
    }
    const decoded = codec.decodeUpdate((json as Record<string, unknown>)[key])
    if (Either.isLeft(decoded)) {
      return Effect.fail(new Unprocessable({ detail: `${what}: channel "${key}" refuses the value`, issue: issueOf(decoded.left) }))
    }
    out[key] = decoded.right
  }
  return Effect.succeed(out)
}

/** `command: { update, goto }` as the engine's `Command`. @internal */
export const decodeCommand = (graph: AnyCompiled, update: unknown, goto: string | ReadonlyArray<string> | null | undefined) =>
  Effect.gen(function*() {
    const decoded = yield* decodeUpdate(graph, update, "command.update")
    const targets = goto === null || goto === undefined ? [] : typeof goto === "string" ? [goto] : goto
    for (const t of targets) {
      if (graph.compiled.nodes[t] === undefined) {
        return yield* new Unprocessable({ detail: `command.goto: "${t}" is not a node of graph "${graph.id}"`, issue: `unknown node "${t}"` })
      }
    }
    return Command.make({ update: decoded, goto: targets as ReadonlyArray<string> }) as Command.Command<any, string>
  })

/**
 * `command.resume` as answers to the head's pending questions: a single value answers the only
 * one; an object keyed by interrupt ids answers those. Each value is decoded with its kind's
 * response schema (and the kind's own check against the request).
 *
 * @internal
 */
export const decodeAnswers = (
  graph: AnyCompiled,
  head: WorkflowSnapshotEncoded | undefined,
  resume: unknown
): Effect.Effect<ReadonlyArray<Interrupt.Answer<string, unknown>>, Unprocessable | Conflict> =>
  Effect.gen(function*() {
    if (head === undefined || head.status !== "paused") {
      return yield* new Conflict({ detail: "the thread has no pending interrupt to resume" })
    }
    const pending = head.interrupts.filter((i) => i.status === "pending")
    const questions = pending.filter((i) => i.kind !== "Breakpoint")
    if (questions.length === 0) return []
    const byId = typeof resume === "object" && resume !== null && !Array.isArray(resume) &&
        Object.keys(resume).length > 0 && Object.keys(resume).every((k) => pending.some((i) => i.id === k))
      ? resume as Record<string, unknown>
      : undefined
    if (byId === undefined && questions.length > 1) {
      return yield* new Unprocessable({
        detail: `${questions.length} interrupts are pending: resume with an object keyed by interrupt id`,
        issue: `pending: ${questions.map((q) => q.id).join(", ")}`
      })
    }
    const entries = byId !== undefined
      ? Object.entries(byId).map(([id, value]) => [pending.find((i) => i.id === id)!, value] as const)
      : [[questions[0]!, resume] as const]
    const answers: Array<Interrupt.Answer<string, unknown>> = []
    for (const [record, value] of entries) {
      const kind = kindOf(graph, record.kind)
      if (kind === undefined) {
        return yield* new Unprocessable({
          detail: `cannot check an answer to ${record.kind}: declare it with compile({ interrupts: [${record.kind}] })`,
          interrupt_id: record.id
        })
      }
      const decoded = Schema.decodeUnknownEither(kind.responseSchema)(value)
      if (Either.isLeft(decoded)) {
        return yield* new Unprocessable({
          detail: `the answer to interrupt ${record.id} does not match ${record.kind}'s response schema`,
          issue: ParseResult.TreeFormatter.formatErrorSync(decoded.left),
          interrupt_id: record.id
        })
      }
      if (kind.check !== undefined) {
        const request = Schema.decodeUnknownEither(kind.requestSchema)(record.request)
        const refused = Either.isRight(request) ? kind.check(request.right, decoded.right) : undefined
        if (refused !== undefined) {
          return yield* new Unprocessable({
            detail: `the answer to interrupt ${record.id} is refused by ${record.kind}`,
            issue: refused,
            interrupt_id: record.id
          })
        }
      }
      answers.push(kind.respondTo(record.id, decoded.right))
    }
    return answers
  })
