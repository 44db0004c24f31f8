/**
 * Approval rules on a real server (sim sessions, a real SQLite log, HTTP on 127.0.0.1): a rule
 * decides before anyone is asked and the history says which; rules are events (time travel, a
 * restart); a draft is tried against every past request.
 */
import type { ServerMessage } from "@orbitdock/domain"
import { afterEach, describe, expect, it } from "vitest"
import { startTestServer, type TestClient, type TestServer } from "../helpers/testServer.js"

let server: TestServer | undefined
afterEach(async () => {
  await server?.cleanup()
  server = undefined
})

const post = (s: TestServer, path: string, body: unknown) =>
  s.request(path, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } })

const create = async (client: TestClient): Promise<string> => {
  const ack = await client.request({ type: "create_session", provider: "sim", cwd: "/work/project" })
  return (ack as { session_id: string }).session_id
}

/** Sends a message and waits until its turn is over (the session waits again). */
const turn = async (client: TestClient, id: string, content: string) => {
  await client.request({ type: "send_message", session_id: id, content })
  await client.waitFor((m) => m.type === "session_delta" && m.session_id === id && m.changes.status === "waiting" && m.revision > 3)
}

const eventsOf = async (s: TestServer, id: string) => (await s.request(`/api/sessions/${id}/events`)).body.events as Array<{ type: string; data: any }>

describe("rules decide on the server", () => {
  it("an allow or a deny answers the agent at once, recorded with the rule; the rest is asked, with its risk", async () => {
    server = await startTestServer()
    const allow = await post(server, "/api/rules", { effect: "allow", scope: { kind: "global" }, match: { risk: ["read_only"] }, note: "reading is fine" })
    expect(allow.status).toBe(201)
    const deny = await post(server, "/api/rules", { id: "no-destruction", effect: "deny", scope: { kind: "global" }, match: { risk: ["destructive"] } })
    expect(deny.body).toMatchObject({ id: "no-destruction", effect: "deny", created_at: expect.any(String) })

    const client = await server.connect()
    await client.request({ type: "subscribe_inbox" })
    const id = await create(client)
    await client.request({ type: "subscribe_session", session_id: id })

    await client.request({ type: "send_message", session_id: id, content: "/exec ls -la && cat README.md" })
    await client.waitFor((m) => m.type === "message_appended" && m.session_id === id && m.message.content === "echo: done")
    await client.request({ type: "send_message", session_id: id, content: "/exec rm -rf build" })
    await client.waitFor((m) => m.type === "message_appended" && m.session_id === id && m.message.content === "echo: denied")

    const events = await eventsOf(server, id)
    const resolved = events.filter((e) => e.type === "approval_resolved").map((e) => e.data)
    expect(resolved).toEqual([
      expect.objectContaining({ outcome: "approved", decided_by: { rule_ids: [allow.body.id], explanation: expect.stringContaining("`ls -la` is allowed by allow rule") } }),
      expect.objectContaining({ outcome: "denied", decided_by: { rule_ids: ["no-destruction"], explanation: "`rm -rf build` is denied by deny rule no-destruction" } })
    ])
    const requested = events.filter((e) => e.type === "approval_requested").map((e) => e.data.request.risk)
    expect(requested).toEqual([["read_only"], ["writes_project", "destructive"]])
    // Nobody was asked: the inbox never had it as an approval.
    expect(client.messages.some((m: ServerMessage) => m.type === "inbox_changed" && m.item?.reason === "approval")).toBe(false)

    // No rule matches: the person is asked, and sees the risk.
    await client.request({ type: "send_message", session_id: id, content: "/exec npm test" })
    const asked = (await client.waitFor((m) => m.type === "inbox_changed" && m.session_id === id && m.item?.reason === "approval")) as any
    const state = (await server.request(`/api/sessions/${id}`)).body
    expect(state.pending_approval).toMatchObject({ id: asked.item.request_id, command: "npm test", risk: ["writes_project"] })
  })

  it("rules are events: listed as they were at a past time, removed, and kept across a restart", async () => {
    server = await startTestServer()
    const first = await post(server, "/api/rules", { id: "a", effect: "allow", scope: { kind: "project", cwd: "/work/project" }, match: { command: "git status*" } })
    expect(first.status).toBe(201)
    const between = new Date().toISOString()
    await new Promise((resolve) => setTimeout(resolve, 5))
    await post(server, "/api/rules", { id: "b", effect: "ask", scope: { kind: "global" }, match: { command: "npm publish*" } })
    expect((await post(server, "/api/rules", { id: "a", effect: "deny", scope: { kind: "global" }, match: {} })).status).toBe(409)
    expect((await post(server, "/api/rules", { effect: "deny", scope: { kind: "global" }, match: { command_regex: "([" } })).body).toMatchObject({ code: "invalid_message" })
    expect((await post(server, "/api/rules", { effect: "deny", scope: { kind: "project", cwd: "relative" }, match: {} })).status).toBe(400)

    expect((await server.request("/api/rules")).body.rules.map((r: { id: string }) => r.id)).toEqual(["a", "b"])
    expect((await server.request(`/api/rules?at=${encodeURIComponent(between)}`)).body.rules.map((r: { id: string }) => r.id)).toEqual(["a"])
    expect((await server.request("/api/rules?at=yesterday")).status).toBe(400)
    const client = await server.connect()
    expect(await client.request({ type: "list_rules", at: "not a time" })).toMatchObject({ type: "error", code: "invalid_message" })
    expect(await client.request({ type: "list_rules", at: between })).toMatchObject({ type: "ack", rules: [expect.objectContaining({ id: "a" })] })
    const removed = await server.request("/api/rules/a", { method: "DELETE" })
    expect(removed.body).toMatchObject({ removed: { id: "a" } })
    expect((await server.request("/api/rules/a", { method: "DELETE" })).status).toBe(404)

    const dataDir = server.dataDir
    await server.close()
    server = await startTestServer({ dataDir })
    expect((await server.request("/api/rules")).body.rules.map((r: { id: string }) => r.id)).toEqual(["b"])
    expect((await server.request(`/api/rules?at=${encodeURIComponent(between)}`)).body.rules.map((r: { id: string }) => r.id)).toEqual(["a"])
  })
})

