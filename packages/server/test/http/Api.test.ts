/**
 * The HTTP routes against the whole real server and a real sim session: health, session list with
 * filters, state and time travel, events paging, the protocol schema, metrics, connector routes
 * (body limit, JSON), and the error answers (404, 405, 400, 413).
 */
import { PROTOCOL_MINOR, type Provider, type SessionId } from "@orbitdock/domain"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Connector, ConnectorFactory } from "../../src/connectors/Connector.js"
import * as Sim from "../../src/connectors/Sim.js"
import { startTestServer, type TestServer } from "../helpers/testServer.js"

/** A connector that only serves routes (the transport's side of `POST /hook`-like endpoints). */
const routeConnector: ConnectorFactory = () =>
  Effect.succeed({
    provider: "codex" as Provider,
    create: () => Effect.die("unused"),
    sendMessage: () => Effect.die("unused"),
    approve: () => Effect.die("unused"),
    answer: () => Effect.die("unused"),
    interrupt: () => Effect.die("unused"),
    end: () => Effect.die("unused"),
    survivedRestart: () => Effect.succeed(false),
    routes: [
      {
        method: "POST",
        path: "/echo",
        handle: (request) => Effect.succeed({ status: 202, body: { got: request.body, via: request.via, agent: request.headers["x-agent"] } })
      },
      {
        method: "POST",
        path: "/unencodable",
        handle: () => Effect.succeed({ status: 200, body: { big: 2n ** 70n } })
      }
    ]
  } satisfies Connector)

