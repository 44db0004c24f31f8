/** Builders for protocol messages in unit tests (fixed times and ids). */
import type { SessionMessage, SessionSnapshot, SessionState, SessionSummary } from "@orbitdock/domain"

export const sid = "ses_test" as SessionSummary["id"]
export const t0 = "2026-01-01T00:00:00.000Z"

export const summary = (revision = 1): SessionSummary => ({
  id: sid,
  provider: "sim",
  status: "waiting",
  cwd: "/tmp",
  created_at: t0,
  last_activity_at: t0,
  message_count: 0,
  attention: false,
  token_usage: { input: 0, output: 0, cached_input: 0, total: 0 },
  revision
})

export const created = (): SessionMessage => ({ type: "session_created", session_id: sid, revision: 1, session: summary(1) })

export const snapshot = (revision: number, patch: Partial<SessionState> = {}): SessionSnapshot => ({
  type: "session_snapshot",
  session_id: sid,
  revision,
  session: { ...summary(revision), messages: [], pending_approval: null, pending_question: null, ...patch }
})

export const appended = (revision: number, content = `m${revision}`): SessionMessage => ({
  type: "message_appended",
  session_id: sid,
  revision,
  message: { id: `msg_${revision}` as never, role: "assistant", content, created_at: t0 }
})

export const delta = (revision: number, status: SessionState["status"]): SessionMessage => ({
  type: "session_delta",
  session_id: sid,
  revision,
  changes: { status }
})
