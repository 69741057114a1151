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

/**
 * In this repository `effect-stategraph` resolves to its TypeScript sources through the package's
 * "stategraph-source" export condition (an installed package resolves to `dist/`): for the test
 * files here, and for every process a test spawns (NODE_OPTIONS is inherited).
 */
const sourceCondition = "--conditions=stategraph-source"
if (!(process.env.NODE_OPTIONS ?? "").includes(sourceCondition)) {
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ""} ${sourceCondition}`.trim()
}

export default defineConfig({
  resolve: { conditions: ["stategraph-source"] },
  ssr: { resolve: { conditions: ["stategraph-source"] } },
  test: {
    include: ["test/**/*.test.ts"],
    // one throwaway PostgreSQL cluster for the run (the Postgres tests' server)
    globalSetup: ["test/pg/globalSetup.ts", "test/inspector/globalSetup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ["default", summary]
  }
})
