/**
 * A journaled activity survives a crash: the process running the node is SIGKILLed after the
 * activity's side effect and before the node ends; the next process re-runs the node, gets the
 * journaled result, and the side effect is not repeated.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { describe, expect, it } from "vitest"

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, "../..")
const worker = path.join(here, "activityWorker.ts")
const tsx = pathToFileURL(path.join(root, "node_modules/tsx/dist/loader.mjs")).href

/** Starts the first run and SIGKILLs it once the activity is journaled. */
const startAndKill = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  new Promise<{ readonly killed: boolean; readonly stdout: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", tsx, worker, ...args, "start"], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...env }
    })
    let stdout = ""
    let killed = false
    child.stdout.on("data", (chunk) => {
      stdout += chunk
      if (!killed && stdout.includes("ACTIVITY_DONE")) killed = child.kill("SIGKILL")
    })
    child.on("error", reject)
    child.on("exit", () => resolve({ killed, stdout }))
  })

/** Runs the worker to its end without blocking the test's event loop; resolves to its stdout. */
const runToEnd = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", tsx, worker, ...args], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...env }
    })
    let stdout = ""
    let stderr = ""
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000)
    child.stdout.on("data", (chunk) => (stdout += chunk))
    child.stderr.on("data", (chunk) => (stderr += chunk))
    child.on("error", reject)
    child.on("exit", (code) => {
      clearTimeout(timer)
      if (code === 0) resolve(stdout)
      else reject(new Error(`worker exited with ${code}: ${stderr}`))
    })
  })

describe("activity crash safety (SQLite, real processes)", () => {
  it("a SIGKILL between the activity and the end of the node does not repeat the activity", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "esg-activity-crash-"))
    const db = path.join(dir, "threads.db")
    const sideEffects = path.join(dir, "charges.log")
    const first = await startAndKill([db, sideEffects, "order-1"])
    expect(first.killed).toBe(true)
    expect(first.stdout).not.toContain("FINAL")
    const charges = () => fs.readFileSync(sideEffects, "utf8").trim().split("\n")
    expect(charges()).toHaveLength(1)

    const out = await runToEnd([db, sideEffects, "order-1", "continue"])
    // the node ran again (it printed ACTIVITY_DONE) but the charge was replayed from the journal
    expect(out).toContain("ACTIVITY_DONE")
    const final = JSON.parse(out.split("FINAL ")[1]!)
    expect(charges()).toHaveLength(1)
    expect(final.receipt).toBe(charges()[0]!.replace("charged by ", "receipt-"))
  })

  it("after a SIGKILL mid-node, an operator sees the lease, breaks it, and the thread continues at once", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "esg-lease-crash-"))
    const db = path.join(dir, "threads.db")
    const sideEffects = path.join(dir, "charges.log")
    // a lease far longer than the test: only breaking it lets the thread continue
    const env = { LEASE_MILLIS: "600000" }
    const first = await startAndKill([db, sideEffects, "order-2"], env)
    expect(first.killed).toBe(true)
    const started = Date.now()
    const out = await runToEnd([db, sideEffects, "order-2", "operator"], env)
    const line = (tag: string) => JSON.parse(out.split("\n").find((l) => l.startsWith(`${tag} `))!.slice(tag.length + 1))
    const [lease] = line("LEASES")
    expect(lease).toMatchObject({ threadId: "order-2", workflowId: "activity-crash", alive: true })
    expect(lease.until).toBeGreaterThan(started + 500_000)
    // ThreadBusy names the dead holder and its expiry
    expect(line("BUSY")).toMatchObject({ _tag: "ThreadBusy", threadId: "order-2", holder: lease.holder, leaseUntil: lease.until })
    // refused while the lease runs, unless forced
    expect(line("HELD")).toMatchObject({ _tag: "LeaseHeld", holder: lease.holder })
    expect(line("RELEASED")).toMatchObject({ holder: lease.holder })
    // the thread continued in the same process, the charge replayed from the journal
    const final = JSON.parse(out.split("FINAL ")[1]!)
    const charges = fs.readFileSync(sideEffects, "utf8").trim().split("\n")
    expect(charges).toHaveLength(1)
    expect(final.receipt).toBe(charges[0]!.replace("charged by ", "receipt-"))
  })
})
