/**
 * What a session accepts: the pure rules its actor applies to each event a connector emits, before
 * it is given a revision and folded. The actor owns the mailbox, the fold and the subscribers; the
 * rules live here, so they can be read and specified on their own (given the session so far, when
 * this event arrives, then it is recorded as this stored event, or dropped for this reason).
 */
import type { SessionId, SessionState, StoredEvent } from "@orbitdock/domain"
import type { EventInput } from "./connectors/Connector.js"

/** Why an event was not recorded. */
export type DropReason =
  /** Its source key was recorded before (a replayed transcript line, a re-sent hook). */
  | "duplicate"
  /** A session's first event must be `session_created`; nothing else comes before it. */
  | "not_created"
  /** `session_created` once more: a session is created once. */
  | "already_created"
  /** The session ended: only `session_ended` (said again) or `session_reopened` is taken. */
  | "ended"
  /** `session_reopened` of a session that has not ended means nothing. */
  | "not_ended"
  /**
   * Overtaken: a stall of a session no longer working (its turn ended meanwhile), or a mark of an
   * attention that is no longer the session's (a new one started: it starts unseen).
   */
  | "moot"

export type Verdict =
  | { readonly _tag: "Record"; readonly stored: StoredEvent }
  | { readonly _tag: "Drop"; readonly reason: DropReason }

/** What the decision needs besides the state: the session, the time, and the source keys seen. */
export interface DecideContext {
  readonly sessionId: SessionId
  /** Stamps an event that does not say when it happened at its source. */
  readonly now: string
  /** Whether this source key was recorded before (in the log or earlier in the same step). */
  readonly seen: (sourceKey: string) => boolean
}

/** The part of the state the rules look at. */
export type DecisionState = Pick<SessionState, "revision" | "status" | "attention_detail">

// One object per reason: a dropped event allocates nothing.
const drops: { readonly [R in DropReason]: Verdict } = {
  duplicate: { _tag: "Drop", reason: "duplicate" },
  not_created: { _tag: "Drop", reason: "not_created" },
  already_created: { _tag: "Drop", reason: "already_created" },
  ended: { _tag: "Drop", reason: "ended" },
  not_ended: { _tag: "Drop", reason: "not_ended" },
  moot: { _tag: "Drop", reason: "moot" }
}
const drop = (reason: DropReason): Verdict => drops[reason]

/** The verdict on a repeated source key (compare by identity). */
export const duplicate: Verdict = drops.duplicate

/**
 * Decides one event: recorded as the session's next revision, or dropped. A duplicate is judged
 * first, so a repeat is always a duplicate, whatever else is wrong with it.
 */
export const decide = (state: DecisionState, input: EventInput, context: DecideContext): Verdict => {
  const key = input.source_key
  if (key !== undefined && key !== null && context.seen(key)) return drop("duplicate")
  const type = input.event.type
  // Revision 1 is always session_created.
  if (state.revision === 0) {
    if (type !== "session_created") return drop("not_created")
  } else if (type === "session_created") {
    return drop("already_created")
  }
  if (state.status === "ended") {
    if (type !== "session_ended" && type !== "session_reopened") return drop("ended")
  } else if (type === "session_reopened") {
    return drop("not_ended")
  }
  if (type === "session_stalled" && state.status !== "working") return drop("moot")
  if (type === "attention_marked" && state.attention_detail?.since !== input.event.since) return drop("moot")
  return {
    _tag: "Record",
    stored: {
      session_id: context.sessionId,
      revision: state.revision + 1,
      occurred_at: input.occurred_at ?? context.now,
      event: input.event
    }
  }
}
