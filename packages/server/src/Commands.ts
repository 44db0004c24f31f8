/**
 * What a command may do given only the session's state (pure, like a decider's guard): a command on
 * an ended session is a `conflict`; resolving a request id that was never issued is `not_found`, one
 * that is no longer pending (or of the other kind) a `conflict`. What only the agent knows (a turn
 * already running, …) is the connector's to refuse.
 */
import { conflict, type DomainEvent, invalid, notFound, type ProtocolError, type SessionState } from "@orbitdock/domain"
import { SessionProjection } from "@orbitdock/projections"
import type { Command } from "./Sessions.js"

/** The commands a session's connector carries out. */
export type SessionCommand = Exclude<Command, { readonly type: "create_session" | "mark_attention" | "approve_requests" }>

export type MarkAttention = Extract<Command, { readonly type: "mark_attention" }>

/**
 * The `attention_marked` event a `mark_attention` records, or why it cannot: the session ended, it
 * needs nobody, the attention it names was replaced, or the snooze time is not a time. A snooze
 * time is stored as the ISO string of the instant it names (so times compare as strings).
 */
export const markAttention = (
  state: Pick<SessionState, "id" | "status" | "attention_detail">,
  command: MarkAttention
): Extract<DomainEvent, { readonly type: "attention_marked" }> | ProtocolError => {
  if (state.status === "ended") return conflict(`session ${state.id} has ended`)
  const current = state.attention_detail
  if (current === undefined || current === null) return conflict(`session ${state.id} needs no attention`)
  if (command.since !== undefined && command.since !== current.since) {
    return conflict(`the attention of session ${state.id} since ${command.since} was replaced (now: ${current.reason} since ${current.since})`)
  }
  if (command.seen === undefined && command.snoozed_until === undefined) return invalid("mark_attention needs seen or snoozed_until")
  let snoozedUntil: string | null | undefined = command.snoozed_until
  if (typeof snoozedUntil === "string") {
    const at = Date.parse(snoozedUntil)
    if (Number.isNaN(at)) return invalid(`snoozed_until is not a time: ${snoozedUntil.slice(0, 40)}`)
    snoozedUntil = new Date(at).toISOString()
  }
  return {
    type: "attention_marked",
    since: current.since,
    ...(command.seen === undefined ? {} : { seen: command.seen }),
    ...(snoozedUntil === undefined ? {} : { snoozed_until: snoozedUntil })
  }
}

/** The refusal a command deserves, or null when the connector may run it. */
export const refusal = (p: SessionProjection.SessionProjection, command: SessionCommand): ProtocolError | null => {
  if (p.state.status === "ended") return conflict(`session ${p.state.id} has ended`)
  switch (command.type) {
    case "approve_tool":
      return requestRefusal(p, command.request_id, "approval")
    case "answer_question":
      return requestRefusal(p, command.request_id, "question")
    default:
      return null
  }
}

const requestRefusal = (
  p: SessionProjection.SessionProjection,
  requestId: string,
  kind: SessionProjection.RequestKind
): ProtocolError | null => {
  switch (SessionProjection.requestStatus(p, requestId, kind)) {
    case "pending":
      return null
    case "unknown":
      return notFound(`no request ${requestId} in session ${p.state.id}`)
    case "resolved":
      return conflict(`request ${requestId} is no longer pending`)
    case "other_kind":
      return conflict(`request ${requestId} is not ${kind === "approval" ? "an approval" : "a question"}`)
  }
}
