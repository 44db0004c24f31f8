/**
 * The two wire encodings (`orbitdock.v1.json`, `orbitdock.v1.msgpack`) and the decoding of server
 * frames with the domain schemas. Unknown fields are dropped by the schemas; a frame element whose
 * type this client does not know is skipped and reported, never fatal (the protocol grows).
 * Does not own what the messages mean.
 */
import { JSON_SUBPROTOCOL, MSGPACK_SUBPROTOCOL, ServerFrame, ServerMessage } from "@orbitdock/domain"
import type { ClientMessage } from "@orbitdock/domain"
import { Either, ParseResult, Schema } from "effect"
import { Packr } from "msgpackr"

/** `json` (text frames) or `msgpack` (binary frames). */
export type Encoding = "json" | "msgpack"

export const subprotocol = (encoding: Encoding): string =>
  encoding === "json" ? JSON_SUBPROTOCOL : MSGPACK_SUBPROTOCOL

// Plain maps with string keys and no extension types, so any MessagePack library can read them.
const packr = new Packr({ useRecords: false, mapsAsObjects: true })

/** A client message as it is sent; `undefined` fields are left out (msgpack has no `undefined`). */
export const encode = (encoding: Encoding, message: ClientMessage): string | Uint8Array => {
  const clean = stripUndefined(message)
  return encoding === "json" ? JSON.stringify(clean) : packr.pack(clean)
}

/** The result of decoding one frame. */
export interface Decoded {
  readonly messages: ReadonlyArray<ServerMessage>
  /** Descriptions of what could not be decoded (skipped elements, unreadable frames). */
  readonly problems: ReadonlyArray<string>
}

const decodeFrameFast = Schema.decodeUnknownEither(ServerFrame)
const decodeMessage = Schema.decodeUnknownEither(ServerMessage)

/** Decodes a frame of either encoding (text is JSON, binary is MessagePack) into messages, in order. */
export const decodeFrame = (data: unknown): Decoded => {
  let raw: unknown
  try {
    raw = typeof data === "string" ? JSON.parse(data) : packr.unpack(toBytes(data))
  } catch (cause) {
    return { messages: [], problems: [`unreadable frame: ${String(cause)}`] }
  }
  const whole = decodeFrameFast(raw)
  if (Either.isRight(whole)) {
    const frame = whole.right
    return { messages: Array.isArray(frame) ? frame : [frame as ServerMessage], problems: [] }
  }
  // Some element is not a message this client knows: keep the others, in order.
  const elements: ReadonlyArray<unknown> = Array.isArray(raw) ? raw : [raw]
  const messages: Array<ServerMessage> = []
  const problems: Array<string> = []
  for (const element of elements) {
    const one = decodeMessage(element)
    if (Either.isRight(one)) messages.push(one.right)
    else problems.push(`skipped ${describe(element)}: ${ParseResult.TreeFormatter.formatErrorSync(one.left)}`)
  }
  return { messages, problems }
}

const describe = (element: unknown): string =>
  typeof element === "object" && element !== null && "type" in element
    ? `message of type ${JSON.stringify((element as { type: unknown }).type)}`
    : "a non-message element"

const toBytes = (data: unknown): Uint8Array => {
  if (data instanceof Uint8Array) return data
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  // `ws` may hand over fragments as an array of Buffers.
  if (Array.isArray(data)) {
    const parts = data.map(toBytes)
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
    let offset = 0
    for (const p of parts) {
      out.set(p, offset)
      offset += p.length
    }
    return out
  }
  throw new TypeError(`not a binary frame: ${typeof data}`)
}

const stripUndefined = (message: object): object => {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(message)) if (value !== undefined) out[key] = value
  return out
}
