/**
 * The sessions service: everything the transports (WebSocket, HTTP, CLI) may ask of the session
 * actors. Owns routing to the right actor, command validation and acks-after-durability, list and
 * session subscriptions. Does not know about sockets or encodings.
 */
import type {
  ClientMessage,
  Rule,
  SimulationReport,
  EventsPage,
  InboxItem,
  InboxMessage,
  RequestResult,
  ProtocolError,
  Provider,
  SessionId,
  SessionMessage,
  SessionSnapshot,
  SessionState,
  SessionStatus,
  SessionSummary,
  SessionsList,
  SessionUpdated,
  SessionCreatedMessage,
  SessionEndedMessage
} from "@orbitdock/domain"
import { Context, type Effect, type Option } from "effect"
import type { InboxSubscriber } from "./InboxHub.js"

export type { InboxSubscriber } from "./InboxHub.js"

/**
 * Receives one session's messages. `push` must never block or throw: a subscriber that cannot keep up
 * records that it fell behind and later asks for a snapshot (`Sessions.snapshot`).
 */
export interface SessionSubscriber {
  readonly push: (message: SessionMessage | SessionSnapshot) => void
}

/** A message for list subscribers. */
export type ListMessage = SessionsList | SessionCreatedMessage | SessionUpdated | SessionEndedMessage

/** Receives list messages; same contract as `SessionSubscriber`. */
export interface ListSubscriber {
  readonly push: (message: ListMessage) => void
}

/** The extra fields of an `ack`. */
export interface AckFields {
  readonly session_id?: SessionId
  readonly revision?: number
  readonly results?: ReadonlyArray<RequestResult>
  readonly rules?: ReadonlyArray<Rule>
  readonly rule?: Rule
  readonly report?: SimulationReport
}

export interface SessionFilter {
  readonly status?: SessionStatus
  readonly provider?: Provider
}

/** World-changing client messages (and `create_session`). */
export type Command = Extract<
  ClientMessage,
  {
    readonly type:
      | "create_session"
      | "send_message"
      | "approve_tool"
      | "answer_question"
      | "interrupt_session"
      | "end_session"
      | "mark_attention"
      | "approve_requests"
  }
>

export interface SessionsShape {
  /** Summaries, oldest first, ended included. */
  readonly list: (filter?: SessionFilter) => Effect.Effect<ReadonlyArray<SessionSummary>>
  /** The live state (not a lagging copy). `not_found` for an unknown id. */
  readonly get: (sessionId: SessionId) => Effect.Effect<SessionState, ProtocolError>
  /** The state right after `revision`; `not_found` when revision < 1 or > current. */
  readonly stateAt: (sessionId: SessionId, revision: number) => Effect.Effect<SessionState, ProtocolError>
  /** Domain events with revision > after, at most `limit` (already clamped by the caller). */
  readonly events: (sessionId: SessionId, after: number, limit: number) => Effect.Effect<EventsPage, ProtocolError>
  /**
   * Pushes the catch-up (snapshot, or every message after `sinceRevision`) to the subscriber, then
   * registers it for live messages with no gap; returns the revision the ack carries.
   */
  readonly subscribe: (
    sessionId: SessionId,
    subscriber: SessionSubscriber,
    sinceRevision?: number
  ) => Effect.Effect<{ readonly revision: number }, ProtocolError>
  readonly unsubscribe: (sessionId: SessionId, subscriber: SessionSubscriber) => Effect.Effect<void>
  /** Pushes `sessions_list` now, then list updates. */
  readonly subscribeList: (subscriber: ListSubscriber) => Effect.Effect<void>
  readonly unsubscribeList: (subscriber: ListSubscriber) => Effect.Effect<void>
  /**
   * A snapshot of a subscribed session's current state (resync of a subscriber that fell behind):
   * taken when the effect starts, its paged messages read afterwards. None when the session is not
   * in memory or its pages cannot be read (logged).
   */
  readonly snapshot: (sessionId: SessionId) => Effect.Effect<Option.Option<SessionSnapshot>>
  /** The current list, synchronously (resync of a list subscriber). */
  readonly listNow: () => SessionsList
  /** The inbox, longest waiting first; snoozed entries only with `snoozed`. */
  readonly inbox: (options?: { readonly snoozed?: boolean }) => Effect.Effect<ReadonlyArray<InboxItem>>
  /** Pushes `inbox` now, then `inbox_changed` for every change. */
  readonly subscribeInbox: (subscriber: InboxSubscriber) => Effect.Effect<void>
  readonly unsubscribeInbox: (subscriber: InboxSubscriber) => Effect.Effect<void>
  /** The current inbox, synchronously (resync of an inbox subscriber). */
  readonly inboxNow: () => InboxMessage
  /** `GET /api/inbox`'s body (entries shown now), encoded once per change. */
  readonly inboxJson: () => Buffer
  /** A session's latest summary, synchronously (undefined: no such session). */
  readonly summary: (sessionId: SessionId) => SessionSummary | undefined
  /** Records the sessions `viewer` (a connection) shows its person now; `[]` when it shows none. */
  readonly setViewing: (viewer: object, sessionIds: ReadonlyArray<SessionId>) => void
  /** Whether some client shows the session to its person now. */
  readonly isViewed: (sessionId: SessionId) => boolean
  /** Runs a command; succeeds once its events are durable, with the ack's extra fields. */
  readonly execute: (command: Command) => Effect.Effect<AckFields, ProtocolError>
}

export class Sessions extends Context.Tag("@orbitdock/server/Sessions")<Sessions, SessionsShape>() {}
