/**
 * Type-checks every ```ts block of README.md and docs/*.md: each block is written to
 * .docs-check/<file>-<n>.ts and the folder is compiled with the project's settings.
 * A block marked ```ts no-check is skipped (for fragments shown out of context).
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "..")
const out = path.join(root, ".docs-check")
fs.rmSync(out, { recursive: true, force: true })
fs.mkdirSync(out, { recursive: true })

const files = ["README.md", ...fs.readdirSync(path.join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)]
let count = 0
for (const file of files) {
  const text = fs.readFileSync(path.join(root, file), "utf8")
  const blocks = [...text.matchAll(/```ts( no-check)?\n([\s\S]*?)```/g)]
  blocks.forEach((m, i) => {
    if (m[1]) return
    const name = `${file.replace(/[/.]/g, "_")}-${i + 1}.ts`
    // each block is a module of its own
    fs.writeFileSync(path.join(out, name), `${m[2]}\nexport {}\n`)
    count++
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
