/**
 * The fleet's pure logic: which sessions to show (filters by status, provider and text), in which
 * order (sessions needing the user first), and where "next needing attention" jumps. No React, no
 * I/O: unit-tested in `test/fleet.test.ts`.
 */
import type { Provider, SessionStatus, SessionSummary } from "@orbitdock/domain"

export const STATUSES: ReadonlyArray<SessionStatus> = ["starting", "working", "waiting", "ended"]
export const PROVIDERS: ReadonlyArray<Provider> = ["claude", "codex", "sim"]

/** What the fleet shows; an empty list means "any". */
export interface FleetFilter {
  readonly statuses: ReadonlyArray<SessionStatus>
  readonly providers: ReadonlyArray<Provider>
  /** Matched case-insensitively against title, cwd, model and id. */
  readonly text: string
}

export const noFilter: FleetFilter = { statuses: [], providers: [], text: "" }

/** Whether a session passes the filter. */
export const matches = (session: SessionSummary, filter: FleetFilter): boolean => {
  if (filter.statuses.length > 0 && !filter.statuses.includes(session.status)) return false
  if (filter.providers.length > 0 && !filter.providers.includes(session.provider)) return false
  const text = filter.text.trim().toLowerCase()
  if (text === "") return true
  return [session.title, session.cwd, session.model, session.id].some((field) => field !== undefined && field.toLowerCase().includes(text))
}

// Live sessions before ended ones; among live ones the order does not depend on the status, so a
// session does not jump around each time a turn starts or ends.
const rank = (session: SessionSummary): number => (session.attention ? 0 : session.status === "ended" ? 2 : 1)

const time = (iso: string | undefined): number => {
  if (iso === undefined) return 0
  const ms = Date.parse(iso)
  return Number.isNaN(ms) ? 0 : ms
}

/**
 * The fleet order: sessions needing attention first (the one waiting longest first), then live
 * sessions, then ended ones, each by most recent activity; ties by id so the order is stable.
 */
export const compare = (a: SessionSummary, b: SessionSummary): number => {
  const byRank = rank(a) - rank(b)
  if (byRank !== 0) return byRank
  // Attention: the longest-waiting first (oldest activity); the others: most recent first.
  const byTime = rank(a) === 0 ? time(a.last_activity_at) - time(b.last_activity_at) : time(b.last_activity_at) - time(a.last_activity_at)
  if (byTime !== 0) return byTime
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0
}

/** Filters and sorts (a new array; the input is untouched). */
export const view = (sessions: Iterable<SessionSummary>, filter: FleetFilter): ReadonlyArray<SessionSummary> =>
  [...sessions].filter((session) => matches(session, filter)).sort(compare)

/** Counts per status and provider, and how many need attention (for the filter chips). */
export const counts = (sessions: Iterable<SessionSummary>) => {
  const byStatus: Record<string, number> = {}
  const byProvider: Record<string, number> = {}
  let attention = 0
  for (const session of sessions) {
    byStatus[session.status] = (byStatus[session.status] ?? 0) + 1
    byProvider[session.provider] = (byProvider[session.provider] ?? 0) + 1
    if (session.attention) attention++
  }
  return { byStatus, byProvider, attention }
}

/**
 * The next session needing attention after `currentId` in `ordered` (wrapping around), or the first
 * one when the current is not in the list; `undefined` when none needs attention (or only the current).
 */
export const nextAttention = (ordered: ReadonlyArray<SessionSummary>, currentId: string | undefined): SessionSummary | undefined => {
  const start = ordered.findIndex((session) => session.id === currentId)
  for (let step = 1; step <= ordered.length; step++) {
    const candidate = ordered[(start + step + ordered.length) % ordered.length]
    if (candidate.attention && candidate.id !== currentId) return candidate
  }
  return undefined
}

/** The neighbour of `currentId` in `ordered` (`delta` -1 or +1), clamped; the first when none is current. */
export const neighbour = (ordered: ReadonlyArray<SessionSummary>, currentId: string | undefined, delta: number): SessionSummary | undefined => {
  if (ordered.length === 0) return undefined
  const at = ordered.findIndex((session) => session.id === currentId)
  if (at < 0) return ordered[0]
  return ordered[Math.min(ordered.length - 1, Math.max(0, at + delta))]
}

/** Toggles a value in a filter list. */
export const toggle = <A>(list: ReadonlyArray<A>, value: A): ReadonlyArray<A> =>
  list.includes(value) ? list.filter((item) => item !== value) : [...list, value]
