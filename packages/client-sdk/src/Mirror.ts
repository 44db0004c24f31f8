/**
 * The client's mirror of the server: the session list and every subscribed session's state, and the
 * bookkeeping that keeps a session mirror exact (revision order, duplicates, gaps). Pure: the state
 * transitions are applied with the projections package (`SessionMirror.applyMessage`,
 * `SessionSummaries.applyListMessage`); this module only decides *whether* a message applies.
 * Does not own sockets or resubscription (the connection core acts on the verdicts).
 */
import type { ServerId, SessionId, SessionMessage, SessionSnapshot, SessionState } from "@orbitdock/domain"
import { type Inbox, SessionMirror, type SessionSummaries } from "@orbitdock/projections"

/** Where the connection stands. */
export type ConnectionState = "connecting" | "online" | "reconnecting" | "closed"

/** What a client shows: immutable; a new value after every change. */
export interface Mirror {
  readonly connection: ConnectionState
  /** The `server_id` of the last `hello`. */
  readonly serverId: ServerId | undefined
  /** The session list, oldest first; `undefined` until the list is subscribed and received. */
  readonly list: SessionSummaries.SessionList | undefined
  /** The inbox by session (`Inbox.ordered` for its order); `undefined` until subscribed and received. */
  readonly inbox: Inbox.InboxMirror | undefined
  /** Every subscribed session whose state is known (absent while it is being fetched again). */
  readonly sessions: ReadonlyMap<SessionId, SessionState>
}

export const empty: Mirror = {
  connection: "connecting",
  serverId: undefined,
  list: undefined,
  inbox: undefined,
  sessions: new Map()
}

/** One subscribed session's sync state. */
export interface SessionSync {
  /** The mirrored state; `null` while a snapshot is awaited. */
  readonly state: SessionState | null
  /** A `subscribe_session` is in flight: messages beyond last + 1 are expected and not a new gap. */
  readonly resyncing: boolean
}

export const unsynced: SessionSync = { state: null, resyncing: false }

/** What to do with one session message. */
export type Verdict =
  | { readonly _tag: "Applied"; readonly sync: SessionSync }
  /** Already applied (a duplicate) or out of order while a resync is under way. */
  | { readonly _tag: "Ignored" }
  /** Something was missed: resubscribe from `since` (`undefined`: from a snapshot). */
  | { readonly _tag: "Gap"; readonly sync: SessionSync; readonly since: number | undefined }

/** The revision a session message brings its session to. */
export const revisionOf = (message: SessionMessage | SessionSnapshot): number =>
  message.type === "session_created" ? message.revision ?? message.session.revision : message.revision

/** Decides and applies one message of this session. */
export const receive = (sync: SessionSync, message: SessionMessage | SessionSnapshot): Verdict => {
  if (message.type === "session_snapshot") {
    // A snapshot is authoritative whatever its revision (after a restart it may be lower).
    const state = message.session.revision === message.revision ? message.session : { ...message.session, revision: message.revision }
    return { _tag: "Applied", sync: { ...sync, state } }
  }
  const revision = revisionOf(message)
  const current = sync.state
  if (current === null) {
    if (message.type === "session_created" && revision === 1) {
      return { _tag: "Applied", sync: { ...sync, state: SessionMirror.applyMessage(SessionMirror.fromSummary(message.session), message) } }
    }
    return sync.resyncing ? { _tag: "Ignored" } : { _tag: "Gap", sync: { ...sync, resyncing: true }, since: undefined }
  }
  if (revision <= current.revision) return { _tag: "Ignored" }
  if (revision === current.revision + 1) {
    return { _tag: "Applied", sync: { ...sync, state: SessionMirror.applyMessage(current, message) } }
  }
  return sync.resyncing
    ? { _tag: "Ignored" }
    : { _tag: "Gap", sync: { ...sync, resyncing: true }, since: current.revision }
}

/** What the ack of a `subscribe_session` (carrying the server's revision) means. */
export type AckVerdict =
  | { readonly _tag: "Synced"; readonly sync: SessionSync; readonly state: SessionState }
  /** The catch-up did not reach the acked revision: fetch a snapshot. */
  | { readonly _tag: "Gap"; readonly sync: SessionSync }

/** Checks a session against the revision its subscription was acked with. */
export const acknowledged = (sync: SessionSync, revision: number | undefined): AckVerdict => {
  const state = sync.state
  // Live messages may already have moved the mirror past the acked revision; behind it is a gap.
  if (state !== null && (revision === undefined || state.revision >= revision)) {
    return { _tag: "Synced", sync: { ...sync, resyncing: false }, state }
  }
  return { _tag: "Gap", sync: { state, resyncing: true } }
}

/** The `since_revision` to resubscribe with after a reconnect to the same server process. */
export const resumeFrom = (sync: SessionSync): number | undefined => sync.state?.revision

/** After a reconnect to a different server process: forget the state, keep the subscription. */
export const forget = (_sync: SessionSync): SessionSync => unsynced
