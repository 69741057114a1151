import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as SchemaAST from "effect/SchemaAST"
import type { Any, Channel } from "../Channel.js"

/** @internal */
export const TypeId = Symbol.for("effect-stategraph/Channel")

const variance = { _Value: (_: any) => _, _Update: (_: any) => _ }

/** @internal */
export const lastValue = <A, I>(schema: Schema.Schema<A, I>, initial: (() => A) | undefined): Channel<A, A> => ({
  [TypeId]: variance,
  _tag: "LastValue",
  schema,
  updateSchema: schema,
  initial,
  reducer: (_: A | undefined, update: A) => update
}) as any

/** @internal */
export const append = <A, I>(item: Schema.Schema<A, I>): Channel<ReadonlyArray<A>, ReadonlyArray<A>> => {
  const schema = Schema.Array(item)
  return {
    [TypeId]: variance,
    _tag: "Append",
    schema,
    updateSchema: schema,
    item,
    initial: () => [],
    reducer: (current: ReadonlyArray<A> | undefined, update: ReadonlyArray<A>) =>
      current === undefined || current.length === 0 ? update : update.length === 0 ? current : current.concat(update)
  } as any
}

/** @internal */
export const reduce = <A, I>(
  schema: Schema.Schema<A, I>,
  reducer: (current: A, update: A) => A,
  initial: () => A
): Channel<A, A> => ({
  [TypeId]: variance,
  _tag: "Reduce",
  schema,
  updateSchema: schema,
  initial,
  reducer: (current: A | undefined, update: A) => reducer(current === undefined ? initial() : current, update)
}) as any

/**
 * The compiled codecs of a channel: validators and encoders built once per graph, so the hot
 * path never rebuilds a parser.
 *
 * @internal
 */
export interface ChannelCodec {
  readonly name: string
  readonly channel: Any
  readonly kind: "LastValue" | "Append" | "Reduce"
  /** type-side validation of an update */
  readonly validateUpdate: (u: unknown) => Either.Either<unknown, ParseResult.ParseIssue>
  readonly encodeValue: (v: unknown) => Either.Either<unknown, ParseResult.ParseIssue>
  /** a node's update, for pending writes */
  readonly encodeUpdate: (u: unknown) => Either.Either<unknown, ParseResult.ParseIssue>
  readonly decodeUpdate: (u: unknown) => Either.Either<unknown, ParseResult.ParseIssue>
  readonly decodeValue: (u: unknown) => Either.Either<unknown, ParseResult.ParseIssue>
  /** for append channels: encode / decode only the items added in a step */
  readonly encodeItems: (items: ReadonlyArray<unknown>) => Either.Either<ReadonlyArray<unknown>, ParseResult.ParseIssue>
  readonly decodeItems: (u: unknown) => Either.Either<ReadonlyArray<unknown>, ParseResult.ParseIssue>
  /** the value of an empty channel, if it has one */
  readonly initial: (() => unknown) | undefined
  /** whether a thread may start without a value for it */
  readonly optional: boolean
  /**
   * for reduce channels stored incrementally while their updates only append (messages): tells
   * whether an update appends its items unchanged
   */
  readonly isAppend: ((current: unknown, update: unknown) => boolean) | undefined
}

const isIdentity = (schema: Schema.Schema.Any): boolean => {
  const ast = schema.ast
  return SchemaAST.encodedAST(ast) === ast && SchemaAST.typeAST(ast) === ast
}

const right = Either.right

/**
 * A validator for the schemas whose check is one `typeof` (string, number, boolean): the hot path
 * of most updates, without the interpreter of `ParseResult`. Anything else: `undefined`.
 */
const primitiveValidator = (
  schema: Schema.Schema<unknown, unknown>
): ((u: unknown) => Either.Either<unknown, ParseResult.ParseIssue>) | undefined => {
  const ast = schema.ast
  const type = SchemaAST.isStringKeyword(ast)
    ? "string"
    : SchemaAST.isNumberKeyword(ast)
    ? "number"
    : SchemaAST.isBooleanKeyword(ast)
    ? "boolean"
    : undefined
  if (type === undefined) return undefined
  const slow = ParseResult.validateEither(schema)
  // the failure path goes through the schema, for the same issue as before
  return (u) => (typeof u === type ? right(u) : slow(u))
}

/** How deep a stored value may nest (JSON readers and our own walkers stay far from the stack's end). */
export const MAX_DEPTH = 1_000

/**
 * Why JSON (the stores' format) cannot hold a value faithfully, or undefined when it can: NaN and
 * ±Infinity (they would read back as null), a BigInt, a cycle, or nesting deeper than MAX_DEPTH.
 * Iterative, so a deep value is refused instead of overflowing the stack.
 */
