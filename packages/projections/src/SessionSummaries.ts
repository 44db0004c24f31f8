/**
 * The session list: summaries keyed by id, and which summary changes deserve a `session_updated`.
 * Pure; used by the server's list hub and by client mirrors.
 */
import type { SessionId, SessionSummary } from "@orbitdock/domain"

/** Summary fields whose change does not by itself produce `session_updated` (PROTOCOL.md). */
const QUIET_FIELDS = new Set<string>(["revision", "last_activity_at"])

/** Whether a list subscriber should hear about the change from `before` to `after`. */
export const isNotable = (before: SessionSummary, after: SessionSummary): boolean => {
  for (const key of Object.keys(after) as Array<keyof SessionSummary>) {
    if (QUIET_FIELDS.has(key)) continue
    if (!sameValue(before[key], after[key])) return true
  }
  for (const key of Object.keys(before) as Array<keyof SessionSummary>) {
    if (!(key in after) && !QUIET_FIELDS.has(key)) return true
  }
  return false
}

/** A change of `status` or `attention` is sent at once; other changes may be coalesced. */
export const isUrgent = (before: SessionSummary, after: SessionSummary): boolean =>
  before.status !== after.status || before.attention !== after.attention

const sameValue = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false
  const ka = Object.keys(a)
  if (ka.length !== Object.keys(b).length) return false
  return ka.every((k) => sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
}

/** A list mirror, oldest session first (insertion order of the map). */
export type SessionList = ReadonlyMap<SessionId, SessionSummary>

type ListMessage =
  | { readonly type: "sessions_list"; readonly sessions: ReadonlyArray<SessionSummary> }
  | { readonly type: "session_created" | "session_updated"; readonly session: SessionSummary }
  | { readonly type: "session_ended"; readonly session_id: SessionId; readonly revision: number; readonly ended_at: string }

/** Applies a list message to a list mirror (a new list when it changes; `list` is left as it was). */
export const applyListMessage = (list: SessionList, message: ListMessage): SessionList => {
  if (message.type === "sessions_list") return applyListMessageInPlace(new Map(), message)
  if (message.type === "session_ended" && !list.has(message.session_id)) return list
  return applyListMessageInPlace(new Map(list), message)
}

/**
 * Applies a list message to a list nobody else holds, in place. For a mirror applying a frame of
 * many updates (the server coalesces a list's changes into one frame): a copy per message made a
 * frame of n updates to n sessions O(n²).
 */
export const applyListMessageInPlace = (list: Map<SessionId, SessionSummary>, message: ListMessage): Map<SessionId, SessionSummary> => {
  switch (message.type) {
    case "sessions_list":
      list.clear()
      for (const s of message.sessions) list.set(s.id, s)
      return list
    case "session_created":
    case "session_updated":
      list.set(message.session.id, message.session)
      return list
    case "session_ended": {
      const current = list.get(message.session_id)
      if (current === undefined) return list
      list.set(message.session_id, {
        ...current,
        status: "ended",
        ended_at: message.ended_at,
        attention: false,
        revision: Math.max(current.revision, message.revision)
      })
      return list
    }
  }
}
