/**
 * Frame codecs and client message validation, without sockets: what a client frame turns into
 * (a message, or the error the client gets) and what server frames look like on the wire.
 */
import { MAX_ID_LENGTH, MAX_NESTING, type ServerMessage } from "@orbitdock/domain"
import * as fc from "fast-check"
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

  it("refuses what is not plain JSON data, before decoding MessagePack", () => {
    const refused = (bytes: Buffer | Uint8Array) => {
      const decoded = FrameCodec.msgpack.decode(Buffer.from(bytes), true)
      expect(decoded.ok).toBe(false)
      return decoded.ok ? "" : decoded.reason
    }
    const big = new Packr({ useRecords: false, useBigIntExtension: true })
    // The frame that ended the server: a BigInt id, too large to pack again in the reply.
    expect(refused(big.pack({ type: "subscribe_list", id: 2n ** 100n }))).toMatch(/extension/)
    expect(refused(new Packr({ useRecords: false }).pack({ type: "subscribe_list", id: new Date(0) }))).toMatch(/extension/)
    expect(refused(new Packr({ useRecords: false, moreTypes: true }).pack({ type: "x", id: new Set([1]) }))).toMatch(/extension/)
    expect(refused(new Packr({ useRecords: true }).pack({ type: "subscribe_list" }))).toMatch(/extension/) // a record
    expect(refused(new Packr({ useRecords: false }).pack({ type: "x", id: Buffer.from([1, 2]) }))).toMatch(/binary/)
    expect(refused(Buffer.from([0x81, 0xa1, 0x61, 0xcb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0]))).toMatch(/finite/) // Infinity
    expect(refused(Buffer.from([0x81, 0xca, 0x3f, 0x80, 0, 0, 0xc0]))).toMatch(/keys/) // {1.0: nil}
    expect(refused(Buffer.from([0x81, 0x01, 0xc0]))).toMatch(/keys/)
    expect(refused(Buffer.from([0xc1]))).toMatch(/0xc1/)
    expect(refused(Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0]))).toMatch(/truncated/) // claims 4 billion elements
    // Nesting: at the limit accepted, one more refused, a megabyte of it refused as cheaply.
    const nested = (depth: number) => Buffer.concat([Buffer.alloc(depth, 0x91), Buffer.from([0xc0])])
    expect(FrameCodec.msgpack.decode(nested(MAX_NESTING), true).ok).toBe(true)
    expect(refused(nested(MAX_NESTING + 1))).toMatch(/nested/)
    expect(refused(nested(1024 * 1024))).toMatch(/nested/)
    // Every JSON type, in every width, still decodes.
    const all = {
      type: "x",
      values: [null, true, false, 0, -1, 127, -32, 255, 65535, 2 ** 32, -(2 ** 40), 1.5, "", "é".repeat(40), "a".repeat(300), "b".repeat(70000)],
      big: Array.from({ length: 70000 }, (_, i) => i),
      map: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, { n: i }]))
    }
    expect(FrameCodec.msgpack.decode(Buffer.from(new Packr({ useRecords: false }).pack(all)), true)).toEqual({ ok: true, value: all })
  })

  it("refuses JSON nested too deeply or holding numbers JSON cannot carry", () => {
    const deep = (depth: number) => Buffer.from(`{"type":"subscribe_list","id":${"[".repeat(depth)}${"]".repeat(depth)}}`)
    // The frame that ended the server (echoing that id overflowed the encoder's stack).
    expect(FrameCodec.json.decode(deep(100_000), false)).toMatchObject({ ok: false, reason: expect.stringMatching(/nested/) })
    expect(FrameCodec.json.decode(deep(MAX_NESTING - 1), false).ok).toBe(true)
    expect(FrameCodec.json.decode(deep(MAX_NESTING), false).ok).toBe(false)
    expect(FrameCodec.json.decode(Buffer.from('{"type":"x","n":1e999}'), false)).toMatchObject({ ok: false, reason: expect.stringMatching(/finite/) })
  })

  it("accepts any JSON value within the nesting limit, in both encodings; never throws on any bytes", () => {
    const packr = new Packr({ useRecords: false })
    fc.assert(
      fc.property(fc.jsonValue({ depthSize: "medium" }), (value) => {
        const message = { type: "x", value }
        for (const bytes of [Buffer.from(JSON.stringify(message)), Buffer.from(packr.pack(message))]) {
          const decoded = (bytes[0] === 0x7b ? FrameCodec.json : FrameCodec.msgpack).decode(bytes, bytes[0] !== 0x7b)
          expect(decoded.ok && JSON.stringify(decoded.value)).toBe(JSON.stringify(message))
        }
      }),
      { seed: 14, numRuns: 300 }
    )
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        FrameCodec.msgpack.decode(Buffer.from(bytes), true)
        FrameCodec.json.decode(Buffer.from(bytes), false)
      }),
      { seed: 14, numRuns: 2000 }
    )
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

  it("refuses with the protocol's codes, echoing a valid id, null for any other", () => {
    expect(validate([1, 2])).toMatchObject({ ok: false, code: "invalid_message", hasId: false })
    expect(validate("x")).toMatchObject({ ok: false, code: "invalid_message", hasId: false })
    expect(validate(null)).toMatchObject({ ok: false, code: "invalid_message", hasId: false })
    expect(validate({ type: "subscribe_list", id: 7 })).toMatchObject({ ok: false, code: "invalid_message", hasId: true, id: null })
    expect(validate({ type: "subscribe_list", id: { a: 1 } })).toMatchObject({ hasId: true, id: null })
    expect(validate({ type: "subscribe_list", id: null })).toMatchObject({ hasId: true, id: null })
    expect(validate({ type: "subscribe_list", id: "i".repeat(MAX_ID_LENGTH) })).toMatchObject({ ok: true })
    expect(validate({ type: "subscribe_list", id: "i".repeat(MAX_ID_LENGTH + 1) })).toMatchObject({ ok: false, code: "invalid_message", hasId: true, id: null })
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