describe("trying a draft against the past", () => {
  it("reports what the draft would have decided differently, with what the person answered then", async () => {
    server = await startTestServer()
    const client = await server.connect()
    const id = await create(client)
    await client.request({ type: "subscribe_session", session_id: id })
    for (const [command, approved] of [["git status", true], ["git status --short", true], ["rm -rf dist", false], ["npm test", true]] as const) {
      await client.request({ type: "send_message", session_id: id, content: `/exec ${command}` })
      const asked = (await client.waitFor((m) => m.type === "approval_requested" && m.session_id === id && m.request.command === command)) as any
      await client.request({ type: "approve_tool", session_id: id, request_id: asked.request.id, approved })
      await client.waitFor((m) => m.type === "message_appended" && m.session_id === id && m.message.content === (approved ? "echo: done" : "echo: denied") && m.revision > asked.revision)
    }
    const report = await post(server, "/api/rules/simulate", {
      add: [
        { id: "status", effect: "allow", scope: { kind: "global" }, match: { command: "git status*" } },
        { id: "everything", effect: "allow", scope: { kind: "global" }, match: { command: "*" } }
      ]
    })
    expect(report.status).toBe(200)
    expect(report.body).toMatchObject({ requests: 4, unchanged: 1, skipped: 0, by_rule: { status: 2, everything: 1 } })
    // rm -rf dist is destructive: `*` does not name it, so it is still asked.
    expect(report.body.changes).toEqual([
      expect.objectContaining({ from: "ask", to: "allow", count: 3, approved_then: 3, denied_then: 0 })
    ])
    expect(report.body.changes[0].examples.map((e: { what: string }) => e.what)).toEqual(["git status", "git status --short", "npm test"])
    expect(report.body.elapsed_ms).toEqual(expect.any(Number))

    const denyAll = await post(server, "/api/rules/simulate", { rules: [{ effect: "deny", scope: { kind: "session", session_id: id }, match: {} }] })
    expect(denyAll.body.changes).toEqual([expect.objectContaining({ from: "ask", to: "deny", count: 4, approved_then: 3, denied_then: 1 })])
  })
})
