/**
 * given/when/then for a session's attention: why it needs its person, since when, and what is asked.
 */
import type { DomainEvent, InboxItem, MessageId, RequestId, SessionSummary } from "@orbitdock/domain"
import { describe, expect, it } from "vitest"
import { Attention, Inbox } from "../src/index.js"
import { created, given } from "./helpers/spec.js"

const time = (revision: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, revision)).toISOString()
const asked = "2026-01-01T00:00:30.000Z"
const started: DomainEvent = { type: "turn_started" }
const said = (content: string, id = "m1"): DomainEvent => ({
  type: "message_appended",
  message: { id: id as MessageId, role: "assistant", content, created_at: time(1) }
})
const exec = (id: string, command: string): DomainEvent => ({
  type: "approval_requested",
  request: { id: id as RequestId, kind: "exec", created_at: asked, command }
})
const question = (id: string, text: string): DomainEvent => ({
  type: "question_asked",
  request: { id: id as RequestId, created_at: asked, question: text }
})
const approved = (id: string): DomainEvent => ({ type: "approval_resolved", request_id: id as RequestId, outcome: "approved" })

describe("attention", () => {
  it("a finished turn waits for its person with the agent's last words, since the turn ended", () => {
    given(created, started, said("All tests pass.\nAnything else?")).when({ type: "turn_completed" }).then({
      state: {
        attention: false,
        attention_detail: { reason: "turn_finished", since: time(4), summary: "All tests pass. Anything else?", seen: false }
      },
      messages: [{ type: "session_delta", changes: { status: "waiting", attention_detail: expect.objectContaining({ reason: "turn_finished" }) } }]
    })
  })

  it("a new turn clears it", () => {
    given(created, started, { type: "turn_completed" }).when(started).then({ state: { attention_detail: null } })
  })

  it("an approval is the attention while pending, with its command, since it was asked; resolved, the turn goes on", () => {
    given(created, started)
      .when(exec("r1", "rm -rf build"))
      .then({
        state: { attention: true, attention_detail: { reason: "approval", since: asked, summary: "run: rm -rf build", request_id: "r1" as RequestId, seen: false } }
      })
    given(created, started, exec("r1", "ls")).when(approved("r1")).then({
      state: { attention: false, attention_detail: null },
      messages: [{ type: "session_delta", changes: { attention_detail: null } }]
    })
  })

  it("an approval outranks a question; the question is the attention once the approval is answered", () => {
    given(created, started, question("q1", "Which port?"))
      .when(exec("r1", "npm test"))
      .then({ state: { attention_detail: expect.objectContaining({ reason: "approval", request_id: "r1" }) } })
    given(created, started, question("q1", "Which port?"), exec("r1", "npm test"))
      .when(approved("r1"))
      .then({ state: { attention_detail: expect.objectContaining({ reason: "question", request_id: "q1", summary: "Which port?" }) } })
  })

  it("a failed turn is an error; one the person interrupted is a finished turn", () => {
    given(created, started)
      .when({ type: "turn_aborted", reason: "claude exited" })
      .then({ state: { attention_detail: expect.objectContaining({ reason: "error", summary: "the turn failed: claude exited" }) } })
    given(created, started, said("Halfway"))
      .when({ type: "turn_aborted", reason: "interrupted by the user" })
      .then({ state: { attention_detail: expect.objectContaining({ reason: "turn_finished", summary: "interrupted: Halfway" }) } })
  })

  it("a stalled turn asks for its person until the agent shows a sign of life", () => {
    const p = given(created, started)
      .when({ type: "session_stalled", since: time(2) })
      .then({ state: { attention_detail: expect.objectContaining({ reason: "stalled", since: time(2), summary: "silent while working" }) } })
    expect(p.turnAttention?.reason).toBe("stalled")
    given(created, started, { type: "session_stalled", since: time(2) }).when(said("back")).then({ state: { attention_detail: null } })
    // Not working: a stall means nothing.
    given(created).when({ type: "session_stalled", since: time(1) }).then({ state: { attention_detail: null } })
  })

  it("seen and snoozed belong to the attention they name; the next one starts unseen", () => {
    const done: Array<DomainEvent> = [created, started, { type: "turn_completed" }]
    given(...done)
      .when({ type: "attention_marked", since: time(3), seen: true, snoozed_until: "2026-01-02T00:00:00.000Z" })
      .then({ state: { attention_detail: expect.objectContaining({ seen: true, snoozed_until: "2026-01-02T00:00:00.000Z" }) } })
    given(...done, { type: "attention_marked", since: time(3), snoozed_until: "2026-01-02T00:00:00.000Z" })
      .when({ type: "attention_marked", since: time(3), snoozed_until: null })
      .then({ state: { attention_detail: { reason: "turn_finished", since: time(3), summary: "the turn finished", seen: false } } })
    // A mark for another attention changes nothing.
    given(...done)
      .when({ type: "attention_marked", since: time(1), seen: true })
      .then({ state: { attention_detail: expect.objectContaining({ seen: false }) } })
    given(...done, { type: "attention_marked", since: time(3), seen: true }, started, { type: "turn_completed" })
      .when()
      .then({ state: { attention_detail: expect.objectContaining({ since: time(6), seen: false }) } })
  })

  it("an ended session needs nobody", () => {
    given(created, started, exec("r1", "ls")).when({ type: "session_ended", reason: "done" }).then({ state: { attention: false, attention_detail: null } })
  })

  it("describes what an approval asks in one line", () => {
    const patch = "--- a/src/a.ts\n+++ b/src/a.ts\n@@\n-x\n+y\n--- a/old.txt\n+++ /dev/null\n"
    expect(Attention.describeApproval({ id: "r" as RequestId, kind: "patch", created_at: asked, diff: patch })).toBe("edit: src/a.ts")
    expect(Attention.describeApproval({ id: "r" as RequestId, kind: "tool", created_at: asked, tool_name: "Write", input: { file_path: "/x/y.md" } })).toBe(
      "Write: /x/y.md"
    )
    const long = Attention.forApproval({ id: "r" as RequestId, kind: "exec", created_at: asked, command: "a\n".repeat(200) })
    expect(long.summary).toHaveLength(Attention.SUMMARY_LENGTH)
    expect(long.summary).not.toContain("\n")
    // What of its risk deserves a second look is said; reading or writing in the project is not.
    expect(Attention.describeApproval({ id: "r" as RequestId, kind: "exec", created_at: asked, command: "rm -rf ~", risk: ["writes_outside", "destructive"] })).toBe(
      "run: rm -rf ~ [destructive, writes outside the project]"
    )
    expect(Attention.describeApproval({ id: "r" as RequestId, kind: "exec", created_at: asked, command: "npm test", risk: ["writes_project"] })).toBe("run: npm test")
  })
})

