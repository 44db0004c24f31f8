/**
 * Failures and restarts: OrbitDock restarted mid-session (the next message resumes the same Codex
 * thread, history and approval policy intact), the codex process killed mid-turn (a visible error,
 * the turn closed, recovery on the next message with a new process) and while an approval waits
 * (withdrawn at once; approving it afterwards is a conflict).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type CodexEnv, makeCodexEnv, nativeCodexBin } from "../helpers/codexEnv.js"
import { type MockModel, startMockModel } from "../helpers/mockModel.js"
import { ack, childPids, createSession, drive, startOrbit, stateOf, waitUntil } from "../helpers/orbit.js"

let mock: MockModel
let codex: CodexEnv

beforeAll(async () => {
  mock = await startMockModel()
  codex = makeCodexEnv("recovery", mock.baseUrl)
})

afterAll(async () => {
  await mock?.close()
  codex?.remove()
})

const wordsStreaming = (m: any) =>
  m.type === "message_updated" && typeof m.changes.content === "string" && m.changes.content.includes("word3")

describe("codex recovery", () => {
  it("resumes the thread after OrbitDock restarts mid-turn", async () => {
    const dataDir = path.join(codex.root, "orbit-restart")
    const cwd = codex.newWorkDir("restart")
    const first = await startOrbit({ codex, dataDir })
    const s = await createSession(first, { cwd, approval_policy: "untrusted" })
    await s.send("SCENARIO:text before restart")
    await s.status("waiting")
    const threadId = (await stateOf(first, s.id)).external_id
    await s.send("SCENARIO:slow")
    await s.next(wordsStreaming)
    await first.close() // the app-server goes with it, mid-turn

    const second = await startOrbit({ codex, dataDir })
    try {
      const client = await second.connect()
      const again = await drive(client, s.id)
      const restored = await stateOf(second, s.id)
      expect(restored.status).toBe("waiting")
      expect(restored.external_id).toBe(threadId)
      expect(restored.messages.at(-1)).toMatchObject({ role: "system", content: "interrupted: server restarted" })

      const requestsBefore = mock.requests.length
      await again.send("SCENARIO:text after restart")
      await again.status("waiting")
      const state = await stateOf(second, s.id)
      expect(state.messages.at(-1).content).toBe("Hello! You said: after restart")
      // Same Codex thread, with its history: the model saw the earlier turns.
      const request = mock.requests.slice(requestsBefore).find((r) => r.lastUserText.includes("after restart"))!
      expect(request.promptCacheKey).toBe(threadId)
      const firstTurn = mock.requests.find((r) => r.lastUserText.includes("before restart"))!
      expect(request.inputLength).toBeGreaterThan(firstTurn.inputLength)

      // The resumed thread keeps the session's approval policy: a command still asks first.
      await again.send("SCENARIO:shell touch resumed.txt")
      const asked = await again.next((m) => m.type === "approval_requested")
      ack(await again.command({ type: "approve_tool", request_id: asked.request.id, approved: true }))
      await again.status("waiting")
      expect(fs.existsSync(path.join(cwd, "resumed.txt"))).toBe(true)
    } finally {
      await second.close()
    }
  })

  it("shows a killed codex process as an error, closes the turn, and recovers on the next message", async () => {
    const server = await startOrbit({ codex })
    try {
      const cwd = codex.newWorkDir("kill")
      const s = await createSession(server, { cwd })
      await s.send("SCENARIO:slow")
      await s.next(wordsStreaming)
      const [pid] = childPids(process.pid, nativeCodexBin())
      expect(pid).toBeGreaterThan(0)
      process.kill(pid!, "SIGKILL")
      const error = await s.next((m) => m.type === "message_appended" && m.message.role === "system")
      expect(error.message.content).toContain("codex process exited")
      expect(error.message.content).toContain("SIGKILL")
      await s.status("waiting")
      let state = await stateOf(server, s.id)
      expect(state.messages.find((m: any) => m.role === "assistant").streaming).toBe(false)

      await s.send("SCENARIO:text recovered")
      await s.status("waiting")
      state = await stateOf(server, s.id)
      expect(state.messages.at(-1).content).toBe("Hello! You said: recovered")
      await waitUntil(() => childPids(process.pid, nativeCodexBin()).length === 1, 5000, "one codex process")
    } finally {
      await server.close()
    }
  })

  it("withdraws a pending approval at once when the codex process dies; approving it later is a conflict", async () => {
    const server = await startOrbit({ codex })
    try {
      const cwd = codex.newWorkDir("kill-approval")
      const s = await createSession(server, { cwd })
      await s.send("SCENARIO:shell touch never.txt")
      const asked = await s.next((m) => m.type === "approval_requested")
      const [pid] = childPids(process.pid, nativeCodexBin())
      process.kill(pid!, "SIGKILL")

      // Subscribers see it go (the session_delta v1 clients know), before the turn's end.
      const gone = await s.next((m) => m.type === "session_delta" && "pending_approval" in m.changes)
      // What v1 clients read, exactly; minor 2 adds the attention detail.
      const { attention_detail: _detail, ...v1 } = gone.changes
      expect(v1).toEqual({ pending_approval: null, attention: false })
      expect(gone.changes).toHaveProperty("attention_detail")
      await s.status("waiting")
      const late = await s.command({ type: "approve_tool", request_id: asked.request.id, approved: true })
      expect(late).toMatchObject({ type: "error", code: "conflict" })
      expect(fs.existsSync(path.join(cwd, "never.txt"))).toBe(false)

      const { body } = await server.request(`/api/sessions/${s.id}/events?limit=10000`)
      const resolved = body.events.filter((e: any) => e.type === "approval_resolved").map((e: any) => e.data)
      expect(resolved).toEqual([
        { request_id: asked.request.id, outcome: "withdrawn", reason: expect.stringMatching(/codex app-server exited \(signal SIGKILL\)/) }
      ])
      const state = await stateOf(server, s.id)
      expect(state).toMatchObject({ status: "waiting", pending_approval: null, attention: false })
    } finally {
      await server.close()
    }
  })
})
