/**
 * The inspector in headless Chromium against a real server: the threads list → a paused thread →
 * a Form answered wrong (the schema issue shown next to its field) then right → the run finishing
 * live → a fork from an earlier checkpoint → a cleanup dry run; a view-only token sees no action
 * buttons and the server refuses its actions anyway. Screenshots go to $INSPECTOR_SHOTS (default:
 * a temp folder, printed); the main ones are committed in docs/images/.
 */
import { Redacted } from "effect"
import { Server } from "effect-stategraph"
import type { Browser } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Running, start } from "../server/harness.js"
import { apiOf, launch, openPage, shot, shots } from "./browser.js"
import { expense } from "./graphs.js"

let server: Running
let browser: Browser
let viewToken = ""
let paused = ""

const api = (method: string, p: string, body?: unknown, token = server.token) => apiOf(server)(method, p, body, token)

/** A thread run until it pauses (or ends), by the API. */
const thread = async (item: string) => {
  const t = await api("POST", "/threads", { graph_id: "expense" })
  const run = await api("POST", `/threads/${t.body.thread_id}/runs`, { assistant_id: "expense", input: { item } })
  await api("GET", `/threads/${t.body.thread_id}/runs/${run.body.run_id}/join`)
  return t.body.thread_id as string
}

const open = async (token: string, hash: string) => (await openPage(browser, server, token, hash)).page

beforeAll(async () => {
  server = await start([expense])
  viewToken = Redacted.value((await server.run(Server.createToken({ name: "viewer", permissions: ["view"] }))).token)
  paused = await thread("train ticket")
  await thread("hotel")
  browser = await launch()
  console.log(`inspector screenshots: ${shots}`)
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await server?.close()
})

