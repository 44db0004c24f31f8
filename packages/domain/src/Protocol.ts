/**
 * The wire protocol of PROTOCOL.md: every client and server message. These schemas are the single
 * source of truth: the server decodes client frames with them, the SDK decodes server frames with
 * them, and `protocol.schema.json` is generated from them.
 */
import { Schema } from "effect"
import {
  ApprovalPolicy,
  ApprovalRequest,
  AttentionDetail,
  MessageChanges,
  Message,
  Provider,
  Question,
  SandboxMode,
  SessionChanges,
  SessionState,
  SessionSummary,
  Timestamp,
  TokenUsage
} from "./Entities.js"
import { ErrorCode } from "./errors.js"
import { Rule, RuleInput, RulesDraft, SimulationReport } from "./Rules.js"
import { MessageId, RequestId, ServerId, SessionId } from "./ids.js"

export const PROTOCOL_VERSION = 1 as const
/**
 * Additive revisions of protocol 1, announced in `hello` and `/health`. A client never needs it to
 * talk to the server (what a minor adds is ignorable by a v1 client); it tells a client what to expect.
 * 1: `protocol_minor` itself, `id` rules (`error.id: null`), the `unavailable` code.
 * 2: `attention_detail` on summaries, the inbox (`subscribe_inbox`, `inbox`, `inbox_changed`),
 *    `mark_attention`, `approve_requests` and the ack's `results`, `set_viewing`.
 * 3: approval rules: `risk` on requests, `decided_by` on resolutions, `list_rules`, `add_rule`,
 *    `remove_rule`, `simulate_rules` and the ack's `rules`, `rule`, `report`.
 */
export const PROTOCOL_MINOR = 3 as const

export const JSON_SUBPROTOCOL = "orbitdock.v1.json"
export const MSGPACK_SUBPROTOCOL = "orbitdock.v1.msgpack"

/** The largest client frame or HTTP body the server reads. */
export const MAX_FRAME_BYTES = 1024 * 1024
/** The most messages the server coalesces into one frame. */
export const MAX_COALESCED = 256
/**
 * The most bytes of encoded messages the server coalesces into one frame: a larger message goes
 * in a frame of its own. Without it, a client subscribing to many large sessions at once got
 * their snapshots in one frame of hundreds of MB, past its WebSocket library's payload limit.
 */
export const MAX_COALESCED_BYTES = 1024 * 1024
/** The longest `id` a client message may carry. */
export const MAX_ID_LENGTH = 128
/** The deepest nesting of arrays and objects the server accepts in a client frame or HTTP body. */
export const MAX_NESTING = 64

/** A client message's `id`: a string the client chooses, at most `MAX_ID_LENGTH` characters. */
export const ClientMessageId = Schema.String.pipe(Schema.maxLength(MAX_ID_LENGTH)).annotations({
  identifier: "ClientMessageId",
  description: `a string the client chooses, at most ${MAX_ID_LENGTH} characters`
})

const clientMessage = <const T extends string, F extends Schema.Struct.Fields>(type: T, fields: F) =>
  Schema.Struct({ type: Schema.Literal(type), id: Schema.optional(ClientMessageId), ...fields })

// ── Client → server ──────────────────────────────────────────────────────────────────────────────

