/**
 * Frame codecs and client message validation, without sockets: what a client frame turns into
 * (a message, or the error the client gets) and what server frames look like on the wire.
 */
import { type ServerMessage } from "@orbitdock/domain"
import { Unpackr, Packr } from "msgpackr"
import { describe, expect, it } from "vitest"
import * as FrameCodec from "../../src/http/FrameCodec.js"
import { validate } from "../../src/http/Inbound.js"

const delta = (revision: number): ServerMessage => ({
  type: "session_delta",
  session_id: "s1" as never,
  revision,
  changes: { status: "working" }
})

describe("FrameCodec", () => {
  it("JSON: one message alone, several as an array, each encoded once and reused", () => {
    const messages = [delta(1), delta(2), delta(3)]
    expect(JSON.parse(FrameCodec.json.encodeOne(messages[0]).toString("utf8"))).toEqual(messages[0])
    const frame = FrameCodec.json.encodeMany(messages, 1, 3)
    expect(JSON.parse(frame.toString("utf8"))).toEqual([messages[1], messages[2]])
    // The cache is keyed by the message object: the same object gives the identical bytes.
    expect(FrameCodec.json.encodeOne(messages[1])).toBe(FrameCodec.json.encodeOne(messages[1]))
  })

  it("shares an array frame between clients queuing the same messages, never between different ones", () => {
    const messages = [delta(1), delta(2), delta(3)]
    for (const codec of [FrameCodec.json, FrameCodec.msgpack]) {
      const first = codec.encodeMany(messages, 0, 3)
      // Another client's queue holding the same message objects at other positions.
      expect(codec.encodeMany([delta(9), ...messages], 1, 4)).toBe(first)
      const other = codec.encodeMany([messages[0], messages[1], delta(3)], 0, 3)
      expect(other).not.toBe(first)
      expect(codec.encodeMany(messages, 0, 2)).not.toBe(first)
    }
    expect(JSON.parse(FrameCodec.json.encodeMany(messages, 0, 3).toString("utf8"))).toEqual(messages)
  })

  it("msgpack: plain maps with string keys any decoder reads, arrays with a proper header", () => {
    const plain = new Unpackr({ useRecords: false, mapsAsObjects: true })
    const messages = Array.from({ length: 300 }, (_, i) => delta(i + 1))
    const one = FrameCodec.msgpack.encodeOne(messages[0])
    // A map (fixmap, map16 or map32), not a record extension.
    expect(one[0] >= 0x80 && one[0] <= 0x8f || one[0] === 0xde || one[0] === 0xdf).toBe(true)
    expect(plain.unpack(one)).toEqual(messages[0])
    for (const count of [2, 15, 16, 256]) {
      const frame = FrameCodec.msgpack.encodeMany(messages, 0, count)
      expect(plain.unpack(frame)).toEqual(messages.slice(0, count))
    }
  })

  it("decodes client frames and reports bad bytes", () => {
    expect(FrameCodec.json.decode(Buffer.from('{"type":"subscribe_list"}'), false)).toEqual({ ok: true, value: { type: "subscribe_list" } })
    const badJson = FrameCodec.json.decode(Buffer.from("{nope"), false)
    expect(badJson.ok).toBe(false)
    const packed = new Packr({ useRecords: false }).pack({ type: "subscribe_list", id: "x" })
    expect(FrameCodec.msgpack.decode(Buffer.from(packed), true)).toEqual({ ok: true, value: { type: "subscribe_list", id: "x" } })
    expect(FrameCodec.msgpack.decode(Buffer.from([0x82, 0xa1, 0x61]), true).ok).toBe(false) // truncated
    expect(FrameCodec.msgpack.decode(Buffer.from([0x81, 0xa1, 0x61, 0x01, 0x02]), true).ok).toBe(false) // trailing bytes
    expect(FrameCodec.msgpack.decode(Buffer.from([0xd4, 0x01, 0x00]), true).ok).toBe(false) // extension type
  })

  it("negotiates the subprotocol: JSON by default, the client's first known choice otherwise", () => {
    expect(FrameCodec.negotiate([])).toBe("orbitdock.v1.json")
    expect(FrameCodec.negotiate(["orbitdock.v1.msgpack", "orbitdock.v1.json"])).toBe("orbitdock.v1.msgpack")
    expect(FrameCodec.negotiate(["x", "orbitdock.v1.json"])).toBe("orbitdock.v1.json")
    expect(FrameCodec.negotiate(["x"])).toBeUndefined()
  })
})

describe("validate", () => {
  it("accepts every client message type, ignoring unknown fields", () => {
    const valid = [
      { type: "subscribe_list" },
      { type: "unsubscribe_list", id: "1" },
      { type: "subscribe_session", session_id: "s", since_revision: 3 },
      { type: "unsubscribe_session", session_id: "s" },
      { type: "create_session", provider: "sim", cwd: "/", approval_policy: "never", sandbox: "read-only", extra: 1 },
      { type: "send_message", session_id: "s", content: "hi" },
      { type: "approve_tool", session_id: "s", request_id: "r", approved: true, scope: "session" },
      { type: "answer_question", session_id: "s", request_id: "r", answer: "a" },
      { type: "interrupt_session", session_id: "s" },
      { type: "end_session", session_id: "s" }
    ]
    for (const message of valid) {
      const result = validate(message)
      expect(result.ok, JSON.stringify(message)).toBe(true)
    }
  })

  it("refuses with the protocol's codes, echoing the id as given", () => {
    expect(validate([1, 2])).toMatchObject({ ok: false, code: "invalid_message", hasId: false })
    expect(validate("x")).toMatchObject({ ok: false, code: "invalid_message", hasId: false })
    expect(validate(null)).toMatchObject({ ok: false, code: "invalid_message", hasId: false })
    expect(validate({ type: "subscribe_list", id: 7 })).toMatchObject({ ok: false, code: "invalid_message", hasId: true, id: 7 })
    expect(validate({ type: "subscribe_list", id: { a: 1 } })).toMatchObject({ hasId: true, id: { a: 1 } })
    expect(validate({ type: "fly", id: "a" })).toMatchObject({ ok: false, code: "unknown_type", id: "a" })
    expect(validate({ id: "a" })).toMatchObject({ ok: false, code: "invalid_message", id: "a" })
    const missing = validate({ type: "send_message", id: "b", session_id: "s" })
    expect(missing).toMatchObject({ ok: false, code: "invalid_message", id: "b" })
    expect(!missing.ok && missing.message).toMatch(/content/)
    const wrong = validate({ type: "create_session", provider: "gpt", cwd: "/" })
    expect(!wrong.ok && wrong.message).toMatch(/provider/)
    expect(validate({ type: "subscribe_session", session_id: "s", since_revision: 1.5 })).toMatchObject({ ok: false, code: "invalid_message" })
  })
})
