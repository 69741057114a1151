/**
 * Resume answers, matched to the pending interrupts of a paused checkpoint and validated with
 * their kind's schema: the one resume path of every orchestrator. Pure: a refusal writes nothing.
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { InterruptAlreadyAnswered, InvalidResumeValue, ThreadNotPaused, UnknownInterrupt } from "../../GraphError.js"
import type * as Interrupt from "../../Interrupt.js"
import type { InterruptRecord, TaskRecord } from "../../Snapshot.js"
import type { Compiled } from "../graph.js"
import * as algo from "./algo.js"
import type { Checkpoint, Given } from "./model.js"

/** Whether a resume argument is an answer (`Kind.respond` / `respondTo`): plain JS may pass anything. @internal */
export const isAnswer = (u: unknown): u is Interrupt.Answer<string, unknown> =>
  typeof u === "object" && u !== null && (u as { _tag?: unknown })._tag === "Answer"

/** @internal */
export const notAnAnswer = (threadId: string) =>
  new UnknownInterrupt({ threadId, kind: "*", reason: "an answer is made with Kind.respond(value) or Kind.respondTo(id, value)" })

/** A stored request decoded with its kind's schema (left as stored when it does not decode). */
const decodeRequest = (definition: Interrupt.Definition | undefined, request: unknown): unknown => {
  if (definition === undefined) return request
  const decoded = ParseResult.decodeUnknownEither(definition.requestSchema)(request)
  return Either.isRight(decoded) ? decoded.right : request
}

/**
 * A stored interrupt record as the caller sees it: its request decoded with the graph's own kind
 * of that name (declared or learned), as stored when the graph does not know the kind.
 *
 * @internal
 */
export const toPending = (compiled: Compiled) => (r: InterruptRecord) => ({
  id: r.id,
  kind: r.kind,
  request: decodeRequest(compiled.kinds.get(r.kind), r.request),
  node: r.node,
  taskId: r.taskId
})

/** A kind that takes an answer as it is: for answers checked and encoded where they were given. */
const asGiven = (kind: string): Interrupt.Definition => ({
  kind,
  requestSchema: Schema.Unknown,
  responseSchema: Schema.Unknown,
  check: undefined
})

/**
 * An answer already checked and encoded with its own kind where it was given (a queued resume
 * job, an answer forwarded to a child graph): matched by id, stored as it is, decoded by the
 * asking node's own kind. No table of kinds by name is consulted.
 *
 * @internal
 */
export const checkedAnswer = (kind: string, id: string | undefined, encoded: unknown): Interrupt.Answer<string, unknown> => ({
  _tag: "Answer",
  kind,
  id,
  value: encoded,
  definition: asGiven(kind)
})

/** @internal */
export type ResumeRefusal = ThreadNotPaused | UnknownInterrupt | InterruptAlreadyAnswered | InvalidResumeValue

/** Validated answers: per task, its full answer lists; the interrupts marked answered. @internal */
export interface Prepared {
  readonly byTask: ReadonlyMap<string, Given>
  readonly interrupts: ReadonlyArray<InterruptRecord>
  /** a breakpoint was answered (or continued past): the paused step runs */
  readonly breakpoint: boolean
  /** each answered interrupt with its encoded value, in answer order (what a queued resume carries) */
  readonly answered: ReadonlyArray<{ readonly record: InterruptRecord; readonly value: unknown }>
}

interface Mutable {
  answers: Array<unknown>
  keyed: Record<string, unknown> | undefined
  forwarded: Record<string, { kind: string; value: unknown }> | undefined
}

