import { defineConfig } from "vitest/config"
import type { Reporter } from "vitest/reporters"

/** Ends the run with the plain line CI reads: "N passed, N failed". */
const summary: Reporter = {
  onTestRunEnd(modules) {
    let passed = 0
    let failed = 0
    let skipped = 0
    for (const m of modules) {
      for (const t of m.children.allTests()) {
        const state = t.result().state
        if (state === "passed") passed++
        else if (state === "failed") failed++
        else skipped++
      }
    }
    const line = `vitest: ${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`
    // after the default reporter's summary, so it is the run's last line
    process.once("beforeExit", () => console.log(line))
  }
}

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ["default", summary]
  }
})
