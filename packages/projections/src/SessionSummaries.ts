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

/** Applies a list message to a list mirror. */
export const applyListMessage = (
  list: SessionList,
  message:
    | { readonly type: "sessions_list"; readonly sessions: ReadonlyArray<SessionSummary> }
    | { readonly type: "session_created" | "session_updated"; readonly session: SessionSummary }
    | { readonly type: "session_ended"; readonly session_id: SessionId; readonly revision: number; readonly ended_at: string }
): SessionList => {
  switch (message.type) {
    case "sessions_list":
      return new Map(message.sessions.map((s) => [s.id, s]))
    case "session_created":
    case "session_updated": {
      const next = new Map(list)
      next.set(message.session.id, message.session)
      return next
    }
    case "session_ended": {
      const current = list.get(message.session_id)
      if (current === undefined) return list
      const next = new Map(list)
      next.set(message.session_id, {
        ...current,
        status: "ended",
        ended_at: message.ended_at,
        attention: false,
        revision: Math.max(current.revision, message.revision)
      })
      return next
    }
  }
}