export const jsonIssue = (root: unknown): string | undefined => {
  if (typeof root !== "object" || root === null) return scalarIssue(root)
  // depth-first, with the objects on the current path (for cycles): [value, depth, leaving]
  const stack: Array<[unknown, number, boolean]> = [[root, 0, false]]
  const path = new Set<object>()
  while (stack.length > 0) {
    const [u, depth, leaving] = stack.pop()!
    if (leaving) {
      path.delete(u as object)
      continue
    }
    if (typeof u !== "object" || u === null) {
      const issue = scalarIssue(u)
      if (issue !== undefined) return issue
      continue
    }
    if (path.has(u)) return "a value that contains itself (a cycle) cannot be stored as JSON"
    if (depth >= MAX_DEPTH) return `a value nested deeper than ${MAX_DEPTH} levels cannot be stored`
    path.add(u)
    stack.push([u, depth, true])
    if (Array.isArray(u)) for (let i = u.length - 1; i >= 0; i--) stack.push([u[i], depth + 1, false])
    else for (const k in u) stack.push([(u as Record<string, unknown>)[k], depth + 1, false])
  }
  return undefined
}

const scalarIssue = (u: unknown): string | undefined =>
  typeof u === "number"
    ? Number.isFinite(u) ? undefined : "NaN and ±Infinity cannot be stored (JSON has no such numbers)"
    : typeof u === "bigint"
    ? "a BigInt cannot be stored as JSON (use Schema.BigInt, which encodes it as a string)"
    : undefined

/**
 * Refuses updates JSON cannot hold faithfully (see jsonIssue): a thread must read back the same on
 * every store. The value checked is the one stored: the update itself for a schema that encodes
 * to itself, else its encoding (a Schema.BigInt or Schema.Date channel stores strings).
 */
const jsonSafe = (
  schema: Schema.Schema<unknown, unknown>,
  validate: (u: unknown) => Either.Either<unknown, ParseResult.ParseIssue>,
  encode: ((u: unknown) => Either.Either<unknown, ParseResult.ParseIssue>) | undefined
) =>
(u: unknown): Either.Either<unknown, ParseResult.ParseIssue> => {
  const checked = validate(u)
  if (Either.isLeft(checked)) return checked
  const value = checked.right
  // scalars of an identity schema (the hot path): one typeof
  if (encode === undefined && (typeof value !== "object" || value === null) && typeof value !== "number" && typeof value !== "bigint") {
    return checked
  }
  let stored = value
  if (encode !== undefined) {
    const encoded = encode(value)
    if (Either.isLeft(encoded)) return encoded
    stored = encoded.right
  }
  const issue = jsonIssue(stored)
  return issue === undefined ? checked : Either.left(new ParseResult.Type(schema.ast, u, issue))
}

/** @internal */
export const makeCodec = (name: string, channel: Any): ChannelCodec => {
  const schema = channel.schema as Schema.Schema<unknown, unknown>
  const identity = isIdentity(schema)
  const updateSchema = channel.updateSchema as Schema.Schema<unknown, unknown>
  const updateIdentity = isIdentity(updateSchema)
  const validate = ParseResult.validateEither(updateSchema)
  const encode = identity ? right : ParseResult.encodeUnknownEither(schema)
  const decode = ParseResult.decodeUnknownEither(schema)
  const item = "item" in channel ? channel.item as Schema.Schema<unknown, unknown> : undefined
  const items = item ? Schema.Array(item) : undefined
  const encodeItems: ChannelCodec["encodeItems"] = items
    ? (identity ? right : ParseResult.encodeUnknownEither(items)) as any
    : () => Either.right([])
  const decodeItems: ChannelCodec["decodeItems"] = items ? ParseResult.decodeUnknownEither(items) as any : () =>
    Either.right([])
  const initial = channel.initial
  const optional = initial !== undefined || Either.isRight(ParseResult.validateEither(schema)(undefined))
  return {
    name,
    channel,
    kind: channel._tag,
    validateUpdate: jsonSafe(
      updateSchema,
      primitiveValidator(updateSchema) ?? ((u) => validate(u, { onExcessProperty: "ignore" })),
      updateIdentity ? undefined : ParseResult.encodeUnknownEither(updateSchema)
    ),
    encodeValue: (v) => encode(v),
    encodeUpdate: updateIdentity ? right : ParseResult.encodeUnknownEither(updateSchema),
    decodeUpdate: ParseResult.decodeUnknownEither(updateSchema),
    decodeValue: (u) => decode(u),
    encodeItems,
    decodeItems,
    initial,
    optional,
    isAppend: "isAppend" in channel ? channel.isAppend as ChannelCodec["isAppend"] : undefined
  }
}
