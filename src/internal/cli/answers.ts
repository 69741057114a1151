/**
 * Answers typed on a command line: JSON decoded with the pending question's response schema, so a
 * wrong answer is refused here with the schema's issue and nothing is written.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as JSONSchema from "effect/JSONSchema"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Interrupt from "../../Interrupt.js"
import type { AnyCompiled } from "../../StateGraph.js"
import type { Loaded } from "./config.js"
import { CliError } from "./errors.js"

const prebuilt: ReadonlyArray<Interrupt.AnyKind> = [Interrupt.Breakpoint, Interrupt.Confirmation, Interrupt.Choice, Interrupt.Text]

/**
 * The kind of a pending question of this graph: the graph's own (declared with
 * `compile({ interrupts })`, or learned when one of its nodes asked in this process), else one
 * exported by the graph's module, else by the config file, else a prebuilt one.
 */
const kindOf = (config: Loaded, graph: AnyCompiled, kind: string): Interrupt.AnyKind | undefined =>
  graph.compiled.kinds.get(kind) ??
    [...(config.kinds.get(graph.id) ?? []), ...(config.kinds.get("") ?? []), ...prebuilt].find((k) => k.kind === kind)

/** The JSON Schema an answer to this kind must match (undefined when it cannot be expressed). */
export const answerSchema = (config: Loaded, graph: AnyCompiled, kind: string): unknown => {
  const k = kindOf(config, graph, kind)
  if (k === undefined) return undefined
  try {
    return JSONSchema.make(k.responseSchema)
  } catch {
    return undefined
  }
}

interface PendingState {
  readonly interrupts: ReadonlyArray<{ readonly id: string; readonly kind: string; readonly status: string }>
}

/** The answers for `resume`: none for a breakpoint, else the JSON decoded for the chosen question. */
export const build = (config: Loaded, graph: AnyCompiled, state: PendingState, interruptId: string | undefined, answer: string | undefined) =>
  Effect.gen(function*() {
    const pending = state.interrupts.filter((i) => i.status === "pending")
    if (pending.length === 0) {
      return yield* new CliError({ reason: "Failed", message: "the thread has no pending question" })
    }
    const chosen = interruptId !== undefined
      ? pending.find((i) => i.id === interruptId)
      : pending.length === 1
      ? pending[0]
      : undefined
    if (chosen === undefined) {
      return yield* new CliError({
        reason: interruptId === undefined ? "Usage" : "NotFound",
        message: interruptId === undefined
          ? `several questions are pending; choose one with --interrupt: ${pending.map((i) => `${i.id} (${i.kind})`).join(", ")}`
          : `no pending question ${interruptId}; pending: ${pending.map((i) => i.id).join(", ")}`
      })
    }
    if (chosen.kind === "Breakpoint" && answer === undefined) return []
    if (answer === undefined) {
      return yield* new CliError({ reason: "Usage", message: `--answer is required: a JSON value for ${chosen.kind}` })
    }
    const kind = kindOf(config, graph, chosen.kind)
    if (kind === undefined) {
      return yield* new CliError({
        reason: "Failed",
        message: `cannot check an answer to ${chosen.kind}: declare it on ${graph.id} with compile({ interrupts: [${chosen.kind}] }), or export it from the graph's module`
      })
    }
    const json = yield* Effect.try({
      try: () => JSON.parse(answer) as unknown,
      catch: (e) => new CliError({ reason: "Usage", message: `--answer is not JSON: ${(e as Error).message}` })
    })
    const decoded = Schema.decodeUnknownEither(kind.responseSchema)(json)
    if (Either.isLeft(decoded)) {
      return yield* new CliError({
        reason: "Failed",
        message: `the answer does not match ${chosen.kind}'s schema:\n${ParseResult.TreeFormatter.formatErrorSync(decoded.left)}`
      })
    }
    return [kind.respondTo(chosen.id, decoded.right)]
  })