describe("HTTP API", () => {
  let server: TestServer
  let sessionId: string
  let revision: number
  beforeAll(async () => {
    server = await startTestServer({ connectors: [Sim.make, routeConnector] })
    const client = await server.connect()
    sessionId = ((await client.request({ type: "create_session", provider: "sim", cwd: "/api" })) as { session_id: string }).session_id
    await client.request({ type: "subscribe_session", session_id: sessionId })
    await client.request({ type: "send_message", session_id: sessionId, content: "hello" })
    const waiting = (await client.next((m: any) => m.type === "session_delta" && m.changes.status === "waiting")) as { revision: number }
    revision = waiting.revision
    await client.close()
  })
  afterAll(() => server.cleanup())

  it("GET /health", async () => {
    const { status, body } = await server.request("/health", { auth: false })
    expect(status).toBe(200)
    expect(body).toEqual({ status: "ok", version: server.transport.version, protocol: 1, protocol_minor: PROTOCOL_MINOR, server_id: server.transport.serverId, uptime_s: expect.any(Number) })
  })

  it("GET /api/sessions with filters, validating their values", async () => {
    const all = await server.request("/api/sessions")
    expect(all.status).toBe(200)
    expect(all.body.map((s: { id: string }) => s.id)).toContain(sessionId)
    expect((await server.request("/api/sessions?status=waiting&provider=sim")).body.map((s: { id: string }) => s.id)).toContain(sessionId)
    expect((await server.request("/api/sessions?status=ended")).body).toEqual([])
    const bad = await server.request("/api/sessions?status=sleeping")
    expect(bad.status).toBe(400)
    expect(bad.body).toMatchObject({ code: "invalid_message" })
    expect((await server.request("/api/sessions?provider=gpt")).status).toBe(400)
  })

  it("GET /api/sessions/:id, live, and ?at_revision=N", async () => {
    const live = await server.request(`/api/sessions/${sessionId}`)
    expect(live.status).toBe(200)
    expect(live.body).toEqual(await Effect.runPromise(server.sessions.get(sessionId as SessionId)))
    expect(live.body.revision).toBe(revision)
    const first = await server.request(`/api/sessions/${sessionId}?at_revision=1`)
    expect(first.status).toBe(200)
    expect(first.body).toMatchObject({ id: sessionId, revision: 1, messages: [] })
    for (const n of [0, revision + 1]) {
      const answer = await server.request(`/api/sessions/${sessionId}?at_revision=${n}`)
      expect(answer.status).toBe(404)
      expect(answer.body).toMatchObject({ code: "not_found" })
    }
    for (const n of ["1.5", "x", ""]) {
      const answer = await server.request(`/api/sessions/${sessionId}?at_revision=${n}`)
      expect(answer.status, n).toBe(400)
    }
    const missing = await server.request("/api/sessions/no-such-session")
    expect(missing.status).toBe(404)
    expect(missing.body).toMatchObject({ code: "not_found" })
  })

  it("GET /api/sessions/:id/events pages with after (exclusive), limit and next_after", async () => {
    const all = await server.request(`/api/sessions/${sessionId}/events`)
    expect(all.status).toBe(200)
    expect(all.body.events.map((e: { revision: number }) => e.revision)).toEqual(Array.from({ length: revision }, (_, i) => i + 1))
    expect(all.body.next_after).toBeNull()
    expect(all.body.events[0]).toMatchObject({ revision: 1, type: expect.any(String), occurred_at: expect.any(String) })
    const page = await server.request(`/api/sessions/${sessionId}/events?after=2&limit=3`)
    expect(page.body.events.map((e: { revision: number }) => e.revision)).toEqual([3, 4, 5])
    expect(page.body.next_after).toBe(5)
    const rest = await server.request(`/api/sessions/${sessionId}/events?after=5&limit=100000`)
    expect(rest.body.events[0].revision).toBe(6)
    expect(rest.body.next_after).toBeNull()
    expect((await server.request(`/api/sessions/${sessionId}/events?limit=0`)).status).toBe(400)
    expect((await server.request(`/api/sessions/${sessionId}/events?after=-1`)).status).toBe(400)
    expect((await server.request(`/api/sessions/${sessionId}/events?after=abc`)).status).toBe(400)
  })

  it("GET /api/protocol.json and /metrics", async () => {
    const schema = await server.request("/api/protocol.json")
    expect(schema.status).toBe(200)
    expect(schema.body).toMatchObject({ title: expect.stringContaining("OrbitDock") })
    const metrics = await server.request("/metrics")
    expect(metrics.status).toBe(200)
    expect(metrics.headers["content-type"]).toBe("text/plain; version=0.0.4; charset=utf-8")
    expect(metrics.text).toMatch(/^# TYPE orbitdock_connections gauge$/m)
    expect(metrics.text).toMatch(/^orbitdock_frames_sent_total [1-9]/m)
    expect(metrics.text).toMatch(/^orbitdock_batch_size_bucket\{le="\+Inf"\} \d+$/m)
  })

  it("serves connector routes: JSON body, 400 on bad JSON, 413 over 1 MiB, 405 on another method", async () => {
    const ok = await server.request("/echo", { method: "POST", body: JSON.stringify({ a: 1 }), headers: { "x-agent": "claude", "content-type": "application/json" } })
    expect(ok.status).toBe(202)
    expect(ok.body).toEqual({ got: { a: 1 }, via: "tcp", agent: "claude" })
    const unix = await server.request("/echo", { method: "POST", body: "[1]", via: "unix" })
    expect(unix.body).toMatchObject({ got: [1], via: "unix" })
    const badJson = await server.request("/echo", { method: "POST", body: "{oops" })
    expect(badJson.status).toBe(400)
    expect(badJson.body).toMatchObject({ code: "invalid_message" })
    const big = await server.request("/echo", { method: "POST", body: JSON.stringify({ pad: "x".repeat(1024 * 1024) }) })
    expect(big.status).toBe(413)
    expect(big.body).toMatchObject({ code: "too_large" })
    const wrong = await server.request("/echo")
    expect(wrong.status).toBe(405)
    expect(wrong.headers.allow).toBe("POST")
    // Bodies are plain JSON nested at most 64 deep (echoing this one back would overflow the encoder).
    const deep = await server.request("/echo", { method: "POST", body: `${"[".repeat(100_000)}${"]".repeat(100_000)}` })
    expect(deep.status).toBe(400)
    expect(deep.body).toMatchObject({ code: "invalid_message", message: expect.stringMatching(/nested/) })
    const infinite = await server.request("/echo", { method: "POST", body: '{"n":1e999}' })
    expect(infinite.body).toMatchObject({ code: "invalid_message", message: expect.stringMatching(/finite/) })
    // An answer that cannot be encoded is a 500, and the server goes on.
    const unencodable = await server.request("/unencodable", { method: "POST", body: "{}" })
    expect(unencodable.status).toBe(500)
    expect(unencodable.body).toEqual({ code: "internal", message: "internal server error" })
    expect((await server.request("/health")).status).toBe(200)
    // The token is still required over TCP.
    expect((await server.request("/echo", { method: "POST", body: "{}", auth: false })).status).toBe(401)
  })

  it("answers unknown paths 404 and wrong methods 405, always as {code, message}", async () => {
    const missing = await server.request("/nope")
    expect(missing.status).toBe(404)
    expect(missing.body).toEqual({ code: "not_found", message: expect.any(String) })
    const post = await server.request("/api/sessions", { method: "POST", body: "{}" })
    expect(post.status).toBe(405)
    expect(post.body).toMatchObject({ code: expect.any(String), message: expect.any(String) })
    const ws = await server.request("/ws")
    expect(ws.status).toBe(426)
  })
})
