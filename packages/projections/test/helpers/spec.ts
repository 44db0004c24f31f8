/**
 * given/when/then for the session fold (after emmett): the events before, the event(s) under test,
 * and what the state and the emitted messages must be.
 */
import type { DomainEvent, SessionId, SessionMessage, SessionState, StoredEvent } from "@orbitdock/domain"
import { expect } from "vitest"
import { SessionProjection } from "../../src/index.js"

export const sid = "ses_test" as SessionId

/** Stores events with gapless revisions from `from` and fixed, increasing times. */
export const stored = (events: ReadonlyArray<DomainEvent>, from = 1): ReadonlyArray<StoredEvent> =>
  events.map((event, i) => ({
    session_id: sid,
    revision: from + i,
    occurred_at: new Date(Date.UTC(2026, 0, 1, 0, 0, from + i)).toISOString(),
    event
  }))

export const given = (...history: ReadonlyArray<DomainEvent>) => {
  const before = SessionProjection.replay(sid, stored(history))
  return {
    when: (...events: ReadonlyArray<DomainEvent>) => {
      let p = before
      const messages: Array<SessionMessage> = []
      for (const e of stored(events, history.length + 1)) {
        const [next, message] = SessionProjection.evolve(p, e)
        p = next
        if (message !== null) messages.push(message)
      }
      return {
        then: (expected: { state?: Partial<SessionState>; messages?: ReadonlyArray<Partial<SessionMessage>> }) => {
          if (expected.state !== undefined) expect(p.state).toMatchObject(expected.state)
          if (expected.messages !== undefined) {
            expect(messages).toHaveLength(expected.messages.length)
            expected.messages.forEach((m, i) => expect(messages[i]).toMatchObject(m))
          }
          return p
        }
      }
    }
  }
}

export const created: DomainEvent = { type: "session_created", provider: "sim", cwd: "/repo", status: "waiting" }
