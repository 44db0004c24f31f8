/**
 * The web page route: which requests are page requests (no token, Host/Origin still checked), and
 * how the built files are answered (content types, caching, security headers, SPA fallback), over
 * the real transport with a temp web root.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as WebPage from "../../src/http/WebPage.js"
import { startTestServer, type TestServer } from "../helpers/testServer.js"

const reserved = new Set(["/ws", "/health", "/metrics", "/hook"])

describe("WebPage.classify", () => {
  it("serves the index at / and /index.html, flat hashed assets, nothing else under /assets/", () => {
    expect(WebPage.classify("GET", "/", undefined, reserved)).toEqual({ _tag: "index" })
    expect(WebPage.classify("HEAD", "/index.html", undefined, reserved)).toEqual({ _tag: "index" })
    expect(WebPage.classify("GET", "/assets/index-Ab1_c.js", undefined, reserved)).toEqual({ _tag: "asset", name: "index-Ab1_c.js" })
    expect(WebPage.classify("GET", "/assets/../token", "text/html", reserved)).toEqual({ _tag: "none" })
    expect(WebPage.classify("GET", "/assets/a/b.js", "text/html", reserved)).toEqual({ _tag: "none" })
    expect(WebPage.classify("GET", "/assets/..%2Ftoken", undefined, reserved)).toEqual({ _tag: "none" })
    expect(WebPage.classify("POST", "/", "text/html", reserved)).toEqual({ _tag: "none" })
  })

  it("falls back to the page only for browser navigations to non-API paths", () => {
    expect(WebPage.classify("GET", "/sessions/abc", "text/html,application/xhtml+xml", reserved)).toEqual({ _tag: "index" })
    expect(WebPage.classify("GET", "/sessions/abc", "application/json", reserved)).toEqual({ _tag: "none" })
    expect(WebPage.classify("GET", "/sessions/abc", undefined, reserved)).toEqual({ _tag: "none" })
    for (const api of ["/api/sessions", "/api", "/ws", "/health", "/metrics", "/hook"]) {
      expect(WebPage.classify("GET", api, "text/html", reserved)).toEqual({ _tag: "none" })
    }
  })

  it("names content types by extension", () => {
    expect(WebPage.contentType("a.js")).toMatch(/^text\/javascript/)
    expect(WebPage.contentType("a.css")).toMatch(/^text\/css/)
    expect(WebPage.contentType("a.svg")).toBe("image/svg+xml")
    expect(WebPage.contentType("a.bin")).toBe("application/octet-stream")
  })
})

describe("the page over the real transport", () => {
  let server: TestServer
  let root: string
  const index = '<!doctype html><title>OrbitDock</title><script type="module" src="/assets/index-abc123.js"></script>'
  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "orbitdock-web-root-"))
    fs.mkdirSync(path.join(root, "assets"))
    fs.writeFileSync(path.join(root, "index.html"), index)
    fs.writeFileSync(path.join(root, "assets", "index-abc123.js"), "console.log('hi')")
    fs.writeFileSync(path.join(root, "assets", "index-abc123.css"), "body{}")
    server = await startTestServer({ transport: { webRoot: root } })
  })
  afterAll(async () => {
    await server?.close()
  })

  it("answers the page without a token, never cached, unframeable, without referrers", async () => {
    const page = await server.request("/", { auth: false })
    expect(page.status).toBe(200)
    expect(page.text).toBe(index)
    expect(page.headers["content-type"]).toBe("text/html; charset=utf-8")
    expect(page.headers["cache-control"]).toBe("no-cache")
    expect(page.headers["x-frame-options"]).toBe("DENY")
    expect(page.headers["referrer-policy"]).toBe("no-referrer")
    expect(page.headers["content-security-policy"]).toContain("frame-ancestors 'none'")
    expect(page.headers["content-security-policy"]).toContain(`ws://127.0.0.1:${server.port}`)
    const head = await server.request("/index.html", { auth: false, method: "HEAD" })
    expect(head.status).toBe(200)
    expect(head.text).toBe("")
    expect(Number(head.headers["content-length"])).toBe(Buffer.byteLength(index))
  })

  it("answers hashed assets with their type and a year of immutable caching; unknown ones 404", async () => {
    const js = await server.request("/assets/index-abc123.js", { auth: false })
    expect(js.status).toBe(200)
    expect(js.text).toBe("console.log('hi')")
    expect(js.headers["content-type"]).toBe("text/javascript; charset=utf-8")
    expect(js.headers["cache-control"]).toBe("public, max-age=31536000, immutable")
    expect(js.headers["x-content-type-options"]).toBe("nosniff")
    const css = await server.request("/assets/index-abc123.css", { auth: false })
    expect(css.headers["content-type"]).toBe("text/css; charset=utf-8")
    const missing = await server.request("/assets/nope-1.js", { auth: false })
    expect(missing.status).toBe(404)
    expect(missing.body).toMatchObject({ code: "not_found" })
  })

  it("falls back to the page for browser navigations, never for the API, which still needs the token", async () => {
    const deep = await server.request("/sessions/ses_1", { auth: false, headers: { accept: "text/html" } })
    expect(deep.status).toBe(200)
    expect(deep.text).toBe(index)
    expect((await server.request("/api/sessions", { auth: false, headers: { accept: "text/html" } })).status).toBe(401)
    expect((await server.request("/nope", { auth: false })).status).toBe(401)
    expect((await server.request("/assets/../token", { auth: false })).status).toBe(401)
    const traversal = await server.request("/assets/..%2Ftoken", { auth: false })
    expect(traversal.status).toBe(401)
    expect(traversal.text).not.toContain(server.token)
  })

  it("still checks Host and Origin on the page (DNS rebinding, other sites)", async () => {
    expect((await server.request("/", { auth: false, headers: { host: "evil.example" } })).status).toBe(403)
    expect((await server.request("/", { auth: false, headers: { origin: "http://evil.example" } })).status).toBe(403)
    expect((await server.request("/assets/index-abc123.js", { auth: false, headers: { host: `rebind.example:${server.port}` } })).status).toBe(403)
  })

  it("says how to build the page when it is missing", async () => {
    const bare = await startTestServer({ transport: { webRoot: path.join(root, "missing") } })
    try {
      const page = await bare.request("/", { auth: false })
      expect(page.status).toBe(503)
      expect(page.text).toContain("npm run build")
    } finally {
      await bare.close()
    }
  })
})
