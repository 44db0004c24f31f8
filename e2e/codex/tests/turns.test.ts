/**
 * Turns through OrbitDock's WebSocket with the real codex binary and the mock model: streaming text,
 * exec approvals (accepted: the command ran; declined: it did not), a patch approval with its diff,
 * interrupt, and a model failure shown as an error.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type CodexEnv, makeCodexEnv } from "../helpers/codexEnv.js"
import { type MockModel, startMockModel } from "../helpers/mockModel.js"
import { ack, createSession, startOrbit, stateOf, type TestServer } from "../helpers/orbit.js"

let mock: MockModel
let codex: CodexEnv
let server: TestServer

beforeAll(async () => {
  mock = await startMockModel()
  codex = makeCodexEnv("turns", mock.baseUrl)
  server = await startOrbit({ codex })
})

afterAll(async () => {
  await server?.cleanup()
  await mock?.close()
  codex?.remove()
})

describe("codex turns through OrbitDock", () => {
  it("streams a text turn: user message, reasoning, growing assistant message, tokens, waiting", async () => {
    const cwd = codex.newWorkDir("text")
    const s = await createSession(server, { cwd })
    const created = await s.next((m) => m.type === "session_created")
    expect(created.session.provider).toBe("codex")
    expect(created.session.status).toBe("waiting")
    await s.send("SCENARIO:text hello codex")
    await s.status("waiting")
    const kinds = s.messages().map((m) => m.type)
    expect(kinds).toContain("message_updated")
    const state = await stateOf(server, s.id)
    expect(state.external_id).toMatch(/^[0-9a-f-]{36}$/)
    expect(state.messages.map((m: any) => [m.role, m.content])).toEqual([
      ["user", "SCENARIO:text hello codex"],
      ["reasoning", "**Thinking** about a friendly reply."],
      ["assistant", "Hello! You said: hello codex"]
    ])
    expect(state.messages.every((m: any) => m.streaming !== true)).toBe(true)
    expect(state.token_usage.total).toBeGreaterThan(0)
    // Streaming: the assistant message was appended empty, then grew in full-content updates.
    const assistant = state.messages[2]
    const appended = s.messages().find((m) => m.type === "message_appended" && m.message.id === assistant.id)!
    expect(appended.message).toMatchObject({ content: "", streaming: true })
    const updates = s.messages().filter((m) => m.type === "message_updated" && m.message_id === assistant.id)
    expect(updates.length).toBeGreaterThan(2)
    expect(updates.at(-1)!.changes).toMatchObject({ content: "Hello! You said: hello codex", streaming: false })
    // Revisions are gapless for the subscriber.
    const revisions = s.messages().filter((m) => typeof m.revision === "number").map((m) => m.revision)
    expect(revisions).toEqual(revisions.map((_, i) => revisions[0] + i))
  })

  it("runs an approved command (it really ran) and skips a declined one", async () => {
    const cwd = codex.newWorkDir("exec")
    const s = await createSession(server, { cwd })
    await s.send("SCENARIO:shell printf 'made by codex\\n' > approved.txt && cat approved.txt")
    const asked = await s.next((m) => m.type === "approval_requested")
    expect(asked.request.kind).toBe("exec")
    expect(asked.request.command).toContain("approved.txt")
    expect(asked.request.cwd).toBe(cwd)
    expect((await stateOf(server, s.id)).attention).toBe(true)
    ack(await s.command({ type: "approve_tool", request_id: asked.request.id, approved: true }))
    await s.status("waiting")
    expect(fs.readFileSync(path.join(cwd, "approved.txt"), "utf8")).toBe("made by codex\n")
    let state = await stateOf(server, s.id)
    const tool = state.messages.find((m: any) => m.role === "tool")
    expect(tool.tool).toMatchObject({ name: "shell", status: "ok", exit_code: 0, output: "made by codex\n" })
    expect(state.pending_approval).toBeNull()

    await s.send("SCENARIO:shell touch declined.txt")
    const second = await s.next((m) => m.type === "approval_requested")
    ack(await s.command({ type: "approve_tool", request_id: second.request.id, approved: false }))
    await s.status("waiting")
    expect(fs.existsSync(path.join(cwd, "declined.txt"))).toBe(false)
    state = await stateOf(server, s.id)
    const declined = state.messages.filter((m: any) => m.role === "tool").at(-1)
    expect(declined.tool.status).toBe("error")
    expect(state.messages.at(-1).content).toContain("rejected by user")
  })

  it("approval rules answer codex at once: a project's allow runs the command, a deny declines it, nobody is asked", async () => {
    const cwd = codex.newWorkDir("ruled")
    const s = await createSession(server, { cwd })
    const allow = ack(await s.command({ type: "add_rule", rule: { effect: "allow", scope: { kind: "project", cwd }, match: { command: "touch ruled.txt" } } }))
    ack(await s.command({ type: "add_rule", rule: { effect: "deny", scope: { kind: "project", cwd }, match: { command: "touch refused*" } } }))
    await s.send("SCENARIO:shell touch ruled.txt")
    await s.status("waiting")
    expect(fs.existsSync(path.join(cwd, "ruled.txt"))).toBe(true)
    await s.send("SCENARIO:shell touch refused.txt")
    await s.status("waiting")
    expect(fs.existsSync(path.join(cwd, "refused.txt"))).toBe(false)
    expect(s.messages().some((m) => m.type === "session_delta" && m.changes.attention === true)).toBe(false)
    const { events } = (await server.request(`/api/sessions/${s.id}/events?limit=10000`)).body
    const requested = events.filter((e: any) => e.type === "approval_requested").map((e: any) => e.data.request)
    expect(requested.map((r: any) => r.risk)).toEqual([["writes_project"], ["writes_project"]])
    const resolved = events.filter((e: any) => e.type === "approval_resolved").map((e: any) => e.data)
    expect(resolved).toEqual([
      expect.objectContaining({ outcome: "approved", decided_by: expect.objectContaining({ rule_ids: [allow.rule.id] }) }),
      expect.objectContaining({ outcome: "denied", decided_by: expect.objectContaining({ explanation: expect.stringContaining("is denied by deny rule") }) })
    ])
  })

  it("shows a patch approval with its diff, and applies it once approved", async () => {
    const cwd = codex.newWorkDir("patch")
    const s = await createSession(server, { cwd })
    await s.send("SCENARIO:patch notes/hello.md")
    const asked = await s.next((m) => m.type === "approval_requested")
    expect(asked.request.kind).toBe("patch")
    expect(asked.request.diff).toContain("+++ " + path.join(cwd, "notes/hello.md"))
    expect(asked.request.diff).toContain("+Written by the mock model through apply_patch.")
    ack(await s.command({ type: "approve_tool", request_id: asked.request.id, approved: true, scope: "session" }))
    await s.status("waiting")
    expect(fs.readFileSync(path.join(cwd, "notes/hello.md"), "utf8")).toContain("Written by the mock model")
    const state = await stateOf(server, s.id)
    expect(state.diff).toContain("b/notes/hello.md")
    expect(state.messages.find((m: any) => m.role === "tool").tool).toMatchObject({ name: "apply_patch", status: "ok" })
  })

  it("interrupts a running turn: the streaming message closes and the session waits", async () => {
    const cwd = codex.newWorkDir("interrupt")
    const s = await createSession(server, { cwd })
    await s.send("SCENARIO:slow")
    await s.next((m) => m.type === "message_updated" && typeof m.changes.content === "string" && m.changes.content.includes("word3"))
    ack(await s.command({ type: "interrupt_session" }))
    // The ack comes after the turn's end is durable: the state already says waiting.
    const state = await stateOf(server, s.id)
    expect(state.status).toBe("waiting")
    const assistant = state.messages.find((m: any) => m.role === "assistant")
    expect(assistant.streaming).toBe(false)
    expect(assistant.content).toContain("word1")
    // Interrupting while an approval is pending withdraws it; the command never runs.
    await s.send("SCENARIO:shell touch interrupted.txt")
    await s.next((m) => m.type === "approval_requested")
    ack(await s.command({ type: "interrupt_session" }))
    const cleared = await stateOf(server, s.id)
    expect(cleared).toMatchObject({ status: "waiting", pending_approval: null, attention: false })
    expect(fs.existsSync(path.join(cwd, "interrupted.txt"))).toBe(false)
    // The session goes on after an interrupt.
    await s.send("SCENARIO:text after interrupt")
    await s.status("waiting")
    expect((await stateOf(server, s.id)).messages.at(-1).content).toBe("Hello! You said: after interrupt")
  })

  it("steers a running turn with a second message, and ends the session", async () => {
    const cwd = codex.newWorkDir("steer")
    const s = await createSession(server, { cwd })
    await s.send("SCENARIO:slow")
    await s.next((m) => m.type === "message_updated" && typeof m.changes.content === "string" && m.changes.content.includes("word2"))
    // A message during a running turn is given to Codex as a steer of that turn, not refused.
    await s.send("also mention the weather")
    let state = await stateOf(server, s.id)
    expect(state.status).toBe("working")
    expect(state.messages.filter((m: any) => m.role === "user").map((m: any) => m.content)).toEqual([
      "SCENARIO:slow",
      "also mention the weather"
    ])
    const ended = await s.command({ type: "end_session" })
    expect(ended.type).toBe("ack")
    state = await stateOf(server, s.id)
    expect(state.status).toBe("ended")
    expect(state.messages.every((m: any) => m.streaming !== true)).toBe(true)
    const refused = await s.command({ type: "send_message", content: "anyone there?" })
    expect(refused).toMatchObject({ type: "error", code: "conflict" })
  })

  it("shows a model failure as a visible error and ends the turn", async () => {
    const cwd = codex.newWorkDir("fail")
    const s = await createSession(server, { cwd })
    await s.send("SCENARIO:fail")
    await s.status("waiting")
    const state = await stateOf(server, s.id)
    const errors = state.messages.filter((m: any) => m.role === "system")
    expect(errors).toHaveLength(1)
    expect(errors[0].content).toContain("mock: the upstream model refused this request")
    // The next turn works again.
    await s.send("SCENARIO:text again")
    await s.status("waiting")
    expect((await stateOf(server, s.id)).messages.at(-1).content).toBe("Hello! You said: again")
  })
})