export const SubscribeList = clientMessage("subscribe_list", {})
export const UnsubscribeList = clientMessage("unsubscribe_list", {})
export const SubscribeSession = clientMessage("subscribe_session", {
  session_id: SessionId,
  since_revision: Schema.optional(Schema.Number.pipe(Schema.int(), Schema.nonNegative()))
})
export type SubscribeSession = typeof SubscribeSession.Type
export type UnsubscribeList = typeof UnsubscribeList.Type
export type SubscribeList = typeof SubscribeList.Type
export const UnsubscribeSession = clientMessage("unsubscribe_session", { session_id: SessionId })
export const CreateSession = clientMessage("create_session", {
  provider: Provider,
  cwd: Schema.String,
  model: Schema.optional(Schema.String),
  prompt: Schema.optional(Schema.String),
  approval_policy: Schema.optional(ApprovalPolicy),
  sandbox: Schema.optional(SandboxMode)
})
export type CreateSession = typeof CreateSession.Type
export type UnsubscribeSession = typeof UnsubscribeSession.Type
export const SendMessage = clientMessage("send_message", { session_id: SessionId, content: Schema.String })
export const ApproveTool = clientMessage("approve_tool", {
  session_id: SessionId,
  request_id: RequestId,
  approved: Schema.Boolean,
  scope: Schema.optional(Schema.Literal("once", "session"))
})
export type ApproveTool = typeof ApproveTool.Type
export type SendMessage = typeof SendMessage.Type
export const AnswerQuestion = clientMessage("answer_question", {
  session_id: SessionId,
  request_id: RequestId,
  answer: Schema.String
})
export type AnswerQuestion = typeof AnswerQuestion.Type
export const InterruptSession = clientMessage("interrupt_session", { session_id: SessionId })
/** Minor 2: the inbox, then its changes (`inbox`, `inbox_changed`). */
export const SubscribeInbox = clientMessage("subscribe_inbox", {})
export const UnsubscribeInbox = clientMessage("unsubscribe_inbox", {})
/**
 * Minor 2: marks a session's current attention seen, snoozed until a time, or awake again
 * (`snoozed_until: null`), for every device. `since` names the attention (a mark meant for one that
 * has since been replaced is a `conflict`); absent: the current one.
 */
export const MarkAttention = clientMessage("mark_attention", {
  session_id: SessionId,
  since: Schema.optional(Timestamp),
  seen: Schema.optional(Schema.Boolean),
  snoozed_until: Schema.optional(Schema.NullOr(Timestamp))
})
export type MarkAttention = typeof MarkAttention.Type
/**
 * Minor 2: the sessions this client shows its person right now (none: e.g. the page is hidden).
 * No notification goes out for a session some client shows. Replaces what it said before; a
 * connection's say ends with it.
 */
export const SetViewing = clientMessage("set_viewing", {
  session_ids: Schema.Array(SessionId).pipe(Schema.maxItems(256))
})
export type SetViewing = typeof SetViewing.Type
/** The most requests one `approve_requests` may carry. */
export const MAX_BATCH = 256
/** One request of a batch. */
export const RequestRef = Schema.Struct({ session_id: SessionId, request_id: RequestId })
export type RequestRef = typeof RequestRef.Type
/**
 * Minor 2: approves or denies several pending approvals at once (at most `MAX_BATCH`), each as its
 * own `approve_tool` would: resolved once, or refused with its own code. Acked with `results`.
 */
export const ApproveRequests = clientMessage("approve_requests", {
  requests: Schema.Array(RequestRef).pipe(Schema.minItems(1), Schema.maxItems(MAX_BATCH)),
  approved: Schema.Boolean,
  scope: Schema.optional(Schema.Literal("once", "session"))
})
export type ApproveRequests = typeof ApproveRequests.Type

export const EndSession = clientMessage("end_session", { session_id: SessionId })

/** Minor 3: the approval rules in force (at `at`, a past time, when given); ack `{ rules }`. */
export const ListRules = clientMessage("list_rules", { at: Schema.optional(Timestamp) })
/** Minor 3: adds a rule; ack `{ rule }`. */
export const AddRule = clientMessage("add_rule", { rule: RuleInput })
/** Minor 3: removes a rule; ack `{ rule }` (the removed one). */
export const RemoveRule = clientMessage("remove_rule", { rule_id: Schema.String })
/** Minor 3: judges every past request by a draft; ack `{ report }`. */
export const SimulateRules = clientMessage("simulate_rules", RulesDraft.fields)

export const ClientMessage = Schema.Union(
  SubscribeList,
  UnsubscribeList,
  SubscribeSession,
  UnsubscribeSession,
  CreateSession,
  SendMessage,
  ApproveTool,
  AnswerQuestion,
  InterruptSession,
  EndSession,
  SubscribeInbox,
  UnsubscribeInbox,
  MarkAttention,
  ApproveRequests,
  SetViewing,
  ListRules,
  AddRule,
  RemoveRule,
  SimulateRules
)
export type ClientMessage = typeof ClientMessage.Type
export type ClientMessageType = ClientMessage["type"]
export const clientMessageTypes: ReadonlyArray<ClientMessageType> = ClientMessage.members.map(
  (m) => m.fields.type.literals[0]
)
/** Client messages that change the world; acked once their events are durable. */
export type SessionCommand = Extract<
  ClientMessage,
  { readonly type: "send_message" | "approve_tool" | "answer_question" | "interrupt_session" | "end_session" }
