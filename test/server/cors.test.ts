/**
 * CORS for browser front ends: off by default, on with `cors`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { chain } from "./graphs.js"
import { type Running, start } from "./harness.js"

let withCors: Running
let without: Running
beforeAll(async () => {
  withCors = await start([chain], { cors: { allowedOrigins: ["http://app.example"] } })
  without = await start([chain])
})
afterAll(async () => {
  await withCors.close()
  await without.close()
})

const preflight = (url: string) =>
  fetch(`${url}/threads/search`, {
    method: "OPTIONS",
    headers: { origin: "http://app.example", "access-control-request-method": "POST", "access-control-request-headers": "content-type,x-api-key" }
  })

describe("cors", () => {
  it("answers a browser's preflight and marks responses for the allowed origin", async () => {
    const res = await preflight(withCors.url)
    expect(res.status).toBeLessThan(300)
    expect(res.headers.get("access-control-allow-origin")).toBe("http://app.example")
    const search = await fetch(`${withCors.url}/threads/search`, {
      method: "POST",
      headers: { origin: "http://app.example", "x-api-key": withCors.token, "content-type": "application/json" },
      body: "{}"
    })
    expect(search.status).toBe(200)
    expect(search.headers.get("access-control-allow-origin")).toBe("http://app.example")
  })
  it("is off by default", async () => {
    const res = await preflight(without.url)
    expect(res.headers.get("access-control-allow-origin")).toBeNull()
  })
})
