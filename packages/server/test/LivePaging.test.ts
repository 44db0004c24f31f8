/**
 * A live session's paging bookkeeping (`LivePaging`) and its recent events (`RecentEvents`: by count, by age once committed), pure,
 * given/when/then: when to ask the log, what its answer lets the actor drop from memory, and which
 * updates of paged messages a whole state must still apply.
 */
import type { Message, MessageId, SessionId, SessionMessage, StoredEvent } from "@orbitdock/domain"
import { describe, expect, it } from "vitest"
import { LivePaging, PAGING_CHECK_MS } from "../src/eventlog/livePaging.js"
import { KEEP_MESSAGES, PAGE_MESSAGES } from "../src/eventlog/messagePages.js"
import { RecentEvents } from "../src/internal/recentEvents.js"

const sessionId = "ses-paging" as SessionId
const at = "2026-01-01T00:00:00.000Z"
const message = (i: number): Message => ({ id: `m${i}` as MessageId, role: "assistant", content: `message ${i}`, created_at: at })
const messages = (from: number, count: number) => Array.from({ length: count }, (_, i) => message(from + i))
const updated = (revision: number, i: number, content: string): StoredEvent => ({
  session_id: sessionId,
  revision,
  occurred_at: at,
  event: { type: "message_updated", message_id: `m${i}` as MessageId, changes: { content } }
})
const appended = (revision: number, i: number): StoredEvent => ({
  session_id: sessionId,
  revision,
  occurred_at: at,
  event: { type: "message_appended", message: message(i) }
})
const published = (stored: StoredEvent): SessionMessage => ({ type: "message_appended", session_id: sessionId, revision: stored.revision, message: message(0) })

describe("LivePaging", () => {
  it("given a session with nothing paged, when a message is updated, then no update is kept for the pages", () => {
    const paging = new LivePaging({ paged: 0, pagedRevision: 0, pagedUpdates: [] })
    paging.folding(messages(0, 10), updated(11, 3, "x"))
    expect(paging.updates).toStrictEqual([])
  })

  it("given paged messages, when one of them (not in memory) is updated, then the update is kept for whole states", () => {
    const paging = new LivePaging({ paged: 64, pagedRevision: 100, pagedUpdates: [] })
    const inMemory = messages(64, 10)
    paging.folding(inMemory, updated(101, 3, "paged one"))
    paging.folding(inMemory, updated(102, 70, "in memory"))
    expect(paging.updates).toStrictEqual([{ revision: 101, messageId: "m3", changes: { content: "paged one" } }])
    expect(paging.updatesFor(inMemory).map((u) => u.messageId)).toStrictEqual(["m3"])
  })

  it("asks the log only with a page's worth of messages beyond those kept, and at most once per PAGING_CHECK_MS", () => {
    const paging = new LivePaging({ paged: 0, pagedRevision: 0, pagedUpdates: [] })
    expect(paging.due(KEEP_MESSAGES + PAGE_MESSAGES - 1, 10_000)).toBe(false)
    expect(paging.due(KEEP_MESSAGES + PAGE_MESSAGES, 10_000)).toBe(true)
    expect(paging.due(KEEP_MESSAGES + PAGE_MESSAGES, 10_000 + PAGING_CHECK_MS - 1)).toBe(false)
    expect(paging.due(KEEP_MESSAGES + PAGE_MESSAGES, 10_000 + PAGING_CHECK_MS)).toBe(true)
  })

  it("given the log paged a page at revision 200, when the recent events reach back to it, then that page is dropped and the updates after it of its messages are kept", () => {
    const paging = new LivePaging({ paged: 0, pagedRevision: 0, pagedUpdates: [] })
    const inMemory = messages(0, KEEP_MESSAGES + PAGE_MESSAGES)
    const since = [updated(201, 5, "after the snapshot"), updated(202, 100, "stays in memory"), appended(203, 999)]
    const drop = paging.drop({ revision: 200, paged: PAGE_MESSAGES }, inMemory, (revision) => (revision === 200 ? since : undefined))
    expect(drop).toBe(PAGE_MESSAGES)
    expect(paging.paged).toBe(PAGE_MESSAGES)
    expect(paging.revision).toBe(200)
    expect(paging.updates).toStrictEqual([{ revision: 201, messageId: "m5", changes: { content: "after the snapshot" } }])
  })

  it("given the recent events no longer reach back to the snapshot, then nothing is dropped this time", () => {
    const paging = new LivePaging({ paged: 0, pagedRevision: 0, pagedUpdates: [] })
    const inMemory = messages(0, KEEP_MESSAGES + PAGE_MESSAGES)
    expect(paging.drop({ revision: 200, paged: PAGE_MESSAGES }, inMemory, () => undefined)).toBe(0)
    expect(paging.paged).toBe(0)
  })

  it("given an answer no newer than what is known, then it changes nothing", () => {
    const paging = new LivePaging({ paged: 64, pagedRevision: 300, pagedUpdates: [] })
    expect(paging.drop({ revision: 300, paged: 128 }, messages(64, 200), () => [])).toBe(0)
    expect(paging.drop(null, messages(64, 200), () => [])).toBe(0)
    expect(paging.paged).toBe(64)
  })

  it("given updates the pages now have, when a newer snapshot is reported, then they are no longer kept", () => {
    const paging = new LivePaging({ paged: 64, pagedRevision: 100, pagedUpdates: [{ revision: 150, messageId: "m1", changes: { content: "x" } }] })
    expect(paging.drop({ revision: 160, paged: 64 }, messages(64, 10), () => [])).toBe(0)
    expect(paging.updates).toStrictEqual([])
    expect(paging.revision).toBe(160)
  })
})

