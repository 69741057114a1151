/**
 * Interrupts are typed pauses. A kind is declared once with the schema of what it asks and the
 * schema of the answer it accepts; inside a node, `yield* Kind.ask(request)` returns the answer
 * on resume, or fails the task with the interrupt — a typed failure in the node's error channel.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as JSONSchema from "effect/JSONSchema"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type { YieldableError } from "effect/Cause"
import { CurrentTask, interruptId } from "./internal/task.js"
import { withoutStack } from "./internal/pause.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("effect-stategraph/Interrupt") as any

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * The failure a task raises when it asks: carries the request; the answer type is a phantom.
 *
 * @since 0.1.0
 * @category models
 */
export interface Interrupt<out Kind extends string, out Request, in out Response> extends YieldableError {
  readonly _tag: Kind
  readonly [TypeId]: { readonly _Response: (_: Response) => Response }
  readonly id: string
  readonly request: Request
}

/**
 * @since 0.1.0
 * @category models
 */
export type Any = Interrupt<string, any, any>

/**
 * A declared interrupt kind: its schemas and how to ask and answer it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Kind<K extends string, Request, Response, AskInput = Request> {
  new(args: { readonly id: string; readonly request: Request }): Interrupt<K, Request, Response>
  readonly kind: K
  readonly requestSchema: Schema.Schema<Request, any>
  readonly responseSchema: Schema.Schema<Response, any>
  /** Extra validation of an answer against its request (e.g. a choice among the options). */
  readonly check: ((request: Request, response: Response) => string | undefined) | undefined
  /** Returns the answer on resume; otherwise fails the task with this interrupt. */
  readonly ask: (request: AskInput) => Effect.Effect<Response, Interrupt<K, Request, Response>>
  /** Answers the only pending interrupt of this kind. */
  readonly respond: (value: Response) => Answer<K, Response>
  /** Answers the pending interrupt with this id. */
  readonly respondTo: (id: string, value: Response) => Answer<K, Response>
}

/**
 * @since 0.1.0
 * @category models
 */
export type AnyKind = Kind<string, any, any, any>

/**
 * An answer to an interrupt, given to `resume`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Answer<out K extends string, out Response> {
  readonly _tag: "Answer"
  readonly kind: K
  readonly id: string | undefined
  readonly value: Response
  /** @internal */
  readonly definition: Definition
}

/**
 * What the engine needs of a kind to check an answer: its schemas and its check.
 *
 * @since 0.1.0
 * @category models
 */
export interface Definition {
  readonly kind: string
  readonly requestSchema: Schema.Schema<any, any>
  readonly responseSchema: Schema.Schema<any, any>
  readonly check: ((request: any, response: any) => string | undefined) | undefined
}

/**
 * The answers a graph raising the interrupts `I` accepts.
 *
 * @since 0.1.0
 * @category type-level
 */
export type AnswerFor<I> = I extends Interrupt<infer K, any, infer Res> ? Answer<K, Res> : never

/**
 * A pending interrupt as the caller sees it: a union discriminated on `kind`.
 *
 * @since 0.1.0
 * @category models
 */
export type Pending<I> = I extends Interrupt<infer K, infer Req, any> ? {
    readonly id: string
    readonly kind: K
    readonly request: Req
    readonly node: string
    readonly taskId: string
  }
  : never


