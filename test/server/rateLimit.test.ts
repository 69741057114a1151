/**
 * The rate limit per token: over it, a 429 with Retry-After; another token has its own budget;
 * `/ok` is not limited. The budget is kept in the database, so two server processes on one
 * database share it (`shared: false` keeps one per process).
 */
import { Redacted } from "effect"
import { Server } from "effect-stategraph"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { chain } from "./graphs.js"
import { type Running, start } from "./harness.js"

// a minute per 3 requests: nothing is refilled during the test
const limit = { requests: 3, perMillis: 60_000 }
const servers: Array<Running> = []
let server: Running
let other = ""
beforeAll(async () => {
  server = await start([chain], { rateLimit: limit })
  servers.push(server)
  other = Redacted.value((await server.run(Server.createToken({ name: "other", permissions: ["view"] }))).token)
})
afterAll(() => Promise.all(servers.map((s) => s.close())))

const search = (on: Running, token: string) =>
  fetch(`${on.url}/assistants/search`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: "{}" })

const tokenOn = async (on: Running) => Redacted.value((await on.run(Server.createToken({ name: "two", permissions: ["view"] }))).token)

describe("rate limit per token", () => {
  it("the request over the limit is a 429 with Retry-After; other tokens and /ok are not affected", async () => {
    // the harness made its token on the database, not over HTTP: the budget starts full
    const statuses: Array<number> = []
    for (let i = 0; i < 4; i++) statuses.push((await search(server, server.token)).status)
    expect(statuses).toEqual([200, 200, 200, 429])
    const refused = await search(server, server.token)
    expect(refused.status).toBe(429)
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1)
    expect(Number(refused.headers.get("retry-after"))).toBeLessThanOrEqual(20)
    expect(await refused.json()).toMatchObject({ _tag: "TooManyRequests" })
    // the LangGraph client sees the 429 as an error with that status
    const viaClient = await server.client().assistants.search().catch((e) => e)
    expect(viaClient.status).toBe(429)
    // another token has its own budget
    expect((await search(server, other)).status).toBe(200)
    // health is never limited
    for (let i = 0; i < 5; i++) expect((await fetch(`${server.url}/ok`)).status).toBe(200)
  })

  it("two server processes on one database share a token's budget", async () => {
    const a = await start([chain], { rateLimit: limit })
    servers.push(a)
    const b = await start([chain], { rateLimit: limit, filename: a.filename })
    servers.push(b)
    const token = await tokenOn(a)
    // concurrent requests to both: exactly the budget passes, wherever they land
    const statuses = await Promise.all([a, b, a, b, a, b].map((s) => search(s, token).then((r) => r.status)))
    expect(statuses.filter((s) => s === 200)).toHaveLength(3)
    expect(statuses.filter((s) => s === 429)).toHaveLength(3)
    expect((await search(b, token)).status).toBe(429)
  })

  it("shared: false keeps a budget in each process", async () => {
    const a = await start([chain], { rateLimit: { ...limit, shared: false } })
    servers.push(a)
    const b = await start([chain], { rateLimit: { ...limit, shared: false }, filename: a.filename })
    servers.push(b)
    const token = await tokenOn(a)
    const statuses: Array<number> = []
    for (const s of [a, b, a, b, a, b, a, b]) statuses.push((await search(s, token)).status)
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 429, 429])
  })
})
