import type { DomainEvent, MessageId, RequestId } from "@orbitdock/domain"
import { describe, expect, it } from "vitest"
import { SessionProjection } from "../src/index.js"
import { created, given, sid, stored } from "./helpers/spec.js"

const user = (id: string, content: string): DomainEvent => ({
  type: "message_appended",
  message: { id: id as MessageId, role: "user", content, created_at: "2026-01-01T00:00:00.000Z" }
})
const approval = (id: string): DomainEvent => ({
  type: "approval_requested",
  request: { id: id as RequestId, kind: "exec", created_at: "2026-01-01T00:00:00.000Z", command: "ls" }
})
const question = (id: string): DomainEvent => ({
  type: "question_asked",
  request: { id: id as RequestId, created_at: "2026-01-01T00:00:00.000Z", question: "why?" }
})

describe("SessionProjection", () => {
  it("session_created is revision 1 and becomes the summary of a fresh session", () =>
    given()
      .when(created)
      .then({
        state: { id: sid, provider: "sim", cwd: "/repo", status: "waiting", revision: 1, message_count: 0, attention: false },
        messages: [{ type: "session_created", revision: 1, session: expect.objectContaining({ id: sid, revision: 1 }) }]
      }))

  it("a turn makes the session working, then waiting", () => {
    given(created).when({ type: "turn_started" }).then({ state: { status: "working" }, messages: [{ type: "session_delta", changes: { status: "working" } }] })
    given(created, { type: "turn_started" }).when({ type: "turn_completed" }).then({ state: { status: "waiting" } })
    given(created, { type: "turn_started" })
      .when({ type: "turn_aborted", reason: "lost" })
      .then({ state: { status: "waiting" }, messages: [{ type: "session_delta", changes: { status: "waiting" } }] })
  })

  it("the first user message titles an untitled session and counts", () =>
    given(created).when(user("m1", "fix the flaky test\nplease"), user("m2", "other")).then({
      state: { title: "fix the flaky test", message_count: 2 },
      messages: [{ type: "message_appended" }, { type: "message_appended" }]
    }))

  it("message_updated replaces content with the full content so far", () =>
    given(created, user("m1", "a"))
      .when({ type: "message_updated", message_id: "m1" as MessageId, changes: { content: "abc", streaming: false } })
      .then({ state: { messages: [expect.objectContaining({ id: "m1", content: "abc", streaming: false })] } }))

  it("approvals queue: the second becomes pending when the first is resolved", () => {
    const p = given(created, approval("a1"))
      .when(approval("a2"))
      .then({ state: { pending_approval: expect.objectContaining({ id: "a1" }), attention: true } })
    expect(SessionProjection.requestStatus(p, "a2", "approval")).toBe("pending")
    given(created, approval("a1"), approval("a2"))
      .when({ type: "approval_resolved", request_id: "a1" as RequestId, outcome: "approved" })
      .then({
        state: { pending_approval: expect.objectContaining({ id: "a2" }), attention: true },
        messages: [{ type: "session_delta", changes: { pending_approval: expect.objectContaining({ id: "a2" }), attention: true } }]
      })
  })

  it("attention stays while a question is pending after the approval clears", () =>
    given(created, approval("a1"), question("q1"))
      .when({ type: "approval_resolved", request_id: "a1" as RequestId, outcome: "denied" })
      .then({ state: { pending_approval: null, pending_question: expect.objectContaining({ id: "q1" }), attention: true } }))

  it("tells resolved, unknown and other-kind request ids apart", () => {
    const p = given(created, approval("a1"), question("q1")).when({
      type: "approval_resolved",
      request_id: "a1" as RequestId,
      outcome: "approved"
    }).then({})
    expect(SessionProjection.requestStatus(p, "a1", "approval")).toBe("resolved")
    expect(SessionProjection.requestStatus(p, "zz", "approval")).toBe("unknown")
    expect(SessionProjection.requestStatus(p, "q1", "approval")).toBe("other_kind")
    expect(SessionProjection.requestStatus(p, "q1", "question")).toBe("pending")
  })

  it("a withdrawn approval goes from clients with a session_delta; why stays in the event", () => {
    const p = given(created, { type: "turn_started" }, approval("a1"))
      .when({ type: "approval_resolved", request_id: "a1" as RequestId, outcome: "withdrawn", reason: "the hook's connection closed" })
      .then({
        state: { status: "working", pending_approval: null, attention: false },
        messages: [{ type: "session_delta", changes: { pending_approval: null, attention: false } }]
      })
    expect(SessionProjection.requestStatus(p, "a1", "approval")).toBe("resolved")
  })

  it("every request of a gone asker withdrawn together: the last delta leaves nothing pending", () => {
    const p = given(created, { type: "turn_started" }, approval("a1"), approval("a2"), question("q1"))
      .when(
        { type: "approval_resolved", request_id: "a1" as RequestId, outcome: "withdrawn", reason: "codex exited" },
        { type: "approval_resolved", request_id: "a2" as RequestId, outcome: "withdrawn", reason: "codex exited" },
        { type: "question_resolved", request_id: "q1" as RequestId, outcome: "withdrawn", reason: "codex exited" }
      )
      .then({
        state: { pending_approval: null, pending_question: null, attention: false },
        messages: [
          { type: "session_delta", changes: { pending_approval: expect.objectContaining({ id: "a2" }), attention: true } },
          { type: "session_delta", changes: { pending_approval: null, attention: true } },
          { type: "session_delta", changes: { pending_question: null, attention: false } }
        ]
      })
    expect(p.approvals).toEqual([])
    expect(p.questions).toEqual([])
    for (const [id, kind] of [["a1", "approval"], ["a2", "approval"], ["q1", "question"]] as const) {
      expect(SessionProjection.requestStatus(p, id, kind)).toBe("resolved")
    }
  })

  it("session_ended clears pending requests and attention", () =>
    given(created, approval("a1"), { type: "turn_started" })
      .when({ type: "session_ended", reason: "ended_by_user" })
      .then({
        state: { status: "ended", pending_approval: null, attention: false, ended_at: expect.any(String) },
        messages: [{ type: "session_ended", reason: "ended_by_user" }]
      }))

  it("a reopened session is waiting again, without ended_at", () => {
    const p = given(created, { type: "session_ended", reason: "exit" })
      .when({ type: "session_reopened", reason: "resumed" })
      .then({ state: { status: "waiting" }, messages: [{ type: "session_delta", changes: { status: "waiting", ended_at: null } }] })
    expect("ended_at" in p.state).toBe(false)
  })

  it("tokens, diff and plan land on the state", () =>
    given(created)
      .when(
        { type: "tokens_updated", usage: { input: 5, output: 7, cached_input: 1, total: 12 } },
        { type: "diff_updated", diff: "--- a\n+++ b" },
        { type: "plan_updated", plan: [{ step: "read", status: "completed" }] }
      )
      .then({
        state: { token_usage: { input: 5, output: 7, cached_input: 1, total: 12 }, diff: "--- a\n+++ b", plan: [{ step: "read", status: "completed" }] },
        messages: [{ type: "tokens_updated" }, { type: "session_delta", changes: { diff: "--- a\n+++ b" } }, { type: "session_delta" }]
      }))

  it("ignores a redelivered revision", () => {
    const events = stored([created, user("m1", "hi")])
    const p = SessionProjection.replay(sid, events)
    const [again, message] = SessionProjection.evolve(p, events[1]!)
    expect(again).toBe(p)
    expect(message).toBeNull()
  })

  it("every event's time becomes last_activity_at and its revision the state's", () => {
    const events = stored([created, user("m1", "hi")])
    const p = SessionProjection.replay(sid, events)
    expect(p.state.last_activity_at).toBe(events[1]!.occurred_at)
    expect(p.state.revision).toBe(2)
    expect(p.state.created_at).toBe(events[0]!.occurred_at)
  })
})
