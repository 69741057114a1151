/**
 * The rate limit per token: over it, a 429 with Retry-After; another token has its own budget;
 * `/ok` is not limited.
 */
import { Redacted } from "effect"
import { Server } from "effect-stategraph"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { chain } from "./graphs.js"
import { type Running, start } from "./harness.js"

let server: Running
let other = ""
beforeAll(async () => {
  // a minute per 3 requests: nothing is refilled during the test
  server = await start([chain], { rateLimit: { requests: 3, perMillis: 60_000 } })
  other = Redacted.value((await server.run(Server.createToken({ name: "other", permissions: ["view"] }))).token)
})
afterAll(() => server.close())

const search = (token: string) =>
  fetch(`${server.url}/assistants/search`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: "{}" })

describe("rate limit per token", () => {
  it("the request over the limit is a 429 with Retry-After; other tokens and /ok are not affected", async () => {
    // the harness made its token on the database, not over HTTP: the budget starts full
    const statuses: Array<number> = []
    for (let i = 0; i < 4; i++) statuses.push((await search(server.token)).status)
    expect(statuses).toEqual([200, 200, 200, 429])
    const refused = await search(server.token)
    expect(refused.status).toBe(429)
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1)
    expect(Number(refused.headers.get("retry-after"))).toBeLessThanOrEqual(20)
    expect(await refused.json()).toMatchObject({ _tag: "TooManyRequests" })
    // the LangGraph client sees the 429 as an error with that status
    const viaClient = await server.client().assistants.search().catch((e) => e)
    expect(viaClient.status).toBe(429)
    // another token has its own budget
    expect((await search(other)).status).toBe(200)
    // health is never limited
    for (let i = 0; i < 5; i++) expect((await fetch(`${server.url}/ok`)).status).toBe(200)
  })
})