/** The pending interrupt an answer is for, or why there is none. */
const targetOf = (
  cp: Checkpoint,
  pending: ReadonlyArray<InterruptRecord>,
  answeredIds: ReadonlySet<string>,
  threadId: string,
  answer: Interrupt.Answer<string, unknown>
): Either.Either<InterruptRecord, ResumeRefusal> => {
  if (answer.id !== undefined) {
    const target = pending.find((i) => i.id === answer.id)
    if (target === undefined) {
      if (cp.interrupts.some((i) => i.id === answer.id && i.status === "answered") || answeredIds.has(answer.id)) {
        return Either.left(new InterruptAlreadyAnswered({ threadId, interruptId: answer.id }))
      }
      return Either.left(
        new UnknownInterrupt({ threadId, interruptId: answer.id, kind: answer.kind, reason: "no pending interrupt has this id" })
      )
    }
    if (target.kind !== answer.kind) {
      return Either.left(
        new UnknownInterrupt({ threadId, interruptId: answer.id, kind: answer.kind, reason: `the interrupt is a ${target.kind}` })
      )
    }
    return Either.right(target)
  }
  const candidates = pending.filter((i) => i.kind === answer.kind && !answeredIds.has(i.id))
  const taken = pending.find((i) => i.kind === answer.kind && answeredIds.has(i.id))
  if (candidates.length === 0 && taken !== undefined) {
    // a second answer of this kind in one resume: its only pending interrupt has one already
    return Either.left(new InterruptAlreadyAnswered({ threadId, interruptId: taken.id }))
  }
  if (candidates.length !== 1) {
    return Either.left(
      new UnknownInterrupt({
        threadId,
        kind: answer.kind,
        reason: candidates.length === 0
          ? `no pending ${answer.kind} interrupt`
          : `${candidates.length} pending ${answer.kind} interrupts: answer each with respondTo(id, value)`
      })
    )
  }
  return Either.right(candidates[0]!)
}

const isDefinition = (u: unknown, kind: string): u is Interrupt.Definition =>
  (typeof u === "object" || typeof u === "function") && u !== null &&
  (u as { kind?: unknown }).kind === kind &&
  Schema.isSchema((u as { responseSchema?: unknown }).responseSchema) &&
  Schema.isSchema((u as { requestSchema?: unknown }).requestSchema)

/**
 * An answer with the definition it is checked against: its own when `Kind.respond` made it, else
 * (a JSON round trip of one, as an HTTP client sends it, or a hand-made object) the graph's own
 * kind of that name; undefined when neither is known.
 */
const withDefinition = (
  answer: Interrupt.Answer<string, unknown>,
  kinds: ReadonlyMap<string, Interrupt.Definition> | undefined
): Interrupt.Answer<string, unknown> | undefined => {
  if (typeof answer.kind !== "string") return undefined
  if (isDefinition(answer.definition, answer.kind)) return answer
  const known = kinds?.get(answer.kind)
  return known === undefined ? undefined : { ...answer, id: typeof answer.id === "string" ? answer.id : undefined, definition: known }
}

/** The answer's value, validated and checked against the request, encoded for the record. */
const encodedValue = (
  target: InterruptRecord,
  answer: Interrupt.Answer<string, unknown>
): Either.Either<unknown, InvalidResumeValue> => {
  const def = answer.definition
  const invalid = (issue: string) => new InvalidResumeValue({ kind: target.kind, interruptId: target.id, issue })
  const valid = ParseResult.validateEither(def.responseSchema)(answer.value)
  if (Either.isLeft(valid)) return Either.left(invalid(algo.formatIssue(valid.left)))
  if (def.check !== undefined) {
    const problem = def.check(decodeRequest(def, target.request), valid.right)
    if (problem !== undefined) return Either.left(invalid(problem))
  }
  const encoded = ParseResult.encodeUnknownEither(def.responseSchema)(valid.right)
  return Either.isLeft(encoded) ? Either.left(invalid(algo.formatIssue(encoded.left))) : Either.right(encoded.right)
}

/**
 * Validates answers against the pending interrupts of a paused checkpoint: returns, per task,
 * its full answer list, and the updated interrupt records.
 *
 * @internal
 */