>

// ── Server → client ──────────────────────────────────────────────────────────────────────────────

const serverMessage = <const T extends string, F extends Schema.Struct.Fields>(type: T, fields: F) =>
  Schema.Struct({ type: Schema.Literal(type), ...fields })

/**
 * Fields of every session-scoped message. `occurred_at` is an OrbitDock addition (clients that do
 * not know it ignore it): the time of the event, which is the session's new `last_activity_at`.
 */
const sessionScoped = {
  session_id: SessionId,
  revision: Schema.Number,
  occurred_at: Schema.optional(Timestamp)
}

export const Hello = serverMessage("hello", {
  server_id: ServerId,
  version: Schema.String,
  protocol: Schema.Literal(PROTOCOL_VERSION),
  /** Absent from servers older than minor 1. */
  protocol_minor: Schema.optional(Schema.NonNegativeInt)
})
export type Hello = typeof Hello.Type
/**
 * The server's health as it concerns clients: `degraded` while the event log cannot commit (what
 * clients are shown is kept and retried, and commands wait for it), with the reason; `ok` again
 * once it heals. Sent to every connection when it changes, and after `hello` while degraded.
 */
export const ServerStatus = serverMessage("server_status", {
  status: Schema.Literal("ok", "degraded"),
  reason: Schema.NullOr(Schema.String)
})
export type ServerStatus = typeof ServerStatus.Type
export type EndSession = typeof EndSession.Type
export type InterruptSession = typeof InterruptSession.Type
/** How one request of `approve_requests` went: resolved (`ok`), or refused with a code. */
export const RequestResult = Schema.Struct({
  session_id: SessionId,
  request_id: RequestId,
  ok: Schema.Boolean,
  code: Schema.optional(ErrorCode),
  message: Schema.optional(Schema.String)
})
export type RequestResult = typeof RequestResult.Type
export const Ack = serverMessage("ack", {
  id: Schema.String,
  session_id: Schema.optional(SessionId),
  revision: Schema.optional(Schema.Number),
  /** Minor 2: one per request of an `approve_requests`, in its order. */
  results: Schema.optional(Schema.Array(RequestResult)),
  /** Minor 3: `list_rules`'s rules. */
  rules: Schema.optional(Schema.Array(Rule)),
  /** Minor 3: the rule `add_rule` added or `remove_rule` removed. */
  rule: Schema.optional(Rule),
  /** Minor 3: `simulate_rules`'s report. */
  report: Schema.optional(SimulationReport)
})
export type Ack = typeof Ack.Type
export const ErrorMessage = serverMessage("error", {
  /** The message's id; `null` when it had one that is not a valid id (not a string, or too long). */
  id: Schema.optional(Schema.NullOr(Schema.String)),
  code: ErrorCode,
  message: Schema.String
})
export type ErrorMessage = typeof ErrorMessage.Type
export const SessionsList = serverMessage("sessions_list", { sessions: Schema.Array(SessionSummary) })
/** To list subscribers; to session subscribers replaying from the start it is revision 1. */
export const SessionCreatedMessage = serverMessage("session_created", {
  session: SessionSummary,
  session_id: Schema.optional(SessionId),
  revision: Schema.optional(Schema.Number),
  occurred_at: Schema.optional(Timestamp)
})
export type SessionCreatedMessage = typeof SessionCreatedMessage.Type
export type SessionsList = typeof SessionsList.Type
export const SessionUpdated = serverMessage("session_updated", { session: SessionSummary })
export const SessionEndedMessage = serverMessage("session_ended", {
  ...sessionScoped,
  reason: Schema.String,
  ended_at: Timestamp
})
export type SessionEndedMessage = typeof SessionEndedMessage.Type
export type SessionUpdated = typeof SessionUpdated.Type
export const SessionSnapshot = serverMessage("session_snapshot", {
  session_id: SessionId,
  revision: Schema.Number,
  session: SessionState
})
export type SessionSnapshot = typeof SessionSnapshot.Type
export const SessionDelta = serverMessage("session_delta", { ...sessionScoped, changes: SessionChanges })
export const MessageAppendedMessage = serverMessage("message_appended", { ...sessionScoped, message: Message })
export const MessageUpdatedMessage = serverMessage("message_updated", {
  ...sessionScoped,
  message_id: MessageId,
  changes: MessageChanges
})
export type MessageUpdatedMessage = typeof MessageUpdatedMessage.Type
export type MessageAppendedMessage = typeof MessageAppendedMessage.Type
export type SessionDelta = typeof SessionDelta.Type
export const ApprovalRequestedMessage = serverMessage("approval_requested", {
  ...sessionScoped,
  request: ApprovalRequest
})
export type ApprovalRequestedMessage = typeof ApprovalRequestedMessage.Type
export const QuestionAskedMessage = serverMessage("question_asked", { ...sessionScoped, request: Question })
export const TokensUpdatedMessage = serverMessage("tokens_updated", { ...sessionScoped, usage: TokenUsage })

