/**
 * What one client can make the server hold is bounded, and going past a bound is refused cleanly on
 * that client alone: WebSocket connections (`--max-connections`, a real server process; refused with
 * 503 and logged), frame sizes (just over 1 MiB: `too_large`, the connection stays; past 2 MiB: cut
 * off by the WebSocket layer), and session subscriptions per connection.
 */
import { JSON_SUBPROTOCOL, MAX_FRAME_BYTES } from "@orbitdock/domain"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import WebSocket from "ws"
import { type ServerProcess, startServerProcess } from "../helpers/serverProcess.js"
import { startTestServer, type TestClient, type TestServer } from "../helpers/testServer.js"

describe("connections cap (real server process)", () => {
  let server: ServerProcess | undefined
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "orbitdock-limits-"))
  afterEach(async () => {
    await server?.kill("SIGTERM")
    fs.rmSync(dataDir, { recursive: true, force: true })
  })

  /** Opens a WebSocket; resolves with the client, or with the refusal's status and body. */
  const attempt = (port: number, token: string) =>
    new Promise<{ ws: WebSocket } | { status: number; body: any }>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, [JSON_SUBPROTOCOL], { headers: { authorization: `Bearer ${token}` } })
      ws.once("open", () => resolve({ ws }))
      ws.once("unexpected-response", (_req, res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (chunk: Buffer) => chunks.push(chunk))
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) }))
      })
      ws.once("error", (error) => {
        if (!/Unexpected server response/.test(error.message)) reject(error)
      })
    })

  it("refuses connections past --max-connections with 503 unavailable, logs it, and admits again once one closes", async () => {
    server = await startServerProcess(dataDir, ["--max-connections", "2"])
    const { port, token } = server
    const first = await server.connect()
    const second = await server.connect()
    const refused = await attempt(port, token)
    expect(refused).toEqual({ status: 503, body: { code: "unavailable", message: expect.stringMatching(/maximum of 2 connections/) } })
    // The open ones are unaffected; HTTP still answers.
    expect((await first.request({ type: "subscribe_list" })).type).toBe("ack")
    expect((await server.http("/health")).status).toBe(200)
    await second.close()
    // The server notices the close asynchronously: a few attempts may still be refused.
    let admitted: WebSocket | undefined
    for (let i = 0; i < 50 && admitted === undefined; i++) {
      const result = await attempt(port, token)
      if ("ws" in result) admitted = result.ws
      else await new Promise((resolve) => setTimeout(resolve, 20))
    }
    expect(admitted).toBeDefined()
    admitted!.terminate()
    expect(server.stderr()).toMatch(/refused 1 WebSocket connection\(s\): 2 are open/)
  })
})

describe("frames and subscriptions", () => {
  let server: TestServer
  let client: TestClient
  beforeAll(async () => {
    server = await startTestServer({ transport: { maxSubscriptions: 2 } })
    client = await server.connect()
    await client.next((m) => m.type === "hello")
  })
  afterAll(() => server.cleanup())

  it("a frame past 2 MiB is cut off by the WebSocket layer (1009); one just over 1 MiB is answered too_large", async () => {
    const other = await server.connect({ protocol: "msgpack" })
    const huge = await server.connect()
    huge.send(Buffer.alloc(MAX_FRAME_BYTES + 1, 0x20))
    expect(await huge.next((m) => m.type === "error")).toMatchObject({ code: "too_large" })
    expect((await huge.request({ type: "subscribe_list" })).type).toBe("ack")
    huge.send(Buffer.alloc(2 * MAX_FRAME_BYTES + 1, 0x20))
    expect((await huge.closed).code).toBe(1009)
    expect((await other.request({ type: "subscribe_list" })).type).toBe("ack")
    await other.close()
  })

  it("a connection subscribes to at most maxSubscriptions sessions at once: too_large past it", async () => {
    const ids: Array<string> = []
    for (let i = 0; i < 3; i++) {
      const ack = await client.request({ type: "create_session", provider: "sim", cwd: "/w" })
      ids.push((ack as { session_id: string }).session_id)
    }
    expect((await client.request({ type: "subscribe_session", session_id: ids[0] })).type).toBe("ack")
    expect((await client.request({ type: "subscribe_session", session_id: ids[1] })).type).toBe("ack")
    const refused = await client.request({ type: "subscribe_session", session_id: ids[2] })
    expect(refused).toMatchObject({ type: "error", code: "too_large", message: expect.stringMatching(/at most 2 sessions/) })
    // Subscribing again to one it holds replaces it; after an unsubscribe there is room.
    expect((await client.request({ type: "subscribe_session", session_id: ids[1] })).type).toBe("ack")
    await client.request({ type: "unsubscribe_session", session_id: ids[0] })
    expect((await client.request({ type: "subscribe_session", session_id: ids[2] })).type).toBe("ack")
    // The refused subscription got nothing, and the held ones are live.
    expect((await client.request({ type: "send_message", session_id: ids[2], content: "live" })).type).toBe("ack")
    await client.waitFor((m) => m.type === "message_updated" && m.session_id === ids[2] && m.changes.content === "echo: live")
  })
})
