/**
 * Measurement helpers for our side of the benchmark.
 *
 * These are copies of the private helpers of bench/langgraph/scenarios.ts, so both sides measure
 * the same way. They are copied rather than imported because importing that module would load
 * LangGraph into our process and skew our memory numbers.
 */
import * as fs from "node:fs"

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

