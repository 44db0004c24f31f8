/**
 * Client frame validation: from an untyped decoded value to a `ClientMessage` (with the domain
 * schemas), or to the `error` the client gets (PROTOCOL.md "Envelope" and "Messages and acks").
 * Does not decode bytes (see `FrameCodec.ts`) nor act on messages (see `Socket.ts`).
 */
import { ClientMessage, type ErrorCode } from "@orbitdock/domain"
import { Either, ParseResult, Schema } from "effect"

/** Why a frame was refused; `id` is present when one could be read (echoed as given). */
export interface Rejection {
  readonly code: ErrorCode
  readonly message: string
  readonly hasId: boolean
  readonly id?: unknown
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

const reject = (code: ErrorCode, message: string, hasId: boolean, id?: unknown): Inbound =>
  hasId ? { ok: false, code, message, hasId, id } : { ok: false, code, message, hasId }

/** Validates one decoded client frame. */
export const validate = (value: unknown): Inbound => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return reject("invalid_message", "a client frame must hold one message object", false)
  }
  const record = value as Record<string, unknown>
  const hasId = Object.prototype.hasOwnProperty.call(record, "id") && record.id !== undefined
  const id = record.id
  if (hasId && typeof id !== "string") return reject("invalid_message", "id must be a string", true, id)
  const type = record.type
  if (typeof type !== "string") return reject("invalid_message", "type must be a string", hasId, id)
  const decode = decoders.get(type)
  if (decode === undefined) return reject("unknown_type", `unknown message type "${type}"`, hasId, id)
  const decoded = decode(value)
  if (Either.isLeft(decoded)) return reject("invalid_message", `${type}: ${formatParseError(decoded.left)}`, hasId, id)
  return { ok: true, message: decoded.right }
}
