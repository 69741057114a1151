/**
 * Measures the size of the code in src/: the lines of every file, and the lines of every function
 * (declarations, function expressions — `Effect.gen(function* () { ... })` bodies included —,
 * arrow functions, methods, accessors and constructors), found with the TypeScript compiler API. A
 * function's length is the number of lines from its first to its last token, nested functions
 * included.
 *
 * Prints every file over 500 lines and every function over 150 lines; any offender fails the check
 * (exit code 1). Nothing is exempt, storage code included.
 *
 *   npx tsx scripts/check-size.ts            # offenders only
 *   npx tsx scripts/check-size.ts --all      # also the ten longest files and functions
 */
import * as fs from "node:fs"
import * as path from "node:path"
import ts from "typescript"

const maxFileLines = 500
const maxFunctionLines = 150

const root = path.resolve(import.meta.dirname, "..")
const src = path.join(root, "src")

/** Files the size rule does not apply to (none). */
const exempt: ReadonlyArray<RegExp> = []

const files = (dir: string): Array<string> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) return files(full)
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts") ? [full] : []
  })

interface Measure {
  readonly file: string
  readonly line: number
  readonly name: string
  readonly lines: number
}

const nameOf = (node: ts.Node, sf: ts.SourceFile): string => {
  const named = node as ts.Node & { readonly name?: ts.Node }
  if (named.name !== undefined) return named.name.getText(sf)
  if (ts.isConstructorDeclaration(node)) return "constructor"
  const parent = node.parent
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) {
    return parent.name.getText(sf)
  }
  if (ts.isCallExpression(parent)) {
    // Effect.gen(function* () {...}), Effect.fn("name")(function* ...), pipe(..., (x) => ...)
    const callee = parent.expression.getText(sf).replace(/\s+/g, " ")
    const outer = ts.findAncestor(parent, (n) => ts.isVariableDeclaration(n) || ts.isPropertyAssignment(n))
    const owner = outer !== undefined && (ts.isVariableDeclaration(outer) || ts.isPropertyAssignment(outer))
      ? `${outer.name.getText(sf)}: `
      : ""
    return `${owner}${callee.length > 40 ? `${callee.slice(0, 40)}…` : callee}(…)`
  }
  return "(anonymous)"
}

const measure = (file: string): { readonly lines: number; readonly functions: Array<Measure> } => {
  const text = fs.readFileSync(file, "utf8")
  const rel = path.relative(root, file)
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS)
  const functions: Array<Measure> = []
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && "body" in node && node.body !== undefined) {
      const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line
      const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line
      functions.push({ file: rel, line: start + 1, name: nameOf(node, sf), lines: end - start + 1 })
    }
    ts.forEachChild(node, visit)
  }
  visit(sf)
  const lines = text.endsWith("\n") ? text.split("\n").length - 1 : text.split("\n").length
  return { lines, functions }
}

const all = process.argv.includes("--all")
const results = files(src).map((file) => ({ file: path.relative(root, file), ...measure(file) }))
const exemptFile = (rel: string) => exempt.some((re) => re.test(rel))

const failures: Array<string> = []
const exempted: Array<string> = []
const report = (rel: string, message: string) => {
  if (exemptFile(rel)) exempted.push(message)
  else failures.push(message)
}
for (const r of results) {
  if (r.lines > maxFileLines) report(r.file, `${r.file}: ${r.lines} lines (max ${maxFileLines})`)
  for (const f of r.functions) {
    if (f.lines > maxFunctionLines) {
      report(f.file, `${f.file}:${f.line} ${f.name}: ${f.lines} lines (max ${maxFunctionLines})`)
    }
  }
}

if (all) {
  console.log("longest files:")
  for (const r of [...results].sort((a, b) => b.lines - a.lines).slice(0, 10)) console.log(`  ${r.lines}\t${r.file}`)
  console.log("longest functions:")
  const fns = results.flatMap((r) => r.functions).sort((a, b) => b.lines - a.lines).slice(0, 10)
  for (const f of fns) console.log(`  ${f.lines}\t${f.file}:${f.line} ${f.name}`)
}
for (const m of exempted) console.log(`exempt (storage): ${m}`)
for (const m of failures) console.log(`error: ${m}`)
const fileCount = results.length
const fnCount = results.reduce((n, r) => n + r.functions.length, 0)
console.log(
  `check-size: ${fileCount} files, ${fnCount} functions; ${failures.length} over the limits, ` +
    `${exempted.length} exempt`
)
if (failures.length > 0) process.exit(1)
