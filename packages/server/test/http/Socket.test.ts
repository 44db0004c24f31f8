/**
 * The WebSocket connection against the whole real server: hello, every error path a client frame
 * can take (over both subprotocols; the connection stays open and keeps working), subprotocol
 * negotiation, and the ping rule.
 */
import { Packr } from "msgpackr"
import { PROTOCOL_MINOR } from "@orbitdock/domain"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import WebSocket from "ws"
import { makeClient, startTestServer, type TestClient, type TestServer } from "../helpers/testServer.js"

const packr = new Packr({ useRecords: false })

describe("WebSocket connection", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer()
  })
  afterAll(() => server.cleanup())

  for (const protocol of ["json", "msgpack", "none"] as const) {
    it(`${protocol}: hello comes first and alone, with the server id`, async () => {
      const client = await server.connect({ protocol })
      const kinds: Array<boolean> = []
      client.ws.on("message", (_data, isBinary) => kinds.push(isBinary))
      const hello = await client.next()
      expect(hello).toEqual({ type: "hello", server_id: server.transport.serverId, version: server.transport.version, protocol: 1, protocol_minor: PROTOCOL_MINOR })
      expect(Array.isArray(client.frames[0])).toBe(false)
      expect(client.ws.protocol).toBe(protocol === "msgpack" ? "orbitdock.v1.msgpack" : protocol === "json" ? "orbitdock.v1.json" : "")
      // Binary frames for msgpack, text for JSON.
      await client.request({ type: "subscribe_list" })
      expect(kinds.length).toBeGreaterThan(0)
      expect(kinds.every((binary) => binary === (protocol === "msgpack"))).toBe(true)
      await client.close()
    })
  }

  it("refuses an upgrade that names only unknown subprotocols", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws`, ["chat.v2"], { headers: { authorization: `Bearer ${server.token}` } })
    const status = await new Promise<number>((resolve) => {
      ws.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0))
      ws.once("open", () => resolve(101))
      ws.once("error", () => {})
    })
    expect(status).toBe(400)
  })

  it("refuses upgrades on other paths", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/other`, { headers: { authorization: `Bearer ${server.token}` } })
    const status = await new Promise<number>((resolve) => {
      ws.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0))
      ws.once("error", () => {})
    })
    expect(status).toBe(404)
  })

  for (const protocol of ["json", "msgpack"] as const) {
    describe(`${protocol}: every bad frame gets an error and the connection stays open`, () => {
      let client: TestClient
      beforeAll(async () => {
        client = await server.connect({ protocol })
        await client.next((m) => m.type === "hello")
      })
      afterAll(() => client.close())
      const encode = (value: unknown): string | Buffer =>
        protocol === "json" ? JSON.stringify(value) : Buffer.from(packr.pack(value))
      const stillWorks = async () => {
        const ack = await client.request({ type: "subscribe_list" })
        expect(ack).toMatchObject({ type: "ack" })
        await client.request({ type: "unsubscribe_list" })
      }
      const expectError = async (frame: string | Buffer, expected: Record<string, unknown>) => {
        client.send(frame)
        const error = await client.next((m) => m.type === "error")
        expect(error).toMatchObject(expected)
        expect(typeof (error as { message: unknown }).message).toBe("string")
        await stillWorks()
        return error
      }

      it("unparseable bytes", async () => {
        const bad = protocol === "json" ? "{not json" : Buffer.from([0x82, 0xa1, 0x61])
        const error = await expectError(bad, { type: "error", code: "invalid_message" })
        expect("id" in error).toBe(false)
      })
      it("a frame that is not one object", async () => {
        await expectError(encode([{ type: "subscribe_list", id: "x" }]), { code: "invalid_message" })
        await expectError(encode("subscribe_list"), { code: "invalid_message" })
        await expectError(encode(null), { code: "invalid_message" })
      })
      it("an unknown type, with the id echoed", async () => {
        await expectError(encode({ type: "teleport", id: "u1" }), { code: "unknown_type", id: "u1" })
      })
      it("missing or wrong fields, with a readable reason", async () => {
        const error = await expectError(encode({ type: "send_message", id: "m1", session_id: "s" }), { code: "invalid_message", id: "m1" })
        expect((error as { message: string }).message).toMatch(/content/)
        await expectError(encode({ type: "create_session", id: "m2", provider: "gpt", cwd: "/" }), { code: "invalid_message", id: "m2" })
      })
      it("an id that is not a string of at most 128 characters: answered with id null, never echoed", async () => {
        await expectError(encode({ type: "subscribe_list", id: 42 }), { code: "invalid_message", id: null })
        await expectError(encode({ type: "subscribe_list", id: { nested: true } }), { code: "invalid_message", id: null })
        await expectError(encode({ type: "subscribe_list", id: "i".repeat(129) }), { code: "invalid_message", id: null })
        const ok = await client.request({ type: "subscribe_list", id: "i".repeat(128) })
        expect(ok).toEqual({ type: "ack", id: "i".repeat(128) })
      })
      it("an id nested 100,000 deep (the reply could not be encoded and ended the server)", async () => {
        const depth = 100_000
        const frame =
          protocol === "json"
            ? `{"type":"subscribe_list","id":${"[".repeat(depth)}${"]".repeat(depth)}}`
            : // {type: "subscribe_list", id: [[[…]]]}: a map header, then the nesting as raw bytes.
              Buffer.concat([
                Buffer.from([0x82]),
                Buffer.from(packr.pack("type")),
                Buffer.from(packr.pack("subscribe_list")),
                Buffer.from(packr.pack("id")),
                Buffer.alloc(depth, 0x91),
                Buffer.from([0xc0])
              ])
        const error = await expectError(frame, { code: "invalid_message" })
        expect((error as { message: string }).message).toMatch(/nested/)
      })
      if (protocol === "msgpack") {
        it("extension types: a BigInt id (too large to pack again, it ended the server), a Date", async () => {
          const big = new Packr({ useRecords: false, useBigIntExtension: true }).pack({ type: "subscribe_list", id: 2n ** 100n })
          const error = await expectError(Buffer.from(big), { code: "invalid_message" })
          expect(error).not.toHaveProperty("id")
          expect((error as { message: string }).message).toMatch(/extension/)
          await expectError(Buffer.from(packr.pack({ type: "send_message", id: "d", session_id: "s", content: new Date(0) })), {
            code: "invalid_message"
          })
        })
      }
      it("a frame over 1 MiB: too_large", async () => {
        const huge = encode({ type: "send_message", id: "big", session_id: "s", content: "z".repeat(1024 * 1024 + 10) })
        const error = await expectError(huge, { code: "too_large" })
        expect(error).not.toHaveProperty("id")
      })
      it("a failing message without id gets an error without id; a succeeding one gets nothing", async () => {
        client.send(encode({ type: "send_message", session_id: "no-such-session", content: "hi" }))
        const error = await client.next((m) => m.type === "error")
        expect(error).toMatchObject({ code: "not_found" })
        expect(error).not.toHaveProperty("id")
        const before = client.messages.length
        client.send(encode({ type: "unsubscribe_list" }))
        const ack = await client.request({ type: "unsubscribe_list" })
        expect(client.messages.slice(before)).toEqual([ack])
      })
    })
  }

  it("one bad connection does not affect another", async () => {
    const a = await server.connect()
    const b = await server.connect({ protocol: "msgpack" })
    a.send("{{{")
    a.ws.terminate()
    const ack = await b.request({ type: "subscribe_list" })
    expect(ack.type).toBe("ack")
    await b.close()
  })
})

describe("ping", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer({ transport: { pingIntervalMs: 100 } })
  })
  afterAll(() => server.cleanup())

  it("drops a client that answers no ping, keeps one that does", async () => {
    const answering = await server.connect()
    let pings = 0
    answering.ws.on("ping", () => pings++)
    // A client that does not answer pings (and sends nothing).
    const silentWs = new WebSocket(`ws://127.0.0.1:${server.port}/ws`, ["orbitdock.v1.json"], {
      headers: { authorization: `Bearer ${server.token}` },
      autoPong: false
    })
    const silent = makeClient(silentWs, false)
    await silent.next((m) => m.type === "hello")
    const { code, reason } = await silent.closed
    expect(code).toBe(4000)
    expect(reason).toMatch(/ping/)
    expect(pings).toBeGreaterThanOrEqual(2)
    expect(answering.ws.readyState).toBe(WebSocket.OPEN)
    expect((await answering.request({ type: "subscribe_list" })).type).toBe("ack")
    const metrics = await server.request("/metrics")
    expect(metrics.text).toMatch(/^orbitdock_subscribers_dropped_total [1-9]/m)
    await answering.close()
  })
})
