/**
 * The inbox hub's encoded answer (`GET /api/inbox`), given/when/then: encoded once and reused while
 * nothing changes, encoded again when an entry changes, and when a snoozed entry's time comes
 * without any event.
 */
import type { AttentionDetail, SessionId, SessionSummary } from "@orbitdock/domain"
import { describe, expect, it } from "vitest"
import * as InboxHub from "../src/InboxHub.js"

const summary = (id: string, detail: AttentionDetail | null): SessionSummary => ({
  id: id as SessionId,
  provider: "sim",
  status: "waiting",
  cwd: "/w",
  created_at: "2026-01-01T00:00:00.000Z",
  last_activity_at: "2026-01-01T00:00:00.000Z",
  message_count: 1,
  attention: detail !== null,
  attention_detail: detail,
  token_usage: { input: 0, output: 0, cached_input: 0, total: 0 },
  revision: 3
})

const finished = (since: string, extra: Partial<AttentionDetail> = {}): AttentionDetail => ({
  reason: "turn_finished",
  since,
  summary: "done",
  seen: false,
  ...extra
})

const idsOf = (json: Buffer): ReadonlyArray<string> =>
  (JSON.parse(json.toString("utf8")) as { items: ReadonlyArray<{ session_id: string }> }).items.map((item) => item.session_id)

describe("the inbox's encoded answer", () => {
  it("given an unchanged fleet, when asked twice, then it is encoded once", () => {
    const hub = InboxHub.make(() => "2026-01-01T01:00:00.000Z")
    hub.load(summary("ses_b", finished("2026-01-01T00:02:00.000Z")))
    hub.load(summary("ses_a", finished("2026-01-01T00:01:00.000Z")))
    const first = hub.itemsJson()
    expect(idsOf(first)).toEqual(["ses_a", "ses_b"])
    expect(hub.itemsJson()).toBe(first)
  })

  it("given an encoded answer, when an entry changes, then the next answer has the change", () => {
    const hub = InboxHub.make(() => "2026-01-01T01:00:00.000Z")
    hub.load(summary("ses_a", finished("2026-01-01T00:01:00.000Z")))
    const before = hub.itemsJson()
    hub.update(summary("ses_a", null))
    expect(idsOf(hub.itemsJson())).toEqual([])
    expect(hub.itemsJson()).not.toBe(before)
  })

  it("given a snoozed entry, when its time comes (no event), then the answer shows it again", () => {
    let now = "2026-01-01T01:00:00.000Z"
    const hub = InboxHub.make(() => now)
    hub.load(summary("ses_a", finished("2026-01-01T00:01:00.000Z", { snoozed_until: "2026-01-01T02:00:00.000Z" })))
    hub.load(summary("ses_b", finished("2026-01-01T00:02:00.000Z")))
    expect(idsOf(hub.itemsJson())).toEqual(["ses_b"])
    now = "2026-01-01T01:59:59.999Z"
    expect(idsOf(hub.itemsJson())).toEqual(["ses_b"])
    now = "2026-01-01T02:00:00.000Z"
    expect(idsOf(hub.itemsJson())).toEqual(["ses_a", "ses_b"])
    // What the joined pieces say is what the entries are.
    expect(JSON.parse(hub.itemsJson().toString("utf8"))).toEqual({ items: hub.items() })
  })
})

