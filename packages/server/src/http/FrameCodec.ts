/**
 * WebSocket frame encoding for the two subprotocols (`orbitdock.v1.json`, `orbitdock.v1.msgpack`).
 * Owns: turning one or several server messages into one frame, cheaply (each message is encoded at
 * most once per encoding, however many clients it goes to), and turning a client frame into an
 * untyped value. Does not validate client messages (see `Inbound.ts`).
 */
import { JSON_SUBPROTOCOL, MSGPACK_SUBPROTOCOL, type ServerMessage } from "@orbitdock/domain"
import { Packr, Unpackr } from "msgpackr"

export type Subprotocol = typeof JSON_SUBPROTOCOL | typeof MSGPACK_SUBPROTOCOL

/** A decoded frame, or why it could not be decoded. */
export type Decoded = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly reason: string }

export interface FrameCodec {
  readonly subprotocol: Subprotocol
  /** Whether frames go out as binary WebSocket frames. */
  readonly binary: boolean
  /** One message as a frame of its own. */
  readonly encodeOne: (message: ServerMessage) => string | Buffer
  /** Several messages (2..256) as one array frame, in order. */
  readonly encodeMany: (messages: ReadonlyArray<ServerMessage>, from: number, to: number) => string | Buffer
  readonly decode: (data: Buffer, isBinary: boolean) => Decoded
}

// Messages are immutable once published and fanned out to many clients: the encoding is cached
// per message object, so a delta going to 100 JSON clients is stringified once.
const jsonCache = new WeakMap<object, string>()
const packCache = new WeakMap<object, Buffer>()

const jsonOf = (message: ServerMessage): string => {
  let text = jsonCache.get(message)
  if (text === undefined) {
    text = JSON.stringify(message)
    jsonCache.set(message, text)
  }
  return text
}

const errorReason = (error: unknown): string => (error instanceof Error ? error.message : String(error))

export const json: FrameCodec = {
  subprotocol: JSON_SUBPROTOCOL,
  binary: false,
  encodeOne: jsonOf,
  encodeMany: (messages, from, to) => {
    let text = "[" + jsonOf(messages[from])
    for (let i = from + 1; i < to; i++) text += "," + jsonOf(messages[i])
    return text + "]"
  },
  decode: (data) => {
    try {
      return { ok: true, value: JSON.parse(data.toString("utf8")) }
    } catch (error) {
      return { ok: false, reason: `not valid JSON: ${errorReason(error)}` }
    }
  }
}

// Plain maps with string keys, no records, no extension types: any MessagePack library reads them.
const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false })
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number" })

const packOf = (message: ServerMessage): Buffer => {
  let bytes = packCache.get(message)
  if (bytes === undefined) {
    // `pack` reuses its internal buffer: copy out what we keep.
    bytes = Buffer.from(packr.pack(message))
    packCache.set(message, bytes)
  }
  return bytes
}

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
  encodeMany: (messages, from, to) => {
    const parts: Array<Buffer> = [arrayHeader(to - from)]
    for (let i = from; i < to; i++) parts.push(packOf(messages[i]))
    return Buffer.concat(parts)
  },
  decode: (data) => {
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
