/**
 * The inbox: every session that needs its person, longest waiting first. Derived from the session
 * summaries (their `attention_detail`); pure, used by the server's inbox hub and by client mirrors.
 */
import type { InboxChanged, InboxItem, InboxMessage, SessionId, SessionSummary } from "@orbitdock/domain"
import * as Attention from "./Attention.js"

/** A session's inbox entry, or null when it needs nobody (or has ended). Snoozed entries included. */
export const itemOf = (summary: SessionSummary): InboxItem | null => {
  const detail = summary.attention_detail
  if (detail === undefined || detail === null || summary.status === "ended") return null
  return {
    session_id: summary.id,
    reason: detail.reason,
    since: detail.since,
    ...(detail.request_id === undefined ? {} : { request_id: detail.request_id }),
    summary: detail.summary,
    seen: detail.seen,
    ...(detail.snoozed_until === undefined ? {} : { snoozed_until: detail.snoozed_until }),
    provider: summary.provider,
    cwd: summary.cwd,
    ...(summary.title === undefined ? {} : { title: summary.title })
  }
}

/** Whether the entry shows at `now` (ISO time): a snoozed one waits until its time. */
export const isShown = (item: InboxItem, now: string): boolean => Attention.isSnoozed(item, now) === false

/** Longest waiting first; ties by session id, so every client orders alike. */
export const compare = (a: InboxItem, b: InboxItem): number =>
  a.since < b.since ? -1 : a.since > b.since ? 1 : a.session_id < b.session_id ? -1 : a.session_id > b.session_id ? 1 : 0

/** The inbox as a client mirrors it: entries by session. */
export type InboxMirror = ReadonlyMap<SessionId, InboxItem>

/** Applies `inbox` (replaces everything) or `inbox_changed`. */
export const applyInboxMessage = (inbox: InboxMirror, message: InboxMessage | InboxChanged): InboxMirror => {
  if (message.type === "inbox") return new Map(message.items.map((item) => [item.session_id, item]))
  const next = new Map(inbox)
  if (message.item === null) next.delete(message.session_id)
  else next.set(message.session_id, message.item)
  return next
}

/** The entries in inbox order. */
export const ordered = (inbox: InboxMirror): ReadonlyArray<InboxItem> => [...inbox.values()].sort(compare)
