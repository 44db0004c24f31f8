/**
 * The transport's life cycle with the whole server: the Unix socket file (a stale one is replaced,
 * a live one is not stolen), the token kept across restarts, and closing connections on shutdown.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { startTestServer, type TestServer } from "../helpers/testServer.js"

let dirs: Array<string> = []
let servers: Array<TestServer> = []
afterEach(async () => {
  for (const server of servers) await server.close()
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
  servers = []
  dirs = []
})
const tempDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "orbitdock-transport-"))
  dirs.push(dir)
  return dir
}
const start = async (dataDir: string) => {
  const server = await startTestServer({ dataDir })
  servers.push(server)
  return server
}

describe("HttpTransport", () => {
  it("replaces a stale socket file left by a killed server", async () => {
    const dataDir = tempDir()
    const socketPath = path.join(dataDir, "server.sock")
    // A process that dies without cleaning up leaves its socket file behind.
    try {
      execFileSync(process.execPath, ["-e", `require("net").createServer().listen(${JSON.stringify(socketPath)}, () => process.kill(process.pid, "SIGKILL"))`])
    } catch {
      // Killed, as intended.
    }
    expect(fs.statSync(socketPath).isSocket()).toBe(true)
    const server = await start(dataDir)
    const answer = await server.request("/api/sessions", { via: "unix" })
    expect(answer.status).toBe(200)
    expect(fs.statSync(socketPath).mode & 0o777).toBe(0o600)
  })

  it("refuses to take over the socket of a running server, and keeps the token across restarts", async () => {
    const dataDir = tempDir()
    const first = await start(dataDir)
    const error = await startTestServer({ dataDir }).then(
      (second) => {
        servers.push(second)
        return undefined
      },
      (e: unknown) => e
    )
    expect(String(error)).toMatch(/another server is listening/)
    // The first one still serves on its socket.
    expect((await first.request("/health", { via: "unix" })).status).toBe(200)
    const token = first.token
    await first.close()
    expect(fs.existsSync(first.socketPath)).toBe(false)
    const again = await start(dataDir)
    expect(again.token).toBe(token)
    expect(again.transport.serverId).not.toBe(first.transport.serverId)
    expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700)
  })

  it("closes WebSocket connections with 1001 when it stops", async () => {
    const server = await start(tempDir())
    const tcp = await server.connect()
    const unix = await server.connect({ via: "unix", protocol: "msgpack" })
    await tcp.next((m) => m.type === "hello")
    await unix.next((m) => m.type === "hello")
    expect(server.transport.connectionCount()).toBe(2)
    const closing = server.stop()
    expect((await tcp.closed).code).toBe(1001)
    expect((await unix.closed).code).toBe(1001)
    await closing
  })
})
