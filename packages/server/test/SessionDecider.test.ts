/**
 * The session's acceptance rules (`SessionDecider.decide`), specified given/when/then: given the
 * events a session has recorded, when an event arrives, then it is recorded as the next revision
 * or dropped for a reason.
 */
import type { DomainEvent, SessionId, StoredEvent } from "@orbitdock/domain"
import { SessionProjection } from "@orbitdock/projections"
import { describe, expect, it } from "vitest"
import type { EventInput } from "../src/connectors/Connector.js"
import { decide, type DropReason, type Verdict } from "../src/SessionDecider.js"

const sessionId = "s-1" as SessionId
const now = "2026-12-06T12:00:00.000Z"

const created: DomainEvent = { type: "session_created", provider: "sim", cwd: "/w", status: "waiting" }
const ended: DomainEvent = { type: "session_ended", reason: "done" }
const reopened: DomainEvent = { type: "session_reopened", reason: "resumed" }
const said = (id: string): DomainEvent => ({
  type: "message_appended",
  message: { id: id as never, role: "assistant", content: id, created_at: now }
})

/**
 * A specification: `given` the events recorded so far (folded by the real projection), and the
 * source keys recorded before; `when` one event arrives; `then` the verdict.
 */
const given = (history: ReadonlyArray<DomainEvent>, keysSeen: ReadonlyArray<string> = []) => {
  const state = SessionProjection.replay(
    sessionId,
    history.map((event, i): StoredEvent => ({ session_id: sessionId, revision: i + 1, occurred_at: now, event }))
  ).state
  const seen = new Set(keysSeen)
  return {
    when: (input: EventInput) => {
      const verdict: Verdict = decide(state, input, { sessionId, now, seen: (key) => seen.has(key) })
      return {
        thenRecorded: (revision: number, occurredAt = now) =>
          expect(verdict).toEqual({
            _tag: "Record",
            stored: { session_id: sessionId, revision, occurred_at: occurredAt, event: input.event }
          }),
        thenDropped: (reason: DropReason) => expect(verdict).toEqual({ _tag: "Drop", reason })
      }
    }
  }
}

describe("a new session", () => {
  it("records session_created as revision 1", () => given([]).when({ event: created }).thenRecorded(1))

  it("drops anything before session_created", () => given([]).when({ event: said("m1") }).thenDropped("not_created"))

  it("drops an end or a reopen before it was created", () => {
    given([]).when({ event: ended }).thenDropped("not_created")
    given([]).when({ event: reopened }).thenDropped("not_created")
  })
})

describe("a live session", () => {
  const live = [created, said("m1")]

  it("records the next event at the next revision, stamped now", () => given(live).when({ event: said("m2") }).thenRecorded(3))

  it("keeps the time an event says it happened at its source", () =>
    given(live).when({ event: said("m2"), occurred_at: "2026-12-01T08:00:00.000Z" }).thenRecorded(3, "2026-12-01T08:00:00.000Z"))

  it("drops a second session_created", () => given(live).when({ event: created }).thenDropped("already_created"))

  it("drops a reopen: it has not ended", () => given(live).when({ event: reopened }).thenDropped("not_ended"))

  it("records its end", () => given(live).when({ event: ended }).thenRecorded(3))
})

describe("an ended session", () => {
  const over = [created, said("m1"), ended]

  it("drops what an agent says after the end", () => given(over).when({ event: said("m2") }).thenDropped("ended"))

  it("records a reopen, and then takes events again", () => {
    given(over).when({ event: reopened }).thenRecorded(4)
    given([...over, reopened]).when({ event: said("m2") }).thenRecorded(5)
  })

  it("records the end said again (e.g. the process's exit after the agent's own end)", () =>
    given(over).when({ event: ended }).thenRecorded(4))
})

describe("source keys", () => {
  it("records an event whose key is new", () =>
    given([created], ["msg:a"]).when({ event: said("m1"), source_key: "msg:b" }).thenRecorded(2))

  it("drops an event whose key was recorded before", () =>
    given([created], ["msg:a"]).when({ event: said("m1"), source_key: "msg:a" }).thenDropped("duplicate"))

  it("judges a repeat a duplicate before anything else (a replayed transcript of an ended session)", () => {
    given([created, ended], ["msg:a"]).when({ event: said("m1"), source_key: "msg:a" }).thenDropped("duplicate")
    given([created], ["create:1"]).when({ event: created, source_key: "create:1" }).thenDropped("duplicate")
  })

  it("does not look at keys for an event without one", () =>
    given([created], ["msg:a"]).when({ event: said("m1") }).thenRecorded(2))
})
