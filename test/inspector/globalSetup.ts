/**
 * The inspector's browser test needs Chromium: installed here (Debian's package, by the project's
 * own script) when the machine has none, before any test runs. A failed install fails the run.
 */
import type { TestProject } from "vitest/node"
import { ensureChromium } from "../../scripts/ensure-chromium.js"

declare module "vitest" {
  export interface ProvidedContext {
    chromium: string
  }
}

export default function setup(project: TestProject) {
  project.provide("chromium", ensureChromium())
}
