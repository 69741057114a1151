/**
 * Type-checks every ```ts block of README.md and docs/*.md, then runs each one: each block is
 * written to .docs-check/<file>-<n>.ts, the folder is compiled with the project's settings, and
 * every block is run with node (tsx) in a temp directory of its own, two at a time; a block that
 * throws, rejects or exits non-zero fails the check. A block marked ```ts no-check is skipped
 * (for fragments shown out of context); a vitest block (it imports @effect/vitest) is only
 * type-checked here (the suite's own tests run the same code).
 */
import { execFileSync, spawn } from "node:child_process"
import * as os from "node:os"
import * as fs from "node:fs"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "..")
const out = path.join(root, ".docs-check")
fs.rmSync(out, { recursive: true, force: true })
fs.mkdirSync(out, { recursive: true })

const files = ["README.md", ...fs.readdirSync(path.join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)]
let count = 0
const runnable: Array<string> = []
for (const file of files) {
  const text = fs.readFileSync(path.join(root, file), "utf8")
  const blocks = [...text.matchAll(/```ts( no-check)?\n([\s\S]*?)```/g)]
  blocks.forEach((m, i) => {
    if (m[1]) return
    const name = `${file.replace(/[/.]/g, "_")}-${i + 1}.ts`
    // each block is a module of its own
    fs.writeFileSync(path.join(out, name), `${m[2]}\nexport {}\n`)
    count++
    if (!m[2]!.includes(`from "@effect/vitest"`)) runnable.push(name)
  })
}
fs.writeFileSync(
  path.join(out, "tsconfig.json"),
  JSON.stringify({ extends: "../tsconfig.json", compilerOptions: { noUnusedLocals: false }, include: ["./*.ts"] })
)
try {
  execFileSync(path.join(root, "node_modules/.bin/tsc"), ["--noEmit", "-p", out], { stdio: "inherit" })
} catch {
  console.error("docs: a code block does not type-check (see .docs-check/)")
  process.exit(1)
}
console.log(`docs: ${count} code blocks type-check`)

/** Runs one block in a fresh temp directory; resolves to its failure, if any. */
const runBlock = (name: string): Promise<string | undefined> =>
  new Promise((resolve) => {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), "docs-run-"))
    const child = spawn(process.execPath, ["--conditions=stategraph-source", "--import", import.meta.resolve("tsx"), path.join(out, name)], { cwd, stdio: ["ignore", "pipe", "pipe"] })
    let output = ""
    child.stdout.on("data", (d) => (output += d))
    child.stderr.on("data", (d) => (output += d))
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000)
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      fs.rmSync(cwd, { recursive: true, force: true })
      resolve(code === 0 ? undefined : `${name}: ${signal ?? `exit ${code}`}\n${output.slice(-2000)}`)
    })
  })

const failures: Array<string> = []
const queue = [...runnable]
await Promise.all([0, 1].map(async () => {
  for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
    const failure = await runBlock(name)
    if (failure !== undefined) failures.push(failure)
  }
}))
if (failures.length > 0) {
  for (const f of failures) console.error(`docs: a code block failed when run\n${f}`)
  process.exit(1)
}
console.log(`docs: ${runnable.length} code blocks run`)
