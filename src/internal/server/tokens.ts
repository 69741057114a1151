/**
 * Bearer tokens: a random secret shown once when created, stored as its SHA-256 hash with the
 * token's permissions and the graphs it is scoped to; revoked tokens stay listed.
 */
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { createHash, randomBytes, randomUUID } from "node:crypto"
import type { Principal } from "./api.js"
import type { Db, TokenRow } from "./db.js"
import { Unauthorized } from "./errors.js"
import type { Permission } from "./models.js"

const hash = (secret: string) => createHash("sha256").update(secret, "utf8").digest("hex")

/** @internal */
export interface TokenInfo {
  readonly tokenId: string
  readonly name: string
  readonly permissions: ReadonlyArray<Permission>
  readonly graphs: ReadonlyArray<string> | undefined
  readonly createdAt: Date
  readonly revokedAt: Date | undefined
}

const info = (row: TokenRow): TokenInfo => ({
  tokenId: row.token_id,
  name: row.name,
  permissions: JSON.parse(row.permissions),
  graphs: row.graphs === null ? undefined : JSON.parse(row.graphs),
  createdAt: new Date(row.created_at),
  revokedAt: row.revoked_at === null ? undefined : new Date(row.revoked_at)
})

/** Creates a token; the secret is returned once and never stored. @internal */
export const create = (
  db: Db,
  options: { readonly name: string; readonly permissions: ReadonlyArray<Permission>; readonly graphs?: ReadonlyArray<string> | undefined }
): Effect.Effect<{ readonly token: Redacted.Redacted<string>; readonly info: TokenInfo }, SqlError> => {
  const secret = `sgt_${randomBytes(24).toString("base64url")}`
  const row: TokenRow = {
    token_id: randomUUID(),
    hash: hash(secret),
    name: options.name,
    permissions: JSON.stringify([...new Set(options.permissions)]),
    graphs: options.graphs === undefined ? null : JSON.stringify([...new Set(options.graphs)]),
    created_at: Date.now(),
    revoked_at: null
  }
  return Effect.as(db.insertToken(row), { token: Redacted.make(secret), info: info(row) })
}

/** @internal */
export const revoke = (db: Db, tokenId: string): Effect.Effect<boolean, SqlError> => db.revokeToken(tokenId, Date.now())

/** @internal */
export const list = (db: Db): Effect.Effect<ReadonlyArray<TokenInfo>, SqlError> => Effect.map(db.listTokens(), (rows) => rows.map(info))

/** The principal of a presented secret: 401 when unknown or revoked. @internal */
export const authenticate = (db: Db, secret: Redacted.Redacted<string>): Effect.Effect<Principal, Unauthorized> =>
  Effect.gen(function*() {
    const value = Redacted.value(secret).trim()
    if (value === "") return yield* new Unauthorized({ detail: "a bearer token is required (Authorization: Bearer <token>, or x-api-key)" })
    const row = yield* Effect.orElseSucceed(db.tokenByHash(hash(value)), () => undefined)
    if (row === undefined) return yield* new Unauthorized({ detail: "unknown token" })
    if (row.revoked_at !== null) return yield* new Unauthorized({ detail: "this token was revoked" })
    const t = info(row)
    return { tokenId: t.tokenId, name: t.name, permissions: new Set(t.permissions), graphs: t.graphs === undefined ? undefined : new Set(t.graphs) }
  })

/** Every request when auth is off (development). @internal */
export const anonymousAdmin: Principal = { tokenId: "", name: "anonymous", permissions: new Set(["administer"]), graphs: undefined }
