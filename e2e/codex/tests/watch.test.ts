/**
 * Watch-only sessions: a `codex exec` run launched separately (as a user would in a terminal) shows
 * up in OrbitDock from its rollout file, each message once; after an OrbitDock restart the rollout is
 * followed from its checkpoint (a resumed run adds only the new turn). Sessions OrbitDock drives
 * itself are not duplicated as watch-only sessions.
 */
import { spawn } from "node:child_process"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type CodexEnv, makeCodexEnv, nativeCodexBin } from "../helpers/codexEnv.js"
import { type MockModel, startMockModel } from "../helpers/mockModel.js"
import { createSession, drive, startOrbit, stateOf, type TestServer, waitMessage } from "../helpers/orbit.js"

let mock: MockModel
let codex: CodexEnv

beforeAll(async () => {
  mock = await startMockModel()
  codex = makeCodexEnv("watch", mock.baseUrl)
})

afterAll(async () => {
  await mock?.close()
  codex?.remove()
})

/** Runs `codex exec …` to completion in `cwd`, as a separate process. */
const codexExec = (cwd: string, args: ReadonlyArray<string>) =>
  new Promise<string>((resolve, reject) => {
    const child = spawn(nativeCodexBin(), ["exec", "--dangerously-bypass-approvals-and-sandbox", ...args], {
      cwd,
      env: codex.env,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    child.stdout.on("data", (d: Buffer) => (output += d.toString()))
    child.stderr.on("data", (d: Buffer) => (output += d.toString()))
    child.on("error", reject)
    child.on("exit", (code) => (code === 0 ? resolve(output) : reject(new Error(`codex exec exited ${code}: ${output}`))))
  })

/** Waits (over the list subscription) for a watch-only session with this thread id. */
const watchedSession = async (server: TestServer, threadId: string) => {
  const client = await server.connect()
  await client.request({ type: "subscribe_list" })
  const found = await waitMessage(
    client,
    (m: any) =>
      (m.type === "sessions_list" && m.sessions.some((s: any) => s.external_id === threadId)) ||
      ((m.type === "session_created" || m.type === "session_updated") && m.session.external_id === threadId),
    20_000
  )
  const summary =
    found.type === "sessions_list" ? (found as any).sessions.find((s: any) => s.external_id === threadId) : (found as any).session
  return { client, id: summary.id as string }
}

const shape = (state: any) => state.messages.map((m: any) => `${m.role}: ${m.content.split("\n")[0]}`)

describe("watch-only codex sessions", () => {
  it("follows a separately launched codex run, without duplicates, across an OrbitDock restart", async () => {
    const dataDir = path.join(codex.root, "orbit-watch")
    const cwd = codex.newWorkDir("watched")
    const first = await startOrbit({ codex, dataDir, watchRollouts: true })
    let threadId: string
    try {
      const output = await codexExec(cwd, ["SCENARIO:shell echo watched"])
      threadId = /session id: ([0-9a-f-]{36})/.exec(output)![1]!
      const { client, id } = await watchedSession(first, threadId)
      const s = await drive(client, id)
      await waitForMessages(first, id, 4)
      const state = await stateOf(first, id)
      expect(state.watch_only).toBe(true)
      expect(state.provider).toBe("codex")
      expect(state.cwd).toBe(cwd)
      expect(shape(state)).toEqual([
        "user: SCENARIO:shell echo watched",
        "assistant: I will run a shell command.",
        "tool: echo watched",
        "assistant: Done. The tool reported:"
      ])
      expect(state.messages[2].tool).toMatchObject({ name: "shell", output: "watched\n", exit_code: 0, status: "ok" })
      expect(state.token_usage.total).toBeGreaterThan(0)
      // A watch-only session refuses to be driven.
      const refused = await s.command({ type: "send_message", content: "hello" })
      expect(refused.type).toBe("error")
    } finally {
      await first.close()
    }

    const second = await startOrbit({ codex, dataDir, watchRollouts: true })
    try {
      await codexExec(cwd, ["resume", threadId, "SCENARIO:text second run"])
      const { id } = await watchedSession(second, threadId)
      await waitForMessages(second, id, 6)
      const state = await stateOf(second, id)
      expect(shape(state)).toEqual([
        "user: SCENARIO:shell echo watched",
        "assistant: I will run a shell command.",
        "tool: echo watched",
        "assistant: Done. The tool reported:",
        "user: SCENARIO:text second run",
        "reasoning: **Thinking** about a friendly reply.",
        "assistant: Hello! You said: second run"
      ].slice(0, state.messages.length))
      expect(state.messages).toHaveLength(7)

      // A session OrbitDock drives itself has no watch-only twin.
      const driven = await createSession(second, { cwd: codex.newWorkDir("driven") })
      await driven.send("SCENARIO:text driven")
      await driven.status("waiting")
      const drivenThread = (await stateOf(second, driven.id)).external_id
      const list = (await second.request("/api/sessions")).body as Array<any>
      expect(list.filter((summary) => summary.external_id === drivenThread)).toHaveLength(1)
    } finally {
      await second.close()
    }
  })
})

describe("a watched run across an OrbitDock restart", () => {
  it("stays working (its Codex survived the restart) and completes from the rollout", async () => {
    const dataDir = path.join(codex.root, "orbit-watch-running")
    const cwd = codex.newWorkDir("running")
    const first = await startOrbit({ codex, dataDir, watchRollouts: true })
    const run = codexExec(cwd, ["SCENARIO:slow 40"])
    let id: string
    try {
      const client = await first.connect()
      await client.request({ type: "subscribe_list" })
      const working = await waitMessage(
        client,
        (m: any) =>
          (m.type === "sessions_list" && m.sessions.some((s: any) => s.cwd === cwd && s.status === "working")) ||
          ((m.type === "session_created" || m.type === "session_updated") && m.session.cwd === cwd && m.session.status === "working")
      )
      id = working.type === "sessions_list" ? working.sessions.find((s: any) => s.cwd === cwd)!.id : working.session.id
    } finally {
      await first.close()
    }
    const second = await startOrbit({ codex, dataDir, watchRollouts: true })
    try {
      const restored = await stateOf(second, id)
      expect(restored.status).toBe("working")
      expect(restored.messages.some((m: any) => m.role === "system")).toBe(false)
      await run
      await waitForMessages(second, id, 2)
      const state = await stateOf(second, id)
      expect(state.messages.map((m: any) => m.role)).toEqual(["user", "assistant"])
      expect(state.messages[1].content).toMatch(/^word1 .* word40 $/)
    } finally {
      await second.close()
    }
  })
})

/** Waits until the session has at least `count` messages and is waiting (rollouts are read as they grow). */
const waitForMessages = async (server: TestServer, id: string, count: number) => {
  const deadline = Date.now() + 20_000
  for (;;) {
    const state = await stateOf(server, id)
    if (state.messages.length >= count && state.status === "waiting") return
    if (Date.now() > deadline) throw new Error(`session ${id} has ${state.messages.length} messages, status ${state.status}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
