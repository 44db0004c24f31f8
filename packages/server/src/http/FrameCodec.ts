/**
 * WebSocket frame encoding for the two subprotocols (`orbitdock.v1.json`, `orbitdock.v1.msgpack`).
 * Owns: turning one or several server messages into one frame, cheaply (each message is encoded at
 * most once per encoding, however many clients it goes to), and turning a client frame into an
 * untyped value that is plain JSON data (`internal/plainData.ts`: no extension types, no non-finite
 * numbers, nesting at most `MAX_NESTING`). Does not validate client messages (see `Inbound.ts`).
 */
import { JSON_SUBPROTOCOL, MAX_NESTING, MSGPACK_SUBPROTOCOL, type ServerMessage } from "@orbitdock/domain"
import { Packr, Unpackr } from "msgpackr"
import * as PlainData from "../internal/plainData.js"
import { jsonChunksOf } from "../eventlog/assembledState.js"

export type Subprotocol = typeof JSON_SUBPROTOCOL | typeof MSGPACK_SUBPROTOCOL

/** A decoded frame, or why it could not be decoded. */
export type Decoded = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly reason: string }

export interface FrameCodec {
  readonly subprotocol: Subprotocol
  /** Whether frames go out as binary WebSocket frames. */
  readonly binary: boolean
  /** One message as a frame of its own (JSON frames too are bytes: UTF-8, sent as text frames). */
  readonly encodeOne: (message: ServerMessage) => Buffer
  /** Several messages (2..256) as one array frame, in order. */
  readonly encodeMany: (messages: ReadonlyArray<ServerMessage>, from: number, to: number) => Buffer
  readonly decode: (data: Buffer, isBinary: boolean) => Decoded
}

/**
 * Messages are immutable once published and fanned out to many clients, so each is encoded once
 * per encoding and cached on the message object. JSON is cached as UTF-8 bytes rather than a
 * string: `ws` would otherwise encode the string again for every client it is sent to, and bytes
 * live outside the JS heap, so the garbage collector does not copy them around either.
 *
 * The cache is a symbol-keyed property (not enumerable: neither encoding sees it), not a
 * `WeakMap`: a WeakMap's table lives in V8's old generation, and what it holds for short-lived
 * keys then survives young-generation collections (measured on whole session states, see
 * `eventlog/assembledState.ts`; for frames, ~7 % of what survived under the UI-path load).
 */
const cached = (encode: (message: ServerMessage) => Buffer, name: string) => {
  const key = Symbol(name)
  return (message: ServerMessage): Buffer => {
    let bytes = (message as { [key]?: Buffer })[key]
    if (bytes === undefined) {
      bytes = encode(message)
      if (Object.isExtensible(message)) Object.defineProperty(message, key, { value: bytes })
    }
    return bytes
  }
}

/**
 * The last array frame built, by the identity of the messages in it. Every list subscriber gets
 * the same coalesced list updates in the same turn, in the same order: they share one frame
 * instead of each concatenating (and the kernel copying from) its own.
 */
const sharedArrayFrames = (build: (messages: ReadonlyArray<ServerMessage>, from: number, to: number) => Buffer) => {
  let last: Array<ServerMessage> = []
  let lastFrame: Buffer | undefined
  return (messages: ReadonlyArray<ServerMessage>, from: number, to: number): Buffer => {
    if (lastFrame !== undefined && last.length === to - from) {
      let same = true
      for (let i = from; i < to && same; i++) same = messages[i] === last[i - from]
      if (same) return lastFrame
    }
    last = messages.slice(from, to)
    lastFrame = build(messages, from, to)
    return lastFrame
  }
}

const errorReason = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/** A snapshot whose session's JSON is at hand (assembled from message pages) is spliced, not re-encoded. */
const jsonBytes = (message: ServerMessage): Buffer => {
  const session = message.type === "session_snapshot" ? jsonChunksOf(message.session) : undefined
  if (session === undefined) return Buffer.from(JSON.stringify(message))
  const { session: _s, ...envelope } = message as Extract<ServerMessage, { type: "session_snapshot" }>
  return Buffer.from(`${JSON.stringify(envelope).slice(0, -1)},"session":${session.join("")}}`)
}

const jsonOf = cached(jsonBytes, "orbitdock.jsonFrame")
const OPEN = Buffer.from("[")
const COMMA = Buffer.from(",")
const CLOSE = Buffer.from("]")

export const json: FrameCodec = {
  subprotocol: JSON_SUBPROTOCOL,
  binary: false,
  encodeOne: jsonOf,
  encodeMany: sharedArrayFrames((messages, from, to) => {
    const parts: Array<Buffer> = [OPEN, jsonOf(messages[from])]
    for (let i = from + 1; i < to; i++) parts.push(COMMA, jsonOf(messages[i]))
    parts.push(CLOSE)
    return Buffer.concat(parts)
  }),
  decode: (data) => decodeJson(data)
}

/** JSON bytes (a client frame, an HTTP body) as plain data. */
export const decodeJson = (data: Buffer): Decoded => {
  let value: unknown
  try {
    value = JSON.parse(data.toString("utf8"))
  } catch (error) {
    // Includes a RangeError from input nested deep enough to exhaust the parser's stack.
    return { ok: false, reason: `not valid JSON: ${errorReason(error)}` }
  }
  const refused = PlainData.checkJson(value, MAX_NESTING)
  return refused === undefined ? { ok: true, value } : { ok: false, reason: `not accepted: ${refused}` }
}

// Plain maps with string keys, no records, no extension types: any MessagePack library reads them.
const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false })
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number" })

// `pack` reuses its internal buffer: copy out what we keep.
const packOf = cached((message) => Buffer.from(packr.pack(message)), "orbitdock.msgpackFrame")

/** The MessagePack array header for `n` elements. */
const arrayHeader = (n: number): Buffer => {
  if (n < 16) return Buffer.from([0x90 | n])
  if (n < 0x10000) return Buffer.from([0xdc, n >> 8, n & 0xff])
  const header = Buffer.alloc(5)
  header[0] = 0xdd
  header.writeUInt32BE(n, 1)
  return header
}

export const msgpack: FrameCodec = {
  subprotocol: MSGPACK_SUBPROTOCOL,
  binary: true,
  encodeOne: packOf,
  encodeMany: sharedArrayFrames((messages, from, to) => {
    const parts: Array<Buffer> = [arrayHeader(to - from)]
    for (let i = from; i < to; i++) parts.push(packOf(messages[i]))
    return Buffer.concat(parts)
  }),
  decode: (data) => {
    // Checked first: the decoder would build BigInts, Dates, RegExps… from extension types.
    const refused = PlainData.checkMsgpack(data, MAX_NESTING)
    if (refused !== undefined) return { ok: false, reason: `not accepted: ${refused}` }
    try {
      return { ok: true, value: unpackr.unpack(data) }
    } catch (error) {
      return { ok: false, reason: `not valid MessagePack: ${errorReason(error)}` }
    }
  }
}

/** The codec for a negotiated subprotocol (JSON when the client named none). */
export const forSubprotocol = (subprotocol: string | undefined): FrameCodec =>
  subprotocol === MSGPACK_SUBPROTOCOL ? msgpack : json

/** Picks the subprotocol from the client's offer; `undefined` when it offered only unknown ones. */
export const negotiate = (offered: ReadonlyArray<string>): Subprotocol | undefined => {
  if (offered.length === 0) return JSON_SUBPROTOCOL
  // The client lists its preference first.
  for (const name of offered) if (name === JSON_SUBPROTOCOL || name === MSGPACK_SUBPROTOCOL) return name
  return undefined
}
