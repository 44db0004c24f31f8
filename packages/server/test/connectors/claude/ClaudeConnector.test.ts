import type { SessionId } from "@orbitdock/domain"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as fs from "node:fs"
import { memoryLog, scenario, startRegistry, tempClaudeDir, waitFor } from "./harness.js"

const BASH = "32a9abc5-7370-422b-8909-fe402aff55be"
const PERM = "e0cc2417-752c-4135-aa9f-c48f19beb688"
const AGENT = "9fff5880-5a81-46fe-8405-d71d321fe957"

/** What a client would see of the messages (role and content), in order. */
const contents = (s: { messages: ReadonlyArray<{ role: string; content: string }> }) =>
  s.messages.map((m) => `${m.role}: ${m.content}`)

describe("Claude connector (hooks + transcript, real registry)", () => {
  it.scopedLive("a terminal session appears from its hooks and transcript, each message once", () =>
    Effect.gen(function* () {
      const claudeDir = yield* tempClaudeDir
      const run = yield* startRegistry(yield* memoryLog, { claudeDir })
      const s = scenario(claudeDir, BASH)
      expect((yield* run.post(s.hook("UserPromptSubmit"))).status).toBe(202)
      let state = yield* run.sessions.get(BASH as SessionId)
      expect(state).toMatchObject({ provider: "claude", watch_only: true, external_id: BASH, cwd: "/home/user/claude-lab/work", status: "working" })

      // The transcript grows; the Stop hook makes the tailer read to the end before the turn closes.
      s.appendLines(0, s.lines.length)
      yield* run.post(s.hook("PreToolUse"))
      yield* run.post(s.hook("PostToolUse"))
      yield* run.post(s.hook("Stop"))
      state = yield* run.sessions.get(BASH as SessionId)
      expect(state.status).toBe("waiting")
      expect(contents(state)).toEqual([
        "user: [[scenario:bash]] Run echo hi.",
        "assistant: I will run a command.",
        "tool: echo hi",
        "assistant: The command printed: hi"
      ])
      expect(state.messages[2]!.tool).toMatchObject({ name: "Bash", output: "hi", status: "ok" })
      expect(state.model).toBe("claude-opus-5-5")
      expect(state.title).toBe("[[scenario:bash]] Run echo hi.")
      // Usage is de-duplicated by API message id: 2 API calls, not 3 assistant records.
      expect(state.token_usage).toEqual({ input: 2545 + 2624, output: 18 + 6, cached_input: 0, total: 2545 + 2624 + 24 })

      // Re-delivered hooks and a re-read transcript change nothing.
      const revision = state.revision
      yield* run.post(s.hook("UserPromptSubmit"))
      yield* run.post(s.hook("Stop"))
      expect((yield* run.sessions.get(BASH as SessionId)).revision).toBe(revision)

      yield* run.post(s.hook("SessionEnd"))
      state = yield* run.sessions.get(BASH as SessionId)
      expect(state.status).toBe("ended")

      // `claude --resume` of the ended session: its hooks bring it back, live again.
      expect((yield* run.post({ ...s.hook("UserPromptSubmit"), prompt_id: "after-resume" })).status).toBe(202)
      state = yield* run.sessions.get(BASH as SessionId)
      expect(state.status).toBe("working")
      expect(state.ended_at).toBeUndefined()
      expect(contents(state)).toHaveLength(4)
      yield* run.stop
    })
  )

  it.scopedLive("the watcher follows a transcript as it grows", () =>
    Effect.gen(function* () {
      const claudeDir = yield* tempClaudeDir
      const run = yield* startRegistry(yield* memoryLog, { claudeDir })
      const s = scenario(claudeDir, BASH)
      yield* run.post(s.hook("UserPromptSubmit"))
      // No hook from now on: only file-change events make these lines reach the session.
      for (let i = 0; i < s.lines.length; i += 7) s.appendLines(i, Math.min(i + 7, s.lines.length))
      const state = yield* waitFor(run.sessions, BASH, (st) => st.status === "waiting" && st.messages.length === 4)
      expect(contents(state).at(-1)).toBe("assistant: The command printed: hi")
      yield* run.stop
    })
  )

  it.scopedLive("a partial last line waits for its newline; a corrupt line is skipped", () =>
    Effect.gen(function* () {
      const claudeDir = yield* tempClaudeDir
      const run = yield* startRegistry(yield* memoryLog, { claudeDir })
      const s = scenario(claudeDir, BASH)
      yield* run.post(s.hook("UserPromptSubmit"))
      const userLine = s.lines.findIndex((l) => l.includes('"promptId"') && l.includes('"type":"user"'))
      s.appendLines(0, userLine)
      const half = Math.floor(s.lines[userLine]!.length / 2)
      s.append(s.lines[userLine]!.slice(0, half))
      yield* run.post(s.hook("Stop"))
      expect((yield* run.sessions.get(BASH as SessionId)).messages).toHaveLength(0)
      // The rest of the line arrives, then a line cut by a crash, then the rest of the file.
      s.append(`${s.lines[userLine]!.slice(half)}\n`)
      s.append('{"type":"assistant","uuid":"cut-by-a-cra\n')
      s.appendLines(userLine + 1, s.lines.length)
      yield* run.post(s.hook("Stop"))
      const state = yield* run.sessions.get(BASH as SessionId)
      expect(contents(state)).toEqual([
        "user: [[scenario:bash]] Run echo hi.",
        "assistant: I will run a command.",
        "tool: echo hi",
        "assistant: The command printed: hi"
      ])
      yield* run.stop
    })
  )

  it.scopedLive("after a restart the tailer resumes from its checkpoint: every message exactly once", () =>
    Effect.gen(function* () {
      const claudeDir = yield* tempClaudeDir
      const log = yield* memoryLog
      const s = scenario(claudeDir, PERM)
      const first = yield* startRegistry(log, { claudeDir })
      yield* first.post(s.hook("UserPromptSubmit"))
      // Up to the first tool result, then OrbitDock goes down.
      const cut = s.lines.findIndex((l) => l.includes('"tool_result"')) + 1
      s.appendLines(0, cut)
      yield* first.post(s.hook("PostToolUse"))
      const before = yield* first.sessions.get(PERM as SessionId)
      expect(contents(before)).toHaveLength(2)
      yield* first.stop

      // While it is down the session goes on; a new server catches up without any hook.
      s.appendLines(cut, s.lines.length)
      const second = yield* startRegistry(log, { claudeDir })
      const after = yield* waitFor(second.sessions, PERM, (st) => st.messages.some((m) => m.content.startsWith("Compacted")))
      const shown = contents(after)
      expect(new Set(after.messages.map((m) => m.id)).size).toBe(after.messages.length)
      expect(shown.filter((c) => c === "user: [[scenario:perm]] Run a command that needs permission.")).toHaveLength(1)
      expect(shown.filter((c) => c === "assistant: Tool result was: needs-permission")).toHaveLength(2)
      expect(shown).toContain("user: Thanks, one more turn.")
      expect(shown).toContain("system: Conversation compacted (manual)")
      // Tokens: each API message counted once across the restart (3 calls plus the compaction's).
      const apiMessages = new Map<string, { input_tokens: number; output_tokens: number }>()
      for (const line of s.lines) {
        const r = JSON.parse(line)
        if (r.type === "assistant") apiMessages.set(r.message.id, r.message.usage)
      }
      const input = [...apiMessages.values()].reduce((a, u) => a + u.input_tokens, 0)
      const output = [...apiMessages.values()].reduce((a, u) => a + u.output_tokens, 0)
      expect(after.token_usage).toMatchObject({ input, output, total: input + output })
      yield* second.stop
    })
  )

  it.scopedLive("a transcript bigger than one batch is read in several, each record once", () =>
    Effect.gen(function* () {
      const claudeDir = yield* tempClaudeDir
      const run = yield* startRegistry(yield* memoryLog, { claudeDir })
      const s = scenario(claudeDir, BASH)
      // 40 copies of the real Bash turn (about 6 MB), each with its own uuids and API message ids.
      const copies = 40
      const text = Array.from({ length: copies }, (_, i) =>
        s.lines
          .map((l) => l.replace(/"([0-9a-f]{8})-([0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"/g, (m, a, b) => (m === `"${BASH}"` ? m : `"${a}-${b.slice(0, -4)}${i.toString(16).padStart(4, "0")}"`)))
          .map((l) => l.replace(/msg_mock_/g, `msg_mock_${i}_`).replace(/toolu_mock_/g, `toolu_mock_${i}_`))
          .join("\n")
      ).join("\n")
      expect(text.length).toBeGreaterThan(5 * 1024 * 1024)
      s.append(`${text}\n`)
      yield* run.post(s.hook("Stop"))
      const state = yield* run.sessions.get(BASH as SessionId)
      expect(state.messages).toHaveLength(4 * copies)
      expect(new Set(state.messages.map((m) => m.id)).size).toBe(4 * copies)
      expect(state.messages.filter((m) => m.role === "tool" && m.tool?.status === "ok")).toHaveLength(copies)
      expect(state.token_usage.input).toBe(copies * (2545 + 2624))
      expect(state.token_usage.output).toBe(copies * (18 + 6))
      yield* run.stop
    })
  )

  it.scopedLive("a subagent's sidechain file joins its parent session", () =>
    Effect.gen(function* () {
      const claudeDir = yield* tempClaudeDir
      const run = yield* startRegistry(yield* memoryLog, { claudeDir })
      const s = scenario(claudeDir, AGENT)
      yield* run.post(s.hook("UserPromptSubmit"))
      s.appendLines(0, s.lines.length)
      const subdir = `${s.file.slice(0, -".jsonl".length)}/subagents`
      fs.mkdirSync(subdir, { recursive: true })
      const agentFile = `${subdir}/agent-a3246a4f4f47bc926.jsonl`
      fs.copyFileSync(
        `${__dirname}/../../fixtures/claude/transcripts/${AGENT}/subagents/agent-a3246a4f4f47bc926.jsonl`,
        agentFile
      )
      yield* run.post({ ...s.hook("SubagentStop"), agent_transcript_path: agentFile })
      yield* run.post(s.hook("Stop"))
      const state = yield* waitFor(run.sessions, AGENT, (st) => st.messages.some((m) => m.role === "system" && m.content.includes("Reply with a greeting")))
      expect(state.messages.filter((m) => m.role === "user")).toHaveLength(1)
      expect(state.status).toBe("waiting")
      yield* run.stop
    })
  )

  it.scopedLive("a held PermissionRequest is answered from OrbitDock: allow, deny, and no decision in time", () =>
    Effect.gen(function* () {
      const claudeDir = yield* tempClaudeDir
      const run = yield* startRegistry(yield* memoryLog, { claudeDir, permissionTimeout: "300 millis" })
      const s = scenario(claudeDir, PERM)
      const ask = s.hook("PermissionRequest")
      yield* run.post(s.hook("UserPromptSubmit"))

      const decide = (approved: boolean) =>
        Effect.gen(function* () {
          const held = yield* Effect.fork(run.post(ask))
          const pending = yield* waitFor(run.sessions, PERM, (st) => st.pending_approval !== null)
          expect(pending.pending_approval).toMatchObject({ kind: "tool", tool_name: "Bash", command: expect.stringContaining("node -e") })
          expect(pending.attention).toBe(true)
          yield* run.sessions.execute({
            type: "approve_tool",
            session_id: PERM as SessionId,
            request_id: pending.pending_approval!.id,
            approved
          })
          return yield* Fiber.join(held)
        })

      const allowed = yield* decide(true)
      expect(allowed).toEqual({ status: 202, body: { hookSpecificOutput: { hookEventName: "PermissionRequest", decision: { behavior: "allow" } } } })
      const denied = yield* decide(false)
      expect(denied.body).toMatchObject({ hookSpecificOutput: { decision: { behavior: "deny" } } })

      // Nobody decides: "no decision" (Claude's own prompt takes over) and the approval expires.
      const expired = yield* run.post(ask)
      expect(expired).toEqual({ status: 202, body: {} })
      const state = yield* run.sessions.get(PERM as SessionId)
      expect(state.pending_approval).toBeNull()
      const page = yield* run.sessions.events(PERM as SessionId, 0, 100)
      const outcomes = page.events.filter((e) => e.type === "approval_resolved").map((e) => (e.data as { outcome: string }).outcome)
      expect(outcomes).toEqual(["approved", "denied", "expired"])
      // Deciding an expired request is a conflict.
      const last = page.events.filter((e) => e.type === "approval_requested").at(-1)!
      const late = yield* run.sessions
        .execute({
          type: "approve_tool",
          session_id: PERM as SessionId,
          request_id: (last.data as { request: { id: never } }).request.id,
          approved: true
        })
        .pipe(Effect.flip)
      expect(late.code).toBe("conflict")
      yield* run.stop
    })
  )

  it.scopedLive("PreToolUse is held too when configured, and answered with a permission decision", () =>
    Effect.gen(function* () {
      const claudeDir = yield* tempClaudeDir
      const run = yield* startRegistry(yield* memoryLog, { claudeDir, holdPreToolUse: ["Bash"] })
      const s = scenario(claudeDir, BASH)
      yield* run.post(s.hook("UserPromptSubmit"))
      const held = yield* Effect.fork(run.post(s.hook("PreToolUse")))
      const pending = yield* waitFor(run.sessions, BASH, (st) => st.pending_approval !== null)
      expect(pending.pending_approval).toMatchObject({ tool_name: "Bash", command: "echo hi" })
      yield* run.sessions.execute({
        type: "approve_tool",
        session_id: BASH as SessionId,
        request_id: pending.pending_approval!.id,
        approved: false
      })
      const answer = yield* Fiber.join(held)
      expect(answer.body).toEqual({
        hookSpecificOutput: { hookEventName: "PreToolUse", permissionDecision: "deny", permissionDecisionReason: "Denied from OrbitDock" }
      })
      // Other tools are not held.
      const other = yield* run.post({ ...s.hook("PreToolUse"), tool_name: "Read", tool_input: { file_path: "/x" } })
      expect(other).toEqual({ status: 202, body: {} })
      yield* run.stop
    })
  )

  it.scopedLive("malformed hook bodies get 400 with a reason; unknown events are accepted", () =>
    Effect.gen(function* () {
      const claudeDir = yield* tempClaudeDir
      const run = yield* startRegistry(yield* memoryLog, { claudeDir })
      for (const body of [undefined, [1], "x", { hook_event_name: "Stop" }, { session_id: "s", hook_event_name: "PreToolUse", tool_name: 1, cwd: "/w" }]) {
        const answer = yield* run.post(body)
        expect(answer.status).toBe(400)
        expect(answer.body).toMatchObject({ code: "invalid_message", message: expect.stringMatching(/hook/) })
      }
      // A first sighting without a cwd cannot create a session.
      expect((yield* run.post({ session_id: "nocwd", hook_event_name: "Stop" })).status).toBe(400)
      const unknown = yield* run.post({ session_id: "s-unknown", hook_event_name: "FutureEvent", cwd: "/w", extra: 1 })
      expect(unknown).toEqual({ status: 202, body: {} })
      expect((yield* run.sessions.get("s-unknown" as SessionId)).watch_only).toBe(true)
      // Driving a watched session is refused.
      const refused = yield* run.sessions
        .execute({ type: "send_message", session_id: "s-unknown" as SessionId, content: "hi" })
        .pipe(Effect.flip)
      expect(refused.code).toBe("unsupported")
      // No binary: creating a driven session is unsupported, not a crash.
      const create = yield* run.sessions.execute({ type: "create_session", provider: "claude", cwd: claudeDir }).pipe(Effect.flip)
      expect(create.code).toBe("unsupported")
      yield* run.stop
    })
  )
})
