/**
 * Measurement helpers for our side of the benchmark.
 *
 * These are copies of the private helpers of bench/langgraph/scenarios.ts, so both sides measure
 * the same way. They are copied rather than imported because importing that module would load
 * LangGraph into our process and skew our memory numbers.
 */
import * as fs from "node:fs"
import { Worker } from "node:worker_threads"

export const mean = (xs: ReadonlyArray<number>): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)

/** Size of a SQLite db plus its -wal / -shm side files (missing files count 0). */
export const sqliteBytes = (file: string): number =>
  ["", "-wal", "-shm"].reduce((sum, suffix) => {
    try {
      return sum + fs.statSync(file + suffix).size
    } catch {
      return sum
    }
  }, 0)

/** Run GC if node was started with --expose-gc (optional, reduces noise). */
export const maybeGc = (): void => {
  const g = (globalThis as { gc?: () => void }).gc
  if (g) g()
}

/**
 * Worker thread that samples process RSS every `intervalMs` until stopped; resolves to the
 * highest value seen (bytes). Same code as the LangGraph side.
 */
export const startRssSampler = async (intervalMs: number) => {
  const src = `
    const { parentPort, workerData } = require("node:worker_threads");
    let peak = 0;
    const tick = () => { const r = process.memoryUsage.rss(); if (r > peak) peak = r; };
    const timer = setInterval(tick, workerData);
    tick();
    parentPort.postMessage("ready");
    parentPort.on("message", () => { tick(); clearInterval(timer); parentPort.postMessage(peak); });
  `
  const worker = new Worker(src, { eval: true, workerData: intervalMs })
  await new Promise<void>((resolve, reject) => {
    worker.once("message", () => resolve())
    worker.once("error", reject)
  })
  return {
    stop: async (): Promise<number> => {
      const peak = new Promise<number>((resolve) => worker.once("message", resolve))
      worker.postMessage("stop")
      const value = await peak
      await worker.terminate()
      return Math.max(value, process.memoryUsage.rss())
    }
  }
}
