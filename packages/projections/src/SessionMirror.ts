/**
 * Applies protocol session messages to a `SessionState`. This is how a client keeps a mirror, and it
 * is also the second half of the server's fold (SessionProjection turns an event into a message, then
 * applies it here), so a mirror fed the messages cannot disagree with the server's state.
 * Pure: no clocks, no ids, no I/O; inputs are never mutated.
 */
import type {
  Message,
  MessageChanges,
  SessionChanges,
  SessionMessage,
  SessionSnapshot,
  SessionState,
  SessionSummary
} from "@orbitdock/domain"
import * as Attention from "./Attention.js"

/** The longest title derived from a first user message. */
export const TITLE_LENGTH = 80

/** A title from the first line of a user prompt, when the agent gave none. */
export const titleFrom = (content: string): string | undefined => {
  const line = content.trim().split("\n", 1)[0]?.trim() ?? ""
  if (line.length === 0) return undefined
  return line.length > TITLE_LENGTH ? `${line.slice(0, TITLE_LENGTH - 1)}…` : line
}

/** A fresh state from the summary carried by `session_created`. */
export const fromSummary = (summary: SessionSummary): SessionState => ({
  ...summary,
  messages: [],
  pending_approval: null,
  pending_question: null
})

const withEnvelope = (state: SessionState, revision: number, occurredAt: string | undefined): SessionState => ({
  ...state,
  revision,
  last_activity_at: occurredAt ?? state.last_activity_at
})

const applyChanges = (state: SessionState, changes: SessionChanges): SessionState => {
  const { ended_at, ...rest } = stripUndefined(changes)
  const next = { ...state, ...rest, attention: false }
  if (ended_at === null) delete next.ended_at
  else if (ended_at !== undefined) next.ended_at = ended_at
  return { ...next, attention: next.pending_approval !== null || next.pending_question !== null }
}

/** A sign of life from the agent ends a stall (the rest of `Attention`'s rules arrive in deltas). */
const endStall = (state: SessionState): SessionState =>
  state.attention_detail?.reason === "stalled" ? { ...state, attention_detail: null } : state

/**
 * How the message list changes. `persistent` copies: every state handed out stays as it was. The
 * only other one, which appends in place, is not part of this package's API (`inPlace.ts`).
 */
export interface ListOps {
  readonly append: (messages: ReadonlyArray<Message>, message: Message) => ReadonlyArray<Message>
  readonly replace: (messages: ReadonlyArray<Message>, index: number, message: Message) => ReadonlyArray<Message>
}

export const persistent: ListOps = {
  append: (messages, message) => [...messages, message],
  replace: (messages, index, message) => {
    const next = messages.slice()
    next[index] = message
    return next
  }
}

// Each message builds the next state with ONE object spread (the envelope fields included): this
// runs for every event on the UI path, where allocation is most of the cost.
const appendMessage = (
  state: SessionState,
  revision: number,
  occurredAt: string | undefined,
  message: Message,
  ops: ListOps
): SessionState => {
  const messages = ops.append(state.messages, message)
  const next: SessionState = {
    ...state,
    revision,
    last_activity_at: occurredAt ?? state.last_activity_at,
    messages,
    // Counted, not `messages.length`: the server keeps only its recent messages in memory (the
    // older ones are paged out to the log), and the count is of all of them.
    message_count: state.message_count + 1
  }
  if (state.title !== undefined || message.role !== "user") return endStall(next)
  const title = titleFrom(message.content)
  return endStall(title === undefined ? next : { ...next, title })
}

const updateMessage = (
  state: SessionState,
  revision: number,
  occurredAt: string | undefined,
  id: string,
  changes: MessageChanges,
  ops: ListOps
): SessionState => {
  let messages = state.messages
  // Streaming updates almost always touch one of the last messages: search from the end.
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i]!
    if (message.id !== id) continue
    messages = ops.replace(messages, i, changeMessage(message, changes))
    break
  }
  return endStall({ ...state, revision, last_activity_at: occurredAt ?? state.last_activity_at, messages })
}

/** A message with `changes` applied (what `message_updated` does to the message it names). */
export const changeMessage = (message: Message, changes: MessageChanges): Message => ({ ...message, ...stripUndefined(changes) })

/** Applies one session message; messages of other sessions or older revisions must be filtered by the caller. */
export const applyMessage = (
  state: SessionState,
  message: SessionMessage | SessionSnapshot,
  ops: ListOps = persistent
): SessionState => {
  switch (message.type) {
    case "session_snapshot":
      return message.session
    case "session_created":
      return { ...fromSummary(message.session), revision: message.revision ?? message.session.revision }
    case "session_delta":
      return applyChanges(withEnvelope(state, message.revision, message.occurred_at), message.changes)
    case "message_appended":
      return appendMessage(state, message.revision, message.occurred_at, message.message, ops)
    case "message_updated":
      return updateMessage(state, message.revision, message.occurred_at, message.message_id, message.changes, ops)
    case "approval_requested": {
      const next = withEnvelope(state, message.revision, message.occurred_at)
      // A request queued behind another becomes visible when the first one is resolved (a delta).
      // An approval outranks a question: it becomes the attention.
      return next.pending_approval === null
        ? endStall({
            ...next,
            pending_approval: message.request,
            attention: true,
            attention_detail: Attention.forApproval(message.request)
          })
        : endStall(next)
    }
    case "question_asked": {
      const next = withEnvelope(state, message.revision, message.occurred_at)
      if (next.pending_question !== null) return endStall(next)
      const attention_detail = next.pending_approval === null ? Attention.forQuestion(message.request) : next.attention_detail
      return endStall({ ...next, pending_question: message.request, attention: true, attention_detail })
    }
    case "tokens_updated":
      return endStall({ ...withEnvelope(state, message.revision, message.occurred_at), token_usage: message.usage })
    case "session_ended":
      return {
        ...withEnvelope(state, message.revision, message.occurred_at),
        status: "ended",
        ended_at: message.ended_at,
        pending_approval: null,
        pending_question: null,
        attention: false,
        attention_detail: null
      }
  }
}

/** The list row of a session. */
export const summarize = (state: SessionState): SessionSummary => {
  const { messages: _m, pending_approval: _a, pending_question: _q, diff: _d, plan: _p, ...summary } = state
  return summary
}

// `changes` objects decoded from the wire never hold `undefined`, but ones built in code may.
const stripUndefined = <T extends object>(changes: T): T => {
  let clean: Record<string, unknown> | undefined
  for (const key in changes) {
    if ((changes as Record<string, unknown>)[key] === undefined) {
      clean ??= { ...(changes as Record<string, unknown>) }
      delete clean[key]
    }
  }
  return (clean ?? changes) as T
}
