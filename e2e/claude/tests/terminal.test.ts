/**
 * Terminal sessions: a user runs `claude -p` with OrbitDock's hooks installed; OrbitDock shows the
 * session live over its WebSocket, holds permission prompts for remote approval, and reads the
 * transcript. Real claude binary, mock model, real OrbitDock server process.
 */
import { spawn } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { claudeBin, type Client, durableBarrier, installHooks, makeWorld, mirror, subscribe, type World } from "../helpers/world.js"

let world: World | undefined
afterEach(async () => {
  await world?.cleanup()
  world = undefined
})

/**
 * A fresh world whose server has OrbitDock's hooks installed and one client subscribed to the list;
 * `hookTimeoutS`: how long Claude waits for a held permission prompt.
 */
const watching = async (env: Record<string, string> = {}, transport: "unix" | "http" = "unix", hookTimeoutS?: number) => {
  world = await makeWorld()
  const server = await world.startServer(env)
  const installed = await installHooks(world, server, transport, hookTimeoutS)
  const client = await server.connect()
  await client.request({ type: "subscribe_list" })
  return { world, server, client, installed }
}

/** The session a new terminal run creates, as announced to list subscribers. */
const nextClaudeSession = async (client: Client) => {
  const created = await client.next((m) => m.type === "session_created" && m.session.provider === "claude")
  return created.session.id as string
}

/** The pending approval of a session: from its snapshot, or the next `approval_requested`. */
const pendingApproval = async (client: Client, sessionId: string) => {
  const before = client.messages.length
  await subscribe(client, sessionId)
  const snapshot = client.messages.slice(before).find((m) => m.type === "session_snapshot" && m.session_id === sessionId)
  if (snapshot?.session.pending_approval) return snapshot.session.pending_approval
  const asked = await client.next((m) => m.type === "approval_requested" && m.session_id === sessionId)
  return asked.request
}

const tokensServed = (w: World, claudeSessionId: string) => {
  const served = w.mock.served.filter((s) => s.sessionId === claudeSessionId)
  const input = served.reduce((a, s) => a + s.usage.input_tokens, 0)
  const output = served.reduce((a, s) => a + s.usage.output_tokens, 0)
  return { input, output, cached_input: 0, total: input + output }
}

