/**
 * Identifiers. They are opaque strings on the wire; the brands keep a session id from being passed
 * where a request id is expected.
 */
import { Schema } from "effect"

/** A session's id, chosen by the server (or the agent's own id for watched sessions). */
export const SessionId = Schema.String.pipe(Schema.minLength(1), Schema.brand("SessionId"))
export type SessionId = typeof SessionId.Type

/** A message's id, unique within its session. */
export const MessageId = Schema.String.pipe(Schema.minLength(1), Schema.brand("MessageId"))
export type MessageId = typeof MessageId.Type

/** An approval's or question's id, unique within its session. */
export const RequestId = Schema.String.pipe(Schema.minLength(1), Schema.brand("RequestId"))
export type RequestId = typeof RequestId.Type

/** The id a process start gets; clients compare it to detect a restart. */
export const ServerId = Schema.String.pipe(Schema.minLength(1), Schema.brand("ServerId"))
export type ServerId = typeof ServerId.Type
