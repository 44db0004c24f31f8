/**
 * The mission-control page (`packages/web`, built by Vite into `packages/web/dist`) served from the
 * server's own origin: `index.html` at `/`, hashed bundles under `/assets/`, and the page again for a
 * browser navigating to any other non-API path (SPA fallback). Owns which requests are page requests
 * (they carry no secret, so they need no token: the Host and Origin checks still apply) and how the
 * files are answered (content types, caching, security headers). Does not own the API routes.
 */
import * as fs from "node:fs/promises"
import type * as http from "node:http"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/** Where the built page lives: `ORBITDOCK_WEB_DIR`, else `packages/web/dist` beside this package. */
export const defaultRoot = (): string =>
  process.env.ORBITDOCK_WEB_DIR ??
  // This module is `packages/server/{src,dist}/http/WebPage.*`: four levels up is `packages/`.
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../web/dist")

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".woff": "font/woff",
  ".txt": "text/plain; charset=utf-8",
  ".webmanifest": "application/manifest+json"
}

/** The content type for a file name (by extension). */
export const contentType = (file: string): string => CONTENT_TYPES[path.extname(file).toLowerCase()] ?? "application/octet-stream"

// Bundle names are flat (`index-<hash>.js`): anything else under /assets/ is not ours.
const ASSET = /^\/assets\/([A-Za-z0-9][A-Za-z0-9._-]*)$/

/** Paths the API owns; never answered with the page. */
const isReserved = (pathname: string, reserved: ReadonlySet<string>): boolean =>
  pathname === "/api" || pathname.startsWith("/api/") || reserved.has(pathname)

/**
 * Files the page needs at fixed names beside it: the service worker (its scope is the folder it is
 * served from: `/`), the web app manifest and its icons.
 */
const ROOT_FILES: ReadonlySet<string> = new Set(["/sw.js", "/manifest.webmanifest", "/icon.svg", "/icon-192.png", "/icon-512.png"])

/** What a request is, as far as the page is concerned. */
export type PageRequest =
  | { readonly _tag: "index" }
  | { readonly _tag: "asset"; readonly name: string }
  | { readonly _tag: "file"; readonly name: string }
  | { readonly _tag: "none" }

/**
 * Classifies a request: `/` and `/index.html`, `/assets/<file>`, the root files, and (SPA fallback) a GET of any
 * non-reserved path by a browser asking for HTML. Everything else goes to the API (and its token).
 */
export const classify = (
  method: string,
  pathname: string,
  accept: string | undefined,
  reserved: ReadonlySet<string>
): PageRequest => {
  if (method !== "GET" && method !== "HEAD") return { _tag: "none" }
  if (pathname === "/" || pathname === "/index.html") return { _tag: "index" }
  if (ROOT_FILES.has(pathname)) return { _tag: "file", name: pathname.slice(1) }
  const asset = ASSET.exec(pathname)
  if (asset !== null) return { _tag: "asset", name: asset[1] }
  if (isReserved(pathname, reserved) || pathname.startsWith("/assets/")) return { _tag: "none" }
  return (accept ?? "").includes("text/html") ? { _tag: "index" } : { _tag: "none" }
}

/** Headers on the page itself: no framing (approve buttons must not be clickjacked), no referrer (the URL may carry the token). */
const pageHeaders = (host: string | undefined): Record<string, string> => ({
  "content-security-policy": [
    "default-src 'self'",
    `connect-src 'self'${host === undefined ? "" : ` ws://${host} wss://${host}`}`,
    "img-src 'self' data:",
    "style-src 'self' 'unsafe-inline'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'none'"
  ].join("; "),
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff"
})

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>OrbitDock</title>
<p>The OrbitDock web page is not built. Run <code>npm run build</code> in the repository (it builds
<code>packages/web</code>), or set <code>ORBITDOCK_WEB_DIR</code> to a built page.</p>`

/** Serves page requests from a built `dist` directory. */
export const makeServer = (root: string) => {
  const read = async (file: string): Promise<Buffer | undefined> => {
    try {
      return await fs.readFile(path.join(root, file))
    } catch {
      return undefined
    }
  }
  const write = (
    req: http.IncomingMessage,
    res: http.ServerResponse,
    status: number,
    headers: Record<string, string>,
    body: Buffer | string
  ) => {
    res.writeHead(status, { ...headers, "content-length": String(Buffer.byteLength(body)) })
    res.end(req.method === "HEAD" ? undefined : body)
  }

  return async (request: Exclude<PageRequest, { _tag: "none" }>, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    if (request._tag === "index") {
      const html = await read("index.html")
      // The page names the hashed bundles of the current build: it must be revalidated every time.
      const headers = { ...pageHeaders(req.headers.host), "content-type": CONTENT_TYPES[".html"], "cache-control": "no-cache" }
      if (html === undefined) return write(req, res, 503, headers, NOT_BUILT)
      return write(req, res, 200, headers, html)
    }
    if (request._tag === "file") {
      const body = await read(request.name)
      if (body === undefined) {
        return write(req, res, 404, { "content-type": CONTENT_TYPES[".json"], "x-content-type-options": "nosniff" }, JSON.stringify({ code: "not_found", message: `no ${request.name}` }))
      }
      // Fixed names: revalidated each time, so a new build's worker and manifest are picked up.
      return write(req, res, 200, { "content-type": contentType(request.name), "cache-control": "no-cache", "x-content-type-options": "nosniff" }, body)
    }
    const body = await read(path.join("assets", request.name))
    if (body === undefined) {
      return write(req, res, 404, { "content-type": CONTENT_TYPES[".json"], "x-content-type-options": "nosniff" }, JSON.stringify({ code: "not_found", message: `no asset ${request.name}` }))
    }
    // Vite puts a content hash in every bundle name, so a name never changes its content.
    return write(req, res, 200, {
      "content-type": contentType(request.name),
      "cache-control": "public, max-age=31536000, immutable",
      "x-content-type-options": "nosniff"
    }, body)
  }
}