describe("the inspector", () => {
  it("serves its page and modules with ETags, offline (no other origin)", async () => {
    const page = await fetch(`${server.url}/inspector`)
    expect(page.status).toBe(200)
    const etag = page.headers.get("etag")!
    expect(etag).toMatch(/^".+"$/)
    expect(await page.text()).toContain("/inspector/vendor/preact.mjs")
    expect((await fetch(`${server.url}/inspector`, { headers: { "if-none-match": etag } })).status).toBe(304)
    const app = await fetch(`${server.url}/inspector/assets/app.js`)
    expect(app.headers.get("content-type")).toContain("javascript")
    expect((await fetch(`${server.url}/inspector/vendor/hooks.mjs`)).status).toBe(200)
    expect((await fetch(`${server.url}/inspector/assets/nope.js`)).status).toBe(404)
  })

  it("list → paused thread → Form wrong then right → finishes live → fork → cleanup dry run", async () => {
    const page = await open(server.token, "")
    const loaded = await page.evaluate(() => {
      const nav = (globalThis as any).performance.getEntriesByType("navigation")[0]
      return Math.round(nav.loadEventEnd - nav.startTime)
    })
    const bytes = await page.evaluate(() =>
      (globalThis as any).performance.getEntriesByType("resource").reduce((n: number, r: any) => n + r.encodedBodySize, 0))
    console.log(`inspector page load: ${loaded} ms; modules and styles: ${bytes} bytes`)

    // the list: both threads, counts per status, the paused one has a question
    await page.waitForSelector(`a[href="#/thread/${paused}"]`)
    expect(await page.textContent("[data-status=interrupted]")).toContain("2")
    await page.fill("#search", paused.slice(0, 8))
    await page.waitForFunction(() => (globalThis as any).document.querySelectorAll("table.threads tbody tr").length === 1)
    await page.fill("#search", "")
    await page.waitForFunction(() => (globalThis as any).document.querySelectorAll("table.threads tbody tr").length === 2)
    await shot(page, "threads")

    // the paused thread: approve is highlighted, the Form's fields come from its JSON Schema
    await page.click(`a[href="#/thread/${paused}"]`)
    await page.waitForSelector("form.question")
    expect(await page.getAttribute("g.node.paused", "data-node")).toBe("approve")
    expect(await page.textContent("[data-testid=thread-status]")).toBe("interrupted")

    const qid = (await page.getAttribute("form.question input[type=number]", "id"))!
    await page.fill(`[id="${qid}"]`, "5000")
    await page.getByRole("textbox", { name: "reason" }).fill("client visit")
    await page.click("form.question [data-action=answer]")
    const issue = page.locator(`[id="${qid}-issue"]`)
    await issue.waitFor()
    expect(await issue.textContent()).toContain("1000")
    expect(await page.getAttribute(`[id="${qid}"]`, "aria-describedby")).toBe(`${qid}-issue`)
    await shot(page, "answer-issue")
    expect((await api("GET", `/threads/${paused}`)).body.status).toBe("interrupted")

    await page.fill(`[id="${qid}"]`, "120")
    await page.click("form.question [data-action=answer]")
    // the run streams to the page: the reply arrives and the thread ends without a reload
    await page.waitForSelector("text=Expense of 120 for train ticket is booked.")
    await page.waitForFunction(() => (globalThis as any).document.querySelector("[data-testid=thread-status]")?.textContent === "idle")
    expect(await page.locator("form.question").count()).toBe(0)
    await shot(page, "finished")

    // fork from an earlier checkpoint (step 2): a new branch in the timeline
    const before = await page.locator(".timeline li").count()
    await page.click(".timeline [data-step='2']")
    await page.waitForSelector("text=Diff to the parent")
    await page.click("[data-action=fork]")
    await page.waitForSelector(".timeline li.fork")
    // the fork re-runs notify from step 2 on a branch of its own, to the end
    await page.waitForFunction(() => (globalThis as any).document.querySelectorAll(".timeline li.fork ~ li .cp.head").length === 1)
    expect(await page.locator(".timeline li").count()).toBeGreaterThan(before)
    await shot(page, "fork")

    // cleanup: a dry run counts, removes nothing
    const count = (await api("GET", `/inspector/api/threads/${paused}/checkpoints`)).body.checkpoints.length
    await page.click("a[href='#/cleanup']")
    await page.fill("#age", "0")
    await page.check("input[name=status][value=paused]")
    await page.click("[data-action=dry-run]")
    const result = page.locator("[data-testid=cleanup-result]")
    await result.waitFor()
    expect(await result.textContent()).toMatch(/dry run: [1-9]\d* checkpoints would be removed/)
    expect((await api("GET", `/inspector/api/threads/${paused}/checkpoints`)).body.checkpoints.length).toBe(count)
    await shot(page, "cleanup")

    // phone width
    await page.setViewportSize({ width: 390, height: 844 })
    await page.evaluate((id) => ((globalThis as any).location.hash = `#/thread/${id}`), paused)
    await page.waitForSelector(".timeline button")
    const overflow = await page.evaluate(() => (globalThis as any).document.documentElement.scrollWidth - (globalThis as any).document.documentElement.clientWidth)
    expect(overflow).toBeLessThanOrEqual(0)
    await shot(page, "phone")
    await page.close()
  })

  it("a view-only token sees no action buttons, and the server refuses its actions", async () => {
    const other = await thread("taxi")
    const page = await open(viewToken, `#/thread/${other}`)
    await page.waitForSelector(".question")
    await page.waitForSelector(".timeline button")
    await page.click(".timeline [data-step='1']")
    await page.waitForSelector("text=Diff to the parent")
    expect(await page.locator("[data-action]").count()).toBe(0)
    expect(await page.locator("form.question, #upd-values").count()).toBe(0)
    expect(await page.locator("a[href='#/cleanup']").count()).toBe(0)
    await shot(page, "view-only")
    await page.evaluate(() => ((globalThis as any).location.hash = "#/"))
    await page.waitForSelector("table.threads")
    expect(await page.locator("[data-action]").count()).toBe(0)
    await page.close()
    const resume = await api("POST", `/threads/${other}/runs`, { assistant_id: "expense", command: { resume: { amount: 5, reason: "x" } } }, viewToken)
    expect(resume.status).toBe(403)
    expect((await api("POST", "/inspector/api/cleanup", { older_than_ms: 0, statuses: ["completed"], dry_run: true }, viewToken)).status).toBe(403)
  })
  it("an edit token without delete: answers and edits state, sees no cleanup, and is refused one", async () => {
    const editToken = Redacted.value((await server.run(Server.createToken({ name: "editor", permissions: ["view", "edit"] }))).token)
    const other = await thread("bus")
    const page = await open(editToken, `#/thread/${other}`)
    await page.waitForSelector("form.question [data-action=answer]")
    expect(await page.locator("[data-action=update-state]").count()).toBe(1)
    expect(await page.locator("a[href='#/cleanup']").count()).toBe(0)
    await page.evaluate(() => ((globalThis as any).location.hash = "#/cleanup"))
    await page.waitForSelector("text=Cleaning up needs the delete permission on every graph.")
    expect(await page.locator("[data-action=dry-run]").count()).toBe(0)
    await page.close()
    expect((await api("POST", "/inspector/api/cleanup", { older_than_ms: 0, statuses: ["completed"], dry_run: true }, editToken)).status).toBe(403)
  })
})
