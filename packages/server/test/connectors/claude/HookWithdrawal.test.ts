/**
 * A held permission prompt follows its asker, against the real server process: a PermissionRequest
 * hook whose client gives up (`curl -m 2`: the connection closes) withdraws its approval at once,
 * subscribers see it go, and a later `approve_tool` is a `conflict`, never an ack nobody receives.
 * Approvals whose hooks went with a previous server process are withdrawn at the next start.
 */
import type { ServerMessage } from "@orbitdock/domain"
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { type ServerProcess, startServerProcess } from "../../helpers/serverProcess.js"

const SESSION = "3f0c5a8e-hook-withdrawal"

let root: string | undefined
const servers: Array<ServerProcess> = []

afterEach(async () => {
  for (const server of servers.splice(0)) await server.kill("SIGTERM")
  if (root !== undefined) fs.rmSync(root, { recursive: true, force: true })
  root = undefined
})

/** A server whose Claude connector watches an empty, private HOME. */
const start = async (dataDir?: string) => {
  root ??= fs.mkdtempSync(path.join(os.tmpdir(), "orbitdock-hook-withdrawal-"))
  const home = path.join(root, "home")
  fs.mkdirSync(home, { recursive: true })
  const server = await startServerProcess(dataDir ?? path.join(root, "data"), [], {
    HOME: home,
    CLAUDE_CONFIG_DIR: path.join(home, ".claude"),
    ORBITDOCK_CODEX_WATCH: "0"
  })
  servers.push(server)
  return server
}

interface PostedHook {
  /** The answer, or the error once the request is aborted. */
  readonly answer: Promise<{ status: number; body: any }>
  /** Gives up like `curl -m`: the socket is destroyed before the answer. */
  readonly abort: () => void
}

/** POSTs a hook body over TCP with the token, as Claude Code's `http` hooks do. */
const postHook = (server: ServerProcess, body: object): PostedHook => {
  const req = http.request({
    host: "127.0.0.1",
    port: server.port,
    path: "/hook",
    method: "POST",
    headers: { authorization: `Bearer ${server.token}`, "content-type": "application/json" },
    agent: false
  })
  const answer = new Promise<{ status: number; body: any }>((resolve, reject) => {
    req.on("response", (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) }))
    })
    req.on("error", reject)
  })
  req.end(JSON.stringify(body))
  return { answer, abort: () => req.destroy() }
}

const hook = (name: string, extra: object = {}) => ({ hook_event_name: name, session_id: SESSION, cwd: "/tmp", ...extra })
const permissionRequest = hook("PermissionRequest", { tool_name: "Bash", tool_input: { command: "rm -rf build" } })

const isDelta = (key: "pending_approval") => (m: ServerMessage) =>
  m.type === "session_delta" && key in (m.changes as Record<string, unknown>)

const resolutions = async (server: ServerProcess) => {
  const page = await server.http(`/api/sessions/${SESSION}/events`)
  return (page.body.events as Array<{ type: string; data: any }>).filter((e) => e.type === "approval_resolved").map((e) => e.data)
}

describe("a held PermissionRequest follows the hook that asked", () => {
  it("a hook whose client gives up withdraws its approval at once; a later approve_tool is a conflict", async () => {
    const server = await start()
    expect((await postHook(server, hook("SessionStart", { source: "startup" })).answer).status).toBe(202)
    const client = await server.connect()
    expect((await client.request({ type: "subscribe_session", session_id: SESSION })).type).toBe("ack")

    const held = postHook(server, permissionRequest)
    const asked = (await client.next((m) => m.type === "approval_requested", 10_000)) as any
    expect(asked.request).toMatchObject({ tool_name: "Bash", command: "rm -rf build" })

    held.abort()
    await expect(held.answer).rejects.toThrow()
    // Subscribers see it go, through the message v1 clients know.
    const gone = (await client.next(isDelta("pending_approval"), 10_000)) as any
    expect(gone.changes).toEqual({ pending_approval: null, attention: false, attention_detail: null })

    const late = (await client.request({ type: "approve_tool", session_id: SESSION, request_id: asked.request.id, approved: true })) as any
    expect(late).toMatchObject({ type: "error", code: "conflict" })
    expect(await resolutions(server)).toEqual([
      { request_id: asked.request.id, outcome: "withdrawn", reason: "the PermissionRequest hook's connection closed" }
    ])
    expect((await server.http(`/api/sessions/${SESSION}`)).body).toMatchObject({ pending_approval: null, attention: false })
  })

  it("approvals whose hooks went with the previous server process are withdrawn at the next start", async () => {
    const first = await start()
    await postHook(first, hook("SessionStart", { source: "startup" })).answer
    await postHook(first, hook("UserPromptSubmit", { prompt: "clean up", prompt_id: "p1" })).answer
    const watcher = await first.connect()
    await watcher.request({ type: "subscribe_session", session_id: SESSION })
    const held = postHook(first, permissionRequest)
    held.answer.catch(() => undefined)
    const asked = (await watcher.next((m) => m.type === "approval_requested", 10_000)) as any
    // On disk once a later command is acked (the log commits in order).
    expect((await watcher.request({ type: "create_session", provider: "sim", cwd: "/tmp" })).type).toBe("ack")
    await first.kill("SIGKILL")
    servers.splice(servers.indexOf(first), 1)

    const second = await start(path.join(root!, "data"))
    const client = await second.connect()
    await client.request({ type: "subscribe_session", session_id: SESSION })
    const snapshot = (await client.next((m) => m.type === "session_snapshot")) as any
    expect(snapshot.session).toMatchObject({ pending_approval: null, attention: false, status: "working" })
    const late = (await client.request({ type: "approve_tool", session_id: SESSION, request_id: asked.request.id, approved: true })) as any
    expect(late).toMatchObject({ type: "error", code: "conflict" })
    expect(await resolutions(second)).toEqual([
      { request_id: asked.request.id, outcome: "withdrawn", reason: "OrbitDock restarted: the hook that asked is gone" }
    ])
  }, 60_000)
})
