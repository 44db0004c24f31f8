import type { SessionId, SessionSummary } from "@orbitdock/domain"
import { describe, expect, it } from "vitest"
import { SessionMirror, SessionProjection, SessionSummaries } from "../src/index.js"
import { created, stored } from "./helpers/spec.js"

const summary = (id: string, title: string): SessionSummary => {
  const state = SessionProjection.replay(id as SessionId, stored([created])).state
  return { ...SessionMirror.summarize({ ...state, id: id as SessionId }), title }
}

type ListMessage = Parameters<typeof SessionSummaries.applyListMessage>[1]

const frame: ReadonlyArray<ListMessage> = [
  { type: "session_updated", session: summary("a", "a, renamed") },
  { type: "session_created", session: summary("c", "c") },
  { type: "session_ended", session_id: "b" as SessionId, revision: 9, ended_at: "2026-01-01T00:01:00.000Z" },
  { type: "session_ended", session_id: "unknown" as SessionId, revision: 1, ended_at: "2026-01-01T00:01:00.000Z" }
]

describe("SessionSummaries: applying list messages", () => {
  it("given a list, when a frame of messages is applied in place, then it equals applying them one copy at a time", () => {
    const first: ListMessage = { type: "sessions_list", sessions: [summary("a", "a"), summary("b", "b")] }
    const pure = frame.reduce(SessionSummaries.applyListMessage, SessionSummaries.applyListMessage(new Map(), first))
    const owned = new Map<SessionId, SessionSummary>()
    for (const message of [first, ...frame]) expect(SessionSummaries.applyListMessageInPlace(owned, message)).toBe(owned)
    expect([...owned.entries()]).toEqual([...pure.entries()])
    expect([...owned.keys()]).toEqual(["a", "b", "c"])
    expect(owned.get("b" as SessionId)).toMatchObject({ status: "ended", revision: 9, attention: false })
  })

  it("given a list handed out, when a message is applied, then that list is left as it was", () => {
    const list = SessionSummaries.applyListMessage(new Map(), { type: "sessions_list", sessions: [summary("a", "a"), summary("b", "b")] })
    const next = SessionSummaries.applyListMessage(list, frame[0]!)
    expect(list.get("a" as SessionId)!.title).toBe("a")
    expect(next.get("a" as SessionId)!.title).toBe("a, renamed")
    // An end of a session it does not have changes nothing: the same list.
    expect(SessionSummaries.applyListMessage(list, frame[3]!)).toBe(list)
  })
})
