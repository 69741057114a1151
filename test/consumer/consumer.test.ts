/**
 * The package as a new user gets it: `npm pack`, then the README's own install command in a fresh
 * app outside this repository, then plain `node` (no tsx, no loader) and the app's own `tsc`
 * under several compiler settings. Slow (the install builds better-sqlite3), so it is not part of
 * `npm run test:quick`.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { beforeAll, describe, expect, it } from "vitest"

const root = path.resolve(import.meta.dirname, "../..")
const appSources = path.join(import.meta.dirname, "app")
const tsc = path.join(root, "node_modules/typescript/bin/tsc")
const readme = fs.readFileSync(path.join(root, "README.md"), "utf8")

/** The environment of a nested npm: without the npm_* variables of the `npm test` that runs us. */
const cleanEnv = () =>
  Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith("npm_") && k !== "NODE_OPTIONS" && k !== "INIT_CWD")
  )

/**
 * Runs a command to its end and resolves to its stdout; rejects with its stderr. Asynchronous, so
 * the test worker stays responsive during a minutes-long install.
 */
const exec = (file: string, args: ReadonlyArray<string>, cwd: string) =>
  new Promise<string>((resolve, reject) =>
    execFile(file, args, { cwd, env: cleanEnv(), encoding: "utf8", maxBuffer: 64 << 20 }, (error, stdout, stderr) =>
      error ? reject(Object.assign(new Error(`${file} ${args.join(" ")}: ${stderr || error.message}`), { stderr })) :
        resolve(stdout)))

/** The first ```sh / ```ts block after a README heading. */
const readmeBlock = (heading: string, lang: "sh" | "ts") => {
  const at = readme.indexOf(`\n## ${heading}\n`)
  if (at < 0) throw new Error(`README has no "## ${heading}" section`)
  const match = new RegExp("```" + lang + "\\n([\\s\\S]*?)```").exec(readme.slice(at))
  if (!match) throw new Error(`README's "${heading}" section has no ${lang} block`)
  return match[1]!
}

/** `npm install …` from a README section, split into its arguments. */
const readmeInstallArgs = (heading: string) => {
  const line = readmeBlock(heading, "sh").split("\n").find((l) => l.startsWith("npm install "))
  if (!line) throw new Error(`README's ${heading} block has no \`npm install\` line`)
  return line.replace(/#.*$/, "").trim().split(/\s+/).slice(2)
}

let app = ""
let tarball = ""

beforeAll(async () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "esg-consumer-"))
  const packed = JSON.parse(await exec("npm", ["pack", "--json", "--pack-destination", work], root))
  tarball = path.join(work, packed[0].filename)
  app = path.join(work, "app")
  fs.mkdirSync(app)
  fs.writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }))
  const args = readmeInstallArgs("Install").map((a) => (a === "effect-stategraph" ? tarball : a))
  await exec("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", ...args], app)
  for (const f of fs.readdirSync(appSources)) fs.copyFileSync(path.join(appSources, f), path.join(app, f))
}, 900_000)

