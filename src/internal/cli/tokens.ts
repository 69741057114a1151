/**
 * `stategraph tokens …`: the server's bearer tokens on the config's store database — create (the
 * secret is printed once; only its hash is stored), revoke, list.
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Server from "../../Server.js"
import { CliError } from "./errors.js"
import * as out from "./output.js"
import { jsonOption, withStore } from "./root.js"

const permissions: ReadonlyArray<Server.Permission> = ["view", "edit", "delete", "administer"]

const splitList = (text: string) => text.split(",").map((s) => s.trim()).filter((s) => s !== "")

const parsePermissions = (text: string) =>
  Effect.gen(function*() {
    const wanted = splitList(text)
    if (wanted.length === 0) {
      return yield* new CliError({ reason: "Usage", message: `--permissions needs at least one of ${permissions.join(", ")}` })
    }
    for (const p of wanted) {
      if (!(permissions as ReadonlyArray<string>).includes(p)) {
        return yield* new CliError({ reason: "Usage", message: `unknown permission '${p}' (one of ${permissions.join(", ")})` })
      }
    }
    return wanted as ReadonlyArray<Server.Permission>
  })

const document = (t: Server.TokenInfo) => ({
  tokenId: t.tokenId,
  name: t.name,
  permissions: t.permissions,
  graphs: t.graphs ?? null,
  createdAt: t.createdAt.toISOString(),
  revokedAt: t.revokedAt?.toISOString() ?? null
})

const create = Command.make("create", {
  permissions: Options.text("permissions").pipe(Options.withDescription("comma-separated: view,edit,delete,administer")),
  graphs: Options.text("graphs").pipe(Options.withDescription("comma-separated graph ids the token is limited to (default: all)"), Options.optional),
  name: Options.text("name").pipe(Options.withDescription("a label shown by `tokens list`"), Options.withDefault("cli")),
  json: jsonOption
}, (o) =>
  withStore((config) =>
    Effect.gen(function*() {
      const wanted = yield* parsePermissions(o.permissions)
      const graphs = Option.map(o.graphs, splitList)
      if (Option.isSome(graphs)) {
        const unknown = graphs.value.filter((g) => !config.graphs.some((c) => c.id === g))
        if (graphs.value.length === 0 || (config.graphs.length > 0 && unknown.length > 0)) {
          return yield* new CliError({
            reason: "Usage",
            message: `--graphs: ${unknown.length > 0 ? `no graph ${unknown.join(", ")} in the config` : "name at least one graph"}; known: ${
              config.graphs.map((g) => g.id).join(", ") || "none"
            }`
          })
        }
      }
      const created = yield* Server.createToken({ name: o.name, permissions: wanted, graphs: Option.getOrUndefined(graphs) })
      const secret = Redacted.value(created.token)
      yield* out.either(
        o.json,
        { ...document(created.info), token: secret },
        Console.log(
          [
            `created token ${created.info.tokenId} (${wanted.join(", ")}${created.info.graphs === undefined ? "" : ` on ${created.info.graphs.join(", ")}`})`,
            `secret (shown once, only its hash is stored): ${out.bold(secret)}`,
            `use it as: Authorization: Bearer ${secret}`
          ].join("\n")
        )
      )
    })
  )).pipe(Command.withDescription("create a bearer token for the server; its secret is printed once"))

const revoke = Command.make("revoke", {
  token: Args.text({ name: "token-id" }).pipe(Args.withDescription("the token's id (see `tokens list`)")),
  json: jsonOption
}, (o) =>
  withStore(() =>
    Effect.gen(function*() {
      const revoked = yield* Server.revokeToken(o.token)
      if (!revoked) {
        const known = (yield* Server.listTokens).find((t) => t.tokenId === o.token)
        if (known === undefined) return yield* new CliError({ reason: "NotFound", message: `no token ${o.token}` })
        return yield* out.either(
          o.json,
          { tokenId: o.token, revoked: false, revokedAt: known.revokedAt?.toISOString() ?? null },
          Console.log(`${o.token} was already revoked (${known.revokedAt?.toISOString()})`)
        )
      }
      yield* out.either(o.json, { tokenId: o.token, revoked: true }, Console.log(`revoked ${o.token}: the server refuses it (401) from now on`))
    })
  )).pipe(Command.withDescription("revoke a token: its requests get 401 from now on"))

const list = Command.make("list", { json: jsonOption }, (o) =>
  withStore(() =>
    Effect.gen(function*() {
      const rows = (yield* Server.listTokens).map(document)
      yield* out.either(
        o.json,
        rows,
        rows.length === 0 ? Console.log("no tokens (create one: stategraph tokens create --permissions view,edit)") : out.table(
          ["TOKEN", "NAME", "PERMISSIONS", "GRAPHS", "CREATED", "STATE"],
          rows.map((r) => [
            r.tokenId,
            r.name,
            r.permissions.join(","),
            r.graphs?.join(",") ?? "all",
            out.time(Date.parse(r.createdAt)),
            r.revokedAt === null ? out.green("active") : out.red(`revoked ${out.time(Date.parse(r.revokedAt))}`)
          ])
        )
      )
    })
  )).pipe(Command.withDescription("every token, revoked ones included (never their secrets)"))

export const tokens = Command.make("tokens").pipe(
  Command.withDescription("the server's bearer tokens"),
  Command.withSubcommands([create, revoke, list])
)
