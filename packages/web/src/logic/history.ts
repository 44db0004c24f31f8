/**
 * The history scrubber's pure parts: the HTTP paths it reads and how a requested revision is kept in
 * range. Unit-tested in `test/history.test.ts`.
 */

/** `GET /api/sessions/:id?at_revision=N`: the state after revision N. */
export const stateAtPath = (sessionId: string, revision: number): string =>
  `/api/sessions/${encodeURIComponent(sessionId)}?at_revision=${revision}`

/** `GET /api/sessions/:id/events?after=N-1&limit=1`: the event that made revision N. */
export const eventAtPath = (sessionId: string, revision: number): string =>
  `/api/sessions/${encodeURIComponent(sessionId)}/events?after=${Math.max(0, revision - 1)}&limit=1`

/** A revision within 1…latest (a session always has revision 1, `session_created`). */
export const clamp = (revision: number, latest: number): number => Math.max(1, Math.min(Math.max(1, latest), Math.round(revision)))

/** One entry of the events endpoint. */
export interface EventEntry {
  readonly revision: number
  readonly type: string
  readonly occurred_at: string
  readonly data: unknown
}

/** "message_appended" → "message appended" */
export const eventLabel = (type: string): string => type.replace(/_/g, " ")
