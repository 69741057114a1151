/**
 * Makes sure a headless Chromium is on this machine for the inspector's browser test: Debian's
 * `chromium` package (`/usr/bin/chromium`), installed with apt-get when it is missing (CI runs as
 * root on a clean machine). `CHROMIUM_PATH` names another binary. Fails, saying why, when it
 * cannot be installed: the browser test is never skipped.
 *
 * Run by vitest's globalSetup (test/inspector/globalSetup.ts) and runnable on its own:
 * `npx tsx scripts/ensure-chromium.ts`.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"

const candidates = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]

const found = () => {
  const fromEnv = process.env.CHROMIUM_PATH
  if (fromEnv !== undefined && fromEnv !== "") {
    if (!fs.existsSync(fromEnv)) throw new Error(`CHROMIUM_PATH=${fromEnv}: no such file`)
    return fromEnv
  }
  return candidates.find((c) => fs.existsSync(c))
}

const run = (file: string, args: ReadonlyArray<string>) =>
  execFileSync(file, args, { stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } })

/** The path of a Chromium binary, installing Debian's package first when there is none. */
export const ensureChromium = (): string => {
  const existing = found()
  if (existing !== undefined) return existing
  const sudo = typeof process.getuid === "function" && process.getuid() !== 0 ? ["sudo", "-n"] : []
  const apt = (args: ReadonlyArray<string>) => (sudo.length > 0 ? run(sudo[0]!, [...sudo.slice(1), "apt-get", ...args]) : run("apt-get", args))
  process.stderr.write("ensure-chromium: no chromium on this machine; installing Debian's package (apt-get update, apt-get install -y chromium)\n")
  try {
    apt(["update"])
    apt(["install", "-y", "--no-install-recommends", "chromium"])
  } catch (e) {
    throw new Error(
      `ensure-chromium: installing chromium failed (${e instanceof Error ? e.message : String(e)}). ` +
        "The inspector's browser test needs it: install it (Debian: apt-get install -y chromium) or set CHROMIUM_PATH."
    )
  }
  const installed = found()
  if (installed === undefined) throw new Error("ensure-chromium: apt-get install chromium succeeded but no /usr/bin/chromium was found")
  return installed
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(`${ensureChromium()}\n`)
}