describe("the inbox", () => {
  const summary = (id: string, since: string | null, extra: Partial<SessionSummary> = {}): SessionSummary => ({
    id: id as SessionSummary["id"],
    provider: "sim",
    status: "waiting",
    cwd: "/repo",
    created_at: time(1),
    last_activity_at: time(1),
    message_count: 0,
    attention: false,
    attention_detail: since === null ? null : { reason: "turn_finished", since, summary: "done", seen: false },
    token_usage: { input: 0, output: 0, cached_input: 0, total: 0 },
    revision: 3,
    ...extra
  })

  it("holds the sessions that need their person, longest waiting first", () => {
    const items = [summary("b", time(5)), summary("a", time(9)), summary("c", null), summary("d", time(2), { status: "ended" })]
      .map(Inbox.itemOf)
      .filter((item): item is InboxItem => item !== null)
    expect(Inbox.ordered(new Map(items.map((i) => [i.session_id, i]))).map((i) => i.session_id)).toEqual(["b", "a"])
  })

  it("hides a snoozed entry until its time", () => {
    const item = Inbox.itemOf(summary("a", time(1), { attention_detail: { reason: "error", since: time(1), summary: "x", seen: false, snoozed_until: time(10) } }))!
    expect(Inbox.isShown(item, time(9))).toBe(false)
    expect(Inbox.isShown(item, time(10))).toBe(true)
  })

  it("a mirror applies the inbox, then its changes", () => {
    const a = Inbox.itemOf(summary("a", time(1)))!
    const b = Inbox.itemOf(summary("b", time(2)))!
    let mirror = Inbox.applyInboxMessage(new Map(), { type: "inbox", items: [a] })
    mirror = Inbox.applyInboxMessage(mirror, { type: "inbox_changed", session_id: b.session_id, item: b })
    mirror = Inbox.applyInboxMessage(mirror, { type: "inbox_changed", session_id: a.session_id, item: null })
    expect(Inbox.ordered(mirror)).toEqual([b])
  })
})