describe("RecentEvents", () => {
  /** Events `from`–`to`, folded one a second from time 0 (the event at revision r at (r - from) s). */
  const ring = (from: number, to: number, keep = 100, maxAgeMs = 3_600_000, minKeep = 10) => {
    const recent = new RecentEvents({ keep, maxAgeMs, minKeep })
    for (let r = from; r <= to; r++) {
      const stored = appended(r, r)
      recent.push({ stored, message: published(stored) }, (r - from) * 1000)
    }
    return recent
  }

  it("given events 1–50, then it covers any revision from 0 and gives the events after it in order", () => {
    const recent = ring(1, 50)
    expect(recent.covers(0)).toBe(true)
    expect(recent.eventsAfter(47).map((e) => e.revision)).toStrictEqual([48, 49, 50])
    expect(recent.messagesAfter(49).map((m) => m.revision)).toStrictEqual([50])
    expect(recent.eventsAfter(50)).toStrictEqual([])
  })

  it("given more events than it keeps, then the oldest go, and a revision before them is not covered", () => {
    const recent = ring(1, 500, 100)
    const oldest = recent.oldestRevision()!
    expect(oldest).toBeGreaterThan(1)
    expect(500 - oldest + 1).toBeLessThanOrEqual(100 + 256)
    expect(recent.covers(oldest - 1)).toBe(true)
    expect(recent.covers(oldest - 2)).toBe(false)
  })

  it("given events over 200 s, when told they are committed at 200 s, then those older than a minute go, and no more", () => {
    const recent = ring(1, 200, 1000, 60_000, 10)
    // While the oldest is less than the slack (10 s) past the minute, nothing moves: a push stays a push.
    recent.trimOld(69_000)
    expect(recent.size).toBe(200)
    recent.trimOld(200_000)
    // Folded at 0…199 s: those at 140 s and later remain (revisions 141–200).
    expect(recent.oldestRevision()).toBe(141)
    expect(recent.covers(140)).toBe(true)
    expect(recent.covers(139)).toBe(false)
    expect(recent.eventsAfter(198).map((e) => e.revision)).toStrictEqual([199, 200])
  })

  it("given a quiet session, when its events are all old, then the last few stay for a resuming client", () => {
    const recent = ring(1, 50, 1000, 60_000, 10)
    recent.trimOld(3_600_000)
    expect(recent.size).toBe(10)
    expect(recent.oldestRevision()).toBe(41)
    expect(recent.messagesAfter(45).map((m) => m.revision)).toStrictEqual([46, 47, 48, 49, 50])
  })
})
