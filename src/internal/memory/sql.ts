/**
 * The memory backend on an @effect/sql client. Statements are standard SQL (upserts with
 * `ON CONFLICT`, `RETURNING`); what differs between databases — matching a namespace prefix and
 * a filter on a field of the stored JSON — is chosen with `sql.onDialectOrElse` in `dialect`, so
 * a Postgres store adds its branch there.
 *
 * @internal
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type { Fragment } from "@effect/sql/Statement"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { StoreError } from "../../GraphError.js"
import { type Backend, CorruptMemoryItem, type Namespace, type StoredItem } from "../../Memory.js"
import type { Condition } from "./validate.js"
import { nsParse, nsText, SEPARATOR } from "./validate.js"

const Row = Schema.Struct({
  namespace: Schema.String,
  key: Schema.String,
  value: Schema.String,
  created_at: Schema.Number,
  updated_at: Schema.Number,
  expires_at: Schema.NullOr(Schema.Number)
})
type Row = typeof Row.Type

const decodeRow = Schema.decodeUnknownEither(Row)

/** A stored row as an item, or why it is not one. */
const toItem = (u: unknown): Effect.Effect<StoredItem, CorruptMemoryItem> => {
  const row = decodeRow(u)
  if (row._tag === "Left") {
    const r = (typeof u === "object" && u !== null ? u : {}) as Record<string, unknown>
    return Effect.fail(new CorruptMemoryItem({ namespace: String(r.namespace), key: String(r.key), issue: "the row does not have an item's columns" }))
  }
  const r: Row = row.right
  const ns = nsParse(r.namespace)
  if (ns === undefined) return Effect.fail(new CorruptMemoryItem({ namespace: r.namespace, key: r.key, issue: "the namespace is not valid" }))
  let value: unknown
  try {
    value = JSON.parse(r.value)
  } catch {
    return Effect.fail(new CorruptMemoryItem({ namespace: r.namespace, key: r.key, issue: "the value is not JSON" }))
  }
  return Effect.succeed({
    namespace: ns,
    key: r.key,
    value,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    expiresAt: r.expires_at ?? undefined
  })
}

/** Where the databases differ. */
interface Dialect {
  /** the items table (Postgres: in the store's schema) */
  readonly table: Fragment
  /** items whose namespace is `prefix` or starts with it (never called with an empty prefix) */
  readonly underPrefix: (prefix: Namespace) => Fragment
  /** a condition on a top-level field of the stored JSON value */
  readonly condition: (c: Condition) => Fragment
}

const sqliteDialect = (sql: SqlClient.SqlClient): Dialect => ({
  table: sql.literal("stategraph_memory_items"),
  // the namespaces under "a" are "a" and the texts starting with "a" + U+001F: a range on the
  // primary key (U+001F + 1 is U+0020), in the byte order SQLite compares text in
  underPrefix: (prefix) => {
    const exact = nsText(prefix)
    return sql`(namespace = ${exact} OR (namespace >= ${exact + SEPARATOR} AND namespace < ${exact + "\u0020"}))`
  },
  condition: (c) => {
    const v = c.value
    const type = v === null
      ? sql`j.type = 'null'`
      : typeof v === "boolean"
      ? (v ? sql`j.type = 'true'` : sql`j.type = 'false'`)
      : typeof v === "number"
      ? sql`j.type IN ('integer', 'real')`
      : sql`j.type = 'text'`
    const scalar = v === null || typeof v === "boolean"
    const compare = scalar
      ? sql`1 = 1`
      : c.op === "$eq" || c.op === "$ne"
      ? sql`j.value = ${v}`
      : c.op === "$gt"
      ? sql`j.value > ${v}`
      : c.op === "$gte"
      ? sql`j.value >= ${v}`
      : c.op === "$lt"
      ? sql`j.value < ${v}`
      : sql`j.value <= ${v}`
    const exists = sql`EXISTS (SELECT 1 FROM json_each(stategraph_memory_items.value) j WHERE j.key = ${c.field} AND ${type} AND ${compare})`
    return c.op === "$ne" ? sql`NOT ${exists}` : exists
  }
})


/**
 * Postgres: a namespace prefix with `starts_with` (whatever the database's collation); a filter
 * on the value's JSON with `jsonb`, its type checked before it is compared (inside a `CASE`, so a
 * value of another type is never cast), text compared byte-wise (`COLLATE "C"`, as SQLite does).
 */
const pgDialect = (sql: SqlClient.SqlClient, schema: string): Dialect => ({
  table: sql.literal(`"${schema}".stategraph_memory_items`),
  underPrefix: (prefix) => {
    const exact = nsText(prefix)
    return sql`(namespace = ${exact} OR starts_with(namespace, ${exact + SEPARATOR}))`
  },
  condition: (c) => {
    const v = c.value
    const field = sql`(value::jsonb -> ${c.field}::text)`
    const type = v === null ? "null" : typeof v === "boolean" ? "boolean" : typeof v === "number" ? "number" : "string"
    const compare = v === null
      ? sql`true`
      : typeof v === "boolean"
      ? sql`${field} = ${v ? "true" : "false"}::jsonb`
      : typeof v === "number"
      ? sql`(${field} #>> '{}')::double precision ${sql.literal(OPS[c.op])} ${v}::double precision`
      : sql`(${field} #>> '{}') COLLATE "C" ${sql.literal(OPS[c.op])} ${v}::text`
    const holds = sql`(CASE WHEN jsonb_typeof(${field}) = ${type} THEN ${compare} ELSE false END)`
    return c.op === "$ne" ? sql`NOT ${holds}` : holds
  }
})