/**
 * Minor 2: one entry of the inbox, a session that needs its person (its `attention_detail`, with
 * what a list row needs to show it).
 */
export const InboxItem = Schema.extend(
  AttentionDetail,
  Schema.Struct({ session_id: SessionId, provider: Provider, cwd: Schema.String, title: Schema.optional(Schema.String) })
)
export type InboxItem = typeof InboxItem.Type
/** Minor 2: the inbox, longest waiting first (snoozed items left out until they wake). */
export const InboxMessage = serverMessage("inbox", { items: Schema.Array(InboxItem) })
export type InboxMessage = typeof InboxMessage.Type
/** Minor 2: a session's inbox entry changed (`item`), or left the inbox (`item: null`). */
export const InboxChanged = serverMessage("inbox_changed", { session_id: SessionId, item: Schema.NullOr(InboxItem) })
export type InboxChanged = typeof InboxChanged.Type

const sessionMessages = [
  SessionCreatedMessage,
  SessionEndedMessage,
  SessionDelta,
  MessageAppendedMessage,
  MessageUpdatedMessage,
  ApprovalRequestedMessage,
  QuestionAskedMessage,
  TokensUpdatedMessage
] as const

/** The messages that carry one revision of one session to its subscribers. */
export const SessionMessage = Schema.Union(...sessionMessages)
export type SessionMessage = typeof SessionMessage.Type

export const ServerMessage = Schema.Union(
  Hello,
  ServerStatus,
  Ack,
  ErrorMessage,
  SessionsList,
  SessionUpdated,
  SessionSnapshot,
  InboxMessage,
  InboxChanged,
  ...sessionMessages
)
export type ServerMessage = typeof ServerMessage.Type
export type ServerMessageType = ServerMessage["type"]

/** A server frame: one message, or several to be processed in order. */
export const ServerFrame = Schema.Union(ServerMessage, Schema.Array(ServerMessage))
export type ServerFrame = typeof ServerFrame.Type

// ── HTTP ─────────────────────────────────────────────────────────────────────────────────────────

export const Health = Schema.Struct({
  /** `degraded` while the event log cannot commit (see `ServerStatus`). */
  status: Schema.Literal("ok", "degraded"),
  /** Why it is degraded; absent when ok. */
  reason: Schema.optional(Schema.String),
  version: Schema.String,
  protocol: Schema.Literal(PROTOCOL_VERSION),
  protocol_minor: Schema.optional(Schema.NonNegativeInt),
  server_id: ServerId,
  uptime_s: Schema.Number
})
export type TokensUpdatedMessage = typeof TokensUpdatedMessage.Type
export type QuestionAskedMessage = typeof QuestionAskedMessage.Type
export type Health = typeof Health.Type

export const EventsPage = Schema.Struct({
  events: Schema.Array(
    Schema.Struct({ revision: Schema.Number, type: Schema.String, occurred_at: Timestamp, data: Schema.Unknown })
  ),
  next_after: Schema.NullOr(Schema.Number)
})
export type EventsPage = typeof EventsPage.Type

/** `GET /api/inbox`. */
export const InboxResponse = Schema.Struct({ items: Schema.Array(InboxItem) })
export type InboxResponse = typeof InboxResponse.Type

export const HttpError = Schema.Struct({ code: ErrorCode, message: Schema.String })
export type HttpError = typeof HttpError.Type