describe("terminal claude sessions", () => {
  it.each(["unix", "http"] as const)("a claude -p run with OrbitDock's hooks (%s) appears live with the right messages and tokens", async (transport) => {
    const { world, server, client, installed } = await watching({}, transport)
    expect(installed.changed).toBe(true)

    const run = world.claude("[[script:bash:echo hi]] Run echo hi.", ["--allowedTools", "Bash(echo hi)"])
    const sessionId = await nextClaudeSession(client)
    await subscribe(client, sessionId)
    // Live: the final answer reaches the subscriber while the session runs.
    await client.next((m) => m.type === "message_appended" && m.session_id === sessionId && m.message.content === "The command printed: hi")
    const result = await run.done
    expect(result.code).toBe(0)
    // SessionStart went through the curl command hook over the Unix socket, and OrbitDock answered.
    const started = result.lines.find((l) => l.type === "system" && l.subtype === "hook_response" && l.hook_event === "SessionStart")
    expect(started).toMatchObject({ exit_code: 0, stdout: "{}" })
    await client.next((m) => m.type === "session_ended" && m.session_id === sessionId)

    const { body: state } = await server.get(`/api/sessions/${sessionId}`)
    expect(state).toMatchObject({ provider: "claude", watch_only: true, external_id: sessionId, cwd: world.work, status: "ended" })
    expect(state.model).toBeDefined()
    expect(state.messages.map((m: any) => `${m.role}: ${m.content}`)).toEqual([
      "user: [[script:bash:echo hi]] Run echo hi.",
      "assistant: I will run a command.",
      "tool: echo hi",
      "assistant: The command printed: hi"
    ])
    expect(state.messages[2].tool).toMatchObject({ name: "Bash", input: { command: "echo hi" }, output: "hi", status: "ok" })
    expect(state.token_usage).toEqual(tokensServed(world, sessionId))
    expect(state.token_usage.total).toBeGreaterThan(0)
    // What the WebSocket subscriber mirrored equals the server's state.
    const seen = mirror(client.messages, sessionId)
    expect(seen.messages).toEqual(state.messages)
    expect(seen.token_usage).toEqual(state.token_usage)
  })

  it("a subagent's sidechain transcript joins its parent session", async () => {
    const { world, server, client } = await watching()
    const run = world.claude("[[script:agent:Hi from the subagent.]] Delegate a greeting.")
    const sessionId = await nextClaudeSession(client)
    const result = await run.done
    expect(result.code).toBe(0)
    await client.next((m) => m.type === "session_ended" && m.session_id === sessionId)
    const { body: state } = await server.get(`/api/sessions/${sessionId}`)
    const shown = state.messages.map((m: any) => `${m.role}: ${m.content}`)
    // The parent's Agent call, the subagent's prompt (a note, not the user's) and answer, the parent's answer.
    expect(shown[0]).toBe("user: [[script:agent:Hi from the subagent.]] Delegate a greeting.")
    expect(state.messages.find((m: any) => m.role === "tool").tool).toMatchObject({ name: "Agent", status: "ok" })
    expect(shown).toContain("system: [[script:text:Hi from the subagent.]] Reply with a greeting.")
    expect(shown).toContain("assistant: Hi from the subagent.")
    expect(shown.at(-1)).toMatch(/^assistant: Subagent said: /)
    expect(state.messages.filter((m: any) => m.role === "user")).toHaveLength(1)
    expect(new Set(state.messages.map((m: any) => m.id)).size).toBe(state.messages.length)
    // The subagent's API calls count too.
    const served = world.mock.served.filter((s) => s.sessionId === sessionId)
    expect(served.length).toBeGreaterThanOrEqual(3)
    const input = served.reduce((a, s) => a + s.usage.input_tokens, 0)
    expect(state.token_usage.input).toBe(input)
  })

  it("a tool call approved and one denied from a WebSocket client through the held PermissionRequest hook", async () => {
    const { world, server, client } = await watching()

    // Approved: the command runs and its output reaches the model.
    const approvedRun = world.claude(`[[script:bash:node -e "console.log('approved-run')"]] go`)
    const first = await nextClaudeSession(client)
    const request = await pendingApproval(client, first)
    expect(request).toMatchObject({ kind: "tool", tool_name: "Bash", command: `node -e "console.log('approved-run')"` })
    const ack = await client.request({ type: "approve_tool", session_id: first, request_id: request.id, approved: true })
    expect(ack.type).toBe("ack")
    const approved = await approvedRun.done
    const approvedResult = approved.lines.find((l) => l.type === "result")
    expect(approvedResult.result).toBe("The command printed: approved-run")
    expect(approvedResult.permission_denials).toEqual([])

    // Denied: the command never runs; the model is told.
    const deniedRun = world.claude(`[[script:bash:node -e "console.log('denied-run')"]] go`)
    const second = await nextClaudeSession(client)
    const request2 = await pendingApproval(client, second)
    await client.request({ type: "approve_tool", session_id: second, request_id: request2.id, approved: false })
    const denied = await deniedRun.done
    const deniedResult = denied.lines.find((l) => l.type === "result")
    expect(deniedResult.permission_denials).toHaveLength(1)
    expect(deniedResult.result).not.toContain("denied-run\n")
    await client.next((m) => m.type === "session_ended" && m.session_id === second)
    const { body: state } = await server.get(`/api/sessions/${second}`)
    const tool = state.messages.find((m: any) => m.role === "tool")
    expect(tool.tool.status).toBe("error")
    const { body: events } = await server.get(`/api/sessions/${second}/events`)
    expect(events.events.filter((e: any) => e.type === "approval_resolved").map((e: any) => e.data.outcome)).toEqual(["denied"])
  })

  it("approval rules answer the held PermissionRequest hook at once: an allow runs, a deny does not, nobody is asked", async () => {
    const { world, server, client } = await watching()
    const allow = await client.request({
      type: "add_rule",
      rule: { effect: "allow", scope: { kind: "global" }, match: { tool: ["Bash"], command: "node -e console.log('ruled-run')" } }
    })
    expect(allow.type).toBe("ack")
    await client.request({ type: "add_rule", rule: { id: "no-destruction", effect: "deny", scope: { kind: "global" }, match: { risk: ["destructive"] } } })

    const allowedRun = world.claude(`[[script:bash:node -e "console.log('ruled-run')"]] go`)
    const first = await nextClaudeSession(client)
    const allowed = await allowedRun.done
    expect(allowed.lines.find((l) => l.type === "result").result).toBe("The command printed: ruled-run")

    const deniedRun = world.claude("[[script:bash:rm -rf ./no-such-dir]] go")
    const second = await nextClaudeSession(client)
    const denied = await deniedRun.done
    expect(denied.lines.find((l) => l.type === "result").permission_denials).toHaveLength(1)

    for (const [sessionId, outcome, ruleId] of [[first, "approved", allow.rule.id], [second, "denied", "no-destruction"]] as const) {
      const { body } = await server.get(`/api/sessions/${sessionId}/events`)
      const resolved = body.events.filter((e: any) => e.type === "approval_resolved").map((e: any) => e.data)
      expect(resolved).toEqual([expect.objectContaining({ outcome, decided_by: expect.objectContaining({ rule_ids: [ruleId] }) })])
    }
    // Nobody was asked: no session ever showed an approval.
    expect(client.messages.some((m) => m.type === "session_updated" && m.session.attention_detail?.reason === "approval")).toBe(false)
  })

  it("nobody decides in time: the hook answers no decision, the approval expires, claude falls back", async () => {
    const { world, server, client } = await watching({ ORBITDOCK_CLAUDE_PERMISSION_TIMEOUT_MS: "1500" })
    const run = world.claude(`[[script:bash:node -e "console.log('nobody')"]] go`)
    const sessionId = await nextClaudeSession(client)
    const request = await pendingApproval(client, sessionId)
    // The prompt is withdrawn from clients when it expires.
    await client.next((m) => m.type === "session_delta" && m.session_id === sessionId && m.changes.pending_approval === null)
    const result = await run.done
    // Headless claude has no prompt of its own to fall back to: it denies by itself.
    expect(result.lines.find((l) => l.type === "result").permission_denials).toHaveLength(1)
    const { body: events } = await server.get(`/api/sessions/${sessionId}/events`)
    const resolved = events.events.filter((e: any) => e.type === "approval_resolved")
    expect(resolved.map((e: any) => [e.data.request_id, e.data.outcome])).toEqual([[request.id, "expired"]])
    const late = await client.request({ type: "approve_tool", session_id: sessionId, request_id: request.id, approved: true })
    expect(late).toMatchObject({ type: "error" })
  })

  it("claude stops waiting for its hook first: the approval is withdrawn at once, approving it later is a conflict", async () => {
    // Claude gives up on the hook after 3 s, long before OrbitDock's own no-decision timeout.
    const { world, server, client } = await watching({ ORBITDOCK_CLAUDE_PERMISSION_TIMEOUT_MS: "100000" }, "unix", 3)
    // A claude that stays up after the turn (as an interactive one does): only the hook's closed
    // connection tells that nobody waits for this approval any more.
    const claude = spawn(claudeBin, ["-p", "--input-format", "stream-json", "--output-format", "stream-json", "--verbose"], {
      cwd: world.work,
      env: world.env,
      stdio: ["pipe", "pipe", "ignore"]
    })
    const lines: Array<any> = []
    claude.stdout.on("data", (chunk: Buffer) => {
      for (const line of chunk.toString("utf8").split("\n")) if (line.startsWith("{")) lines.push(JSON.parse(line))
    })
    try {
      const prompt = { role: "user", content: `[[script:bash:node -e "console.log('gave-up')"]] go` }
      claude.stdin.write(`${JSON.stringify({ type: "user", message: prompt, parent_tool_use_id: null, session_id: "" })}\n`)
      const sessionId = await nextClaudeSession(client)
      const request = await pendingApproval(client, sessionId)
      const gone = await client.next((m) => m.type === "session_delta" && m.session_id === sessionId && "pending_approval" in m.changes)
      // What v1 clients read, exactly; minor 2 adds the attention detail.
      const { attention_detail: _detail, ...v1 } = gone.changes
      expect(v1).toEqual({ pending_approval: null, attention: false })
      expect(gone.changes).toHaveProperty("attention_detail")
      const late = await client.request({ type: "approve_tool", session_id: sessionId, request_id: request.id, approved: true })
      expect(late).toMatchObject({ type: "error", code: "conflict" })
      const { body: events } = await server.get(`/api/sessions/${sessionId}/events`)
      expect(events.events.filter((e: any) => e.type === "approval_resolved").map((e: any) => e.data)).toEqual([
        { request_id: request.id, outcome: "withdrawn", reason: "the PermissionRequest hook's connection closed" }
      ])
      // Claude went on without an answer (headless, it denies by itself): the command never ran.
      await stateWhen(server, sessionId, (s) => s.status === "waiting")
      expect(claude.exitCode).toBeNull()
      const deadline = Date.now() + 30_000
      while (!lines.some((l) => l.type === "result") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
      expect(lines.find((l) => l.type === "result")?.permission_denials).toHaveLength(1)
    } finally {
      claude.kill("SIGKILL")
    }
  })

  it("malformed hook bodies get 400 with a reason; a truncated transcript line waits for its end", async () => {
    world = await makeWorld()
    const server = await world.startServer()
    // Not JSON (the transport), JSON that is not a hook (the connector), no token over TCP.
    const notJson = await server.postHook("{not json")
    expect(notJson.status).toBe(400)
    expect(notJson.body).toMatchObject({ code: "invalid_message", message: expect.any(String) })
    const notHook = await server.postHook(JSON.stringify({ hook_event_name: "Stop" }))
    expect(notHook.status).toBe(400)
    expect(notHook.body.message).toMatch(/session_id/)
    const wrongType = await server.postHook(JSON.stringify({ session_id: "x", hook_event_name: "PreToolUse", tool_name: 7, cwd: "/" }))
    expect(wrongType.status).toBe(400)
    expect(wrongType.body.message).toMatch(/tool_name/)
    expect((await server.postHook(JSON.stringify({ session_id: "x", hook_event_name: "Stop", cwd: "/" }), { auth: false })).status).toBe(401)

    // A real transcript, written by a real run (no hooks installed: OrbitDock finds it on disk).
    const client = await server.connect()
    await client.request({ type: "subscribe_list" })
    const run = await world.claude("[[script:text:First answer.]] hello").done
    expect(run.code).toBe(0)
    const original = await nextClaudeSession(client)
    const projectDir = path.join(world.home, ".claude", "projects")
    const file = fs
      .readdirSync(projectDir, { recursive: true, encoding: "utf8" })
      .map((f) => path.join(projectDir, f))
      .find((f) => f.endsWith(`${original}.jsonl`))!
    const text = fs.readFileSync(file, "utf8")
    const answerAt = text.indexOf('"text":"First answer."')
    const lineStart = text.lastIndexOf("\n", answerAt) + 1
    const cut = lineStart + Math.floor((answerAt - lineStart) / 2)

    // The same conversation under a new session id, cut in the middle of the answer's line.
    const copyId = crypto.randomUUID()
    const copy = path.join(path.dirname(file), `${copyId}.jsonl`)
    fs.writeFileSync(copy, text.slice(0, cut))
    // Any hook of that session makes OrbitDock read its transcript up to now (over the Unix socket: no token).
    const poke = () =>
      server.postHook(
        JSON.stringify({ session_id: copyId, transcript_path: copy, cwd: world!.work, hook_event_name: "Notification" }),
        { via: "unix" }
      )
    expect((await poke()).status).toBe(202)
    let { body: state } = await server.get(`/api/sessions/${copyId}`)
    expect(state.messages.map((m: any) => m.content)).toEqual(["[[script:text:First answer.]] hello"])
    fs.appendFileSync(copy, text.slice(cut))
    await poke()
    ;({ body: state } = await server.get(`/api/sessions/${copyId}`))
    expect(state.messages.map((m: any) => m.content)).toEqual(["[[script:text:First answer.]] hello", "First answer."])
    await poke()
    ;({ body: state } = await server.get(`/api/sessions/${copyId}`))
    expect(state.messages).toHaveLength(2)
  })
})

/** Polls the session's state until `predicate` holds (15 s at most). */
const stateWhen = async (server: Awaited<ReturnType<World["startServer"]>>, sessionId: string, predicate: (state: any) => boolean) => {
  const deadline = Date.now() + 15_000
  while (true) {
    const { body } = await server.get(`/api/sessions/${sessionId}`)
    if (body !== undefined && predicate(body)) return body
    if (Date.now() > deadline) throw new Error(`session ${sessionId} never reached the state; last: ${JSON.stringify(body)?.slice(0, 400)}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

describe("a terminal claude that dies without a SessionEnd hook", () => {
  it("killed mid-turn: its session ends instead of showing working forever", async () => {
    const { world, server, client } = await watching()
    const run = world.claude("[[script:slow:60000]] think for a minute")
    const sessionId = await nextClaudeSession(client)
    await subscribe(client, sessionId)
    await stateWhen(server, sessionId, (s) => s.status === "working" && s.messages.some((m: any) => m.role === "user"))
    run.child.kill("SIGKILL")
    expect((await run.done).code).toBe(null)
    const ended = await client.next((m) => m.type === "session_ended" && m.session_id === sessionId)
    expect(ended.reason).toBe(`claude exited without ending its session (process ${run.child.pid} is gone)`)
    const state = await stateWhen(server, sessionId, (s) => s.status === "ended")
    expect(state.messages.map((m: any) => `${m.role}: ${m.content}`)).toEqual(["user: [[script:slow:60000]] think for a minute"])
  })

  it("killed while OrbitDock is down: after the restart the session ends", async () => {
    const started = await watching()
    const { world, client } = started
    let server = started.server
    const run = world.claude("[[script:slow:60000]] think for a minute")
    const sessionId = await nextClaudeSession(client)
    await stateWhen(server, sessionId, (s) => s.status === "working" && s.messages.some((m: any) => m.role === "user"))
    await durableBarrier(client, world)
    await server.stop("SIGKILL")
    run.child.kill("SIGKILL")
    await run.done

    server = await world.startServer()
    const state = await stateWhen(server, sessionId, (s) => s.status === "ended")
    expect(state.messages.map((m: any) => `${m.role}: ${m.content}`)).toEqual(["user: [[script:slow:60000]] think for a minute"])
    const { body } = await server.get(`/api/sessions/${sessionId}/events?limit=100`)
    expect(body.events.at(-1)).toMatchObject({
      type: "session_ended",
      data: { reason: `claude exited without ending its session (process ${run.child.pid} is gone)` }
    })
  })

  it("idle between turns when OrbitDock went down, then killed: after the restart the session ends", async () => {
    const started = await watching()
    const { world, client } = started
    let server = started.server
    // A claude that stays up between turns, reading its prompts from stdin (as an interactive one does).
    const claude = spawn(claudeBin, ["-p", "--input-format", "stream-json", "--output-format", "stream-json", "--verbose"], {
      cwd: world.work,
      env: world.env,
      stdio: ["pipe", "ignore", "ignore"]
    })
    const gone = new Promise<void>((resolve) => claude.once("exit", () => resolve()))
    try {
      const prompt = { role: "user", content: "[[script:text:Hello there.]] hi" }
      claude.stdin.write(`${JSON.stringify({ type: "user", message: prompt, parent_tool_use_id: null, session_id: "" })}\n`)
      const sessionId = await nextClaudeSession(client)
      await stateWhen(server, sessionId, (s) => s.status === "waiting" && s.messages.at(-1)?.content === "Hello there.")
      await durableBarrier(client, world)
      await server.stop("SIGKILL")
      claude.kill("SIGKILL")
      await gone

      server = await world.startServer()
      const state = await stateWhen(server, sessionId, (s) => s.status === "ended")
      expect(state.messages.map((m: any) => `${m.role}: ${m.content}`)).toEqual([
        "user: [[script:text:Hello there.]] hi",
        "assistant: Hello there."
      ])
      const { body } = await server.get(`/api/sessions/${sessionId}/events?limit=100`)
      expect(body.events.at(-1)).toMatchObject({
        type: "session_ended",
        data: { reason: `claude exited without ending its session (process ${claude.pid} is gone)` }
      })
    } finally {
      if (claude.exitCode === null && claude.signalCode === null) claude.kill("SIGKILL")
    }
  })
})
