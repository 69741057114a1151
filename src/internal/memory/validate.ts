/**
 * Checks of what callers give the memory store (namespaces, keys, filters, pages, ttls), done
 * once in the facade so every backend gets the same, valid requests; and the in-process
 * evaluation of a filter (the SQL backend compiles the same conditions to SQL).
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"

type Namespace = ReadonlyArray<string>

/** Why a request is refused: what is wrong, and with what. */
export interface Issue {
  readonly reason: "namespace" | "key" | "filter" | "page" | "ttl"
  readonly issue: string
}

type Checked<A> = Either.Either<A, Issue>

export const MAX_LABELS = 64
export const MAX_LABEL_LENGTH = 256
export const MAX_KEY_LENGTH = 1024

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/

const fail = (reason: Issue["reason"], issue: string): Checked<never> => Either.left({ reason, issue })

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** Not well-formed UTF-16 (a lone surrogate): a database would store it as U+FFFD, another string. */
const illFormed = (s: string) => LONE_SURROGATE.test(s)

/** A copy of a valid namespace (an empty one only where `allowEmpty`: a prefix, a suffix). */
export const namespace = (
  u: unknown,
  allowEmpty: boolean
): Checked<Namespace> => {
  if (!Array.isArray(u)) return fail("namespace", "a namespace is an array of strings")
  if (u.length === 0 && !allowEmpty) return fail("namespace", "a namespace needs at least one label")
  if (u.length > MAX_LABELS) return fail("namespace", `a namespace has at most ${MAX_LABELS} labels`)
  const out: Array<string> = []
  for (let i = 0; i < u.length; i++) {
    const label: unknown = u[i]
    if (typeof label !== "string") return fail("namespace", `label ${i} is not a string`)
    if (label.length === 0) return fail("namespace", `label ${i} is empty`)
    if (label.length > MAX_LABEL_LENGTH) return fail("namespace", `label ${i} is longer than ${MAX_LABEL_LENGTH} characters`)
    if (CONTROL.test(label)) return fail("namespace", `label ${i} contains a control character`)
    if (illFormed(label)) return fail("namespace", `label ${i} is not well-formed Unicode`)
    out.push(label)
  }
  return Either.right(out)
}

export const key = (u: unknown): Checked<string> =>
  typeof u !== "string"
    ? fail("key", "a key is a string")
    : u.length === 0
    ? fail("key", "a key is not empty")
    : u.length > MAX_KEY_LENGTH
    ? fail("key", `a key is at most ${MAX_KEY_LENGTH} characters`)
    : illFormed(u)
    ? fail("key", "a key is well-formed Unicode")
    : Either.right(u)

/** A ttl in whole milliseconds, at least 1. */
export const ttl = (u: Duration.DurationInput): Checked<number> => {
  const d = Either.try(() => Duration.decode(u))
  if (Either.isLeft(d) || !Duration.isFinite(d.right)) return fail("ttl", "a ttl is a finite duration")
  const millis = Math.ceil(Duration.toMillis(d.right))
  return millis >= 1 ? Either.right(millis) : fail("ttl", "a ttl is at least 1 millisecond")
}

export const page = (
  name: string,
  u: unknown,
  fallback: number
): Checked<number> =>
  u === undefined
    ? Either.right(fallback)
    : typeof u === "number" && Number.isSafeInteger(u) && u >= 0
    ? Either.right(u)
    : fail("page", `${name} is a whole number, 0 or more`)

export type Scalar = string | number | boolean | null
export type Op = "$eq" | "$ne" | "$gt" | "$gte" | "$lt" | "$lte"

/** One condition on a top-level field of the encoded value. */
export interface Condition {
  readonly field: string
  readonly op: Op
  readonly value: Scalar
}

const OPS: ReadonlySet<string> = new Set(["$eq", "$ne", "$gt", "$gte", "$lt", "$lte"])

const scalarIssue = (v: unknown, op: Op): string | undefined => {
  if (op === "$eq" || op === "$ne") {
    if (v === null || typeof v === "string" || typeof v === "boolean") return undefined
    if (typeof v === "number") return Number.isFinite(v) ? undefined : "a number to compare with is finite"
    return `${op} compares with a string, a number, a boolean or null`
  }
  if (typeof v === "string") return undefined
  if (typeof v === "number") return Number.isFinite(v) ? undefined : "a number to compare with is finite"
  return `${op} compares with a string or a number`
}

