/**
 * What a command may do given only the session's state: resolving a request that is no longer
 * pending (withdrawn because its asker went away, or decided) is a `conflict`, never passed on to a
 * connector that would ack it; an id never issued is `not_found`.
 */
import type { DomainEvent, RequestId, SessionId } from "@orbitdock/domain"
import { SessionProjection } from "@orbitdock/projections"
import { describe, expect, it } from "vitest"
import * as Commands from "../src/Commands.js"

const sid = "ses_commands" as SessionId

const given = (...events: ReadonlyArray<DomainEvent>) =>
  SessionProjection.replay(
    sid,
    events.map((event, i) => ({ session_id: sid, revision: i + 1, occurred_at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(), event }))
  )

const created: DomainEvent = { type: "session_created", provider: "claude", cwd: "/w", status: "waiting" }
const asked = (id: string): DomainEvent => ({
  type: "approval_requested",
  request: { id: id as RequestId, kind: "tool", created_at: "2026-01-01T00:00:00.000Z", tool_name: "Bash" }
})
const question = (id: string): DomainEvent => ({
  type: "question_asked",
  request: { id: id as RequestId, created_at: "2026-01-01T00:00:00.000Z", question: "which?" }
})
const approve = (id: string) => ({ type: "approve_tool" as const, session_id: sid, request_id: id as RequestId, approved: true })
const answer = (id: string) => ({ type: "answer_question" as const, session_id: sid, request_id: id as RequestId, answer: "this" })

describe("Commands.refusal", () => {
  it("a pending request may be resolved", () => {
    expect(Commands.refusal(given(created, { type: "turn_started" }, asked("a1")), approve("a1"))).toBeNull()
    expect(Commands.refusal(given(created, { type: "turn_started" }, question("q1")), answer("q1"))).toBeNull()
  })

  it("a withdrawn approval or question is a conflict: its asker is gone", () => {
    const p = given(
      created,
      { type: "turn_started" },
      asked("a1"),
      question("q1"),
      { type: "approval_resolved", request_id: "a1" as RequestId, outcome: "withdrawn", reason: "claude exited" },
      { type: "question_resolved", request_id: "q1" as RequestId, outcome: "withdrawn", reason: "codex exited" }
    )
    expect(Commands.refusal(p, approve("a1"))).toMatchObject({ code: "conflict", message: expect.stringContaining("no longer pending") })
    expect(Commands.refusal(p, answer("q1"))).toMatchObject({ code: "conflict" })
  })

  it("an id never issued is not_found; one of the other kind a conflict", () => {
    const p = given(created, asked("a1"))
    expect(Commands.refusal(p, approve("nope"))).toMatchObject({ code: "not_found" })
    expect(Commands.refusal(p, answer("a1"))).toMatchObject({ code: "conflict" })
  })
})
