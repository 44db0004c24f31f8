/**
 * Human-readable lines for the CLI: session tables, live messages, replay steps. Pure string
 * functions, so what `tail` and `replay` print is testable.
 */
import type { EventRecord, InboxItem, ServerMessage, SessionState, SessionSummary } from "@orbitdock/domain"

const clip = (text: string, max: number): string => {
  const line = text.replace(/\s+/g, " ").trim()
  return line.length > max ? `${line.slice(0, max - 1)}…` : line
}

/** One line per session: id, provider, status, attention, messages, tokens, title/cwd. */
export const sessionTable = (sessions: ReadonlyArray<SessionSummary>): string => {
  if (sessions.length === 0) return "no sessions"
  const rows = sessions.map((s) => [
    s.id,
    s.provider,
    s.status,
    s.attention ? "!" : "",
    String(s.message_count),
    String(s.token_usage.total),
    clip(s.title ?? s.cwd, 60)
  ])
  const header = ["SESSION", "PROVIDER", "STATUS", "!", "MSGS", "TOKENS", "TITLE"]
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  return [header, ...rows].map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n")
}

/** How long ago, short: `42s`, `7m`, `3h05m`, `2d4h`. */
export const waited = (since: string, now: number): string => {
  const s = Math.max(0, Math.floor((now - Date.parse(since)) / 1000))
  if (Number.isNaN(s)) return "?"
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m`
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`
}

/** The inbox, one line per entry in its order: how long it waits, why, the session, what is asked. */
export const inboxTable = (items: ReadonlyArray<InboxItem>, now: number): string => {
  if (items.length === 0) return "nothing needs you"
  const rows = items.map((item) => [
    waited(item.since, now),
    item.reason,
    item.session_id,
    clip(item.title ?? item.cwd, 30),
    `${clip(item.summary, 70)}${item.seen ? "" : " *"}${item.snoozed_until === undefined ? "" : ` (snoozed until ${item.snoozed_until})`}`
  ])
  const header = ["WAITING", "REASON", "SESSION", "TITLE", "ASKS (* unseen)"]
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  return [header, ...rows].map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n")
}

/** A compact one-line view of a state: what `replay` prints after each event. */
export const stateLine = (s: SessionState): string =>
  [
    `status=${s.status}`,
    `messages=${s.message_count}`,
    s.pending_approval === null ? null : `approval=${s.pending_approval.id}`,
    s.pending_question === null ? null : `question=${s.pending_question.id}`,
    `tokens=${s.token_usage.total}`
  ]
    .filter((x) => x !== null)
    .join(" ")

/** One event as `replay` lists it. */
export const eventLine = (e: EventRecord): string => `#${e.revision} ${e.occurred_at} ${e.type} ${clip(JSON.stringify(e.data), 120)}`

/** A live server message as `tail` prints it, or null for messages it does not show. */
export const messageLine = (m: ServerMessage): string | null => {
  switch (m.type) {
    case "session_snapshot":
      return `#${m.revision} snapshot ${stateLine(m.session)}\n${m.session.messages
        .map((msg) => `  [${msg.role}] ${clip(msg.content, 160)}`)
        .join("\n")}`
    case "message_appended":
      return `#${m.revision} [${m.message.role}] ${clip(m.message.content, 160)}${m.message.streaming ? " …" : ""}`
    case "message_updated":
      return m.changes.content === undefined && m.changes.streaming === undefined
        ? `#${m.revision} updated ${m.message_id}`
        : `#${m.revision} ~ ${clip(m.changes.content ?? "", 160)}${m.changes.streaming === true ? " …" : ""}`
    case "session_delta":
      return `#${m.revision} ${Object.entries(m.changes)
        .map(([k, v]) => `${k}=${typeof v === "object" && v !== null ? JSON.stringify(v).slice(0, 80) : String(v)}`)
        .join(" ")}`
    case "approval_requested":
      return `#${m.revision} APPROVAL ${m.request.id} (${m.request.kind}) ${clip(
        m.request.command ?? m.request.tool_name ?? m.request.diff ?? "",
        120
      )}${m.request.risk === undefined ? "" : ` risk: ${m.request.risk.join(", ")}`}`
    case "question_asked":
      return `#${m.revision} QUESTION ${m.request.id}: ${clip(m.request.question, 120)}`
    case "tokens_updated":
      return `#${m.revision} tokens in=${m.usage.input} out=${m.usage.output} total=${m.usage.total}`
    case "session_ended":
      return `#${m.revision} ended (${m.reason}) at ${m.ended_at}`
    case "session_created":
      return `#${m.revision ?? 1} created ${m.session.provider} in ${m.session.cwd}`
    default:
      return null
  }
}