/**
 * Declares an interrupt kind:
 *
 * ```ts
 * class Approval extends Interrupt.Tag("Approval", {
 *   request: Schema.Struct({ draft: Schema.String }),
 *   response: Schema.Struct({ approved: Schema.Boolean })
 * }) {}
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const Tag = <const K extends string, Req, ReqI, Res, ResI>(
  kind: K,
  options: {
    readonly request: Schema.Schema<Req, ReqI, never>
    readonly response: Schema.Schema<Res, ResI, never>
    readonly check?: (request: Req, response: Res) => string | undefined
  }
): Kind<K, Req, Res> => makeKind(kind, options, (r: Req) => r)

const makeKind = <K extends string, Req, Res, AskInput>(
  kind: K,
  options: {
    readonly request: Schema.Schema<Req, any, never>
    readonly response: Schema.Schema<Res, any, never>
    readonly check?: ((request: Req, response: Res) => string | undefined) | undefined
  },
  normalize: (input: AskInput) => Req
): Kind<K, Req, Res, AskInput> => {
  const decodeResponse = ParseResult.decodeUnknownEither(options.response)
  const encodeRequest = ParseResult.encodeUnknownEither(options.request)
  class Base extends Data.TaggedError(kind)<{ readonly id: string; readonly request: Req }> {
    readonly [TypeId] = { _Response: (_: Res) => _ }
    static readonly kind = kind
    static readonly requestSchema = options.request
    static readonly responseSchema = options.response
    static readonly check = options.check
    static ask(input: AskInput): Effect.Effect<Res, Interrupt<K, Req, Res>> {
      return Effect.flatMap(CurrentTask, ({ scope: task }) => {
        if (task === undefined) {
          return Effect.dieMessage(`${kind}.ask was called outside a graph node`)
        }
        const request = normalize(input)
        const index = task.askIndex++
        // the task's own asks are answered in order; a Task.forEach child's by key (path + index)
        const key = task.path + index
        const answered = task.path === ""
          ? index < task.answers.length
          : Object.prototype.hasOwnProperty.call(task.keyedAnswers, key)
        if (answered) {
          const decoded = decodeResponse(task.path === "" ? task.answers[index] : task.keyedAnswers[key])
          if (Either.isRight(decoded)) return Effect.succeed(decoded.right)
          return Effect.dieMessage(`stored answer ${key} of task ${task.taskId} does not decode as ${kind}`)
        }
        // the running graph learns the kind (its stored requests are decoded with it later)
        if (!task.kinds.has(kind)) task.kinds.set(kind, Base as unknown as AnyKind)
        const encoded = encodeRequest(request)
        task.pause.asks.push({ kind, request: Either.isRight(encoded) ? encoded.right : request, key })
        return Effect.fail(withoutStack(() => new Base({ id: interruptId(task.taskId, key), request })) as any)
      })
    }
    static respond(value: Res): Answer<K, Res> {
      return { _tag: "Answer", kind, id: undefined, value, definition: Base }
    }
    static respondTo(id: string, value: Res): Answer<K, Res> {
      return { _tag: "Answer", kind, id, value, definition: Base }
    }
  }
  return Base as any
}

/**
 * @since 0.1.0
 * @category guards
 */
export const isInterrupt = (u: unknown): u is Any => typeof u === "object" && u !== null && TypeId in u

/**
 * The failure of `invoke`, `stream` and `resume` when the thread paused: every pending
 * interrupt of the step, discriminated on `kind`. `GraphInterrupted` without a type argument is any
 * graph's: a handler taking it accepts the failure of every graph.
 *
 * @since 0.1.0
 * @category errors
 */
export class GraphInterrupted<I = Any> extends Data.TaggedError("GraphInterrupted")<{
  readonly threadId: string | undefined
  readonly checkpointId: string
  readonly interrupts: ReadonlyArray<Pending<I>>
}> {

  override get message() {
    return `graph paused at ${this.interrupts.map((i) => `${i.kind} (${i.id})`).join(", ")}`
  }
}

// ---------------------------------------------------------------------------------------------
// prebuilt kinds (FlowDrop's interrupt types)
// ---------------------------------------------------------------------------------------------

/**
 * A static pause from `interruptBefore` / `interruptAfter`; resume it with no answer.
 *
 * @since 0.1.0
 * @category prebuilt
 */
export const Breakpoint = makeKind("Breakpoint", {
  request: Schema.Struct({ node: Schema.String, when: Schema.Literal("before", "after") }),
  response: Schema.Void
}, (r: { readonly node: string; readonly when: "before" | "after" }) => r)

/**
 * @since 0.1.0
 * @category prebuilt
 */
export type Breakpoint = Interrupt<"Breakpoint", { readonly node: string; readonly when: "before" | "after" }, void>

/**
 * A yes / no question: `{ message, confirmLabel = "Yes", cancelLabel = "No" }` → `{ confirmed }`.
 *
 * @since 0.1.0
 * @category prebuilt
 */
