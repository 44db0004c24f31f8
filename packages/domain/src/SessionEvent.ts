/**
 * Domain events: what connectors report and the event log stores. Each has a snake_case `type`
 * (the name `GET /api/sessions/:id/events` shows) and its data. The log assigns the envelope
 * (revision, time); connectors never do. Each event, once folded, reaches a session subscriber as
 * exactly one protocol message (see projections/SessionProjection).
 */
import { Schema } from "effect"
import {
  ApprovalPolicy,
  ApprovalRequest,
  Message,
  MessageChanges,
  PlanStep,
  Provider,
  Question,
  SandboxMode,
  SessionStatus,
  Timestamp,
  TokenUsage
} from "./Entities.js"
import { MessageId, RequestId, SessionId } from "./ids.js"

const event = <const T extends string, F extends Schema.Struct.Fields>(type: T, fields: F) =>
  Schema.Struct({ type: Schema.Literal(type), ...fields })

/** A session came into being (always revision 1). */
export const SessionCreated = event("session_created", {
  provider: Provider,
  cwd: Schema.String,
  status: SessionStatus,
  model: Schema.optional(Schema.String),
  title: Schema.optional(Schema.String),
  external_id: Schema.optional(Schema.String),
  watch_only: Schema.optional(Schema.Boolean),
  approval_policy: Schema.optional(ApprovalPolicy),
  sandbox: Schema.optional(SandboxMode)
})
/** Descriptive fields learned later (a Codex thread id, the model a hook reported, …). */
export const SessionInfoChanged = event("session_info_changed", {
  title: Schema.optional(Schema.String),
  model: Schema.optional(Schema.String),
  cwd: Schema.optional(Schema.String),
  external_id: Schema.optional(Schema.String)
})
/** A status change that is not a turn boundary (e.g. `starting` → `waiting`). */
export const StatusChanged = event("status_changed", {
  status: Schema.Literal("starting", "working", "waiting")
})
/** A turn began: the session is `working`. */
export const TurnStarted = event("turn_started", { turn_id: Schema.optional(Schema.String) })
/** A turn finished normally: the session is `waiting`. */
export const TurnCompleted = event("turn_completed", { turn_id: Schema.optional(Schema.String) })
/** A turn was cut short (interrupt, failure, lost agent): the session is `waiting`. */
export const TurnAborted = event("turn_aborted", {
  turn_id: Schema.optional(Schema.String),
  reason: Schema.String
})
export const MessageAppended = event("message_appended", { message: Message })
/** `changes.content`, when present, is the full content so far. */
export const MessageUpdated = event("message_updated", { message_id: MessageId, changes: MessageChanges })
export const ApprovalRequested = event("approval_requested", { request: ApprovalRequest })
/**
 * `expired`: nobody decided in time (or the server restarted mid-turn). `withdrawn`: the asker went
 * away (the hook's connection closed, its process exited, the agent took the request back), so no
 * answer can reach it any more.
 */
export const ApprovalOutcome = Schema.Literal("approved", "denied", "expired", "withdrawn")
export type ApprovalOutcome = typeof ApprovalOutcome.Type
/** Why a request ended without an answer (`expired`/`withdrawn`), in words for people. */
const ResolutionReason = Schema.optional(Schema.String)
/** Who decided a request when no person did: the rules that matched, and why (minor 3). */
export const RuleDecision = Schema.Struct({
  rule_ids: Schema.Array(Schema.String),
  explanation: Schema.String
})
export type RuleDecision = typeof RuleDecision.Type
export const ApprovalResolved = event("approval_resolved", {
  request_id: RequestId,
  outcome: ApprovalOutcome,
  scope: Schema.optional(Schema.Literal("once", "session")),
  reason: ResolutionReason,
  decided_by: Schema.optional(RuleDecision)
})
export const QuestionAsked = event("question_asked", { request: Question })
export const QuestionOutcome = Schema.Literal("answered", "expired", "withdrawn")
export type QuestionOutcome = typeof QuestionOutcome.Type
export const QuestionResolved = event("question_resolved", {
  request_id: RequestId,
  outcome: QuestionOutcome,
  answer: Schema.optional(Schema.String),
  reason: ResolutionReason
})
/** Running totals for the session (not increments). */
export const TokensUpdated = event("tokens_updated", { usage: TokenUsage })
export const DiffUpdated = event("diff_updated", { diff: Schema.String })
export const PlanUpdated = event("plan_updated", { plan: Schema.Array(PlanStep) })
export const SessionEnded = event("session_ended", { reason: Schema.String })
/** The stall watch found a turn silent since `since` (the session's last activity). */
export const SessionStalled = event("session_stalled", { since: Timestamp })
/**
 * A person saw or snoozed the session's attention that started at `since` (one that has since been
 * replaced is left alone). `snoozed_until: null` wakes it.
 */
export const AttentionMarked = event("attention_marked", {
  since: Timestamp,
  seen: Schema.optional(Schema.Boolean),
  snoozed_until: Schema.optional(Schema.NullOr(Timestamp))
})
/** An ended session came back (e.g. `claude --resume` of a watched session): `waiting` again. */
export const SessionReopened = event("session_reopened", { reason: Schema.String })

export const DomainEvent = Schema.Union(
  SessionCreated,
  SessionInfoChanged,
  StatusChanged,
  TurnStarted,
  TurnCompleted,
  TurnAborted,
  MessageAppended,
  MessageUpdated,
  ApprovalRequested,
  ApprovalResolved,
  QuestionAsked,
  QuestionResolved,
  TokensUpdated,
  DiffUpdated,
  PlanUpdated,
  SessionEnded,
  SessionReopened,
  SessionStalled,
  AttentionMarked
)
export type DomainEvent = typeof DomainEvent.Type
export type DomainEventType = DomainEvent["type"]
export type EventOf<T extends DomainEventType> = Extract<DomainEvent, { readonly type: T }>

/** Every event type name, for validation and documentation. */
export const eventTypes: ReadonlyArray<DomainEventType> = DomainEvent.members.map(
  (member) => member.fields.type.literals[0]
)

/** An event as the log stores it: the envelope is assigned by the session actor, never by connectors. */
export const StoredEvent = Schema.Struct({
  session_id: SessionId,
  revision: Schema.Number.pipe(Schema.int(), Schema.positive()),
  occurred_at: Timestamp,
  event: DomainEvent
})
export type StoredEvent = typeof StoredEvent.Type

/** An event as `GET /api/sessions/:id/events` shows it. */
export const EventRecord = Schema.Struct({
  revision: Schema.Number,
  type: Schema.String,
  occurred_at: Timestamp,
  data: Schema.Unknown
})
export type EventRecord = typeof EventRecord.Type

/** Splits an event into its wire `type` and `data`. */
export const toRecord = (stored: StoredEvent): EventRecord => {
  const { type, ...data } = stored.event
  return { revision: stored.revision, type, occurred_at: stored.occurred_at, data }
}
