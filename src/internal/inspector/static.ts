/**
 * The inspector's page and its ES modules, served at `/inspector` without a token (the page asks
 * for one; the API it calls checks it). Files are read once from `assets/` (beside this module in
 * the sources; the package ships `src`, so a build in `dist/` reads the same folder) and from the
 * `preact` and `htm` packages; each is served with a strong ETag and `cache-control: no-cache`,
 * so a browser revalidates and gets a 304 until the file changes. Nothing comes from a CDN.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/** @internal */
export interface Asset {
  readonly body: Uint8Array
  readonly contentType: string
  readonly etag: string
  /** the page's Content-Security-Policy (its one inline script, the import map, allowed by hash) */
  readonly csp?: string | undefined
}

const types: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml"
}

const here = path.dirname(fileURLToPath(import.meta.url))

/** `assets/` beside this module, else the shipped sources' (from `dist/internal/inspector`). */
const assetsDir = () => {
  const beside = path.join(here, "assets")
  if (fs.existsSync(beside)) return beside
  const shipped = path.join(here, "../../../src/internal/inspector/assets")
  if (fs.existsSync(shipped)) return shipped
  throw new Error(`the inspector's assets are missing (looked in ${beside} and ${shipped})`)
}

const vendor = (): Record<string, string> => {
  const require = createRequire(import.meta.url)
  // the ES module builds, next to whatever file each package's exports resolve to here
  const esm = (specifier: string, file: string) => path.join(path.dirname(require.resolve(specifier)), file)
  return {
    "preact.mjs": esm("preact", "preact.mjs"),
    "hooks.mjs": esm("preact/hooks", "hooks.mjs"),
    "htm.mjs": esm("htm", "htm.mjs")
  }
}

const asset = (file: string): Asset => {
  const body = fs.readFileSync(file)
  return {
    body,
    contentType: types[path.extname(file)] ?? "application/octet-stream",
    etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`
  }
}

let cache: ReadonlyMap<string, Asset> | undefined

/** Every file the page loads, by URL path. @internal */
export const assets = (): ReadonlyMap<string, Asset> => {
  if (cache !== undefined) return cache
  const out = new Map<string, Asset>()
  const dir = assetsDir()
  for (const name of fs.readdirSync(dir)) {
    if (!/\.(js|css|html|svg)$/.test(name)) continue
    const a = asset(path.join(dir, name))
    if (name === "index.html") {
      const importMap = /<script type="importmap">([\s\S]*?)<\/script>/.exec(Buffer.from(a.body).toString("utf8"))?.[1] ?? ""
      const hash = createHash("sha256").update(importMap).digest("base64")
      const page = {
        ...a,
        csp: `default-src 'self'; script-src 'self' 'sha256-${hash}'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'`
      }
      out.set("/inspector", page)
      out.set("/inspector/", page)
      continue
    }
    out.set(`/inspector/assets/${name}`, a)
  }
  for (const [name, file] of Object.entries(vendor())) out.set(`/inspector/vendor/${name}`, asset(file))
  cache = out
  return out
}

/** A file's response: 304 when the browser's copy is current. @internal */
export const respond = (a: Asset, ifNoneMatch: string | undefined) => {
  const headers = {
    etag: a.etag,
    "cache-control": "no-cache",
    "x-content-type-options": "nosniff",
    ...(a.csp !== undefined ? { "content-security-policy": a.csp } : {})
  }
  if (ifNoneMatch !== undefined && ifNoneMatch.split(",").some((t) => t.trim() === a.etag)) {
    return HttpServerResponse.empty({ status: 304, headers })
  }
  return HttpServerResponse.uint8Array(a.body, { contentType: a.contentType, headers })
}

const serveAsset = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const url = new URL(request.url, "http://x")
  const a = assets().get(url.pathname)
  if (a === undefined) return HttpServerResponse.text("not found", { status: 404 })
  return respond(a, request.headers["if-none-match"])
})

/** The page's routes on the API's router. @internal */
export const layer = HttpApiBuilder.Router.use((router) =>
  Effect.gen(function*() {
    yield* router.get("/inspector", serveAsset)
    yield* router.get("/inspector/assets/*", serveAsset)
    yield* router.get("/inspector/vendor/*", serveAsset)
  })
)