describe("the packed package in a fresh app", () => {
  it("ships compiled JavaScript and declarations, not the tests", async () => {
    const files = (await exec("tar", ["tzf", tarball], root)).split("\n")
    expect(files).toContain("package/dist/index.js")
    expect(files).toContain("package/dist/index.d.ts")
    expect(files).toContain("package/dist/StateGraph.d.ts.map")
    expect(files.some((f) => f.startsWith("package/test/") || f.startsWith("package/bench/"))).toBe(false)
  })

  it("installs exactly one copy of effect", () => {
    const copies: Array<string> = []
    const walk = (dir: string): void => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        if (!e.isDirectory() || e.name === ".bin") continue
        const p = path.join(dir, e.name)
        if (e.name === "effect" && path.basename(dir) === "node_modules") copies.push(p)
        walk(p)
      }
    }
    walk(path.join(app, "node_modules"))
    expect(copies).toEqual([path.join(app, "node_modules", "effect")])
    expect(JSON.parse(fs.readFileSync(path.join(copies[0]!, "package.json"), "utf8")).version).toMatch(/^3\./)
  })

  it("plain node: a thread pauses in one process and is resumed from a second one on SQLite", async () => {
    const db = path.join(app, "threads.db")
    expect((await exec("node", ["pause.mjs", db, "t-1"], app)).trim()).toBe("paused: Approval")
    const final = JSON.parse(await exec("node", ["resume.mjs", db, "t-1"], app))
    expect(final.draft).toBe("Hello!")
    expect(final.log).toHaveLength(2)
    // the answer was given by another process than the one that wrote the draft
    const [wrote, approved] = final.log.map((l: string) => l.split(" in ")[1])
    expect(approved).not.toBe(wrote)
  })

  it("the README's quick start, compiled by the app's tsc, runs on plain node and prints its result", async () => {
    fs.mkdirSync(path.join(app, "src"), { recursive: true })
    fs.writeFileSync(path.join(app, "src", "quickstart.ts"), readmeBlock("Quick start", "ts"))
    fs.writeFileSync(
      path.join(app, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { module: "NodeNext", target: "ES2022", strict: true, outDir: "out", types: [] },
        include: ["src"]
      })
    )
    await exec("node", [tsc, "-p", "tsconfig.json"], app)
    const out = await exec("node", ["out/quickstart.js"], app)
    expect(out).toContain("draft: 'Hello!'")
    expect(out).toContain("'approved'")
  })

  const settings = [
    { module: "NodeNext", moduleResolution: "NodeNext", strict: true },
    { module: "NodeNext", moduleResolution: "NodeNext", strict: false },
    { module: "ESNext", moduleResolution: "Bundler", strict: true },
    { module: "ESNext", moduleResolution: "Bundler", strict: false }
  ]
  it.each(settings)("type-checks with our .d.ts under %o and noPropertyAccessFromIndexSignature", async (options) => {
    const name = `tsconfig.${options.moduleResolution}.${options.strict}.json`
    fs.writeFileSync(
      path.join(app, name),
      JSON.stringify({
        compilerOptions: {
          ...options,
          target: "ES2022",
          noPropertyAccessFromIndexSignature: true,
          skipLibCheck: false,
          noEmit: true,
          types: []
        },
        files: ["types.ts"]
      })
    )
    // exits non-zero (and throws with tsc's report) on any error, ours or the app's
    await exec("node", [tsc, "-p", name], app)
  })

  it("keeps the engine's internals private", async () => {
    await expect(
      exec("node", ["--input-type=module", "-e", `await import("effect-stategraph/internal/graph")`], app)
    ).rejects.toThrow(/ERR_PACKAGE_PATH_NOT_EXPORTED/)
  })

  it("resolves the package root to compiled JavaScript, and measures its import time", async () => {
    const report = JSON.parse(
      await exec("node", [
        "--input-type=module",
        "-e",
        `const t = performance.now(); const m = await import("effect-stategraph"); const ms = performance.now() - t;
         console.log(JSON.stringify({ ms, url: import.meta.resolve("effect-stategraph"), modules: Object.keys(m) }))`
      ], app)
    )
    console.log(`import of "effect-stategraph" from compiled JS: ${report.ms.toFixed(0)} ms`)
    expect(report.url).toMatch(/node_modules\/effect-stategraph\/dist\/index\.js$/)
    expect(report.modules).toEqual(expect.arrayContaining(["StateGraph", "Channel", "Interrupt", "SqliteSnapshots"]))
  })

  it("refuses effect 4 at install time, naming the conflict", async () => {
    const other = path.join(path.dirname(app), "effect4")
    fs.mkdirSync(other)
    fs.writeFileSync(path.join(other, "package.json"), JSON.stringify({ name: "app4", private: true }))
    let report = ""
    try {
      await exec("npm", ["install", "--dry-run", "--prefer-offline", "--no-audit", "--no-fund", tarball, "effect@4"], other)
    } catch (e) {
      report = String((e as { stderr?: unknown }).stderr ?? e)
    }
    expect(report).toContain("ERESOLVE")
    expect(report).toMatch(/peer effect@"\^3\.22/)
  })

  it("the stategraph bin runs on plain node once the README's CLI packages are installed", async () => {
    const stategraph = path.join(app, "node_modules", ".bin", "stategraph")
    // before: the bin says what to install
    await expect(exec(stategraph, ["threads", "list"], app)).rejects.toThrow(/the CLI needs @effect\/(cli|platform-node)/)
    await exec("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", ...readmeInstallArgs("The command line")], app)
    const threads = JSON.parse(await exec(stategraph, ["--db", "threads.db", "threads", "list", "--json"], app))
    expect(threads).toEqual([expect.objectContaining({ threadId: "t-1", graph: "consumer-post", status: "completed" })])
    await expect(exec(stategraph, ["--db", "threads.db", "threads", "show", "nope"], app)).rejects.toThrow(/ThreadNotFound/)
    const copies = (await exec("npm", ["ls", "effect", "--all", "--parseable"], app)).trim().split("\n")
    expect(new Set(copies)).toEqual(new Set([path.join(app, "node_modules", "effect")]))
  }, 600_000)

  it("the installed package serves the inspector: its page, modules and vendored Preact, no CDN", async () => {
    const files = (await exec("tar", ["tzf", tarball], root)).split("\n")
    expect(files).toContain("package/src/internal/inspector/assets/app.js")
    expect(files).toContain("package/dist/internal/inspector/static.js")
    // a server on the installed package (platform-node comes with the CLI packages installed above)
    // raw: the regular expression reaches the script as written
    const script = String.raw`
      import * as HttpServer from "@effect/platform/HttpServer"
      import { Context, Effect, Layer } from "effect"
      import { Server } from "effect-stategraph"
      import { graph } from "./graph.mjs"
      const files = ["/inspector", "/inspector/assets/app.js", "/inspector/assets/thread.js", "/inspector/assets/forms.js",
        "/inspector/assets/graph.js", "/inspector/assets/api.js", "/inspector/assets/ui.js", "/inspector/assets/style.css",
        "/inspector/vendor/preact.mjs", "/inspector/vendor/hooks.mjs", "/inspector/vendor/htm.mjs", "/inspector/api/session"]
      const program = Effect.scoped(Effect.gen(function*() {
        const ctx = yield* Layer.build(Server.layerSqlite({ graphs: [graph], port: 0, host: "127.0.0.1", auth: false, filename: "inspector.db" }))
        const base = "http://127.0.0.1:" + Context.get(ctx, HttpServer.HttpServer).address.port
        return yield* Effect.promise(() => Promise.all(files.map(async (f) => {
          const res = await fetch(base + f)
          const body = await res.text()
          const etag = res.headers.get("etag")
          const again = etag === null ? 0 : (await fetch(base + f, { headers: { "if-none-match": etag } })).status
          return { f, status: res.status, etag: etag !== null, again, cdn: /(?:src|href)=["']https?:|from\s*["']https?:|import\(\s*["']https?:|"imports":\{[^}]*https?:/.test(body), body: f.endsWith("session") ? JSON.parse(body) : body.length }
        })))
      }))
      console.log(JSON.stringify(await Effect.runPromise(program)))`
    const served = JSON.parse(await exec("node", ["--input-type=module", "-e", script], app)) as Array<any>
    for (const r of served) {
      expect(r, r.f).toMatchObject({ status: 200, cdn: false })
      if (r.f !== "/inspector/api/session") expect(r, r.f).toMatchObject({ etag: true, again: 304, body: expect.any(Number) })
    }
    expect(served.every((r) => typeof r.body !== "number" || r.body > 0)).toBe(true)
    expect(served.at(-1).body.graphs.map((g: any) => g.graph_id)).toEqual(["consumer-post"])
  })
})
