/**
 * The fold of a session's domain events: `(projection, event) → [projection, message]`, where the
 * message is the one protocol message that carries this revision to subscribers. The same function
 * serves the live actor, replay at startup, `?at_revision=N` and tests. Pure and deterministic: time
 * and revision arrive on the event.
 */
import type {
  ApprovalRequest,
  AttentionDetail,
  DomainEvent,
  Question,
  SessionChanges,
  SessionId,
  SessionMessage,
  SessionState,
  StoredEvent
} from "@orbitdock/domain"
import * as Attention from "./Attention.js"
import { transient } from "./internal/transientLists.js"
import { applyMessage, type ListOps, persistent } from "./SessionMirror.js"

/** Which kind of request an id was issued as. */
export type RequestKind = "approval" | "question"

export interface SessionProjection {
  /** What clients see. */
  readonly state: SessionState
  /** Pending approvals in arrival order; the first is `state.pending_approval`. */
  readonly approvals: ReadonlyArray<ApprovalRequest>
  /** Pending questions in arrival order; the first is `state.pending_question`. */
  readonly questions: ReadonlyArray<Question>
  /** Every request id the session ever issued, to tell `conflict` (resolved) from `not_found`. */
  readonly issued: Readonly<Record<string, RequestKind>>
  /** What the turn left for the person (finished, failed, stalled), shown when no request is pending. */
  readonly turnAttention: AttentionDetail | null
}

/** The projection before revision 1 (only `session_created` gives it meaning). */
export const empty = (sessionId: SessionId): SessionProjection => ({
  state: {
    id: sessionId,
    provider: "sim",
    status: "starting",
    cwd: "",
    created_at: "",
    last_activity_at: "",
    message_count: 0,
    attention: false,
    attention_detail: null,
    token_usage: { input: 0, output: 0, cached_input: 0, total: 0 },
    revision: 0,
    messages: [],
    pending_approval: null,
    pending_question: null
  },
  approvals: [],
  questions: [],
  issued: {},
  turnAttention: null
})

const deltaOf = (stored: StoredEvent, changes: SessionChanges): SessionMessage => ({
  type: "session_delta",
  session_id: stored.session_id,
  revision: stored.revision,
  occurred_at: stored.occurred_at,
  changes
})

/**
 * The protocol message an event becomes, given the queues and the attention after the event. A
 * `session_delta` carries `attention_detail` when it changed; the other messages change it the way
 * `SessionMirror` derives (a new first request, a sign of life ending a stall, the end).
 */
const toMessage = (
  p: SessionProjection,
  stored: StoredEvent,
  approvals: ReadonlyArray<ApprovalRequest>,
  questions: ReadonlyArray<Question>,
  attention: AttentionDetail | null
): SessionMessage => {
  const event: DomainEvent = stored.event
  const envelope = { session_id: stored.session_id, revision: stored.revision, occurred_at: stored.occurred_at }
  const delta = (stored: StoredEvent, changes: SessionChanges): SessionMessage =>
    attention === (p.state.attention_detail ?? null)
      ? deltaOf(stored, changes)
      : deltaOf(stored, { ...changes, attention_detail: attention })
  switch (event.type) {
    case "session_created": {
      const { type: _t, approval_policy: _a, sandbox: _s, ...fields } = event
      return {
        type: "session_created",
        ...envelope,
        session: {
          ...fields,
          id: stored.session_id,
          created_at: stored.occurred_at,
          last_activity_at: stored.occurred_at,
          message_count: 0,
          attention: false,
          attention_detail: null,
          token_usage: { input: 0, output: 0, cached_input: 0, total: 0 },
          revision: stored.revision
        }
      }
    }
    case "session_info_changed": {
      const { type: _t, ...changes } = event
      return delta(stored, changes)
    }
    case "status_changed":
      return delta(stored, { status: event.status })
    case "turn_started":
      return delta(stored, { status: "working" })
    case "turn_completed":
    case "turn_aborted":
      return delta(stored, { status: "waiting" })
    case "message_appended":
      return { type: "message_appended", ...envelope, message: event.message }
    case "message_updated":
      return { type: "message_updated", ...envelope, message_id: event.message_id, changes: event.changes }
    case "approval_requested":
      return { type: "approval_requested", ...envelope, request: event.request }
    case "question_asked":
      return { type: "question_asked", ...envelope, request: event.request }
    case "approval_resolved":
      return delta(stored, {
        pending_approval: approvals[0] ?? null,
        attention: approvals.length > 0 || p.state.pending_question !== null
      })
    case "question_resolved":
      return delta(stored, {
        pending_question: questions[0] ?? null,
        attention: questions.length > 0 || p.state.pending_approval !== null
      })
    case "tokens_updated":
      return { type: "tokens_updated", ...envelope, usage: event.usage }
    case "diff_updated":
      return delta(stored, { diff: event.diff })
    case "plan_updated":
      return delta(stored, { plan: event.plan })
    case "session_ended":
      return { type: "session_ended", ...envelope, reason: event.reason, ended_at: stored.occurred_at }
    case "session_reopened":
      return delta(stored, { status: "waiting", ended_at: null })
    case "session_stalled":
    case "attention_marked":
      return delta(stored, {})
  }
}

