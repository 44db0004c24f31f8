/**
 * Sessions OrbitDock drives (headless `claude` with stream-json I/O and the stdio permission tool),
 * and OrbitDock restarts: a driven session resumes with `--resume`; a terminal session that ran
 * while OrbitDock was down is caught up from its transcript, every message exactly once.
 */
import { afterEach, describe, expect, it } from "vitest"
import {
  childPids,
  claudeBin,
  type Client,
  durableBarrier,
  installHooks,
  makeWorld,
  type Server,
  subscribe,
  type World
} from "../helpers/world.js"

let world: World | undefined
afterEach(async () => {
  await world?.cleanup()
  world = undefined
})

/** Waits until the session's status becomes `status` (from the snapshot or a later delta). */
const statusBecomes = (client: Client, sessionId: string, status: string) =>
  client.next(
    (m) =>
      m.session_id === sessionId &&
      ((m.type === "session_delta" && m.changes.status === status) || (m.type === "session_snapshot" && m.session.status === status))
  )

const contents = (state: any) => state.messages.map((m: any) => `${m.role}: ${m.content}`)

const expectNoDuplicates = (state: any) => {
  expect(new Set(state.messages.map((m: any) => m.id)).size).toBe(state.messages.length)
}

describe("driven claude sessions", () => {
  it("created, messaged, approved, interrupted, and resumed after an OrbitDock restart", async () => {
    world = await makeWorld()
    let server: Server = await world.startServer()
    // Hooks installed too: a driven session also fires them, and still shows each message once.
    await installHooks(world, server)
    let client = await server.connect()
    const created = await client.request({ type: "create_session", provider: "claude", cwd: world.work })
    expect(created.type).toBe("ack")
    const sessionId = created.session_id as string
    await subscribe(client, sessionId)

    // A message whose tool call needs approval.
    const sent = await client.request({
      type: "send_message",
      session_id: sessionId,
      content: `[[script:bash:node -e "console.log('driven-ok')"]] go`
    })
    expect(sent.type).toBe("ack")
    const asked = await client.next((m) => m.type === "approval_requested" && m.session_id === sessionId)
    expect(asked.request).toMatchObject({ kind: "tool", tool_name: "Bash", command: `node -e "console.log('driven-ok')"` })
    const approval = { type: "approve_tool", session_id: sessionId, request_id: asked.request.id, approved: true, scope: "session" }
    expect((await client.request(approval)).type).toBe("ack")
    await client.next((m) => m.type === "message_appended" && m.session_id === sessionId && m.message.content === "The command printed: driven-ok")
    await statusBecomes(client, sessionId, "waiting")
    let { body: state } = await server.get(`/api/sessions/${sessionId}`)
    expect(state).toMatchObject({ provider: "claude", watch_only: false, status: "waiting" })
    const claudeId = state.external_id as string
    expect(claudeId).toMatch(/^[0-9a-f-]{36}$/)
    expect(contents(state)).toEqual([
      `user: [[script:bash:node -e "console.log('driven-ok')"]] go`,
      "assistant: I will run a command.",
      `tool: node -e "console.log('driven-ok')"`,
      "assistant: The command printed: driven-ok"
    ])
    expect(state.messages[2].tool).toMatchObject({ name: "Bash", output: "driven-ok", status: "ok" })
    expectNoDuplicates(state)
    const served = world.mock.served.filter((s) => s.sessionId === claudeId)
    expect(served).toHaveLength(2)
    const input = served.reduce((a, s) => a + s.usage.input_tokens, 0)
    const output = served.reduce((a, s) => a + s.usage.output_tokens, 0)
    expect(state.token_usage).toEqual({ input, output, cached_input: 0, total: input + output })

    // Approved for the session: a session rule of OrbitDock's (seen, revocable) names the command
    // (its parsed words: quotes gone) and answers it at once, recorded with the rule; nobody is asked.
    const { body: afterApproval } = await server.get("/api/rules")
    expect(afterApproval.rules).toEqual([
      expect.objectContaining({ effect: "allow", scope: { kind: "session", session_id: sessionId }, match: { command: "node -e console.log('driven-ok')" } })
    ])
    const mark = client.messages.length
    await client.request({ type: "send_message", session_id: sessionId, content: `[[script:bash:node -e "console.log('driven-ok')"]] again` })
    await statusBecomes(client, sessionId, "working")
    await statusBecomes(client, sessionId, "waiting")
    expect(client.messages.slice(mark).some((m) => m.type === "session_delta" && m.changes.attention === true)).toBe(false)
    const { body: ruled } = await server.get(`/api/sessions/${sessionId}/events?limit=10000`)
    const requests = ruled.events.filter((e: any) => e.type === "approval_requested").map((e: any) => e.data.request)
    expect(requests.at(-1)).toMatchObject({ tool_name: "Bash", risk: ["writes_project"] })
    expect(ruled.events.filter((e: any) => e.type === "approval_resolved").at(-1).data).toMatchObject({
      outcome: "approved",
      decided_by: { rule_ids: [afterApproval.rules[0].id] }
    })
    ;({ body: state } = await server.get(`/api/sessions/${sessionId}`))
    expect(state.messages.filter((m: any) => m.role === "tool" && m.tool.output === "driven-ok")).toHaveLength(2)

    // A long turn, interrupted.
    await client.request({ type: "send_message", session_id: sessionId, content: "[[script:slow:60000]] take your time" })
    await statusBecomes(client, sessionId, "working")
    expect((await client.request({ type: "interrupt_session", session_id: sessionId })).type).toBe("ack")
    ;({ body: state } = await server.get(`/api/sessions/${sessionId}`))
    expect(state.status).toBe("waiting")
    expect(contents(state).at(-1)).toBe("system: interrupted")
    const { body: turnEvents } = await server.get(`/api/sessions/${sessionId}/events?limit=10000`)
    expect(turnEvents.events.filter((e: any) => e.type === "turn_aborted").map((e: any) => e.data.reason)).toEqual(["interrupted"])

    // OrbitDock restarts; the next message resumes the same Claude session.
    await server.stop("SIGTERM")
    server = await world.startServer()
    client = await server.connect()
    await subscribe(client, sessionId)
    await client.request({ type: "send_message", session_id: sessionId, content: "[[script:text:Resumed fine.]] still there?" })
    await client.next((m) => m.type === "message_appended" && m.session_id === sessionId && m.message.content === "Resumed fine.")
    await statusBecomes(client, sessionId, "waiting")
    ;({ body: state } = await server.get(`/api/sessions/${sessionId}`))
    expect(world.mock.served.at(-1)).toMatchObject({ script: "text", sessionId: claudeId })
    expectNoDuplicates(state)
    const shown = contents(state)
    expect(shown.filter((c: string) => c === "assistant: The command printed: driven-ok")).toHaveLength(2)
    expect(shown).toContain("user: [[script:slow:60000]] take your time")
    expect(shown).toContain("user: [[script:text:Resumed fine.]] still there?")
    expect(shown.at(-1)).toBe("assistant: Resumed fine.")

    const ended = await client.request({ type: "end_session", session_id: sessionId })
    expect(ended.type).toBe("ack")
    ;({ body: state } = await server.get(`/api/sessions/${sessionId}`))
    expect(state.status).toBe("ended")
  })

  it("its claude killed while a tool approval is held: the approval is withdrawn at once, approving it later is a conflict", async () => {
    world = await makeWorld()
    const server = await world.startServer()
    const client = await server.connect()
    const created = await client.request({ type: "create_session", provider: "claude", cwd: world.work })
    const sessionId = created.session_id as string
    await subscribe(client, sessionId)
    await client.request({ type: "send_message", session_id: sessionId, content: `[[script:bash:node -e "console.log('never-ran')"]] go` })
    const asked = await client.next((m) => m.type === "approval_requested" && m.session_id === sessionId)

    const [pid] = childPids(server.pid, claudeBin)
    expect(pid).toBeGreaterThan(0)
    process.kill(pid!, "SIGKILL")
    // Subscribers see it go, through the session_delta v1 clients know.
    const gone = await client.next((m) => m.type === "session_delta" && m.session_id === sessionId && "pending_approval" in m.changes)
    // What v1 clients read, exactly; minor 2 adds the attention detail.
    const { attention_detail: _detail, ...v1 } = gone.changes
    expect(v1).toEqual({ pending_approval: null, attention: false })
    expect(gone.changes).toHaveProperty("attention_detail")
    await statusBecomes(client, sessionId, "waiting")
    const late = await client.request({ type: "approve_tool", session_id: sessionId, request_id: asked.request.id, approved: true })
    expect(late).toMatchObject({ type: "error", code: "conflict" })

    const { body } = await server.get(`/api/sessions/${sessionId}/events?limit=10000`)
    expect(body.events.filter((e: any) => e.type === "approval_resolved").map((e: any) => e.data)).toEqual([
      { request_id: asked.request.id, outcome: "withdrawn", reason: "claude exited (killed by a signal)" }
    ])
    expect(body.events.at(-1)).toMatchObject({ type: "turn_aborted", data: { reason: "claude exited" } })
    const { body: state } = await server.get(`/api/sessions/${sessionId}`)
    expect(state.messages.some((m: any) => m.role === "tool" && m.tool?.output === "never-ran")).toBe(false)
  })

  it("OrbitDock down while a terminal session runs: the transcript catch-up gives every message exactly once", async () => {
    world = await makeWorld()
    let server = await world.startServer()
    await installHooks(world, server)
    let client = await server.connect()
    await client.request({ type: "subscribe_list" })
    const run = world.claude("[[script:slowbash:2500|echo while-down]] go")
    const created = await client.next((m) => m.type === "session_created" && m.session.provider === "claude")
    const sessionId = created.session.id as string
    await subscribe(client, sessionId)
    await client.next((m) => m.type === "message_appended" && m.session_id === sessionId && m.message.role === "user")
    // The prompt and its transcript checkpoint are on disk; the model is still thinking when OrbitDock dies.
    await durableBarrier(client, world)
    await server.stop("SIGKILL")
    const result = await run.done
    expect(result.code).toBe(0)
    expect(result.lines.find((l) => l.type === "result").result).toBe("The command printed: while-down")

    server = await world.startServer()
    client = await server.connect()
    const before = client.messages.length
    await subscribe(client, sessionId)
    const snapshot = client.messages.slice(before).find((m) => m.type === "session_snapshot")
    if (!snapshot.session.messages.some((m: any) => m.content === "The command printed: while-down")) {
      await client.next((m) => m.type === "message_appended" && m.session_id === sessionId && m.message.content === "The command printed: while-down")
    }
    const { body: state } = await server.get(`/api/sessions/${sessionId}`)
    expectNoDuplicates(state)
    expect(contents(state)).toEqual([
      "user: [[script:slowbash:2500|echo while-down]] go",
      "assistant: I will run a command.",
      "tool: echo while-down",
      "assistant: The command printed: while-down"
    ])
    const served = world.mock.served.filter((s) => s.sessionId === sessionId)
    const input = served.reduce((a, s) => a + s.usage.input_tokens, 0)
    const output = served.reduce((a, s) => a + s.usage.output_tokens, 0)
    expect(state.token_usage).toEqual({ input, output, cached_input: 0, total: input + output })
    // The transcript closed the turn the lost hooks could not, and the session ends: its claude
    // exited while OrbitDock was down (the SessionEnd hook was lost too), which its recorded pid tells.
    const { body: turns } = await server.get(`/api/sessions/${sessionId}/events?limit=10000`)
    expect(turns.events.filter((e: any) => e.type === "turn_completed")).toHaveLength(1)
    if (state.status !== "ended") await client.next((m) => m.type === "session_ended" && m.session_id === sessionId)
    const { body: ended } = await server.get(`/api/sessions/${sessionId}`)
    expect(ended.status).toBe("ended")
    expect(contents(ended)).toEqual(contents(state))
  })
})
