/**
 * What a command may do given only the session's state (pure, like a decider's guard): a command on
 * an ended session is a `conflict`; resolving a request id that was never issued is `not_found`, one
 * that is no longer pending (or of the other kind) a `conflict`. What only the agent knows (a turn
 * already running, …) is the connector's to refuse.
 */
import { conflict, notFound, type ProtocolError } from "@orbitdock/domain"
import { SessionProjection } from "@orbitdock/projections"
import type { Command } from "./Sessions.js"

export type SessionCommand = Exclude<Command, { readonly type: "create_session" }>

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
