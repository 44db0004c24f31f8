import { Either, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { ClientMessage, clientMessageTypes, DomainEvent, eventTypes, MAX_ID_LENGTH, PROTOCOL_MINOR, ServerFrame } from "../src/index.js"

const decodeClient = Schema.decodeUnknownEither(ClientMessage)

describe("wire schemas", () => {
  it("decode every client message type from PROTOCOL.md", () => {
    const samples = [
      { type: "subscribe_list", id: "1" },
      { type: "unsubscribe_list" },
      { type: "subscribe_session", session_id: "s", since_revision: 4 },
      { type: "unsubscribe_session", session_id: "s" },
      { type: "create_session", provider: "codex", cwd: "/r", model: "m", prompt: "p", approval_policy: "on-request", sandbox: "read-only" },
      { type: "send_message", session_id: "s", content: "hi" },
      { type: "approve_tool", session_id: "s", request_id: "r", approved: true, scope: "session" },
      { type: "answer_question", session_id: "s", request_id: "r", answer: "yes" },
      { type: "interrupt_session", session_id: "s" },
      { type: "end_session", session_id: "s" },
      { type: "subscribe_inbox" },
      { type: "unsubscribe_inbox" },
      { type: "mark_attention", session_id: "s", seen: true, snoozed_until: null },
      { type: "approve_requests", requests: [{ session_id: "s", request_id: "r" }], approved: false },
      { type: "set_viewing", session_ids: ["s"] },
      { type: "list_rules", at: "2026-01-01T00:00:00.000Z" },
      { type: "add_rule", rule: { effect: "allow", scope: { kind: "global" }, match: { command: "git status*", risk: ["read_only"] } } },
      { type: "remove_rule", rule_id: "r1" },
      { type: "simulate_rules", add: [{ effect: "deny", scope: { kind: "project", cwd: "/r" }, match: { risk: ["destructive"] } }], remove: ["r1"] }
    ]
    expect(samples.map((s) => s.type).sort()).toEqual([...clientMessageTypes].sort())
    for (const sample of samples) expect(Either.isRight(decodeClient(sample))).toBe(true)
  })

  it("ignore unknown fields and refuse bad values", () => {
    expect(decodeClient({ type: "send_message", session_id: "s", content: "x", extra: 1 })).toEqual(
      Either.right({ type: "send_message", session_id: "s", content: "x" })
    )
    expect(Either.isLeft(decodeClient({ type: "create_session", provider: "gemini", cwd: "/" }))).toBe(true)
    expect(Either.isLeft(decodeClient({ type: "subscribe_session", session_id: "s", since_revision: -1 }))).toBe(true)
    expect(Either.isLeft(decodeClient({ type: "send_message", session_id: "", content: "x" }))).toBe(true)
    expect(Either.isLeft(decodeClient({ type: "send_message", id: 7, session_id: "s", content: "x" }))).toBe(true)
    expect(Either.isRight(decodeClient({ type: "subscribe_list", id: "i".repeat(MAX_ID_LENGTH) }))).toBe(true)
    expect(Either.isLeft(decodeClient({ type: "subscribe_list", id: "i".repeat(MAX_ID_LENGTH + 1) }))).toBe(true)
  })

  it("decode server frames: one message or an array", () => {
    const hello = { type: "hello", server_id: "x", version: "0.1.0", protocol: 1 }
    const ack = { type: "ack", id: "1", session_id: "s", revision: 3 }
    expect(Either.isRight(Schema.decodeUnknownEither(ServerFrame)(hello))).toBe(true)
    expect(Schema.decodeUnknownEither(ServerFrame)({ ...hello, protocol_minor: PROTOCOL_MINOR })).toEqual(
      Either.right({ ...hello, protocol_minor: 3 })
    )
    expect(Either.isRight(Schema.decodeUnknownEither(ServerFrame)({ type: "error", id: null, code: "invalid_message", message: "m" }))).toBe(true)
    expect(Either.isRight(Schema.decodeUnknownEither(ServerFrame)([ack, ack]))).toBe(true)
  })

  it("minor 2: a v1 message with the new fields still decodes, and a batch is bounded", () => {
    const summary = {
      id: "s", provider: "sim", status: "waiting", cwd: "/", created_at: "t", last_activity_at: "t",
      message_count: 0, attention: false, token_usage: { input: 0, output: 0, cached_input: 0, total: 0 }, revision: 1
    }
    const detail = { reason: "turn_finished", since: "t", summary: "done", seen: false }
    expect(Either.isRight(Schema.decodeUnknownEither(ServerFrame)({ type: "session_updated", session: summary }))).toBe(true)
    expect(
      Either.isRight(Schema.decodeUnknownEither(ServerFrame)({ type: "session_updated", session: { ...summary, attention_detail: detail } }))
    ).toBe(true)
    expect(Either.isLeft(decodeClient({ type: "approve_requests", requests: [], approved: true }))).toBe(true)
    const many = Array.from({ length: 257 }, (_, i) => ({ session_id: "s", request_id: `r${i}` }))
    expect(Either.isLeft(decodeClient({ type: "approve_requests", requests: many, approved: true }))).toBe(true)
  })

  it("name every domain event type once", () => {
    expect(new Set(eventTypes).size).toBe(eventTypes.length)
    expect(DomainEvent.members.length).toBe(eventTypes.length)
  })
})
