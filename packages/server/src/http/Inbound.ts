/**
 * Client frame validation: from an untyped decoded value to a `ClientMessage` (with the domain
 * schemas), or to the `error` the client gets (PROTOCOL.md "Envelope" and "Messages and acks").
 * Does not decode bytes (see `FrameCodec.ts`) nor act on messages (see `Socket.ts`).
 */
import { ClientMessage, type ErrorCode, MAX_ID_LENGTH } from "@orbitdock/domain"
import { Either, ParseResult, Schema } from "effect"

/**
 * Why a frame was refused. `hasId`: the reply carries `id`, the message's own when it is a valid id,
 * `null` when the message had one that is not (never echoed: it could be anything, e.g. too deep or
 * too large to encode again).
 */
export interface Rejection {
  readonly code: ErrorCode
  readonly message: string
  readonly hasId: boolean
  readonly id?: string | null
}

export type Inbound = { readonly ok: true; readonly message: ClientMessage } | ({ readonly ok: false } & Rejection)

type Member = (typeof ClientMessage.members)[number]

// One compiled decoder per message type: the union would try every member and report them all.
const decoders = new Map<string, (u: unknown) => Either.Either<ClientMessage, ParseResult.ParseError>>(
  ClientMessage.members.map((member: Member) => [
    member.fields.type.literals[0],
    Schema.decodeUnknownEither(member as Schema.Schema<ClientMessage, unknown>, {
      errors: "all",
      onExcessProperty: "ignore"
    })
  ])
)

/** A short, readable reason: `session_id: is missing; since_revision: Expected an integer…`. */
export const formatParseError = (error: ParseResult.ParseError): string =>
  ParseResult.ArrayFormatter.formatErrorSync(error)
    .map((issue) => (issue.path.length > 0 ? `${issue.path.join(".")}: ${issue.message}` : issue.message))
    .join("; ")

// Reasons quote what the client sent; a reply stays small whatever that was.
const MAX_REASON_LENGTH = 500
const shorten = (text: string): string => (text.length > MAX_REASON_LENGTH ? `${text.slice(0, MAX_REASON_LENGTH)}…` : text)

const reject = (code: ErrorCode, reason: string, hasId: boolean, id?: string | null): Inbound => {
  const message = shorten(reason)
  return hasId ? { ok: false, code, message, hasId, id: id ?? null } : { ok: false, code, message, hasId }
}

/** Validates one decoded client frame. */
export const validate = (value: unknown): Inbound => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return reject("invalid_message", "a client frame must hold one message object", false)
  }
  const record = value as Record<string, unknown>
  const hasId = Object.prototype.hasOwnProperty.call(record, "id") && record.id !== undefined
  const raw = record.id
  if (hasId && (typeof raw !== "string" || raw.length > MAX_ID_LENGTH)) {
    return reject("invalid_message", `id must be a string of at most ${MAX_ID_LENGTH} characters`, true, null)
  }
  const id = hasId ? (raw as string) : undefined
  const type = record.type
  if (typeof type !== "string") return reject("invalid_message", "type must be a string", hasId, id)
  const decode = decoders.get(type)
  if (decode === undefined) return reject("unknown_type", `unknown message type "${type}"`, hasId, id)
  const decoded = decode(value)
  if (Either.isLeft(decoded)) return reject("invalid_message", `${type}: ${formatParseError(decoded.left)}`, hasId, id)
  return { ok: true, message: decoded.right }
}
