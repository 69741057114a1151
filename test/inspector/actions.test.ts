/**
 * The inspector's actions in the browser against a real server: a run started from the page with
 * its input, its tokens appearing while it streams (the node holds on a gate the test opens), the
 * chat transcript; a running run cancelled; state edited as a node; a real cleanup; node states
 * (status, order, attempts, output, error) and the diff of a checkpoint to its parent.
 */
import type { Browser } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Running, start } from "../server/harness.js"
import { apiOf, launch, openPage, shot } from "./browser.js"
import { chat, flaky, openGate } from "./graphs.js"

let server: Running
let browser: Browser
let api: ReturnType<typeof apiOf>

beforeAll(async () => {
  server = await start([chat, flaky])
  api = apiOf(server)
  browser = await launch()
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await server?.close()
})

const status = (id: string) => api("GET", `/threads/${id}`).then((r) => r.body.status as string)
const checkpoints = (id: string) =>
  api("GET", `/inspector/api/threads/${id}/checkpoints`).then((r) => r.body.checkpoints as Array<{ checkpoint_id: string; step: number }>)

describe("acting on threads", () => {
  it("starts a run with input, shows its tokens live, then the transcript; edits state as a node", async () => {
    const { page } = await openPage(browser, server, server.token)
    await page.getByText("Start a run").click()
    await page.getByLabel("Graph to run").selectOption("chat")
    await page.getByLabel(/^Input \(JSON/).fill(`{"topic": "owls"}`)
    await page.click("[data-action=start-run]")
    await page.waitForURL(/#\/thread\//)
    const id = decodeURIComponent(/#\/thread\/(.+)$/.exec(page.url())![1]!)

    // the first words arrive while the node still waits on its gate: the run is going
    const partial = page.locator(".chat .msg.live")
    await partial.waitFor()
    expect((await partial.textContent())?.trim()).toBe("ai Hello")
    expect(await status(id)).toBe("busy")
    expect(await page.textContent("[data-testid=thread-status]")).toBe("busy")
    await shot(page, "live")
    openGate("owls")

    // the run ends: the partial message is replaced by the transcript of the messages channel
    await page.waitForFunction(() => (globalThis as any).document.querySelector("[data-testid=thread-status]")?.textContent === "idle")
    await page.locator(".chat .msg.live").waitFor({ state: "detached" })
    expect(await page.locator(".chat li").allTextContents()).toEqual(["user Tell me about owls", "ai Hello about owls."])
    expect((await api("GET", `/threads/${id}/state`)).body.values.topic).toBe("owls")

    // update state as greet: the graph goes on from greet's edge (reply is next)
    const before = (await checkpoints(id)).length
    await page.getByLabel("Values (JSON)").fill(`{"topic": 5}`)
    await page.click("[data-action=update-state]")
    await page.waitForSelector("text=/update: .*Expected string/")
    expect((await checkpoints(id)).length).toBe(before)
    await page.getByLabel("As node").selectOption("greet")
    await page.getByLabel("Values (JSON)").fill(`{"topic": "cats"}`)
    await page.click("[data-action=update-state]")
    await page.waitForSelector("text=/state updated: checkpoint/")
    const state = (await api("GET", `/threads/${id}/state`)).body
    expect(state.values.topic).toBe("cats")
    expect(state.next).toEqual(["reply"])
    expect((await checkpoints(id)).length).toBe(before + 1)
    await page.close()
  })

  it("cancels a running run", async () => {
    const t = await api("POST", "/threads", { graph_id: "chat" })
    const id = t.body.thread_id as string
    const run = await api("POST", `/threads/${id}/runs`, { assistant_id: "chat", input: { topic: "never" }, stream_mode: ["values", "messages"] })
    const { page } = await openPage(browser, server, server.token, `#/thread/${id}`)
    await page.locator(".chat .msg.live").waitFor()
    await page.click("[data-action=cancel-run]")
    await page.waitForSelector("[data-action=cancel-run]", { state: "detached" })
    const ended = await api("GET", `/threads/${id}/runs/${run.body.run_id}`)
    expect(ended.body.status).toBe("interrupted")
    expect(await status(id)).not.toBe("busy")
    expect(await page.textContent("[data-testid=thread-status]")).not.toBe("busy")
    // the node never finished: reply is still to run, and the graph drawn highlights it as next
    expect((await api("GET", `/threads/${id}/state`)).body.next).toEqual(["reply"])
    expect(await page.locator("g.node.next").evaluateAll((gs) => gs.map((g: any) => g.dataset.node))).toEqual(["reply"])
    await page.close()
  })

  it("shows node states (order, attempts, output, error) and a checkpoint's diff to its parent", async () => {
    const t = await api("POST", "/threads", { graph_id: "flaky" })
    const id = t.body.thread_id as string
    const run = await api("POST", `/threads/${id}/runs`, { assistant_id: "flaky", input: { key: id, fail: true } })
    await api("GET", `/threads/${id}/runs/${run.body.run_id}/join`)
    const { page } = await openPage(browser, server, server.token, `#/thread/${id}`)
    await page.waitForSelector("table.nodes tbody tr")
    const rows = await page.locator("table.nodes tbody tr").evaluateAll((trs) =>
      trs.map((tr: any) => [...tr.querySelectorAll("td")].map((td: any) => td.textContent.trim())))
    expect(rows.map((r) => r.slice(0, 5))).toEqual([
      ["prep", "completed", "1", "1", "no"],
      ["flaky", "completed", "2", "2", "no"],
      ["boom", "failed", "", "1", "no"]
    ].map((r) => r.slice(0, 5)))
    expect(rows[1]![5]).toContain("flaky after 2")
    expect(rows[2]![5]).toContain("boom: the disk is full")

    // the checkpoint where flaky's write landed: its diff to the parent adds that entry
    const history = (await api("POST", `/threads/${id}/history`, { limit: 20 })).body as Array<any>
    // newest first: the last one with the entry is the first to have it
    const landed = [...history].reverse().find((s) => s.values.log?.includes("flaky after 2"))
    await page.click(`.timeline [data-checkpoint="${landed.checkpoint.checkpoint_id}"]`)
    const change = page.locator(".diff li", { hasText: "log" })
    await change.waitFor()
    expect(await change.getAttribute("class")).toBe("changed")
    expect(await change.locator("del").textContent()).toBe(`["prep"]`)
    expect(await change.locator("ins").textContent()).toBe(`["prep","flaky after 2"]`)
    await shot(page, "node-states")
    await page.close()
  })

  it("cleans up for real: the old checkpoints are gone through the API, each thread keeps its head", async () => {
    const t = await api("POST", "/threads", { graph_id: "flaky" })
    const id = t.body.thread_id as string
    const run = await api("POST", `/threads/${id}/runs`, { assistant_id: "flaky", input: { key: id } })
    await api("GET", `/threads/${id}/runs/${run.body.run_id}/join`)
    const head = (await api("GET", `/threads/${id}/state`)).body
    expect((await checkpoints(id)).length).toBeGreaterThan(1)
    const failed = (await api("POST", "/threads", { graph_id: "flaky" })).body.thread_id as string
    const failing = await api("POST", `/threads/${failed}/runs`, { assistant_id: "flaky", input: { key: failed, fail: true } })
    await api("GET", `/threads/${failed}/runs/${failing.body.run_id}/join`)
    const failedBefore = (await checkpoints(failed)).length

    const { page } = await openPage(browser, server, server.token, "#/cleanup")
    await page.getByLabel("Older than").fill("0")
    await page.getByLabel("failed").uncheck()
    await page.click("[data-action=dry-run]")
    const result = page.locator("[data-testid=cleanup-result]")
    await page.waitForSelector("text=/dry run: [1-9]\\d* checkpoints would be removed/")
    const counted = Number(/(\d+)/.exec((await result.textContent())!)![1])
    await page.click("[data-action=cleanup]")
    await page.waitForSelector(`text=removed ${counted} checkpoints`)
    await shot(page, "cleanup-done")

    const left = await checkpoints(id)
    expect(left.map((c) => c.checkpoint_id)).toEqual([head.checkpoint.checkpoint_id])
    expect((await api("GET", `/threads/${id}/state`)).body.values).toEqual(head.values)
    expect((await api("POST", "/inspector/api/cleanup", { older_than_ms: 0, statuses: ["completed"], dry_run: true })).body.count).toBe(0)
    // failed was not among the statuses picked: that thread keeps every checkpoint
    expect(await status(failed)).toBe("error")
    expect((await checkpoints(failed)).length).toBe(failedBefore)
    await page.close()
  })
  it("pages through the threads and filters them by graph and status", async () => {
    for (let i = 0; i < 21; i++) await api("POST", "/threads", { graph_id: "chat" })
    const all = (await api("POST", "/inspector/api/threads", {})).body
    expect(all.total).toBeGreaterThan(20)
    const { page } = await openPage(browser, server, server.token)
    const pages = page.locator("nav.pages span")
    await page.waitForSelector(`nav.pages >> text=1–20 of ${all.total}`)
    expect(await page.locator("table.threads tbody tr").count()).toBe(20)
    await page.getByRole("button", { name: "Next" }).click()
    await page.waitForSelector(`nav.pages >> text=21–${all.total} of ${all.total}`)
    expect(await page.locator("table.threads tbody tr").count()).toBe(all.total - 20)
    expect(await page.getByRole("button", { name: "Next" }).isDisabled()).toBe(true)

    // by graph, then by status: the rows and the counts follow
    await page.getByLabel("Graph", { exact: true }).selectOption("flaky")
    const flakyTotal = (await api("POST", "/inspector/api/threads", { graph_id: "flaky" })).body.total
    await page.waitForSelector(`nav.pages >> text=1–${flakyTotal} of ${flakyTotal}`)
    const graphs = await page.locator("table.threads tbody tr td:nth-child(2)").allTextContents()
    expect(new Set(graphs)).toEqual(new Set(["flaky"]))
    await page.click("[data-status=error]")
    const errors = (await api("POST", "/inspector/api/threads", { graph_id: "flaky", status: "error" })).body
    expect(errors.total).toBeGreaterThan(0)
    await page.waitForSelector(`nav.pages >> text=1–${errors.total} of ${errors.total}`)
    expect(await page.locator("table.threads tbody tr td:nth-child(3)").allTextContents()).toEqual(errors.threads.map(() => "error"))
    expect(await pages.textContent()).toBe(`1–${errors.total} of ${errors.total}`)
    await page.close()
  })
})
