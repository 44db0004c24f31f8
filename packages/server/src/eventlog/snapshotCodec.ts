/**
 * How a projection snapshot is stored: the JSON of the `SessionProjection` (`state`, `approvals`,
 * `questions`, `issued`, `turn_attention`) as of the row's `revision`, whose `state.messages` are the messages after
 * the row's `paged` ones (those are in `message_pages`). Owns encoding (in the writer
 * worker, and the bench's log writer) and the careful decoding on hydration.
 *
 * Unlike event rows, a snapshot is not trusted blindly: it is derived data, so a row that does not
 * parse or does not look like a projection of this session at this revision is reported as
 * `corrupt` and the caller replays the session from its events instead (the log stays the truth).
 * The check is structural, not a schema decode: `Schema.decodeUnknownSync(SessionState)` on a
 * 5,000-message state would cost about as much as the replay the snapshot saves.
 */
import type { SessionId } from "@orbitdock/domain"
import type { SessionProjection } from "@orbitdock/projections"

export const encodeSnapshot = (p: SessionProjection.SessionProjection): string =>
  JSON.stringify({
    approvals: p.approvals,
    questions: p.questions,
    issued: p.issued,
    turn_attention: p.turnAttention,
    state: p.state
  })

export type DecodedSnapshot =
  | {
      readonly _tag: "Snapshot"
      readonly projection: SessionProjection.SessionProjection
      /** How many messages come before `projection.state.messages` (they are in pages). */
      readonly paged: number
    }
  | { readonly _tag: "Corrupt"; readonly reason: string }
  /** Written by an older version whose fold kept less: replayed from the events, like a corrupt one. */
  | { readonly _tag: "Outdated"; readonly reason: string }

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const corrupt = (reason: string): DecodedSnapshot => ({ _tag: "Corrupt", reason })

/**
 * Decodes a `snapshots` row of `sessionId`; never throws. The text is read as TEXT, not as a BLOB
 * turned into a string: measured on the bench's cold start, the 2 MB Buffers (external memory)
 * cost the main thread and the GC about a second more over 200 sessions.
 */
export const decodeSnapshot = (sessionId: SessionId, revision: unknown, text: unknown, paged: unknown = 0): DecodedSnapshot => {
  if (typeof text !== "string") return corrupt(`projection is a ${typeof text}, not text`)
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (cause) {
    return corrupt(`projection is not JSON: ${cause instanceof Error ? cause.message : String(cause)}`)
  }
  if (!isRecord(value)) return corrupt("projection is not an object")
  const { state, approvals, questions, issued, turn_attention } = value
  if (!isRecord(state)) return corrupt("no state")
  if (state.id !== sessionId) return corrupt(`state of ${String(state.id)}, not of ${sessionId}`)
  if (typeof revision !== "number" || state.revision !== revision) {
    return corrupt(`state at revision ${String(state.revision)}, row at ${String(revision)}`)
  }
  if (!Array.isArray(state.messages)) return corrupt("state.messages is not a list")
  if (!Array.isArray(approvals) || !Array.isArray(questions)) return corrupt("approvals/questions are not lists")
  if (!isRecord(issued)) return corrupt("issued is not an object")
  // Written before sessions had an attention detail: the events know it, the snapshot does not.
  if (turn_attention === undefined || !("attention_detail" in state)) {
    return { _tag: "Outdated", reason: "written before sessions had an attention detail" }
  }
  if (turn_attention !== null && !isRecord(turn_attention)) return corrupt("turn_attention is not an object")
  if (typeof paged !== "number" || !Number.isInteger(paged) || paged < 0) return corrupt(`paged is ${String(paged)}`)
  if (typeof state.message_count !== "number" || state.message_count !== paged + state.messages.length) {
    return corrupt(`${String(state.message_count)} messages, not ${paged} paged + ${state.messages.length}`)
  }
  return {
    _tag: "Snapshot",
    projection: { state, approvals, questions, issued, turnAttention: turn_attention } as unknown as SessionProjection.SessionProjection,
    paged
  }
}
