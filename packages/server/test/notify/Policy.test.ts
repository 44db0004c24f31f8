/**
 * given/when/then for whether a notification still goes out on a channel.
 */
import type { AttentionDetail, SessionId } from "@orbitdock/domain"
import { describe, expect, it } from "vitest"
import type { Channel } from "../../src/notify/Channels.js"
import type { Notification } from "../../src/notify/Notification.js"
import { BURST_MS, decide, isQuiet, type Context } from "../../src/notify/Policy.js"

const since = "2026-03-01T10:00:00.000Z"
const n: Notification = {
  id: `s1:approval:${since}`,
  session_id: "s1" as SessionId,
  revision: 7,
  reason: "approval",
  since,
  summary: "run: ls",
  cwd: "/repo",
  provider: "sim"
}
const channel: Channel = { id: "c1", kind: "webhook", url: "http://127.0.0.1:1", created_at: since }
const current: AttentionDetail = { reason: "approval", since, summary: "run: ls", seen: false }
const now = new Date("2026-03-01T10:00:05.000Z")
const given = (context: Partial<Context>, on: Channel = channel) =>
  decide(n, on, { current, viewed: false, lastSentAt: undefined, now, quietHours: undefined, ...context })

describe("whether a notification goes out", () => {
  it("goes out when the attention is still the session's and nothing holds it back", () => {
    expect(given({})).toEqual({ _tag: "Send" })
  })
  it("is not the business of a channel that does not take its reason (nothing recorded)", () => {
    expect(given({}, { ...channel, reasons: ["error"] })).toEqual({ _tag: "NotForChannel" })
  })
  it("is skipped once the session moved on, or when the person saw it, snoozed it, or looks at it", () => {
    expect(given({ current: null })).toMatchObject({ _tag: "Skip", why: "no longer needed: the session moved on" })
    expect(given({ current: { ...current, since: "2026-03-01T10:00:01.000Z" } })).toMatchObject({ _tag: "Skip" })
    expect(given({ current: { ...current, seen: true } })).toEqual({ _tag: "Skip", why: "seen" })
    expect(given({ current: { ...current, snoozed_until: "2026-03-01T11:00:00.000Z" } })).toEqual({ _tag: "Skip", why: "snoozed" })
    expect(given({ current: { ...current, snoozed_until: "2026-03-01T10:00:00.000Z" } })).toEqual({ _tag: "Send" })
    expect(given({ viewed: true })).toEqual({ _tag: "Skip", why: "the session is open on a client" })
  })
  it("goes out at most once a minute per session, reason and channel", () => {
    expect(given({ lastSentAt: now.getTime() - BURST_MS + 1 })).toMatchObject({ _tag: "Skip" })
    expect(given({ lastSentAt: now.getTime() - BURST_MS })).toEqual({ _tag: "Send" })
  })
  it("keeps quiet in the quiet hours, which may wrap past midnight", () => {
    const at = (h: number, m: number) => new Date(2026, 2, 1, h, m)
    expect(isQuiet({ from: "22:00", to: "07:00" }, at(23, 30))).toBe(true)
    expect(isQuiet({ from: "22:00", to: "07:00" }, at(6, 59))).toBe(true)
    expect(isQuiet({ from: "22:00", to: "07:00" }, at(7, 0))).toBe(false)
    expect(isQuiet({ from: "12:00", to: "13:00" }, at(12, 30))).toBe(true)
    expect(isQuiet({ from: "12:00", to: "12:00" }, at(12, 0))).toBe(false)
    expect(given({ now: at(23, 0), current: { ...current }, quietHours: { from: "22:00", to: "07:00" } })).toEqual({ _tag: "Skip", why: "quiet hours" })
  })
})