export const prepareAnswers = (
  cp: Checkpoint,
  threadId: string,
  answers: ReadonlyArray<unknown>,
  kinds?: ReadonlyMap<string, Interrupt.Definition>
): Either.Either<Prepared, ResumeRefusal> => {
  if (cp.status !== "paused") return Either.left(new ThreadNotPaused({ threadId, status: cp.status }))
  const pending = cp.interrupts.filter((i) => i.status === "pending")
  const byTask = new Map<string, Mutable>()
  const answeredIds = new Set<string>()
  const records = new Map(cp.pending.map((r) => [r.taskId, r]))
  const breakpointsOnly = pending.every((i) => i.kind === "Breakpoint")
  if (answers.length === 0 && !breakpointsOnly) {
    return Either.left(new UnknownInterrupt({ threadId, kind: "*", reason: "resume needs an answer for a pending interrupt" }))
  }
  const answered: Array<{ readonly record: InterruptRecord; readonly value: unknown }> = []
  if (answers.length === 0) {
    // continuing past breakpoints: a child graph's is forwarded to the child, whose task runs
    for (const i of pending) {
      if (i.child !== true) continue
      answeredIds.add(i.id)
      answered.push({ record: i, value: undefined })
      give(byTask, records, i, undefined)
    }
  }
  for (const given of answers) {
    if (!isAnswer(given)) return Either.left(notAnAnswer(threadId))
    const answer = withDefinition(given, kinds)
    if (answer === undefined) {
      return Either.left(new UnknownInterrupt({
        threadId,
        kind: typeof given.kind === "string" ? given.kind : "*",
        reason: "the answer names no interrupt kind this graph knows (make answers with Kind.respond or Kind.respondTo)"
      }))
    }
    const target = targetOf(cp, pending, answeredIds, threadId, answer)
    if (Either.isLeft(target)) return Either.left(target.left)
    const t = target.right
    if (answeredIds.has(t.id)) return Either.left(new InterruptAlreadyAnswered({ threadId, interruptId: t.id }))
    answeredIds.add(t.id)
    if (t.kind === "Breakpoint") {
      answered.push({ record: t, value: undefined })
      // a child graph's breakpoint: its task runs, and the child continues past it
      if (t.child === true) give(byTask, records, t, undefined)
      continue
    }
    const value = encodedValue(t, answer)
    if (Either.isLeft(value)) return Either.left(value.left)
    answered.push({ record: t, value: value.right })
    give(byTask, records, t, value.right)
  }
  const interrupts = cp.interrupts.map((i) => (answeredIds.has(i.id) ? { ...i, status: "answered" as const } : i))
  const breakpoint = pending.some((i) => i.kind === "Breakpoint" && (answeredIds.has(i.id) || answers.length === 0))
  return Either.right({ byTask, interrupts, breakpoint, answered })
}

/** Adds an encoded answer to its task's answers: own (ask order), nested (by key) or a child's. */
const give = (
  byTask: Map<string, Mutable>,
  records: ReadonlyMap<string, TaskRecord>,
  target: InterruptRecord,
  value: unknown
) => {
  const record = records.get(target.taskId)
  const given = byTask.get(target.taskId) ?? {
    answers: [...(record?.answers ?? [])],
    keyed: record?.keyedAnswers === undefined ? undefined : { ...record.keyedAnswers },
    forwarded: record?.forwarded === undefined ? undefined : { ...record.forwarded }
  }
  const key = target.id.slice(target.taskId.length + 1)
  if (target.child === true) {
    // an interrupt of a child graph: the answer is forwarded to it by interrupt id
    given.forwarded = { ...given.forwarded, [target.id]: { kind: target.kind, value } }
  } else if (/^\d+$/.test(key)) {
    // the task's own ask: the next in order
    given.answers.push(value)
  } else {
    // a Task.forEach child's ask: by its key
    given.keyed = { ...given.keyed, [key]: value }
  }
  byTask.set(target.taskId, given)
}

/** The task records a resume writes first, so a crash after it resumes with the answers. @internal */
export const answerRecords = (base: Checkpoint, prepared: Prepared): Array<TaskRecord> => {
  const records: Array<TaskRecord> = []
  for (const [taskId, given] of prepared.byTask) {
    const prev = base.pending.find((r) => r.taskId === taskId)
    const task = base.tasks.find((t) => t.id === taskId)!
    records.push({
      taskId,
      node: task.node,
      status: "interrupted",
      writes: [],
      gotos: [],
      answers: given.answers,
      ...(given.keyed !== undefined ? { keyedAnswers: given.keyed } : {}),
      journal: prev?.journal ?? [],
      ...(given.forwarded !== undefined ? { forwarded: given.forwarded } : {})
    })
  }
  return records
}