const OPS: Record<Condition["op"], string> = { $eq: "=", $ne: "=", $gt: ">", $gte: ">=", $lt: "<", $lte: "<=" }

const toStoreError = (operation: string) => (cause: SqlError) => new StoreError({ operation: `Memory.${operation}`, cause })

/**
 * The backend on `sql` (its tables migrated). Fails with `StoreError` on a database the store
 * has no dialect for yet.
 *
 * @internal
 */
export const make = (sql: SqlClient.SqlClient, options?: { readonly schema?: string | undefined }): Effect.Effect<Backend, StoreError> =>
  Effect.gen(function*() {
    const dialect = yield* sql.onDialectOrElse({
      sqlite: () => Effect.succeed(sqliteDialect(sql)),
      pg: () => Effect.succeed(pgDialect(sql, options?.schema ?? "stategraph")),
      orElse: () => Effect.fail(new StoreError({ operation: "Memory.open", cause: new Error("the memory store supports SQLite and Postgres only") }))
    })
    const T = dialect.table
    const live = (now: number) => sql`(expires_at IS NULL OR expires_at > ${now})`
    const where = (prefix: Namespace, filter: ReadonlyArray<Condition>, now: number) =>
      sql.and([live(now), ...(prefix.length === 0 ? [] : [dialect.underPrefix(prefix)]), ...filter.map(dialect.condition)])
    const columns = sql`namespace, key, value, created_at, updated_at, expires_at`

    const backend: Backend = {
      put: (item, now) =>
        sql`INSERT INTO ${T} (namespace, key, value, created_at, updated_at, ttl_ms, expires_at)
          VALUES (${nsText(item.namespace)}, ${item.key}, ${JSON.stringify(item.value)}, ${now}, ${now},
            ${item.ttlMillis ?? null}, ${item.ttlMillis === undefined ? null : now + item.ttlMillis})
          ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at,
            ttl_ms = excluded.ttl_ms, expires_at = excluded.expires_at,
            created_at = CASE WHEN ${T}.expires_at IS NOT NULL
              AND ${T}.expires_at <= excluded.updated_at
              THEN excluded.created_at ELSE ${T}.created_at END`.pipe(
          Effect.asVoid,
          Effect.mapError(toStoreError("put"))
        ),
      get: (namespace, key, { now, refresh }) => {
        const ns = nsText(namespace)
        const select = sql`SELECT ${columns} FROM ${T}
          WHERE namespace = ${ns} AND key = ${key} AND ${live(now)}`
        // the write first: a transaction that reads before it writes could not upgrade its lock
        const read = refresh
          ? sql.withTransaction(Effect.zipRight(
            sql`UPDATE ${T} SET expires_at = ${now} + ttl_ms
              WHERE namespace = ${ns} AND key = ${key} AND ttl_ms IS NOT NULL AND ${live(now)}`,
            select
          ))
          : select
        return read.pipe(
          Effect.mapError(toStoreError("get")),
          Effect.flatMap((rows) => rows.length === 0 ? Effect.succeedNone : Effect.asSome(toItem(rows[0])))
        )
      },
      delete: (namespace, key, now) =>
        sql<{ readonly expires_at: number | null }>`DELETE FROM ${T}
          WHERE namespace = ${nsText(namespace)} AND key = ${key} RETURNING expires_at`.pipe(
          Effect.map((rows) => rows.some((r) => r.expires_at === null || r.expires_at > now)),
          Effect.mapError(toStoreError("delete"))
        ),
      search: (prefix, { filter, limit, now, offset, refresh }) => {
        const cond = where(prefix, filter, now)
        const page = sql`ORDER BY namespace, key LIMIT ${limit} OFFSET ${offset}`
        const select = sql`SELECT ${columns} FROM ${T} WHERE ${cond} ${page}`
        const read = refresh
          ? sql.withTransaction(Effect.zipRight(
            sql`UPDATE ${T} SET expires_at = ${now} + ttl_ms
              WHERE ttl_ms IS NOT NULL AND (namespace, key) IN (
                SELECT namespace, key FROM ${T} WHERE ${cond} ${page})`,
            select
          ))
          : select
        return read.pipe(
          Effect.mapError(toStoreError("search")),
          Effect.flatMap((rows) => Effect.forEach(rows, toItem))
        )
      },
      namespaces: (prefix, now) =>
        sql`SELECT DISTINCT namespace, '' AS key FROM ${T} WHERE ${where(prefix, [], now)} ORDER BY namespace`
          .pipe(
            Effect.mapError(toStoreError("listNamespaces")),
            Effect.flatMap((rows) =>
              Effect.forEach(rows, (r) => {
                const ns = typeof r.namespace === "string" ? nsParse(r.namespace) : undefined
                return ns !== undefined
                  ? Effect.succeed(ns)
                  : Effect.fail(new CorruptMemoryItem({ namespace: String(r.namespace), key: "", issue: "the namespace is not valid" }))
              })
            )
          ),
      purgeExpired: (now) =>
        sql`DELETE FROM ${T} WHERE expires_at IS NOT NULL AND expires_at <= ${now} RETURNING 1 AS one`.pipe(
          Effect.map((rows) => rows.length),
          Effect.mapError(toStoreError("purgeExpired"))
        )
    }
    return backend
  })