const queues = (
  p: SessionProjection,
  event: DomainEvent
): Pick<SessionProjection, "approvals" | "questions" | "issued"> => {
  switch (event.type) {
    case "approval_requested":
      return {
        approvals: [...p.approvals, event.request],
        questions: p.questions,
        issued: { ...p.issued, [event.request.id]: "approval" }
      }
    case "question_asked":
      return {
        approvals: p.approvals,
        questions: [...p.questions, event.request],
        issued: { ...p.issued, [event.request.id]: "question" }
      }
    case "approval_resolved":
      return { approvals: p.approvals.filter((r) => r.id !== event.request_id), questions: p.questions, issued: p.issued }
    case "question_resolved":
      return { approvals: p.approvals, questions: p.questions.filter((r) => r.id !== event.request_id), issued: p.issued }
    case "session_ended":
      return { approvals: [], questions: [], issued: p.issued }
    default:
      return p
  }
}

/**
 * Folds one stored event. An event at or below the current revision is a redelivery: the projection
 * is returned unchanged with no message.
 */
export const evolve = (
  p: SessionProjection,
  stored: StoredEvent
): readonly [SessionProjection, SessionMessage | null] => evolveWith(p, stored, persistent)

/** `evolve` with a choice of list operations (the in-place ones: `inPlace.ts`). */
export const evolveWith = (
  p: SessionProjection,
  stored: StoredEvent,
  ops: ListOps
): readonly [SessionProjection, SessionMessage | null] => {
  if (stored.revision <= p.state.revision) return [p, null]
  const event = stored.event
  const next = queues(p, event)
  const turnAttention = Attention.nextTurnAttention(
    p.turnAttention,
    event,
    stored.occurred_at,
    p.state.messages,
    p.state.status
  )
  let current = p.state.attention_detail ?? null
  if (event.type === "attention_marked" && current !== null && current.since === event.since) {
    current = Attention.mark(current, event)
  }
  const attention = Attention.effective(current, next.approvals, next.questions, turnAttention)
  const message = toMessage(p, stored, next.approvals, next.questions, attention)
  return [{ ...next, turnAttention, state: applyMessage(p.state, message, ops) }, message]
}

/**
 * Folds events in order, discarding the messages. Same result as evolving one by one, in linear
 * time: the fold works on its own copy of the message list, which no intermediate state escapes with.
 */
export const fold = (p: SessionProjection, events: Iterable<StoredEvent>): SessionProjection => {
  let current: SessionProjection = { ...p, state: { ...p.state, messages: p.state.messages.slice() } }
  for (const stored of events) current = evolveWith(current, stored, transient)[0]
  return current
}

/** The state after folding `events` from nothing. */
export const replay = (sessionId: SessionId, events: Iterable<StoredEvent>): SessionProjection =>
  fold(empty(sessionId), events)

/** Whether a request id is pending, resolved, or was never issued. */
export const requestStatus = (
  p: SessionProjection,
  requestId: string,
  kind: RequestKind
): "pending" | "resolved" | "other_kind" | "unknown" => {
  const issued = p.issued[requestId]
  if (issued === undefined) return "unknown"
  if (issued !== kind) return "other_kind"
  const pending = kind === "approval" ? p.approvals : p.questions
  return pending.some((r) => r.id === requestId) ? "pending" : "resolved"
}
