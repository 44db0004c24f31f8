import { Packr } from "msgpackr"
import { describe, expect, it } from "vitest"
import * as Codec from "../src/Codec.js"
import { appended, delta, snapshot } from "./helpers/fixtures.js"

const packr = new Packr({ useRecords: false })
const hello = { type: "hello", server_id: "srv_1", version: "0.1.0", protocol: 1 }

describe("Codec.decodeFrame", () => {
  it("decodes one JSON message", () => {
    expect(Codec.decodeFrame(JSON.stringify(hello))).toEqual({ messages: [hello], problems: [] })
  })

  it("decodes hello with and without protocol_minor (minor 1 servers, older ones), and error ids of minor 1", () => {
    const minor = { ...hello, protocol_minor: 1 }
    expect(Codec.decodeFrame(JSON.stringify(minor))).toEqual({ messages: [minor], problems: [] })
    expect(Codec.decodeFrame(packr.pack(minor))).toEqual({ messages: [minor], problems: [] })
    const refused = { type: "error", id: null, code: "invalid_message", message: "id must be a string" }
    expect(Codec.decodeFrame(JSON.stringify(refused))).toEqual({ messages: [refused], problems: [] })
  })

  it("decodes a coalesced frame in order, in both encodings", () => {
    const frame = [appended(2), delta(3, "working"), snapshot(3)]
    for (const data of [JSON.stringify(frame), packr.pack(frame), new Uint8Array(packr.pack(frame)).buffer]) {
      const decoded = Codec.decodeFrame(data)
      expect(decoded.problems).toEqual([])
      expect(decoded.messages.map((m) => m.type)).toEqual(["message_appended", "session_delta", "session_snapshot"])
      expect(decoded.messages[0]).toEqual(appended(2))
    }
  })

  it("ignores unknown fields", () => {
    const message = appended(2) as Extract<ReturnType<typeof appended>, { type: "message_appended" }>
    const decoded = Codec.decodeFrame(JSON.stringify({ ...message, future_field: 1, message: { ...message.message, x: 2 } }))
    expect(decoded.messages).toEqual([appended(2)])
  })

  it("skips an element of an unknown type and keeps the rest", () => {
    const decoded = Codec.decodeFrame(JSON.stringify([appended(2), { type: "from_the_future", a: 1 }, appended(3)]))
    expect(decoded.messages).toEqual([appended(2), appended(3)])
    expect(decoded.problems).toHaveLength(1)
    expect(decoded.problems[0]).toContain("from_the_future")
  })

  it("reports an unreadable frame instead of throwing", () => {
    const decoded = Codec.decodeFrame("{not json")
    expect(decoded.messages).toEqual([])
    expect(decoded.problems[0]).toContain("unreadable frame")
  })

  it("decodes error codes into the domain's codes", () => {
    const decoded = Codec.decodeFrame(JSON.stringify({ type: "error", id: "c1", code: "not_found", message: "no" }))
    expect(decoded.messages).toEqual([{ type: "error", id: "c1", code: "not_found", message: "no" }])
  })
})

describe("Codec.encode", () => {
  it("leaves out undefined fields, as plain JSON or plain msgpack maps", () => {
    const message = { type: "subscribe_session", id: "c1", session_id: "s", since_revision: undefined } as never
    expect(Codec.encode("json", message)).toBe('{"type":"subscribe_session","id":"c1","session_id":"s"}')
    const packed = Codec.encode("msgpack", message) as Uint8Array
    expect(packr.unpack(packed)).toEqual({ type: "subscribe_session", id: "c1", session_id: "s" })
    // A plain map header (fixmap 0x8X or map16 0xde), not a msgpackr record extension.
    expect((packed[0]! & 0xf0) === 0x80 || packed[0] === 0xde).toBe(true)
  })

  it("names the subprotocols", () => {
    expect(Codec.subprotocol("json")).toBe("orbitdock.v1.json")
    expect(Codec.subprotocol("msgpack")).toBe("orbitdock.v1.msgpack")
  })
})