export const filter = (u: unknown): Checked<ReadonlyArray<Condition>> => {
  if (u === undefined) return Either.right([])
  if (typeof u !== "object" || u === null || Array.isArray(u)) return fail("filter", "a filter is an object of fields")
  const out: Array<Condition> = []
  for (const field of Object.keys(u)) {
    const spec = (u as Record<string, unknown>)[field]
    if (spec === undefined) continue
    if (illFormed(field)) return fail("filter", "a field name is well-formed Unicode")
    if (typeof spec === "object" && spec !== null && !Array.isArray(spec)) {
      const ops = Object.keys(spec)
      if (ops.length === 0) return fail("filter", `field ${JSON.stringify(field)}: no operator`)
      for (const op of ops) {
        if (!OPS.has(op)) return fail("filter", `field ${JSON.stringify(field)}: unknown operator ${JSON.stringify(op)}`)
        const value = (spec as Record<string, unknown>)[op]
        const issue = scalarIssue(value, op as Op)
        if (issue !== undefined) return fail("filter", `field ${JSON.stringify(field)}: ${issue}`)
        out.push({ field, op: op as Op, value: value as Scalar })
      }
    } else {
      const issue = scalarIssue(spec, "$eq")
      if (issue !== undefined) return fail("filter", `field ${JSON.stringify(field)}: ${issue}`)
      out.push({ field, op: "$eq", value: spec as Scalar })
    }
  }
  return Either.right(out)
}

const kind = (v: unknown): "string" | "number" | "boolean" | "null" | "other" =>
  v === null ? "null" : typeof v === "string" ? "string" : typeof v === "number" ? "number" : typeof v === "boolean" ? "boolean" : "other"

/** Code-point order on strings (what SQLite's BINARY collation gives on UTF-8). */
export const compareStrings = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b))

/** Whether a condition holds of an encoded value (a field holds only if it is a scalar of the same kind). */
export const holds = (value: unknown, c: Condition): boolean => {
  const has = typeof value === "object" && value !== null && !Array.isArray(value) && Object.hasOwn(value, c.field)
  const v = has ? (value as Record<string, unknown>)[c.field] : undefined
  const same = has && kind(v) === kind(c.value) && kind(v) !== "other"
  const equal = same && v === c.value
  switch (c.op) {
    case "$eq":
      return equal
    case "$ne":
      return !equal
    default: {
      if (!same) return false
      const cmp = typeof v === "string" ? compareStrings(v, c.value as string) : (v as number) - (c.value as number)
      return c.op === "$gt" ? cmp > 0 : c.op === "$gte" ? cmp >= 0 : c.op === "$lt" ? cmp < 0 : cmp <= 0
    }
  }
}

/** What joins the labels of a stored namespace: below any character a label may hold. */
export const SEPARATOR = "\u001f"

/**
 * The stored form of a namespace: its labels joined by U+001F. Labels hold no control
 * characters, so the byte order of the texts is the label-by-label order of the namespaces (a
 * namespace before the ones under it), and the namespaces under `p` are the texts `p` and those
 * starting with `p` + U+001F.
 */
export const nsText = (ns: Namespace): string => ns.join(SEPARATOR)

/** A stored namespace's labels, or undefined when the text is not a valid namespace. */
export const nsParse = (text: string): Namespace | undefined => {
  const labels = text.split(SEPARATOR)
  return Either.isRight(namespace(labels, false)) ? labels : undefined
}

/** Whether `ns` starts with `prefix`. */
export const startsWith = (ns: Namespace, prefix: Namespace): boolean =>
  prefix.length <= ns.length && prefix.every((l, i) => ns[i] === l)

/** Namespaces ending with `suffix`, cut to `maxDepth` labels, deduplicated, in order. */
export const shapeNamespaces = (
  all: ReadonlyArray<Namespace>,
  options: { readonly suffix: Namespace; readonly maxDepth: number | undefined }
): Array<Namespace> => {
  const seen = new Set<string>()
  const out: Array<Namespace> = []
  for (const ns of all) {
    const s = options.suffix
    if (s.length > ns.length || !s.every((l, i) => ns[ns.length - s.length + i] === l)) continue
    const cut = options.maxDepth === undefined ? ns : ns.slice(0, options.maxDepth)
    const text = nsText(cut)
    if (seen.has(text)) continue
    seen.add(text)
    out.push(cut)
  }
  return out.sort((a, b) => compareStrings(nsText(a), nsText(b)))
}
