/**
 * Transpiles src/ and bench/ (TypeScript → ESM JavaScript, file by file, no bundling) into a
 * temp directory inside the repository, so the benchmark's child processes run plain `node` on
 * JavaScript, like a production deployment, and both sides' numbers are free of the tsx loader's
 * overhead (under `--import tsx`, merely importing `effect` costs ~70 MB more RSS, and source
 * maps make every Error stack costlier).
 *
 * The directory lives under bench/ so bare imports (`effect`, `@langchain/langgraph`) resolve
 * from the repository's node_modules. The caller removes it (see `cleanup`).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import ts from "typescript"

const walk = (dir: string): Array<string> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) return e.name.startsWith(".") || e.name === "node_modules" ? [] : walk(p)
    return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [p] : []
  })

export interface Build {
  readonly dir: string
  readonly cleanup: () => void
}

export const build = (root: string): Build => {
  const dir = fs.mkdtempSync(path.join(root, "bench", ".build-"))
  const cleanup = () => fs.rmSync(dir, { recursive: true, force: true })
  try {
    // `"type": "module"` so node treats the .js files as ESM
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ type: "module", private: true }))
    // src/ whole; of bench/ only what the child processes load
    const files = [
      ...walk(path.join(root, "src")),
      ...["one.ts", "scenarios.ts", "util.ts", "pg.ts"].map((f) => path.join(root, "bench", f)),
      ...walk(path.join(root, "bench", "ours")),
      ...walk(path.join(root, "bench", "langgraph"))
    ]
    {
      for (const file of files) {
        const rel = path.relative(root, file)
        const out = ts.transpileModule(fs.readFileSync(file, "utf8"), {
          fileName: file,
          compilerOptions: {
            target: ts.ScriptTarget.ES2022,
            module: ts.ModuleKind.ESNext,
            isolatedModules: true,
            esModuleInterop: true,
            sourceMap: false
          }
        })
        const target = path.join(dir, rel.replace(/\.ts$/, ".js"))
        fs.mkdirSync(path.dirname(target), { recursive: true })
        fs.writeFileSync(target, out.outputText)
      }
    }
    return { dir, cleanup }
  } catch (e) {
    cleanup()
    throw e
  }
}
