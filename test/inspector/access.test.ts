/**
 * The inspector as a keyboard and screen-reader user and a phone see it, and as a cache and an
 * offline machine see it: every form control has a label; Tab reaches a thread, Enter opens it,
 * a Form answer is typed and submitted from the keyboard; no screen overflows at 1280 or 390 px;
 * every file is revalidated with its ETag (304 when unchanged, in the browser too); no request
 * leaves the server's origin.
 */
import type { Browser, Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Running, start } from "../server/harness.js"
import { apiOf, launch, openPage, setHash } from "./browser.js"
import { expense } from "./graphs.js"

let server: Running
let browser: Browser
let api: ReturnType<typeof apiOf>

beforeAll(async () => {
  server = await start([expense])
  api = apiOf(server)
  browser = await launch()
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await server?.close()
})

/** A thread of `expense` run until it pauses on its Form. */
const pausedThread = async (item: string) => {
  const t = await api("POST", "/threads", { graph_id: "expense" })
  const run = await api("POST", `/threads/${t.body.thread_id}/runs`, { assistant_id: "expense", input: { item } })
  await api("GET", `/threads/${t.body.thread_id}/runs/${run.body.run_id}/join`)
  return t.body.thread_id as string
}

/** Form controls without an accessible name (a <label>, aria-label or aria-labelledby), by outerHTML. */
const unlabelled = (page: Page) =>
  page.evaluate(() =>
    [...(globalThis as any).document.querySelectorAll("input, select, textarea, button")]
      .filter((el: any) => !(el.labels?.length > 0 || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby") ||
        (el.tagName === "BUTTON" && el.textContent.trim() !== "")))
      .map((el: any) => el.outerHTML.slice(0, 120)))

/** How far the page is wider than the screen (0: no horizontal scrolling), and controls cut off at the right. */
const overflow = (page: Page) =>
  page.evaluate(() => {
    const doc = (globalThis as any).document.documentElement
    const cut = [...(globalThis as any).document.querySelectorAll("button, input, select, textarea, a")]
      .filter((el: any) => el.getClientRects().length > 0 && !el.closest("table, pre, svg"))
      .filter((el: any) => el.getBoundingClientRect().right > doc.clientWidth + 1)
      .map((el: any) => el.outerHTML.slice(0, 80))
    return { extra: doc.scrollWidth - doc.clientWidth, cut }
  })

describe("the inspector's accessibility, layout and caching", () => {
  it("labels every control on every screen, and fits 1280 px and 390 px", async () => {
    const id = await pausedThread("laptop")
    for (const width of [1280, 390]) {
      const { page } = await openPage(browser, server, server.token, "", { width, height: 900 })
      await page.waitForSelector("table.threads tbody tr")
      await page.getByText("Start a run").click()
      expect(await unlabelled(page)).toEqual([])
      expect(await overflow(page)).toEqual({ extra: 0, cut: [] })

      await setHash(page, `#/thread/${id}`)
      await page.waitForSelector("form.question input[type=number]")
      await page.click(".timeline [data-step='1']")
      await page.waitForSelector("text=Diff to the parent")
      expect(await unlabelled(page)).toEqual([])
      expect(await overflow(page)).toEqual({ extra: 0, cut: [] })

      await setHash(page, "#/cleanup")
      await page.click("[data-action=dry-run]")
      await page.waitForSelector("[data-action=cleanup]")
      expect(await unlabelled(page)).toEqual([])
      expect(await overflow(page)).toEqual({ extra: 0, cut: [] })
      await page.close()
    }
  })

  it("Tab reaches a thread, Enter opens it, and the Form is answered from the keyboard", async () => {
    const id = await pausedThread("keyboard")
    const { page } = await openPage(browser, server, server.token)
    const link = `a[href="#/thread/${id}"]`
    await page.waitForSelector(link)
    const focused = () => page.evaluate(() => (globalThis as any).document.activeElement?.getAttribute("href") ?? null)
    let tabs = 0
    while ((await focused()) !== `#/thread/${id}`) {
      expect(++tabs).toBeLessThan(60)
      await page.keyboard.press("Tab")
    }
    await page.keyboard.press("Enter")
    await page.waitForSelector("form.question input[type=number]")
    expect(page.url()).toContain(`#/thread/${id}`)

    // into the form by Tab alone: amount, then reason, then Enter submits it
    const activeId = () => page.evaluate(() => (globalThis as any).document.activeElement?.id ?? "")
    const amount = (await page.getAttribute("form.question input[type=number]", "id"))!
    tabs = 0
    while ((await activeId()) !== amount) {
      expect(++tabs).toBeLessThan(80)
      await page.keyboard.press("Tab")
    }
    await page.keyboard.type("75")
    await page.keyboard.press("Tab")
    expect(await activeId()).toBe(amount.replace(/-amount$/, "-reason"))
    await page.keyboard.type("keyboard only")
    await page.keyboard.press("Enter")
    await page.waitForFunction(() => (globalThis as any).document.querySelector("[data-testid=thread-status]")?.textContent === "idle")
    expect((await api("GET", `/threads/${id}/state`)).body.values.amount).toBe(75)
    await page.close()
  })

  it("serves every file with an ETag, revalidated to a 304, and needs nothing beyond its origin", async () => {
    const { page, requests, foreign } = await openPage(browser, server, server.token)
    await page.waitForSelector("table.threads")
    const files = [...new Set(requests.map((u) => new URL(u)).filter((u) => !u.pathname.includes("/api/") && u.pathname.startsWith("/inspector"))
      .map((u) => u.pathname))].sort()
    expect(files).toEqual([
      "/inspector",
      "/inspector/assets/api.js",
      "/inspector/assets/app.js",
      "/inspector/assets/forms.js",
      "/inspector/assets/graph.js",
      "/inspector/assets/style.css",
      "/inspector/assets/thread.js",
      "/inspector/assets/ui.js",
      "/inspector/vendor/hooks.mjs",
      "/inspector/vendor/htm.mjs",
      "/inspector/vendor/preact.mjs"
    ])
    for (const file of files) {
      const first = await fetch(server.url + file)
      expect(first.status).toBe(200)
      const etag = first.headers.get("etag")!
      expect(etag).toMatch(/^"[\w-]+"$/)
      expect(first.headers.get("cache-control")).toBe("no-cache")
      expect(first.headers.get("content-type")).toMatch(/^(text\/html|text\/javascript|text\/css)/)
      const again = await fetch(server.url + file, { headers: { "if-none-match": etag } })
      expect(again.status).toBe(304)
      expect(await again.text()).toBe("")
      expect(again.headers.get("etag")).toBe(etag)
      expect((await fetch(server.url + file, { headers: { "if-none-match": `"stale"` } })).status).toBe(200)
    }
    // the browser itself revalidates on a reload and is answered 304
    const statuses = new Map<string, number>()
    page.on("response", (r) => void statuses.set(new URL(r.url()).pathname, r.status()))
    await page.reload()
    await page.waitForSelector("table.threads")
    expect(statuses.get("/inspector/assets/app.js")).toBe(304)
    expect(statuses.get("/inspector/vendor/preact.mjs")).toBe(304)
    // offline: every request went to the server, nothing to a CDN or elsewhere
    expect(foreign).toEqual([])
    expect(requests.every((u) => u.startsWith(`${server.url}/`))).toBe(true)
    await page.close()
  })
})
