/**
 * Access checks: the pure rules (Host, Origin, token, in that order), the token file, and the same
 * rules enforced by a real server on 127.0.0.1 for HTTP and WebSocket upgrades (and skipped on the
 * Unix socket).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Access from "../../src/http/Access.js"
import { startTestServer, type TestServer, UpgradeRefused } from "../helpers/testServer.js"

const policy: Access.AccessPolicy = {
  port: 4100,
  token: "a".repeat(64),
  allowOrigins: ["https://app.example"],
  publicHosts: ["orbit.example"]
}
const head = (overrides: Partial<Access.RequestHead>): Access.RequestHead => ({
  method: "GET",
  pathname: "/api/sessions",
  host: "127.0.0.1:4100",
  origin: undefined,
  authorization: `Bearer ${"a".repeat(64)}`,
  queryToken: null,
  ...overrides
})

describe("Access rules", () => {
  it("accepts loopback Host names (with our port or none) and configured public hosts", () => {
    for (const host of ["127.0.0.1:4100", "localhost:4100", "[::1]:4100", "127.1.2.3:4100", "localhost", "LOCALHOST:4100", "orbit.example", "orbit.example:443"]) {
      expect(Access.hostAllowed(host, policy), host).toBe(true)
    }
    for (const host of [undefined, "", "evil.example:4100", "127.0.0.1.evil.example", "127.0.0.256:4100", "localhost:4101", "[::2]:4100", "[::1", "localhost:abc"]) {
      expect(Access.hostAllowed(host, policy), String(host)).toBe(false)
    }
  })

  it("checks Host, then Origin, then the token", () => {
    // Everything wrong: the Host answer wins.
    expect(Access.check(head({ host: "evil.example", origin: "null", authorization: undefined }), policy)).toMatchObject({ status: 403, code: "forbidden" })
    expect(Access.check(head({ origin: "null", authorization: undefined }), policy)).toMatchObject({ status: 403, code: "forbidden" })
    expect(Access.check(head({ origin: "http://127.0.0.1:9999" }), policy)).toMatchObject({ status: 403 })
    expect(Access.check(head({ authorization: undefined }), policy)).toMatchObject({ status: 401, code: "unauthorized" })
    expect(Access.check(head({ authorization: "Bearer nope" }), policy)).toMatchObject({ status: 401 })
    expect(Access.check(head({}), policy)).toBeUndefined()
    for (const origin of ["http://127.0.0.1:4100", "http://localhost:4100", "https://app.example"]) {
      expect(Access.check(head({ origin }), policy), origin).toBeUndefined()
    }
  })

  it("takes the token from ?token= and needs none for GET /health and preflights", () => {
    expect(Access.check(head({ authorization: undefined, queryToken: "a".repeat(64) }), policy)).toBeUndefined()
    expect(Access.check(head({ authorization: undefined, pathname: "/health" }), policy)).toBeUndefined()
    expect(Access.check(head({ authorization: undefined, pathname: "/health", method: "POST" }), policy)).toMatchObject({ status: 401 })
    expect(Access.check(head({ authorization: undefined, method: "OPTIONS", origin: "https://app.example" }), policy)).toBeUndefined()
    // /health still checks Host and Origin.
    expect(Access.check(head({ authorization: undefined, pathname: "/health", host: "evil.example" }), policy)).toMatchObject({ status: 403 })
  })
})

describe("token file", () => {
  it("is created at first start (64 lowercase hex, mode 0600, data dir 0700), then reused; a configured token wins", async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "orbitdock-token-"))
    try {
      const dataDir = path.join(root, "data")
      const token = await Effect.runPromise(Access.resolveToken(null, dataDir))
      expect(token).toMatch(/^[0-9a-f]{64}$/)
      const file = path.join(dataDir, "token")
      expect(fs.statSync(file).mode & 0o777).toBe(0o600)
      expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700)
      expect(fs.readFileSync(file, "utf8").trim()).toBe(token)
      expect(await Effect.runPromise(Access.resolveToken(null, dataDir))).toBe(token)
      // Readers trim whitespace.
      fs.writeFileSync(file, `  ${"b".repeat(64)}\n\n`)
      expect(await Effect.runPromise(Access.resolveToken(null, dataDir))).toBe("b".repeat(64))
      expect(await Effect.runPromise(Access.resolveToken("given", dataDir))).toBe("given")
      expect(fs.readFileSync(file, "utf8").trim()).toBe("b".repeat(64))
    } finally {
      fs.rmSync(root, { recursive: true, force: true })
    }
  })
})

describe("a real server", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer({ config: { allowOrigins: ["https://app.example"] } })
  })
  afterAll(() => server.cleanup())

  it("writes its token file and listens on a 0600 socket", () => {
    expect(fs.readFileSync(path.join(server.dataDir, "token"), "utf8").trim()).toBe(server.token)
    expect(server.token).toMatch(/^[0-9a-f]{64}$/)
    expect(fs.statSync(server.socketPath).mode & 0o777).toBe(0o600)
    expect(fs.statSync(server.socketPath).isSocket()).toBe(true)
  })

  it("refuses HTTP in order: Host 403, Origin 403 (null included), token 401", async () => {
    const bad = await server.request("/api/sessions", { headers: { host: "evil.example", origin: "null" }, auth: false })
    expect(bad.status).toBe(403)
    expect(bad.body).toMatchObject({ code: "forbidden" })
    expect(bad.body.message).toMatch(/Host/)
    const nullOrigin = await server.request("/api/sessions", { headers: { origin: "null" }, auth: false })
    expect(nullOrigin.status).toBe(403)
    expect(nullOrigin.body.message).toMatch(/Origin/)
    const otherOrigin = await server.request("/api/sessions", { headers: { origin: "http://evil.example" } })
    expect(otherOrigin.status).toBe(403)
    const noToken = await server.request("/api/sessions", { auth: false })
    expect(noToken.status).toBe(401)
    expect(noToken.body).toMatchObject({ code: "unauthorized" })
    const wrongToken = await server.request("/api/sessions", { auth: false, headers: { authorization: "Bearer " + "0".repeat(64) } })
    expect(wrongToken.status).toBe(401)
    const ok = await server.request("/api/sessions")
    expect(ok.status).toBe(200)
    expect(Array.isArray(ok.body)).toBe(true)
  })

  it("serves /health without a token, takes ?token=, and answers CORS for allowed origins", async () => {
    const health = await server.request("/health", { auth: false })
    expect(health.status).toBe(200)
    expect(health.body).toMatchObject({ status: "ok", protocol: 1, server_id: server.transport.serverId })
    const query = await server.request(`/api/sessions?token=${server.token}`, { auth: false })
    expect(query.status).toBe(200)
    const preflight = await server.request("/api/sessions", {
      method: "OPTIONS",
      auth: false,
      headers: { origin: "https://app.example", "access-control-request-method": "GET" }
    })
    expect(preflight.status).toBe(204)
    expect(preflight.headers["access-control-allow-origin"]).toBe("https://app.example")
    expect(preflight.headers["access-control-allow-headers"]).toMatch(/Authorization/)
    const own = await server.request("/api/sessions", { headers: { origin: `http://localhost:${server.port}` } })
    expect(own.status).toBe(200)
    expect(own.headers["access-control-allow-origin"]).toBe(`http://localhost:${server.port}`)
    const refusedPreflight = await server.request("/api/sessions", { method: "OPTIONS", auth: false, headers: { origin: "https://evil.example" } })
    expect(refusedPreflight.status).toBe(403)
  })

  it("checks WebSocket upgrades the same way, before the handshake", async () => {
    const refused = async (options: Parameters<TestServer["connect"]>[0]) => {
      const error = await server.connect(options).then(
        () => undefined,
        (e: unknown) => e
      )
      expect(error).toBeInstanceOf(UpgradeRefused)
      return error as UpgradeRefused
    }
    const host = await refused({ headers: { host: `evil.example:${server.port}` }, auth: false })
    expect(host.status).toBe(403)
    expect(JSON.parse(host.body)).toMatchObject({ code: "forbidden" })
    expect((await refused({ headers: { origin: "null" } })).status).toBe(403)
    expect((await refused({ headers: { origin: "http://evil.example" } })).status).toBe(403)
    const token = await refused({ auth: false })
    expect(token.status).toBe(401)
    expect(JSON.parse(token.body)).toMatchObject({ code: "unauthorized" })
    const client = await server.connect({ auth: false, query: `token=${server.token}`, headers: { origin: `http://127.0.0.1:${server.port}` } })
    expect((await client.next()).type).toBe("hello")
    await client.close()
  })

  it("trusts the Unix socket: no Host, Origin or token checks", async () => {
    const answer = await server.request("/api/sessions", { via: "unix", auth: false, headers: { host: "anything.example" } })
    expect(answer.status).toBe(200)
    const client = await server.connect({ via: "unix", auth: false })
    expect((await client.next()).type).toBe("hello")
    await client.close()
  })
})
