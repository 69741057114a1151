/**
 * What the inspector's browser tests share: headless Chromium (the binary the globalSetup found or
 * installed), a page signed in with a token, the server's API called directly, screenshots. Every
 * page records the requests it makes, and those that leave the server's origin, so a test can
 * assert the inspector works offline.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type Browser, chromium, type Page } from "playwright-core"
import { inject } from "vitest"
import type { Running } from "../server/harness.js"

export const shots = process.env.INSPECTOR_SHOTS ?? fs.mkdtempSync(path.join(os.tmpdir(), "insp-shots-"))
fs.mkdirSync(shots, { recursive: true })

export const launch = (): Promise<Browser> =>
  chromium.launch({
    executablePath: inject("chromium"),
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
  })

/** The server's API as a test calls it (JSON in and out). */
export const apiOf = (server: Running) => async (method: string, p: string, body?: unknown, token = server.token) => {
  const res = await fetch(server.url + p, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {})
  })
  return { status: res.status, body: await res.json().catch(() => null) as any }
}

export interface Opened {
  readonly page: Page
  /** every URL the page requested */
  readonly requests: Array<string>
  /** the URLs of requests to another origin than the server's */
  readonly foreign: Array<string>
}

/** A page signed in with `token`, at `hash` once the session is loaded. */
export const openPage = async (
  browser: Browser,
  server: Running,
  token: string,
  hash = "",
  viewport = { width: 1280, height: 900 }
): Promise<Opened> => {
  const context = await browser.newContext({ viewport })
  const requests: Array<string> = []
  const foreign: Array<string> = []
  // listened to, not routed: routing would turn the browser's HTTP cache off
  context.on("request", (request) => {
    const url = request.url()
    requests.push(url)
    if (!url.startsWith(`${server.url}/`)) foreign.push(url)
  })
  const page = await context.newPage()
  page.on("pageerror", (e) => console.error("page error:", e.message))
  page.on("close", () => void context.close().catch(() => {}))
  await page.goto(`${server.url}/inspector#token=${encodeURIComponent(token)}`)
  await page.waitForSelector("[data-testid=who]")
  if (hash !== "") await setHash(page, hash)
  return { page, requests, foreign }
}

export const setHash = (page: Page, hash: string) => page.evaluate((h) => ((globalThis as any).location.hash = h), hash)

export const shot = (page: Page, name: string) => page.screenshot({ path: path.join(shots, `inspector-${name}.png`), fullPage: true })
