/**
 * Every kind of question answered in the browser: a Confirmation by its buttons, a Choice by its
 * options (none picked first: the server's issue shown, nothing written), a Text by its field
 * (submitted from the keyboard), and a kind with no form of its own by the JSON editor (a value
 * its schema refuses, then text that is not JSON, then a right one).
 */
import type { Browser, Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Running, start } from "../server/harness.js"
import { apiOf, launch, openPage, shot } from "./browser.js"
import { kinds } from "./graphs.js"

let server: Running
let browser: Browser
let api: ReturnType<typeof apiOf>

beforeAll(async () => {
  server = await start([kinds])
  api = apiOf(server)
  browser = await launch()
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await server?.close()
})

/** How many checkpoints and runs the thread has (a refused answer must add neither). */
const written = async (id: string) => ({
  checkpoints: (await api("GET", `/inspector/api/threads/${id}/checkpoints`)).body.checkpoints.length,
  runs: (await api("GET", `/threads/${id}/runs`)).body.length
})

/** Waits for the pending question of `kind` (the previous answer's run has paused again). */
const question = async (page: Page, kind: string) => {
  const form = page.locator("form.question", { has: page.locator(".tag", { hasText: kind }) })
  await form.waitFor()
  return form
}

describe("answering each kind of question", () => {
  it("Confirmation buttons, Choice options, a Text field, the JSON editor for any other kind", async () => {
    const t = await api("POST", "/threads", { graph_id: "kinds" })
    const id = t.body.thread_id as string
    const run = await api("POST", `/threads/${id}/runs`, { assistant_id: "kinds", input: {} })
    await api("GET", `/threads/${id}/runs/${run.body.run_id}/join`)
    const { page } = await openPage(browser, server, server.token, `#/thread/${id}`)

    // Confirmation: its own labels as two buttons
    const confirm = await question(page, "Confirmation")
    expect(await confirm.locator("h3").textContent()).toContain("Ship it?")
    expect(await confirm.getByRole("button").allTextContents()).toEqual(["Ship", "Hold"])
    await confirm.getByRole("button", { name: "Ship" }).click()

    // Choice: one checkbox per option (multiple), labelled; none picked is refused by the server
    const choice = await question(page, "Choice")
    expect(await choice.getByRole("checkbox").count()).toBe(3)
    const before = await written(id)
    await choice.getByRole("button", { name: "Answer" }).click()
    const choiceIssue = choice.locator(".issue")
    await choiceIssue.waitFor()
    expect(await choiceIssue.textContent()).toContain("at least one option must be selected")
    expect(await written(id)).toEqual(before)
    expect((await api("GET", `/threads/${id}/state`)).body.next).toEqual(["choose"])
    await shot(page, "choice-issue")
    await choice.getByLabel("Europe").check()
    await choice.getByLabel("asia").check()
    await choice.getByRole("button", { name: "Answer" }).click()

    // Text: a labelled field with the request's placeholder, submitted with the keyboard alone
    const text = await question(page, "Text")
    const field = text.getByLabel("Answer", { exact: true })
    expect(await field.getAttribute("placeholder")).toBe("what changed")
    await field.fill("Faster startup")
    await page.keyboard.press("Tab")
    expect(await page.evaluate(() => (globalThis as any).document.activeElement?.dataset.action)).toBe("answer")
    await page.keyboard.press("Enter")

    // Budget has no form of its own: a JSON editor, its answer checked against the kind's schema
    const budget = await question(page, "Budget")
    const editor = budget.getByLabel("Answer (JSON)")
    const issueId = `${await editor.getAttribute("id")}-issue`
    const beforeBudget = await written(id)
    await editor.fill(`{"limit": -5, "currency": "EUR"}`)
    await budget.getByRole("button", { name: "Answer" }).click()
    const issue = page.locator(`[id="${issueId}"]`)
    await issue.waitFor()
    expect(await issue.textContent()).toMatch(/positive|greater than 0/)
    expect(await editor.getAttribute("aria-describedby")).toBe(issueId)
    await shot(page, "json-issue")
    await editor.fill(`{"limit": 250,`)
    await budget.getByRole("button", { name: "Answer" }).click()
    await page.waitForFunction((i) => (globalThis as any).document.getElementById(i)?.textContent.startsWith("not JSON"), issueId)
    expect(await written(id)).toEqual(beforeBudget)
    await editor.fill(`{"limit": 250, "currency": "USD"}`)
    await budget.getByRole("button", { name: "Answer" }).click()

    await page.waitForFunction(() => (globalThis as any).document.querySelector("[data-testid=thread-status]")?.textContent === "idle")
    expect(await page.locator("form.question").count()).toBe(0)
    const final = await api("GET", `/threads/${id}/state`)
    expect(final.body.values).toEqual({ confirmed: true, picked: ["eu", "asia"], note: "Faster startup", budget: 250 })
    await page.close()
  })
})
