/**
 * A notification: a session's attention that started, as queued in the log's outbox (with the
 * events that started it) and as every channel renders it. Pure.
 */
import { AttentionReason, Provider, RequestId, SessionId, type SessionState, Timestamp } from "@orbitdock/domain"
import { Schema } from "effect"
import type { NotificationRow } from "../eventlog/writerProtocol.js"

export const Notification = Schema.Struct({
  id: Schema.String,
  session_id: SessionId,
  revision: Schema.Number,
  reason: AttentionReason,
  since: Timestamp,
  summary: Schema.String,
  request_id: Schema.optional(RequestId),
  title: Schema.optional(Schema.String),
  cwd: Schema.String,
  provider: Provider
})
export type Notification = typeof Notification.Type

/** The notification a step that left the session in this state causes: one per attention started. */
export const startedBy = (
  before: SessionState["attention_detail"],
  after: Pick<SessionState, "id" | "revision" | "attention_detail" | "title" | "cwd" | "provider">
): Notification | null => {
  const attention = after.attention_detail
  if (attention === undefined || attention === null) return null
  if (before !== undefined && before !== null && before.since === attention.since && before.reason === attention.reason) return null
  return {
    id: `${after.id}:${attention.reason}:${attention.since}`,
    session_id: after.id,
    revision: after.revision,
    reason: attention.reason,
    since: attention.since,
    summary: attention.summary,
    ...(attention.request_id === undefined ? {} : { request_id: attention.request_id }),
    ...(after.title === undefined ? {} : { title: after.title }),
    cwd: after.cwd,
    provider: after.provider
  }
}

export const toRow = (notification: Notification, createdAt: string): NotificationRow => [
  notification.id,
  notification.session_id,
  notification.revision,
  createdAt,
  JSON.stringify(notification)
]

const decode = Schema.decodeUnknownEither(Schema.parseJson(Notification))

/** A queued notification read back; null when its payload is not one (written by a newer version). */
export const fromPayload = (payload: string): Notification | null => {
  const decoded = decode(payload)
  return decoded._tag === "Right" ? decoded.right : null
}

const headlines: Record<Notification["reason"], string> = {
  approval: "needs your approval",
  question: "has a question",
  turn_finished: "is waiting for you",
  error: "hit an error",
  stalled: "has gone quiet"
}

/** What a person reads first: which session and why. */
export const headline = (n: Notification): string => `${n.title ?? n.cwd} ${headlines[n.reason]}`