export const Confirmation = makeKind(
  "Confirmation",
  {
    request: Schema.Struct({ message: Schema.String, confirmLabel: Schema.String, cancelLabel: Schema.String }),
    response: Schema.Struct({ confirmed: Schema.Boolean })
  },
  (input: { readonly message: string; readonly confirmLabel?: string; readonly cancelLabel?: string }) => ({
    message: input.message,
    confirmLabel: input.confirmLabel ?? "Yes",
    cancelLabel: input.cancelLabel ?? "No"
  })
)

/**
 * @since 0.1.0
 * @category prebuilt
 */
export type Confirmation = Interrupt<
  "Confirmation",
  { readonly message: string; readonly confirmLabel: string; readonly cancelLabel: string },
  { readonly confirmed: boolean }
>

const ChoiceOption = Schema.Struct({ value: Schema.String, label: Schema.String })

/**
 * A choice among options, single or multiple → `{ selected: string[] }` (values of options).
 *
 * @since 0.1.0
 * @category prebuilt
 */
export const Choice = makeKind(
  "Choice",
  {
    request: Schema.Struct({
      message: Schema.String,
      options: Schema.Array(ChoiceOption),
      multiple: Schema.Boolean
    }),
    response: Schema.Struct({ selected: Schema.Array(Schema.String) }),
    check: (request, response) => {
      const allowed = new Set(request.options.map((o) => o.value))
      const unknown = response.selected.filter((s) => !allowed.has(s))
      if (unknown.length > 0) return `not an option: ${unknown.join(", ")}`
      if (!request.multiple && response.selected.length !== 1) return `exactly one option must be selected`
      if (request.multiple && response.selected.length === 0) return `at least one option must be selected`
      return undefined
    }
  },
  (input: {
    readonly message: string
    readonly options: ReadonlyArray<string | { readonly value: string; readonly label: string }>
    readonly multiple?: boolean
  }) => {
    // no option: no answer could ever be valid, and the thread would stay paused for good
    if (input.options.length === 0) throw new Error("Choice.ask needs at least one option")
    return {
      message: input.message,
      options: input.options.map((o) => typeof o === "string" ? { value: o, label: o } : o),
      multiple: input.multiple ?? false
    }
  }
)

/**
 * @since 0.1.0
 * @category prebuilt
 */
export type Choice = Interrupt<
  "Choice",
  {
    readonly message: string
    readonly options: ReadonlyArray<{ readonly value: string; readonly label: string }>
    readonly multiple: boolean
  },
  { readonly selected: ReadonlyArray<string> }
>

/**
 * A free-text question: `{ prompt, placeholder? }` → the text.
 *
 * @since 0.1.0
 * @category prebuilt
 */
export const Text = makeKind("Text", {
  request: Schema.Struct({ prompt: Schema.String, placeholder: Schema.optional(Schema.String) }),
  response: Schema.String
}, (input: { readonly prompt: string; readonly placeholder?: string }) => input)

/**
 * @since 0.1.0
 * @category prebuilt
 */
export type Text = Interrupt<"Text", { readonly prompt: string; readonly placeholder?: string }, string>

/**
 * A form: the answer is decoded by `schema`, whose JSON Schema travels in the request so a UI can
 * render it. Give each form a distinct `kind` when a graph asks several.
 *
 * @since 0.1.0
 * @category prebuilt
 */
export const Form = <A, I, const K extends string = "Form">(
  schema: Schema.Schema<A, I, never>,
  options?: { readonly kind?: K }
): Kind<
  K,
  { readonly message: string; readonly jsonSchema: unknown },
  A,
  { readonly message: string }
> => {
  // made once, here: a schema JSON Schema cannot express fails where the form is declared
  let jsonSchema: unknown
  try {
    jsonSchema = JSONSchema.make(schema)
  } catch (e) {
    throw new Error(`Interrupt.Form: the schema must be expressible as JSON Schema: ${e instanceof Error ? e.message : String(e)}`)
  }
  return makeKind(
    (options?.kind ?? "Form") as K,
    {
      request: Schema.Struct({ message: Schema.String, jsonSchema: Schema.Unknown }),
      response: schema
    },
    (input: { readonly message: string }) => ({ message: input.message, jsonSchema })
  )
}
