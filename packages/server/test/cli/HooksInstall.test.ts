/**
 * `orbitdock hooks install` against a real running server: it targets that server (its socket, even
 * a non-default one; for http its recorded URL, not 127.0.0.1:4000), writes no token for the default
 * Unix-socket transport, and the hook command it writes really delivers to the server.
 */
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { install } from "../../src/cli/hooks.js"
import { installed } from "../../src/connectors/claude/HookSettings.js"
import { startServerProcess } from "../helpers/serverProcess.js"

/** Runs a command hook exactly as Claude Code does: `sh -c <command>`, the event's JSON on stdin. */
const runCommandHook = (command: string, body: unknown) =>
  new Promise<{ code: number | null; stdout: string }>((resolve) => {
    const child = spawn("sh", ["-c", command], { stdio: ["pipe", "pipe", "inherit"] })
    let stdout = ""
    child.stdout!.on("data", (c: Buffer) => (stdout += c.toString()))
    child.once("close", (code) => resolve({ code, stdout }))
    child.stdin!.end(JSON.stringify(body))
  })

describe("hooks install for the running server", () => {
  it("unix by default (its own socket, no token), http at its recorded URL; the written hooks reach it", async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "orbitdock-hooks-live-"))
    const dataDir = path.join(root, "data")
    const socket = path.join(root, "elsewhere.sock")
    const settingsPath = path.join(root, "claude", "settings.json")
    const server = await startServerProcess(dataDir, ["--socket", socket])
    try {
      const unix = await Effect.runPromise(
        install({ settingsPath, dataDir, transport: "unix", url: null, token: null, permissionTimeoutS: 120 })
      )
      expect(unix).toMatchObject({ changed: true, via: `the Unix socket ${socket}`, notes: [] })
      const text = fs.readFileSync(settingsPath, "utf8")
      expect(text).not.toContain(server.token)
      const settings = JSON.parse(text)
      expect(new Set(Object.values(installed(settings)))).toEqual(new Set(["unix"]))

      const sessionId = "5d1c7a52-3f0e-4a5b-9a43-0c1f4a7e2b10"
      const start = settings.hooks.SessionStart[0].hooks[0].command as string
      expect(start).toContain(`--unix-socket '${socket}'`)
      const answer = await runCommandHook(start, { session_id: sessionId, hook_event_name: "SessionStart", cwd: "/work/p", source: "startup" })
      expect(answer.code).toBe(0)
      const created = await server.http(`/api/sessions/${sessionId}`)
      expect(created.status).toBe(200)
      expect(created.body).toMatchObject({ provider: "claude", cwd: "/work/p", watch_only: true })

      const http = await Effect.runPromise(
        install({ settingsPath, dataDir, transport: "http", url: null, token: null, permissionTimeoutS: 120 })
      )
      expect(http).toMatchObject({ changed: true, via: `http://127.0.0.1:${server.port}` })
      const withToken = JSON.parse(fs.readFileSync(settingsPath, "utf8"))
      expect(withToken.hooks.Stop[0].hooks[0]).toMatchObject({
        type: "http",
        url: `http://127.0.0.1:${server.port}/hook?orbitdock=1`,
        headers: { Authorization: `Bearer ${server.token}` }
      })
      expect(fs.statSync(settingsPath).mode & 0o777).toBe(0o600)
    } finally {
      await server.kill("SIGTERM")
      fs.rmSync(root, { recursive: true, force: true })
    }
  }, 30_000)

  it("refuses the Unix socket when the running server has none", async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "orbitdock-hooks-live-"))
    const dataDir = path.join(root, "data")
    const server = await startServerProcess(dataDir, ["--socket", "none"])
    try {
      const refused = await Effect.runPromise(
        Effect.flip(install({ settingsPath: path.join(root, "s.json"), dataDir, transport: "unix", url: null, token: null, permissionTimeoutS: 120 }))
      )
      expect(refused.message).toContain("has no Unix socket")
    } finally {
      await server.kill("SIGTERM")
      fs.rmSync(root, { recursive: true, force: true })
    }
  }, 30_000)
})
